"""`oilnews crawl`: one crawl into the database, checked first, judged by its exit code.

The checks before a crawl and the exit code after it are this module's, and `scrapy crawl`
(what scrapyd runs, oilnews.commands.crawl) calls the same two functions: a crawl started
either way refuses the same mistakes with the same codes.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from oilnews.cli import add_db, settings_of
from oilnews.errors import ExitCode, OilnewsError, SiteUnreachable
from oilnews.summary import REPARSE_SPIDER

logger = logging.getLogger(__name__)


def crawl_argv(site: str, db: str, *extra: str, command: str = "crawl", **settings: Any) -> list[str]:
    """argv of a quiet `oilnews crawl` (or `command`, e.g. watch) in a fresh interpreter
    (tests, benchmarks, workers): a Twisted reactor runs once per process. Keyword arguments
    become `-s NAME=VALUE`."""
    options = [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]
    return [
        sys.executable,
        "-m",
        "oilnews.cli",
        command,
        "--site",
        site,
        "--db",
        db,
        "--quiet",
        *options,
        *extra,
    ]


def add_run_options(parser: argparse.ArgumentParser, progress: float) -> None:
    """What every command that runs a spider (crawl, watch) takes."""
    parser.add_argument(
        "--progress",
        type=float,
        default=progress,
        help=f"seconds between progress lines (default: {progress:g})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress or summary lines")
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"),
        help="(default: INFO; DEBUG also shows tracebacks)",
    )
    parser.add_argument(
        "--log-file", help="full log (with tracebacks) here instead of stderr (default: stderr)"
    )
    parser.add_argument(
        "-s",
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="any Scrapy/oilnews setting, again for more (default: settings.py, then the environment)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", help="site to crawl (default: $OILNEWS_SITE_URL or https://oilprice.com)")
    add_db(parser)
    from oilnews import settings as defaults

    parser.add_argument(
        "--max-pages",
        type=int,
        help=f"listing pages per section, 0: all (default: {defaults.OILNEWS_MAX_PAGES})",
    )
    parser.add_argument(
        "--since",
        help="YYYY-MM[-DD]: stop at older listings; walk sitemaps from then (default: none, "
        "the listings to their end)",
    )
    parser.add_argument(
        "--backfill-since",
        help="YYYY-MM: after the fresh news, spend up to OILNEWS_BACKFILL_BUDGET_MINUTES on the archive "
        "from then (default: no backfill)",
    )
    parser.add_argument(
        "--max-hops",
        type=int,
        help=f"sidebar/related link hops to follow (default: {defaults.OILNEWS_MAX_HOPS})",
    )
    parser.add_argument(
        "--sections",
        help="comma-separated section paths, e.g. Energy/Crude-Oil (default: Latest Energy News and "
        "the editorial sections, README)",
    )
    parser.add_argument(
        "--full", action="store_true", help="download everything again, ignore what is stored"
    )
    add_run_options(parser, progress=10.0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_spider(args, "news")


def check_before_crawl(settings: Any, spider: str = "news") -> None:
    """Everything a crawl can be refused for before it starts: bad settings (64) and missing
    packages (70), a database it could never write (3), a site that does not answer (2), or
    for a reparse, which needs no site, no captured page to read (64). A new SQLite file is
    only checked for its place before the site answers, and created after: a refused start
    creates nothing."""
    from oilnews.addons import preflight
    from oilnews.storage.engine import new_sqlite_file

    preflight(settings)
    fresh = new_sqlite_file(settings.get("OILNEWS_DATABASE_URL")) is not None
    if not fresh:
        _check_writable(settings)  # a database we could never write to: exit 3 before any request
    if spider == REPARSE_SPIDER:
        from oilnews.storage.captures import check_captures

        check_captures(settings)
    else:
        site = settings.get("OILNEWS_SITE_URL")
        from oilnews.site import reachable

        reason = reachable(site)
        if reason is not None:
            raise SiteUnreachable(f"cannot reach {site}: {reason} (is the URL right, and the site up?)")
    if fresh:
        _check_writable(settings)


def _check_writable(settings: Any) -> None:
    """Connect, migrate (a new SQLite file is created here) and try a write, rolled back."""
    from oilnews.storage.database import Database

    database = Database(
        settings.get("OILNEWS_DATABASE_URL"),
        retries=settings.getint("OILNEWS_DB_RETRIES"),
        backoff=settings.getfloat("OILNEWS_DB_RETRY_BACKOFF"),
        auto_migrate=settings.getbool("OILNEWS_DB_AUTO_MIGRATE"),
    )
    try:
        database.check_writable()
    finally:
        database.close()


# The finish reason of a run refused before it started, by the exit code it ends with.
REFUSED_START_REASONS = {
    ExitCode.USAGE: "bad_settings",
    ExitCode.UNREACHABLE: "site_unreachable",
    ExitCode.DATABASE: "database_unusable",
    ExitCode.INTERNAL: "cannot_start",
}


def start_checked(settings: Any, spider: str) -> None:
    """check_before_crawl; when it refuses the crawl, the run still tells, as any failed run
    does (record_refused_start), and the error goes on to the caller's exit code."""
    try:
        check_before_crawl(settings, spider)
    except OilnewsError as error:
        record_refused_start(settings, spider, error)
        raise


def record_refused_start(settings: Any, spider: str, error: OilnewsError) -> None:
    """A `crawl_runs` row (status failed, the reason in one line) in the database when it is
    there to take one (nothing is created for it), the failure alert, and the metrics file."""
    from oilnews.errors import DatabaseUnusable
    from oilnews.extensions.alerts import AlertChannels, Verdict
    from oilnews.extensions.metrics import run_gauges, write_metrics
    from oilnews.logs import first_line

    line = first_line(error)
    reason = REFUSED_START_REASONS.get(ExitCode(error.exit_code), "cannot_start")
    now = datetime.now(UTC)
    run_id = None if isinstance(error, DatabaseUnusable) else _record_refused(settings, spider, reason, line)
    v = Verdict(False, [line], reason, {}, run_id, str(settings.get("OILNEWS_SITE_URL")))
    alerts = AlertChannels(settings)
    if alerts:
        alerts.deliver(v)
    path = settings.get("OILNEWS_METRICS_FILE")
    if path:
        try:
            write_metrics(str(path), run_gauges(v, now, now, None))
        except OSError as failure:
            logger.error("metrics file %s not written: %s", path, first_line(failure))


def _record_refused(settings: Any, spider: str, reason: str, line: str) -> int | None:
    from oilnews.health import FAILED
    from oilnews.logs import first_line
    from oilnews.storage.database import open_for_reading
    from oilnews.storage.models import utcnow
    from oilnews.storage.runs import finish_run, start_run

    try:
        database = open_for_reading(settings.get("OILNEWS_DATABASE_URL"))  # creates nothing
    except Exception as failure:
        logger.info("no crawl_runs row for the refused start: %s", first_line(failure))
        return None

    def record(conn: Any) -> int:
        run_id = start_run(conn, spider, str(settings.get("OILNEWS_SITE_URL")))
        health = {"ok": False, "failures": [line], "checked": False}
        finish_run(conn, run_id, finished_at=utcnow(), status=FAILED, finish_reason=reason, health=health)
        return run_id

    try:
        return database.transaction(record)
    except Exception as failure:
        logger.info("no crawl_runs row for the refused start: %s", first_line(failure))
        return None
    finally:
        database.close()


def finished_code(stats: dict[str, Any], settings: Any, bootstrap_failed: bool) -> ExitCode:
    """The exit code of a crawl that ran: a start that failed before any work is an internal
    error (70), else what its stats say (oilnews.health.exit_code)."""
    from oilnews.health import exit_code

    if bootstrap_failed and not stats:
        raise OilnewsError("the crawl could not start; run with --log-level DEBUG for the details")
    return exit_code(stats, settings)


def run_spider(args: argparse.Namespace, spider: str) -> int:
    """A crawl (`news`) or a watcher (`watch`), checked first, judged by its exit code."""
    # Imported here, where the stack is short, not deep inside the crawler's start: at import
    # these call Scrapy's create_deprecated_class, whose inspect.stack() reads the source of
    # every frame above it (0.25 s of a rerun when imported by the download handler).
    import scrapy.core.downloader.contextfactory  # noqa: F401
    from scrapy.crawler import CrawlerProcess

    from oilnews.health import DATABASE_ERROR_KEY, HEALTH_FAILURES_KEY, INTERRUPTED_KEY
    from oilnews.logs import hide_tracebacks, install_masking, mask_secrets
    from oilnews.stats import key
    from oilnews.summary import run_counts, summary_line

    install_masking()
    settings = settings_of(args)
    start_checked(settings, spider)
    site = settings.get("OILNEWS_SITE_URL")
    if not args.quiet:
        settings.set("OILNEWS_PROGRESS_INTERVAL", args.progress, priority="cmdline")
    if args.log_level is None and args.log_file is None:
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    process = CrawlerProcess(settings)
    if args.log_file is None:
        hide_tracebacks(settings.get("LOG_LEVEL"))
    crawler = process.create_crawler(spider)
    started = time.monotonic()
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    code = finished_code(stats, settings, process.bootstrap_failed)
    if not args.quiet:
        where = mask_secrets(settings.get("OILNEWS_DATABASE_URL"))
        healthy = code == ExitCode.OK
        line = summary_line(
            run_counts(stats), time.monotonic() - started, healthy, stats.get(key("run_id")), where
        )
        print(line, file=sys.stderr)
    if code == ExitCode.DATABASE:
        print(
            f"oilnews: error: {stats.get(DATABASE_ERROR_KEY) or 'the database became unusable'}",
            file=sys.stderr,
        )
    elif code == ExitCode.UNREACHABLE:
        print(f"oilnews: error: no page of {site} could be downloaded (see the log above)", file=sys.stderr)
    elif code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
        print(
            f"oilnews: stopped by {stats.get(INTERRUPTED_KEY)}: what was fetched is stored; "
            "the next run goes on from there",
            file=sys.stderr,
        )
    elif code == ExitCode.UNHEALTHY:
        failures = list(stats.get(HEALTH_FAILURES_KEY) or ["see crawl_runs.health"])
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        print(f"oilnews: error: health check failed: {failures[0]}{more}", file=sys.stderr)
    return int(code)
