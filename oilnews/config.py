"""Checking settings before a crawl starts, and the spider arguments that set them.

Every `OILNEWS_` setting is declared once, with its default, in `oilnews/settings.py`; its type
is its default's type. This module adds only what a default cannot say: ranges, choices and
formats. `validate()` runs before anything is downloaded (the CLI, `scrapy crawl`, scrapyd jobs
and the add-on all call it) and raises UsageError with one line naming the setting, the bad
value and what is accepted.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings

from oilnews.errors import UsageError

# Spider arguments (`scrapy crawl news -a since=2024-01`, scrapyd's schedule.json, the
# `oilnews crawl` options of the same names) and the settings they set.
SPIDER_ARGUMENTS: dict[str, str] = {
    "site": "OILNEWS_SITE_URL",
    "sections": "OILNEWS_SECTIONS",
    "max_pages": "OILNEWS_MAX_PAGES",
    "max_hops": "OILNEWS_MAX_HOPS",
    "since": "OILNEWS_SINCE",
    "backfill_since": "OILNEWS_BACKFILL_SINCE",
    "rss": "OILNEWS_USE_RSS",
    "full": "OILNEWS_FULL",
    "max_minutes": "OILNEWS_WATCH_MAX_MINUTES",  # the watch spider's
}

# (minimum, maximum) of numeric settings; None: unbounded. Numbers not listed must be >= 0.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "OILNEWS_DB_BATCH_SIZE": (1, 100_000),
    "OILNEWS_MAX_LISTING_PAGES": (1, None),
    "OILNEWS_DB_RETRIES": (1, 100),
    "OILNEWS_HEALTH_MAX_MISSING_SHARE": (0, 1),
    "OILNEWS_HEALTH_MAX_ERROR_RATE": (0, 1),
    "OILNEWS_HEALTH_MAX_SUSPICIOUS_DATES": (0, 1),
    "OILNEWS_RENDER_MAX_CONTEXTS": (1, 64),
    "OILNEWS_RENDER_MAX_PAGES": (1, 256),
    "OILNEWS_RENDER_TIMEOUT_MS": (1, None),
    "OILNEWS_REDIS_IDLE_GRACE": (1, None),
    "OILNEWS_ALERT_TIMEOUT": (0.1, 300),
    "OILNEWS_WATCH_MIN_SECONDS": (0.1, None),
    "OILNEWS_WATCH_MAX_SECONDS": (0.1, None),
    "OILNEWS_WATCH_LISTING_MAX_SECONDS": (0.1, None),
    "CONCURRENT_REQUESTS": (1, 10_000),
    "CONCURRENT_REQUESTS_PER_DOMAIN": (1, 10_000),
    "CONCURRENT_ITEMS": (1, 10_000),
    "DOWNLOAD_TIMEOUT": (0.001, None),
    "AUTOTHROTTLE_TARGET_CONCURRENCY": (0.001, None),
}

# Scrapy settings oilnews relies on, with their types (Scrapy's own defaults say less).
SCRAPY_TYPES: dict[str, type] = {
    "CONCURRENT_REQUESTS": int,
    "CONCURRENT_REQUESTS_PER_DOMAIN": int,
    "CONCURRENT_ITEMS": int,
    "DOWNLOAD_DELAY": float,
    "DOWNLOAD_DELAY_JITTER": float,
    "DOWNLOAD_TIMEOUT": float,
    "DOWNLOAD_MAXSIZE": int,
    "DOWNLOAD_WARNSIZE": int,
    "RETRY_ENABLED": bool,
    "RETRY_TIMES": int,
    "REDIRECT_MAX_TIMES": int,
    "ROBOTSTXT_OBEY": bool,
    "AUTOTHROTTLE_ENABLED": bool,
    "AUTOTHROTTLE_START_DELAY": float,
    "AUTOTHROTTLE_MAX_DELAY": float,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": float,
    "COOKIES_ENABLED": bool,
    "CLOSESPIDER_TIMEOUT": float,
    "CLOSESPIDER_ITEMCOUNT": int,
    "CLOSESPIDER_PAGECOUNT": int,
    "CLOSESPIDER_ERRORCOUNT": int,
    "DEPTH_LIMIT": int,
}
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
POLITE_CHOICES = ("auto", "true", "false")


def _site_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an http(s) URL such as https://oilprice.com or http://127.0.0.1:8900"
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return "an http(s) URL with a valid port"
    return None


def _since(value: str) -> str | None:
    if not value:
        return None
    from oilnews.dates import parse_user_instant

    try:
        parse_user_instant(value)
    except ValueError:
        return "a date: YYYY-MM, YYYY-MM-DD or ISO 8601 (e.g. 2024-01)"
    return None


def _choice(choices: Iterable[str]) -> Callable[[str], str | None]:
    options = tuple(choices)

    def check(value: str) -> str | None:
        return None if str(value).lower() in options else "one of " + ", ".join(options)

    return check


def _redis_url(value: str) -> str | None:
    if value and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        return "empty, or a Redis URL such as redis://127.0.0.1:6379/0"
    return None


def _path(value: str) -> str | None:
    return None if not value or value.startswith("/") else "empty, or a path starting with / on the site"


def _sections(value: Any) -> str | None:
    items = value.split(",") if isinstance(value, str) else list(value or ())
    if not [s for s in items if str(s).strip()]:
        return "at least one section path, e.g. Energy/Crude-Oil"
    return None


# Formats of text settings.
FORMATS: dict[str, Callable[[Any], str | None]] = {
    "OILNEWS_SITE_URL": _site_url,
    "OILNEWS_SINCE": _since,
    "OILNEWS_BACKFILL_SINCE": _since,
    "OILNEWS_POLITE": _choice(POLITE_CHOICES),
    "OILNEWS_REDIS_URL": _redis_url,
    "OILNEWS_CHART_PATH": _path,
    "OILNEWS_SECTIONS": _sections,
    "LOG_LEVEL": _choice(level.lower() for level in LOG_LEVELS),
}


def declared() -> dict[str, Any]:
    """Every OILNEWS_ setting with its default, from the settings module."""
    from oilnews import settings as module

    return {name: getattr(module, name) for name in dir(module) if name.startswith("OILNEWS_")}


def parse_assignment(text: str) -> tuple[str, str]:
    """`NAME=VALUE` of `-s`, or UsageError."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise UsageError(f"-s {text!r}: write -s NAME=VALUE, e.g. -s OILNEWS_MAX_PAGES=2")
    return name.strip(), value


def _kind(name: str, defaults: Mapping[str, Any]) -> type | None:
    if name in SCRAPY_TYPES:
        return SCRAPY_TYPES[name]
    default = defaults.get(name)
    return None if default is None else type(default)


def _typed(settings: BaseSettings, name: str, kind: type) -> Any:
    getters: dict[type, Callable[[str], Any]] = {
        bool: settings.getbool,
        int: settings.getint,
        float: settings.getfloat,
        list: settings.getlist,
    }
    getter = getters.get(kind)
    if getter is None:
        return settings.get(name)
    value = getter(name)
    if kind is int and isinstance(settings.get(name), float) and not float(settings.get(name)).is_integer():
        raise ValueError(name)
    if kind is float and not math.isfinite(value):
        raise ValueError(name)
    return value


_EXPECTED = {bool: "true or false", int: "a whole number", float: "a number", list: "a comma-separated list"}


def validate(settings: BaseSettings) -> None:
    """Raise UsageError for the first setting that is unknown, of the wrong type or out of range."""
    defaults = declared()
    for name in sorted(settings):
        if name.startswith("OILNEWS_") and name not in defaults:
            close = difflib.get_close_matches(name, list(defaults), n=1)
            hint = f"; did you mean {close[0]}?" if close else "; the settings are listed in README.md"
            raise UsageError(f"unknown setting {name}{hint}")
    for name in sorted({*defaults, *SCRAPY_TYPES, *FORMATS}):
        raw = settings.get(name)
        if raw is None:
            continue
        kind = _kind(name, defaults)
        if kind is not None and kind is not str:
            try:
                value = _typed(settings, name, kind)
            except (TypeError, ValueError):
                raise UsageError(f"{name}={raw!s}: expected {_EXPECTED.get(kind, kind.__name__)}") from None
            if kind in (int, float):
                low, high = RANGES.get(name, (0, None))
                if (low is not None and value < low) or (high is not None and value > high):
                    bounds = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
                    raise UsageError(f"{name}={raw!s}: must be {bounds}")
        check = FORMATS.get(name)
        if check is not None:
            problem = check(raw)
            if problem:
                raise UsageError(f"{name}={raw!s}: expected {problem}")


def apply_spider_arguments(settings: BaseSettings, arguments: Mapping[str, Any]) -> None:
    """Write spider arguments into the settings they name, before those freeze; an argument
    that names no setting is a usage error (a typo must not be ignored silently)."""
    for argument, value in arguments.items():
        if argument.startswith("_"):
            continue  # scrapyd's own (`_job`), not ours
        setting = SPIDER_ARGUMENTS.get(argument)
        if setting is None:
            known = ", ".join(sorted(SPIDER_ARGUMENTS))
            raise UsageError(f"unknown spider argument {argument!r}; known: {known}")
        if value not in (None, ""):
            settings.set(setting, value, priority="cmdline")
