"""Dates, every result timezone-aware UTC. Three sources, three rules, each in one function:

- what the site writes (`to_utc`, `parse_iso` and the byline, listing, HTTP and RSS formats):
  a time without an offset is the site's local time, US Central;
- what a person types (`parse_user_instant`: --since, --until, --changed-since, --epoch,
  OILNEWS_SINCE, OILNEWS_BACKFILL_SINCE): an offset or `Z` is honoured, none means UTC, a date
  alone is midnight UTC, a month alone its first day;
- what the database gives back (`utc_from_db`): SQLite keeps no offset, and oilnews writes
  only UTC there, so a naive value is UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

# The site publishes in US Central time: bylines say CDT/CST, JSON-LD offsets are -05/-06.
SITE_TZ = ZoneInfo("America/Chicago")
_ZONES = {
    "CDT": timezone(timedelta(hours=-5)),
    "CST": timezone(timedelta(hours=-6)),
    "EDT": timezone(timedelta(hours=-4)),
    "EST": timezone(timedelta(hours=-5)),
    "UTC": UTC,
    "GMT": UTC,
}
# The date part of a byline ("Aug 01, 2025, 2:15 AM CDT") and of a listing's meta line
# ("Aug 13, 2025 at 07:43"), found in their surrounding text and then read by strptime.
_BYLINE_DATE = re.compile(
    r"(?P<date>[A-Z][a-z]{2} \d{1,2}, \d{4}),? (?P<time>\d{1,2}:\d{2}\s*[AP]M)(?:\s+(?P<tz>[A-Z]{2,4}))?"
)
_LISTING_DATE = re.compile(r"(?P<date>[A-Z][a-z]{2} \d{1,2}, \d{4})(?: at (?P<time>\d{1,2}:\d{2}))?")
_AGE = re.compile(r"(?P<n>\d+)\s*(?P<unit>sec|min|hour|day|week|month|year)", re.IGNORECASE)
_AGE_UNITS = {
    "sec": timedelta(seconds=1),
    "min": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}


def to_utc(value: datetime) -> datetime:
    """Aware datetimes converted to UTC; naive ones taken as the site's local time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SITE_TZ)
    return value.astimezone(UTC)


def parse_iso(value: Any) -> datetime | None:
    """JSON-LD / sitemap timestamps such as `2025-08-01T02:15:00-05:00` (None for anything
    else: a page may put a number, a list or `0000-00-00` there)."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        return to_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return to_utc(datetime.combine(date.fromisoformat(text[:10]), datetime.min.time()))
    except ValueError:
        return None


def _strptime(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


def parse_byline_date(text: str | None) -> datetime | None:
    """`Aug 01, 2025, 2:15 AM CDT` (article byline); no zone named: the site's local time."""
    m = _BYLINE_DATE.search(text or "")
    if not m:
        return None
    local = _strptime(f"{m.group('date')} {m.group('time').replace(' ', '')}", "%b %d, %Y %I:%M%p")
    if local is None:
        return None
    zone = _ZONES.get(m.group("tz") or "")
    return to_utc(local.replace(tzinfo=zone) if zone else local)


def parse_listing_date(text: str | None) -> datetime | None:
    """`Aug 13, 2025 at 07:43` (listing meta; no zone stated, so site local time)."""
    m = _LISTING_DATE.search(text or "")
    if not m:
        return None
    local = _strptime(f"{m.group('date')} {m.group('time') or '00:00'}", "%b %d, %Y %H:%M")
    return None if local is None else to_utc(local)


def parse_http_date(text: str | None) -> datetime | None:
    """An HTTP date header (`Date`, `Retry-After`, `Last-Modified`), or None."""
    if not text:
        return None
    try:
        return to_utc(parsedate_to_datetime(text.strip()))
    except (TypeError, ValueError, IndexError):
        return None


def parse_rfc822(text: str | None) -> datetime | None:
    """RSS `pubDate` (RFC 822; some feeds write ISO 8601 instead)."""
    return parse_http_date(text) or parse_iso(text)


def parse_age(text: str | None, now: datetime) -> datetime | None:
    """Ticker `last_updated` ages ("11 mins", "13 hours", "5 days") back to a timestamp.

    Floored to the age's own unit: the same stale quote seen by two runs half an hour
    apart maps to the same instant, so it is stored once.
    """
    if not text:
        return None
    m = _AGE.search(text)
    if not m:
        return None
    unit = _AGE_UNITS[m.group("unit").lower()]
    instant = to_utc(now) - int(m.group("n")) * unit
    step = int(min(unit, timedelta(days=1)).total_seconds())
    return datetime.fromtimestamp(int(instant.timestamp()) // step * step, tz=UTC)


# What a publication time can be: not before the web archive of any energy news site, not more
# than FUTURE_SKEW after the page was read (time zones and clocks a little off).
EARLIEST_PUBLICATION = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SKEW = timedelta(days=1)


def plausible_publication(value: datetime | None, now: datetime) -> bool:
    return value is not None and EARLIEST_PUBLICATION <= value <= now + FUTURE_SKEW


# The forms parse_user_instant takes, as every message about a bad date names them.
USER_INSTANT_FORMS = "YYYY-MM, YYYY-MM-DD or ISO 8601"


def parse_user_instant(text: str) -> datetime:
    """An instant a person gave: `2024-01` (its first day), `2024-01-15` (midnight), or ISO
    8601 with or without an offset (`2024-01-15T12:00` is 12:00 UTC, as every help says)."""
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{1,2}", value):
        year, month = value.split("-")
        try:
            return datetime(int(year), int(month), 1, tzinfo=UTC)
        except ValueError:
            raise ValueError(f"not a date: {text!r} (use {USER_INSTANT_FORMS})") from None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date: {text!r} (use {USER_INSTANT_FORMS})") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def utc_from_db(value: datetime | str | None) -> datetime | None:
    """A timestamp as the database gave it back (SQLite: naive, or text from a raw query;
    PostgreSQL: aware), in UTC."""
    if value is None:
        return None
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def months_ago(moment: datetime, months: int) -> datetime:
    """The first instant (UTC) of the month `months` before `moment`'s month."""
    index = moment.year * 12 + moment.month - 1 - max(0, months)
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def months_between(since: datetime, until: datetime) -> Iterator[tuple[int, int]]:
    """(year, month) from `since`'s month to `until`'s, both included."""
    year, month = since.year, since.month
    while (year, month) <= (until.year, until.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def json_value(value: Any) -> Any:
    """A value as JSON carries it: datetimes as ISO 8601 (with their UTC offset), else as is."""
    return value.isoformat() if isinstance(value, datetime) else value
