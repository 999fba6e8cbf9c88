"""`oilnews reparse`: the store derived again from the captured pages (WARC), with the site
unreachable: today's parsers, the crawl's pipelines, a `crawl_runs` row of its own (spider
`reparse`); checked and judged as `oilnews crawl` is."""

from __future__ import annotations

import argparse

from oilnews.cli import add_db
from oilnews.cli.crawl import add_run_options, run_spider


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument(
        "--warc",
        help="directory of the WARC files, read with its subdirectories (default: $OILNEWS_WARC_DIR, "
        "where crawls write them: a warc folder beside a SQLite database, else ./warc)",
    )
    parser.add_argument(
        "--since", help="only articles published at or after (YYYY-MM[-DD] or ISO 8601, UTC; default: all)"
    )
    parser.add_argument(
        "--section", help="only this section and those below it, e.g. Energy/Crude-Oil (default: all)"
    )
    add_run_options(parser, progress=10.0)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oilnews.summary import REPARSE_SPIDER

    return run_spider(args, REPARSE_SPIDER)
