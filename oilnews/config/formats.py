"""The accepted forms of text settings and environment variables: each check returns None for a
good value, else what is accepted (the end of the one-line usage error)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

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
    from oilnews.dates import USER_INSTANT_FORMS, parse_user_instant

    try:
        parse_user_instant(value)
    except ValueError:
        return f"a date: {USER_INSTANT_FORMS} (e.g. 2024-01)"
    return None


def one_of(choices: Iterable[str]) -> Callable[[str], str | None]:
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
    "OILNEWS_POLITE": one_of(POLITE_CHOICES),
    "OILNEWS_REDIS_URL": _redis_url,
    "OILNEWS_CHART_PATH": _path,
    "OILNEWS_SECTIONS": _sections,
    "LOG_LEVEL": one_of(level.lower() for level in LOG_LEVELS),
}


def whole_number(low: int, high: int | None = None) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if number < low or (high is not None and number > high):
            return f"a whole number from {low}" + (f" to {high}" if high is not None else " up")
        return None

    return check
