"""`oilnews crawl`: one crawl into the database, checked first, judged by its exit code.

The checks before a crawl and the exit code after it are this module's, and `scrapy crawl`
(what scrapyd runs, oilnews.commands.crawl) calls the same two functions: a crawl started
either way refuses the same mistakes with the same codes.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from oilnews.cli import add_db, settings_of
from oilnews.errors import ExitCode, OilnewsError, SiteUnreachable


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
        "--log-level", type=str.upper, choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
    )
    parser.add_argument("--log-file", help="full log (with tracebacks) here instead of stderr")
    parser.add_argument(
        "-s", "--set", action="append", metavar="NAME=VALUE", help="any Scrapy/oilnews setting"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", help="site to crawl (default: $OILNEWS_SITE_URL or https://oilprice.com)")
    add_db(parser)
    parser.add_argument("--max-pages", type=int, help="listing pages per section (0: all)")
    parser.add_argument("--since", help="YYYY-MM[-DD]: stop at older listings; walk sitemaps from then")
    parser.add_argument(
        "--backfill-since",
        help="YYYY-MM: after the fresh news, spend up to OILNEWS_BACKFILL_BUDGET_MINUTES on the archive from then",
    )
    parser.add_argument("--max-hops", type=int, help="sidebar/related link hops to follow")
    parser.add_argument("--sections", help="comma-separated section paths, e.g. Energy/Crude-Oil")
    parser.add_argument(
        "--full", action="store_true", help="download everything again, ignore what is stored"
    )
    add_run_options(parser, progress=10.0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_spider(args, "news")


def reachable(site_url: str, timeout: float = 15) -> str | None:
    """None when the site answers at all (any HTTP status), else the reason it does not."""
    try:
        with urllib.request.urlopen(site_url.rstrip("/") + "/robots.txt", timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as error:
        return str(getattr(error, "reason", error))


def check_before_crawl(settings: Any) -> None:
    """Everything a crawl can be refused for before it starts, in the order a user fixes them:
    bad settings (64) and missing packages (70), a database it could never write (3), a site
    that does not answer (2)."""
    from oilnews.addons import preflight
    from oilnews.storage.database import Database

    preflight(settings)
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
    site = settings.get("OILNEWS_SITE_URL")
    reason = reachable(site)
    if reason is not None:
        raise SiteUnreachable(f"cannot reach {site}: {reason} (is the URL right, and the site up?)")


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

    from oilnews.health import DATABASE_ERROR_KEY, HEALTH_FAILURES_KEY
    from oilnews.logs import hide_tracebacks, install_masking, mask_secrets
    from oilnews.stats import key
    from oilnews.summary import run_counts, summary_line

    install_masking()
    settings = settings_of(args)
    check_before_crawl(settings)
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
    elif code == ExitCode.UNHEALTHY:
        failures = list(stats.get(HEALTH_FAILURES_KEY) or ["see crawl_runs.health"])
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        print(f"oilnews: error: health check failed: {failures[0]}{more}", file=sys.stderr)
    return int(code)
