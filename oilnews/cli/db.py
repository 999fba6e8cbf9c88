"""`oilnews db upgrade`: the Alembic migrations applied (crawls also do it on start)."""

from __future__ import annotations

import argparse

from oilnews.cli import add_db, settings_of
from oilnews.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from oilnews.cli import ArgumentParser

    db_sub = parser.add_subparsers(dest="db_command", required=True, parser_class=ArgumentParser)
    upgrade = db_sub.add_parser("upgrade", help="apply the Alembic migrations")
    add_db(upgrade)
    upgrade.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oilnews.storage.database import Database

    database = Database(settings_of(args).get("OILNEWS_DATABASE_URL"))
    try:
        database.transaction(lambda conn: None)
        print(f"schema up to date in {database.safe_url}")
    finally:
        database.close()
    return ExitCode.OK
