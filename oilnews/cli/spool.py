"""`oilnews spool`: what waits on disk for the database (oilnews.storage.spool), and
`oilnews spool replay`: write it now.

Spooled batches are whole batches an outage kept from the database; a crawl replays them at
its start. Dead letters are rows the database refused (or the writer failed on), each with its
error; they wait for you to fix the cause (a constraint, a column too small, a bug fixed by an
upgrade), then `oilnews spool replay` stores them. Nothing is lost meanwhile.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from oilnews.cli import add_db, setting_of, settings_of
from oilnews.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from oilnews.cli import ArgumentParser

    def add_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dir", help="the spool directory (default: $OILNEWS_SPOOL_DIR or ./spool)")

    add_dir(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(func=run)
    sub = parser.add_subparsers(dest="spool_command", parser_class=ArgumentParser)
    replay = sub.add_parser("replay", help="write the spooled batches and the dead letters now")
    add_dir(replay)
    add_db(replay)
    replay.set_defaults(func=run_replay)


def _spool_dir(args: argparse.Namespace) -> Path:
    return Path(args.dir or setting_of(args, "OILNEWS_SPOOL_DIR"))


def run(args: argparse.Namespace) -> int:
    from oilnews.logs import for_terminal
    from oilnews.storage.spool import DEAD_GLOB, SPOOL_GLOB, Spool

    spool = Spool(_spool_dir(args))
    spooled, dead = spool.pending(SPOOL_GLOB), spool.pending(DEAD_GLOB)
    if args.json:
        print(
            json.dumps(
                {"dir": str(spool.directory), "spooled": spooled.to_json(), "dead_letters": dead.to_json()}
            )
        )
        return ExitCode.OK
    for name, found in (("spooled batches", spooled), ("dead letters", dead)):
        line = f"{name}: {found.lines} ({found.items} items) in {found.files} files"
        if found.corrupt:
            line += f", {found.corrupt} incomplete lines"
        if found.first_error:
            line += f"; first at {found.first_at}: {for_terminal(found.first_error)}"
        print(line)
    if spooled.lines or dead.lines:
        print(f"in {spool.directory}; `oilnews spool replay` writes them now")
    return ExitCode.OK


def run_replay(args: argparse.Namespace) -> int:
    import sys

    from oilnews.storage.database import Database
    from oilnews.storage.spool import DEAD_GLOB, SPOOL_GLOB, Spool

    settings = settings_of(args)
    spool = Spool(_spool_dir(args))
    database = Database(settings.get("OILNEWS_DATABASE_URL"))
    try:
        replayed = spool.replay(
            (SPOOL_GLOB, DEAD_GLOB), database.transaction, settings.getint("OILNEWS_MAX_VERSIONS_PER_DAY")
        )
    finally:
        database.close()
    refused = sum(len(rows) for rows, _ in replayed.stored.refused)
    stored = replayed.items - refused
    print(
        f"oilnews: replayed {replayed.lines} lines ({replayed.items} items) from {spool.directory}: "
        f"{stored} stored, {refused} refused again (dead letters)",
        file=sys.stderr,
    )
    if refused:
        rows, error = replayed.stored.refused[0]
        print(
            f"oilnews: error: still refused, e.g. {', '.join(rows.urls()) or 'a row'}: {error}",
            file=sys.stderr,
        )
        return ExitCode.UNHEALTHY
    return ExitCode.OK
