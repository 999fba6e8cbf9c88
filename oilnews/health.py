"""Health checks: a table of monitors over the final crawl stats (spidermon's habit), and
the one function that turns a finished crawl into an exit code.

A site redesign that yields empty articles must fail the run loudly; a normal site (deleted
articles, a slow page) must not. Each monitor is a row: what it counts in the stats, the
setting that bounds it, and the line it writes when the bound is crossed. A new monitor is a
new row in MONITORS (see docs/architecture.md). Pure: the extension that evaluates the table
at the end of a run is oilnews.extensions.health.HealthMonitor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oilnews.errors import ExitCode
from oilnews.stats import ERROR_PREFIX, key

if TYPE_CHECKING:  # pure: `oilnews runs` reads the statuses without Scrapy
    from scrapy.settings import BaseSettings

HEALTH_OK_KEY = key("health", "ok")


HEALTH_FAILURES_KEY = key("health", "failures")


DATABASE_ERROR_KEY = key("database", "unusable")  # the one line saying why, set by the store


DATABASE_UNUSABLE_REASON = "database_unusable"  # the finish reason when the database gave up
INTERRUPTED_KEY = key("interrupted_by")  # SIGINT or SIGTERM, set by extensions.interrupts
DEAD_LETTER_KEY = key("store", "dead_letter")  # /<kind>: rows the database refused (the store pipeline)
SUSPICIOUS_DATES_KEY = key("dates", "suspicious")  # articles with a date that cannot be right (validate)

# What crawl_runs.status says of a run, one word (README "Run status").
RUNNING, FINISHED, FAILED, INTERRUPTED, ABANDONED = (
    "running",
    "finished",
    "failed",
    "interrupted",
    "abandoned",
)
RUN_STATUSES = (RUNNING, FINISHED, FAILED, INTERRUPTED, ABANDONED)


Stats = Mapping[str, Any]


def _int(stats: Stats, name: str) -> int:
    return int(stats.get(name, 0) or 0)


def _sum(stats: Stats, *prefixes: str) -> int:
    return sum(int(v) for k, v in stats.items() if k.startswith(prefixes) and isinstance(v, int | float))


def articles(stats: Stats) -> int:
    return _int(stats, key("clean", "articles"))


def unreplayed_spool(stats: Stats) -> int:
    """Items spooled by this run and not yet written: a watcher replays what it spooled once
    the database is back (spool_recovered)."""
    return max(0, _int(stats, key("store", "spooled_items")) - _int(stats, key("store", "spool_recovered")))


REPARSE_RECORDS_KEY = key("reparse", "records")  # response records a reparse read (its spider's)


def reparsed(stats: Stats) -> bool:
    """A reparse's run: it reads captured pages, and asks the site for nothing."""
    return REPARSE_RECORDS_KEY in stats


def errors(stats: Stats) -> int:
    """Server errors after retries, timeouts, connection failures, parse errors. Not 404/410:
    an article the site deleted is a fact of the site (counted under oilnews/gone)."""
    return _sum(stats, ERROR_PREFIX + "/", key("pages", "parse_error"))


@dataclass(frozen=True)
class Monitor:
    """Fails when `count / total` exceeds the setting `limit` (with no limit: when count > 0).
    `observe` returns (count, total), or None when the monitor does not apply to this run."""

    name: str
    observe: Callable[[Stats, str], tuple[int, int] | None]
    limit: str | None
    message: str  # formatted with count, total, limit, reason


def _field_missing(field: str) -> Monitor:
    return Monitor(
        f"{field}_missing",
        lambda s, _r: (_int(s, key("fields_missing", field)), articles(s)) if articles(s) else None,
        "OILNEWS_HEALTH_MAX_MISSING_SHARE",
        f"{field} missing in {{count}}/{{total}} articles (over {{limit:.0%}})",
    )


MONITORS: tuple[Monitor, ...] = (
    Monitor(
        "finished",
        lambda s, reason: (int(reason != "finished"), 1),
        None,
        "finish reason is {reason!r}, not 'finished'",
    ),
    Monitor(
        "articles_parsed",
        lambda s, _r: (
            # Entries skipped as stored already or older than --since: the pages were read
            # right, there was nothing to fetch.
            int(
                not articles(s)
                and not _int(s, key("skipped", "known"))
                and not _int(s, key("skipped", "before_since"))
            ),
            _int(s, key("pages", "listing")) + _int(s, key("pages", "feed")),
        ),
        None,
        "no articles parsed although {total} listing/feed pages were read",
    ),
    Monitor(
        "body_container",
        lambda s, _r: (_int(s, key("body_source", "json_ld")), articles(s)) if articles(s) else None,
        "OILNEWS_HEALTH_MAX_MISSING_SHARE",
        "article body container not found in {count}/{total} articles "
        "(body taken from JSON-LD): the page layout has changed",
    ),
    Monitor(
        "error_rate",
        lambda s, _r: (errors(s), _int(s, "downloader/request_count")),
        "OILNEWS_HEALTH_MAX_ERROR_RATE",
        "error rate {count}/{total} over {limit:.0%}",
    ),
    Monitor(
        "spooled",
        lambda s, _r: (unreplayed_spool(s), 1),
        None,
        "{count} items spooled: database writes failed",
    ),
    Monitor(
        "suspicious_dates",
        lambda s, _r: (_int(s, SUSPICIOUS_DATES_KEY), _int(s, key("valid", "articles"))),
        "OILNEWS_HEALTH_MAX_SUSPICIOUS_DATES",
        "dates that cannot be right (in the future, or changed long before published) in "
        "{count}/{total} articles: the site's dates may have changed format",
    ),
    Monitor(
        "refused_rows",
        lambda s, _r: (_int(s, DEAD_LETTER_KEY + "/refused"), 1),
        None,
        "{count} rows refused by the database, kept as dead letters: `oilnews spool` lists them",
    ),
    Monitor(
        # Kept the same way, but a bug of oilnews's writer, not bad data: the log has its traceback.
        "writer_failed_rows",
        lambda s, _r: (_int(s, DEAD_LETTER_KEY + "/bug"), 1),
        None,
        "{count} rows the writer failed on (a bug: the log has the traceback), kept as dead letters: "
        "`oilnews spool` lists them",
    ),
    Monitor(
        "requests_made",
        lambda s, reason: (
            (int(reason == "finished" and not _int(s, "downloader/request_count")), 1)
            if not reparsed(s)
            else None
        ),
        None,
        "no request was made",
    ),
    Monitor(
        "captures_parsed",
        lambda s, _r: (
            (
                int(not articles(s) and not _int(s, key("skipped", "before_since"))),
                _int(s, REPARSE_RECORDS_KEY),
            )
            if reparsed(s)
            else None
        ),
        None,
        "no article found in {total} captured responses",
    ),
)


def monitors(settings: BaseSettings) -> list[Monitor]:
    """The table, with one field monitor per OILNEWS_HEALTH_FIELDS entry."""
    return [
        MONITORS[0],
        MONITORS[1],
        *(_field_missing(f) for f in settings.getlist("OILNEWS_HEALTH_FIELDS")),
        *MONITORS[2:],
    ]


def clean_finish(finish_reason: str, settings: BaseSettings) -> bool:
    """Whether a run ended as it should: 'finished', or for a watcher also 'shutdown' (SIGTERM)."""
    return finish_reason in settings.getlist("OILNEWS_CLEAN_FINISH_REASONS")


def evaluate(stats: Stats, finish_reason: str, settings: BaseSettings) -> dict[str, Any]:
    if not settings.getbool("OILNEWS_HEALTH_ENABLED"):
        return {"ok": True, "failures": [], "checked": False}
    if clean_finish(finish_reason, settings):
        finish_reason = "finished"
    failures: list[str] = []
    for monitor in monitors(settings):
        observed = monitor.observe(stats, finish_reason)
        if observed is None:
            continue
        count, total = observed
        if not total:
            continue
        limit = settings.getfloat(monitor.limit) if monitor.limit else None
        if (limit is None and count > 0) or (limit is not None and count / total > limit):
            failures.append(
                monitor.message.format(count=count, total=total, limit=limit, reason=finish_reason)
            )
    return {
        "ok": not failures,
        "failures": failures,
        "checked": True,
        "articles": articles(stats),
        "requests": _int(stats, "downloader/request_count"),
        "errors": errors(stats),
        "gone": _sum(stats, key("gone") + "/"),
    }


def interrupted_by(stats: Stats) -> str | None:
    """SIGINT or SIGTERM when a person or a service manager stopped the run, else None."""
    signal_name = stats.get(INTERRUPTED_KEY)
    return str(signal_name) if signal_name else None


def run_status(stats: Stats, finish_reason: str, settings: BaseSettings, healthy: bool) -> str:
    """The status word of a run that ended: interrupted (stopped by a signal: not an incident),
    finished (a clean end and a passed health check) or failed."""
    if interrupted_by(stats):
        return INTERRUPTED
    return FINISHED if clean_finish(finish_reason, settings) and healthy else FAILED


def exit_code(stats: Stats, settings: BaseSettings) -> ExitCode:
    """The exit code of a finished crawl, for `oilnews crawl` and `scrapy crawl` alike."""
    if stats.get(DATABASE_ERROR_KEY) or stats.get("finish_reason") == DATABASE_UNUSABLE_REASON:
        return ExitCode.DATABASE
    signal_name = interrupted_by(stats)
    if signal_name is not None:
        return ExitCode.TERMINATED if signal_name == "SIGTERM" else ExitCode.INTERRUPTED
    if not _int(stats, "response_received_count") and not reparsed(stats):
        return ExitCode.UNREACHABLE
    verdict = stats.get(HEALTH_OK_KEY)
    if verdict is None:  # the HealthMonitor extension was switched off: judge here
        verdict = evaluate(stats, str(stats.get("finish_reason", "")), settings)["ok"]
    return ExitCode.OK if verdict else ExitCode.UNHEALTHY
