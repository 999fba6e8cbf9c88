"""`oilnews runs`: the recent crawl runs, one line each (a distributed run folded into one)."""

from __future__ import annotations

import argparse
import json

from oilnews.cli import add_db, bounded_int, reading
from oilnews.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument(
        "--limit", type=bounded_int(1, 10_000), default=20, help="runs, 1 to 10000 (default: 20)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per run (counts and health)")
    parser.add_argument(
        "--workers", action="store_true", help="a distributed run's workers one row each, not folded into one"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oilnews.logs import for_terminal
    from oilnews.storage.runs import recent_runs
    from oilnews.summary import RUNS_HEADER, run_views, runs_line, utc_now

    with reading(args) as database:
        # A distributed run is one row per worker: read enough rows for `limit` runs of them.
        rows = database.transaction(lambda conn: recent_runs(conn, args.limit * 16))
    views = run_views(rows, by_worker=args.workers)[: args.limit]
    if args.json:
        for view in views:
            print(json.dumps(view.to_json(), ensure_ascii=False))
        return ExitCode.OK
    print(RUNS_HEADER)
    now = utc_now()
    for view in views:
        print(for_terminal(runs_line(view, now)))
    return ExitCode.OK
