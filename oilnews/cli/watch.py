"""`oilnews watch`: one long-running process that polls the feed and the listings and stores
each article as it is published (the `watch` spider); checked and judged as `oilnews crawl` is."""

from __future__ import annotations

import argparse

from oilnews.cli import add_db
from oilnews.cli.crawl import add_run_options, run_spider
from oilnews.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", help="site to watch (default: $OILNEWS_SITE_URL or https://oilprice.com)")
    add_db(parser)
    parser.add_argument(
        "--sections",
        help="comma-separated section paths whose page 1 is polled (default: those a crawl reads)",
    )
    parser.add_argument("--max-minutes", type=float, help="end after this long (default: run until stopped)")
    add_run_options(parser, progress=60.0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.max_minutes is not None and args.max_minutes < 0:
        raise UsageError(f"--max-minutes {args.max_minutes:g}: 0 (until stopped) or more")
    from oilnews.summary import WATCH_SPIDER

    return run_spider(args, WATCH_SPIDER)
