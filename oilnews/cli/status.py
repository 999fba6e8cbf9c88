"""`oilnews status`: the watcher's heartbeat (exit 1 when it has gone silent) and the progress
of the sliced backfill: months complete of months wanted, articles stored, time spent and left."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from oilnews.cli import add_db, reading
from oilnews.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oilnews.logs import for_terminal
    from oilnews.storage.backfill import articles_published_since, progress
    from oilnews.storage.runs import latest_run
    from oilnews.summary import WATCH_SPIDER, age_words, run_views, utc_now, watcher_state

    def read(conn: Any) -> tuple[Any, int, Any]:
        state = progress(conn)
        return state, articles_published_since(conn, state.since), latest_run(conn, WATCH_SPIDER)

    with reading(args) as database:
        state, stored, watcher_row = database.transaction(read)
    watcher = run_views([watcher_row])[0] if watcher_row is not None else None
    now = utc_now()
    silent = watcher.silent_for(now) if watcher is not None else None
    code = ExitCode.UNHEALTHY if watcher is not None and watcher.stale(now) else ExitCode.OK
    eta = state.eta_seconds
    record = {
        "backfill_since": f"{state.since[0]:04d}-{state.since[1]:02d}" if state.since else None,
        "months_wanted": state.wanted,
        "months_done": state.done,
        "articles_stored": stored,
        "articles_listed": state.articles_listed,
        "seconds_spent": round(state.seconds, 1),
        "eta_seconds": None if eta is None else round(eta, 1),
        "watcher": None
        if watcher is None
        else {
            **watcher.to_json(),
            "silent_seconds": None if silent is None else round(silent, 1),
            "stale": code != ExitCode.OK,
        },
    }
    if code != ExitCode.OK and watcher is not None:
        print(
            f"oilnews: error: the watcher (run {watcher.label}) has been silent for "
            f"{age_words(silent or 0)}: hung or killed (systemctl status oilnews-watch)",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(record))
        return int(code)
    if watcher is not None:
        c = watcher.counts
        doing = watcher_state(watcher, now) or (
            f"ended {watcher.finished_at:%Y-%m-%d %H:%M:%S} UTC ({watcher.status}, {watcher.finish_reason})"
            if watcher.finished_at
            else watcher.status
        )
        print(
            for_terminal(
                f"watcher run {watcher.label}: {doing}; articles new {c.get('articles_new', 0)}, "
                f"updated {c.get('articles_updated', 0)}, errors {c.get('errors', 0)}"
            )
        )
    if state.since is None:
        print("no backfill yet: oilnews crawl --backfill-since YYYY-MM starts one")
    else:
        left = "unknown until a month is complete" if eta is None else f"about {eta / 3600:.1f} h of crawling"
        print(
            f"backfill since {record['backfill_since']}: {state.done} of {state.wanted} months complete, "
            f"{stored} articles stored since then; {state.seconds / 60:.1f} min spent so far, {left} left"
        )
    return int(code)
