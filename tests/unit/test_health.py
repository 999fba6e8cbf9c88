from typing import Any

import pytest
from scrapy.settings import Settings

from oilnews.health import evaluate
from tests.helpers import project_settings

HEALTHY = {"downloader/request_count": 100, "oilnews/pages/listing": 5, "oilnews/clean/articles": 90}


@pytest.mark.parametrize(
    ("extra", "reason", "failure"),
    [
        ({}, "finished", None),
        ({}, "shutdown", "finish reason is 'shutdown'"),
        ({"oilnews/clean/articles": 0}, "finished", "no articles parsed"),
        (
            {"oilnews/clean/articles": 0, "oilnews/skipped/known": 40},
            "finished",
            None,
        ),  # incremental, nothing new
        (
            {"oilnews/clean/articles": 0, "oilnews/skipped/before_since": 20},
            "finished",
            None,
        ),  # --since later than everything listed
        (
            {"oilnews/store/spooled_items": 3, "oilnews/store/spool_recovered": 3},
            "finished",
            None,
        ),  # a watcher replayed them
        ({"oilnews/fields_missing/body": 50}, "finished", "body missing in 50/90"),
        ({"oilnews/fields_missing/authors": 5}, "finished", None),  # under the 10% threshold
        ({"oilnews/fields_missing/published_at": 10}, "finished", "published_at missing in 10/90"),
        ({"oilnews/request_failed/http_503": 6}, "finished", "error rate 6/100"),
        ({"oilnews/body_source/json_ld": 30}, "finished", "article body container not found"),
        ({"oilnews/store/spooled_items": 3}, "finished", "3 items spooled"),
        ({"oilnews/store/dead_letter/refused": 1}, "finished", "1 rows refused by the database"),
        ({"oilnews/dates/suspicious": 5, "oilnews/valid/articles": 90}, "finished", None),  # 5.6%
        ({"oilnews/dates/suspicious": 30, "oilnews/valid/articles": 90}, "finished", "cannot be right"),
        ({"oilnews/store/dead_letter/bug": 2}, "finished", "2 rows the writer failed on (a bug"),
        (
            {"downloader/request_count": 0, "oilnews/pages/listing": 0, "oilnews/clean/articles": 0},
            "finished",
            "no request was made",
        ),
    ],
)
def test_health_checks(extra: dict[str, Any], reason: str, failure: str | None) -> None:
    verdict = evaluate({**HEALTHY, **extra}, reason, Settings(project_settings()))
    if failure is None:
        assert verdict["ok"] and verdict["failures"] == []
    else:
        assert not verdict["ok"]
        assert any(failure in f for f in verdict["failures"]), verdict["failures"]


def test_health_thresholds_are_settings() -> None:
    stats = {**HEALTHY, "oilnews/fields_missing/authors": 5}
    strict = Settings(project_settings(OILNEWS_HEALTH_MAX_MISSING_SHARE=0.01))
    assert not evaluate(stats, "finished", strict)["ok"]
    off = Settings(project_settings(OILNEWS_HEALTH_ENABLED=False))
    assert evaluate({}, "shutdown", off)["ok"]


def test_log_records_are_masked() -> None:
    import logging

    from oilnews.logs import install_masking

    install_masking()
    record = logging.getLogRecordFactory()(
        "x", logging.INFO, __file__, 1, "connecting to %s", ("postgresql://u:hunter2@db/x",), None
    )
    assert record.getMessage() == "connecting to postgresql://u:***@db/x"
