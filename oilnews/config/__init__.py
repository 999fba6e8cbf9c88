"""Checking settings before a crawl starts, and the spider arguments that set them.

Every `OILNEWS_` setting is declared once, with its default, in `oilnews/settings.py`; its type
is its default's type. This package adds only what a default cannot say: ranges and types here,
the forms of text values in `formats`, what the environment may set in `environment`. `validate()` runs before anything is downloaded (the CLI, `scrapy crawl`, scrapyd jobs
and the add-on all call it) and raises UsageError with one line naming the setting, the bad
value and what is accepted.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from oilnews.config.environment import declared
from oilnews.config.formats import FORMATS
from oilnews.errors import UsageError, unknown_name

if TYPE_CHECKING:  # the read commands use this module without Scrapy
    from scrapy.settings import BaseSettings

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
    "OILNEWS_WARC_MAX_MB": (0.01, 1_000_000),
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
# Settings of the plugins oilnews runs with (scrapy-playwright, scrapy-redis), which Scrapy's
# defaults do not list: a `-s` name with one of these prefixes is theirs to judge.
_PLUGIN_PREFIXES = ("PLAYWRIGHT_", "REDIS_", "SCHEDULER_")


@functools.cache
def scrapy_names() -> list[str]:
    """Every setting Scrapy or this project declares."""
    import scrapy.settings.default_settings as scrapy_defaults

    from oilnews import settings as module

    return sorted({n for n in dir(scrapy_defaults) if n.isupper()} | {n for n in dir(module) if n.isupper()})


def _known_elsewhere(name: str) -> bool:
    """A `-s` name that is not ours: known when Scrapy declares it or a plugin's prefix is its."""
    return name.startswith("OILNEWS_") or name.startswith(_PLUGIN_PREFIXES) or name in scrapy_names()


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
    """Raise UsageError for the first setting that is unknown, of the wrong type or out of range.
    A name not ours is judged only when given on the command line (`-s`, a command's option)."""
    from scrapy.settings import SETTINGS_PRIORITIES  # validate runs on Scrapy's settings only

    defaults = declared()
    for name in sorted(settings):
        if name.startswith("OILNEWS_") and name not in defaults:
            raise unknown_name("setting", name, defaults, "the settings are listed in README.md")
        if settings.getpriority(name) == SETTINGS_PRIORITIES["cmdline"] and not _known_elsewhere(name):
            raise unknown_name(
                "setting", name, [*scrapy_names(), *defaults], "see Scrapy's settings reference"
            )
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
