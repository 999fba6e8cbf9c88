from datetime import UTC, datetime

import pytest

from oilnews.dates import (
    parse_age,
    parse_byline_date,
    parse_iso,
    parse_listing_date,
    parse_rfc822,
    parse_user_instant,
    utc_from_db,
)
from oilnews.text import clean_body, clean_line, content_hash, fix_mojibake, is_signature


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-08-01T02:15:00-05:00", datetime(2025, 8, 1, 7, 15, tzinfo=UTC)),
        ("2011-06-15T13:55:03-05:00", datetime(2011, 6, 15, 18, 55, 3, tzinfo=UTC)),
        ("2025-08-01T07:15:00Z", datetime(2025, 8, 1, 7, 15, tzinfo=UTC)),
        ("2025-01-10", datetime(2025, 1, 10, 6, 0, tzinfo=UTC)),  # a bare date is site-local midnight
        ("not a date", None),
        (None, None),
    ],
)
def test_parse_iso(text: str | None, expected: datetime | None) -> None:
    assert parse_iso(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" - Aug 01, 2025, 2:15 AM CDT", datetime(2025, 8, 1, 7, 15, tzinfo=UTC)),
        ("Jan 10, 2025, 12:05 PM CST", datetime(2025, 1, 10, 18, 5, tzinfo=UTC)),
        ("Jan 10, 2025, 12:05 AM CST", datetime(2025, 1, 10, 6, 5, tzinfo=UTC)),
        ("Jul 31, 2025, 9:30 AM", datetime(2025, 7, 31, 14, 30, tzinfo=UTC)),  # no zone: Chicago time
        ("Feb 30, 2025, 9:30 AM CST", None),
        ("yesterday", None),
    ],
)
def test_parse_byline_date(text: str, expected: datetime | None) -> None:
    assert parse_byline_date(text) == expected


def test_other_date_formats() -> None:
    assert parse_listing_date("Aug 13, 2025 at 07:43 ") == datetime(2025, 8, 13, 12, 43, tzinfo=UTC)
    assert parse_rfc822("Fri, 01 Aug 2025 07:15:00 +0000") == datetime(2025, 8, 1, 7, 15, tzinfo=UTC)
    now = datetime(2025, 8, 13, 12, 0, 40, tzinfo=UTC)
    assert parse_age("11 mins", now) == datetime(2025, 8, 13, 11, 49, tzinfo=UTC)
    # Floored to the unit: two runs half an hour apart see the same stale quote once.
    assert (
        parse_age("5 days", now)
        == parse_age("5 days", now.replace(minute=30))
        == datetime(2025, 8, 8, tzinfo=UTC)
    )


# One rule for what a person types: an offset or Z honoured, none means UTC, a date alone is
# midnight UTC. Values on both sides of the site's offset (US Central, -06:00 in January): a
# naive value read as the site's time would be six hours later than these.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-1", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-15", datetime(2024, 1, 15, tzinfo=UTC)),
        ("2023-01-03T12:00", datetime(2023, 1, 3, 12, 0, tzinfo=UTC)),
        ("2023-01-03T03:00", datetime(2023, 1, 3, 3, 0, tzinfo=UTC)),  # still Jan 2 in Chicago
        ("2023-01-03T23:30", datetime(2023, 1, 3, 23, 30, tzinfo=UTC)),  # 17:30 in Chicago
        ("2023-01-03T12:00Z", datetime(2023, 1, 3, 12, 0, tzinfo=UTC)),
        ("2023-01-03T12:00+00:00", datetime(2023, 1, 3, 12, 0, tzinfo=UTC)),
        ("2023-01-03T12:00-06:00", datetime(2023, 1, 3, 18, 0, tzinfo=UTC)),
        ("2023-07-03T12:00-05:00", datetime(2023, 7, 3, 17, 0, tzinfo=UTC)),
        (" 2023-01-03 12:00 ", datetime(2023, 1, 3, 12, 0, tzinfo=UTC)),
    ],
)
def test_a_user_instant_without_offset_is_utc(text: str, expected: datetime) -> None:
    parsed = parse_user_instant(text)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["last week", "2024-13", "2024-02-30", "", "01/02/2024"])
def test_a_user_instant_that_is_no_date_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_user_instant(text)


def test_a_stored_naive_value_is_utc() -> None:
    assert utc_from_db(datetime(2023, 1, 3, 12, 0)) == datetime(2023, 1, 3, 12, 0, tzinfo=UTC)
    assert utc_from_db("2023-01-03 12:00:00.000000") == datetime(2023, 1, 3, 12, 0, tzinfo=UTC)
    assert utc_from_db(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "Western interest on Africa\u00e2\u20ac\u2122s energy reserves",
            "Western interest on Africa\u2019s energy reserves",
        ),
        ("Chevron\u2019s Return", "Chevron\u2019s Return"),  # clean text is left alone
        ("caf\u00c3\u00a9 prices", "caf\u00e9 prices"),
    ],
)
def test_fix_mojibake(raw: str, expected: str) -> None:
    assert fix_mojibake(raw) == expected


def test_clean_line_and_body() -> None:
    assert clean_line("  a\u00a0 b&nbsp;c\u200b\n d ") == "a b c d"
    body = (
        "First.\n\n\n  Second &amp; more.\n\nMore Top Reads From Oilprice.com\n\nRelated: x\n\nADVERTISEMENT"
    )
    assert clean_body(body) == "First.\n\nSecond & more."
    assert clean_body(clean_body(body)) == clean_body(body)  # idempotent


@pytest.mark.parametrize(
    ("paragraph", "names", "expected"),
    [
        ("By Irina Slav for Oilprice.com", ["Irina Slav"], True),
        ("By. Joao Peixe, Deputy Editor OilPrice.com", ["Joao Peixe"], True),
        ("By Eurasianet.org", ["Eurasianet.org"], True),
        ("By contrast, prices fell.", ["Irina Slav"], False),
        ("By 2030 the field will produce 1 million bpd.", [], False),
    ],
)
def test_is_signature(paragraph: str, names: list[str], expected: bool) -> None:
    assert is_signature(paragraph, names) is expected


def test_content_hash_ignores_whitespace_and_case() -> None:
    assert content_hash("Title", "One.\n\nTwo.") == content_hash("title ", "One. Two.")
    assert content_hash("Title", "One.") != content_hash("Title", "Two.")
