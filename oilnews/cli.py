"""`oilnews` command line: crawl, parse, replica serve, runs, db upgrade."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_UNHEALTHY, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 64, 75


def crawl_argv(site: str, db: str, *extra: str, **settings: Any) -> list[str]:
    """argv of a quiet one-shot crawl in a fresh interpreter (tests, benchmarks, workers):
    a Twisted reactor runs once per process. Keyword arguments become `-s NAME=VALUE`."""
    options = [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]
    return [
        sys.executable,
        "-m",
        "oilnews.cli",
        "crawl",
        "--site",
        site,
        "--db",
        db,
        "--quiet",
        *options,
        *extra,
    ]


def _settings(args: argparse.Namespace) -> Any:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "oilnews.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    overrides = {
        "OILNEWS_SITE_URL": getattr(args, "site", None),
        "OILNEWS_DATABASE_URL": getattr(args, "db", None),
        "OILNEWS_MAX_PAGES": getattr(args, "max_pages", None),
        "OILNEWS_SINCE": getattr(args, "since", None),
        "OILNEWS_MAX_HOPS": getattr(args, "max_hops", None),
        "OILNEWS_SECTIONS": getattr(args, "sections", None),
        "OILNEWS_FULL": True if getattr(args, "full", False) else None,
        "LOG_LEVEL": getattr(args, "log_level", None),
        "LOG_FILE": getattr(args, "log_file", None),
    }
    for name, value in overrides.items():
        if value is not None:
            settings.set(name, value, priority="cmdline")
    for pair in getattr(args, "set", None) or []:
        name, _, value = pair.partition("=")
        settings.set(name, value, priority="cmdline")
    return settings


def _reachable(site_url: str, timeout: float = 15) -> str | None:
    """None when the site answers at all (any HTTP status), else the reason it does not."""
    try:
        with urllib.request.urlopen(site_url.rstrip("/") + "/robots.txt", timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as error:
        return str(getattr(error, "reason", error))


def cmd_crawl(args: argparse.Namespace) -> int:
    from scrapy.crawler import CrawlerProcess

    from oilnews.extensions import run_counts
    from oilnews.stats import key
    from oilnews.storage.db import mask_secrets

    settings = _settings(args)
    if not args.quiet:
        settings.set("OILNEWS_PROGRESS_INTERVAL", args.progress, priority="cmdline")
    site = settings.get("OILNEWS_SITE_URL")
    reason = _reachable(site)
    if reason is not None:
        print(f"oilnews: error: cannot reach {site}: {reason}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.log_level is None and args.log_file is None:
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler("news")
    started = time.monotonic()
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    counts = run_counts(stats)
    healthy = bool(stats.get(key("health", "ok"), False))
    elapsed = time.monotonic() - started
    if not args.quiet:
        print(
            f"oilnews: {'done' if healthy else 'UNHEALTHY'} in {elapsed:.1f}s: "
            f"pages {counts['responses']}, articles new {counts['articles_new']}, "
            f"updated {counts['articles_updated']}, unchanged {counts['articles_unchanged']}, "
            f"duplicate {counts['duplicates']}, dropped {counts['dropped']}, "
            f"skipped known {counts['skipped_known']}, refreshed {counts['refreshed']}, quotes {counts['quotes']}, "
            f"errors {counts['errors']}; run {stats.get(key('run_id'))} in "
            f"{mask_secrets(settings.get('OILNEWS_DATABASE_URL'))}",
            file=sys.stderr,
        )
    if stats.get("response_received_count", 0) == 0:
        print(f"oilnews: error: no page of {site} could be downloaded", file=sys.stderr)
        return EXIT_UNREACHABLE
    return EXIT_OK if healthy else EXIT_UNHEALTHY


def cmd_parse(args: argparse.Namespace) -> int:
    from scrapy.http import HtmlResponse

    from oilnews.pages.article import parse_article
    from oilnews.pages.listing import parse_listing
    from oilnews.pipelines.clean import clean_article

    body = Path(args.file).read_bytes()
    response = HtmlResponse(url=args.url, body=body, encoding=args.encoding)
    if args.kind == "listing":
        page = parse_listing(response)
        output: dict[str, Any] = {
            "next_url": page.next_url,
            "total_pages": page.total_pages,
            "entries": [
                {
                    "url": e.url,
                    "title": e.title,
                    "author": e.author,
                    "listed_at": e.listed_at.isoformat() if e.listed_at else None,
                }
                for e in page.entries
            ],
        }
    else:
        output = clean_article(parse_article(response)).to_json()
    json.dump(output, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_replica(args: argparse.Namespace) -> int:
    from oilnews.replica.server import ReplicaServer

    edited = frozenset(int(i) for i in args.edited.split(",") if i) if args.edited else frozenset()
    extra: dict[str, Any] = {"edited": edited, "js_every": args.js_every}
    if args.epoch:
        from oilnews.dates import parse_since

        extra["epoch"] = parse_since(args.epoch)
    server = ReplicaServer(
        args.articles,
        port=args.port,
        host=args.host,
        access_log=Path(args.access_log) if args.access_log else None,
        **extra,
    )
    server.state.broken_articles = args.broken_articles
    print(f"replica of {args.articles} articles serving on {server.url}", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from oilnews.storage.db import Database, recent_runs

    settings = _settings(args)
    database = Database(settings.get("OILNEWS_DATABASE_URL"))
    rows = database.transaction(lambda conn: recent_runs(conn, args.limit))
    for row in rows:
        c = row.counts or {}
        print(
            f"#{row.id} {row.started_at:%Y-%m-%d %H:%M:%S} {row.status:<8} {row.finish_reason or '-':<10} "
            f"requests {c.get('requests', 0)} new {c.get('articles_new', 0)} updated {c.get('articles_updated', 0)} "
            f"unchanged {c.get('articles_unchanged', 0)} skipped {c.get('skipped_known', 0)} "
            f"dropped {c.get('dropped', 0)} errors {c.get('errors', 0)}"
            + ("" if (row.health or {}).get("ok", True) else f"  health: {'; '.join(row.health['failures'])}")
        )
    database.close()
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    from oilnews.storage.db import Database

    settings = _settings(args)
    database = Database(settings.get("OILNEWS_DATABASE_URL"))
    database.transaction(lambda conn: None)
    print(f"schema up to date in {database.safe_url}")
    database.close()
    return EXIT_OK


def _scrapyd(url: str, endpoint: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    """One call of scrapyd's JSON API, with basic auth from SCRAPYD_USERNAME/SCRAPYD_PASSWORD."""
    import base64
    import urllib.parse

    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(f"{url.rstrip('/')}/{endpoint}", data=body)
    user, password = os.environ.get("SCRAPYD_USERNAME", ""), os.environ.get("SCRAPYD_PASSWORD", "")
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    if answer.get("status") != "ok":
        raise RuntimeError(f"scrapyd {endpoint}: {answer.get('message', answer)}")
    return answer


def cmd_schedule(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get("SCRAPYD_URL", "http://127.0.0.1:6800")
    jobs = _scrapyd(url, f"listjobs.json?project={args.project}")
    busy = [
        job
        for state in ("pending", "running")
        for job in jobs.get(state, [])
        if job.get("spider") == args.spider
    ]
    if busy:
        print(
            f"oilnews: a {args.spider} job is already {', '.join(sorted({j.get('id', '?') for j in busy}))}"
            " pending or running; not scheduling another",
            file=sys.stderr,
        )
        return EXIT_SKIPPED
    spider_args = dict(pair.split("=", 1) for pair in args.spider_args)
    answer = _scrapyd(url, "schedule.json", {"project": args.project, "spider": args.spider, **spider_args})
    print(answer["jobid"])
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oilnews", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_db(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="SQLAlchemy URL (default: $OILNEWS_DATABASE_URL or sqlite:///oilnews.db)")

    crawl = sub.add_parser("crawl", help="one-shot crawl into the database")
    crawl.add_argument("--site", help="site to crawl (default: $OILNEWS_SITE_URL or https://oilprice.com)")
    add_db(crawl)
    crawl.add_argument("--max-pages", type=int, help="listing pages per section (0: all)")
    crawl.add_argument("--since", help="YYYY-MM[-DD]: stop at older listings; walk sitemaps from then")
    crawl.add_argument("--max-hops", type=int, help="sidebar/related link hops to follow")
    crawl.add_argument("--sections", help="comma-separated section paths, e.g. Energy/Crude-Oil")
    crawl.add_argument("--full", action="store_true", help="download everything again, ignore what is stored")
    crawl.add_argument("--progress", type=float, default=10.0, help="seconds between progress lines")
    crawl.add_argument("--quiet", action="store_true", help="no progress or summary lines")
    crawl.add_argument("--log-level", help="Scrapy log level (default WARNING)")
    crawl.add_argument("--log-file")
    crawl.add_argument(
        "-s", "--set", action="append", metavar="NAME=VALUE", help="any Scrapy/oilnews setting"
    )
    crawl.set_defaults(func=cmd_crawl)

    parse = sub.add_parser("parse", help="print the item extracted from a saved page")
    parse.add_argument("file")
    parse.add_argument("--url", required=True, help="the URL the page was served under")
    parse.add_argument("--kind", choices=("article", "listing"), default="article")
    parse.add_argument("--encoding", default="utf-8")
    parse.set_defaults(func=cmd_parse)

    replica = sub.add_parser("replica", help="the local replica of the site")
    replica_sub = replica.add_subparsers(dest="replica_command", required=True)
    serve = replica_sub.add_parser("serve", help="serve a replica on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8900)
    serve.add_argument("--host", default="127.0.0.1", choices=("127.0.0.1", "::1", "localhost"))
    serve.add_argument("--articles", type=int, default=300)
    serve.add_argument("--edited", help="comma-separated article indexes served with a revised body")
    serve.add_argument("--access-log", help="append 'METHOD path status' lines here")
    serve.add_argument("--epoch", help="publication time of article 0 (ISO date); one more every 17 minutes")
    serve.add_argument("--broken-articles", action="store_true", help="serve article pages without a body")
    serve.add_argument(
        "--js-every",
        type=int,
        default=0,
        help="every Nth article needs a browser (body built by script, or a JS challenge)",
    )
    serve.set_defaults(func=cmd_replica)

    runs = sub.add_parser("runs", help="list recent crawl runs")
    add_db(runs)
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(func=cmd_runs)

    schedule = sub.add_parser("schedule", help="schedule a crawl on scrapyd unless one is pending or running")
    schedule.add_argument("--url", help="scrapyd URL (default: $SCRAPYD_URL or http://127.0.0.1:6800)")
    schedule.add_argument("--project", default="oilnews")
    schedule.add_argument("--spider", default="news")
    schedule.add_argument(
        "spider_args", nargs="*", metavar="NAME=VALUE", help="spider arguments, e.g. since=2024-01"
    )
    schedule.set_defaults(func=cmd_schedule)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply the Alembic migrations")
    add_db(upgrade)
    upgrade.set_defaults(func=cmd_db)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one clear line, not a traceback, for operators
        from oilnews.storage.db import mask_secrets

        print(
            f"oilnews: error: {mask_secrets(str(error)).splitlines()[0] if str(error) else type(error).__name__}",
            file=sys.stderr,
        )
        if os.environ.get("OILNEWS_DEBUG"):
            raise
        return EXIT_UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
