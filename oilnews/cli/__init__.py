"""`oilnews` command line: one module a command (crawl, watch, parse, replica, runs, status,
export, search, show, report, db, schedule), each with its options beside its code
(`add_arguments(parser)` and `run(args)`, as scrapy/commands does). This module assembles
them, holds what several share, and maps every error to an exit code.

Every mistake ends in one line on stderr saying what is wrong and what to do, and the exit code
of oilnews.errors.ExitCode (the table in README.md); never a traceback unless asked for
(`--log-level DEBUG`, or OILNEWS_DEBUG=1 for errors outside a crawl). A command module imports
what its work needs inside `run`, so `--help` and the read commands start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from oilnews.errors import ExitCode, OilnewsError, UsageError

# Each command is the module oilnews.cli.<name>, listed by `oilnews --help` in this order with
# this line; only the module of the command being run is imported.
COMMANDS = {
    "crawl": "one-shot crawl into the database",
    "watch": "keep polling the feed and listings; store each article as it is published",
    "reparse": "derive the stored articles again from the captured pages (WARC), offline",
    "parse": "print the item extracted from a saved page",
    "replica": "the local replica of the site",
    "runs": "list recent crawl runs",
    "status": "the watcher's heartbeat (exit 1 if it is silent) and the backfill's progress",
    "export": "stored rows out as JSON lines, CSV or Parquet",
    "search": "full-text search of the stored articles, best first",
    "show": "one stored article with its aliases, links and versions",
    "report": "one self-contained HTML page: articles, runs, prices",
    "schedule": "schedule a crawl on scrapyd unless one is pending or running",
    "spool": "what waits for the database (spooled batches, dead letters); `spool replay` writes it",
    "db": "database schema",
}


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument is a UsageError (exit 64), not argparse's exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", help="SQLAlchemy URL (default: $OILNEWS_DATABASE_URL or sqlite:///oilnews.db)"
    )


def add_filters(parser: argparse.ArgumentParser) -> None:
    """The article filters of the read commands that select articles (export, search)."""
    parser.add_argument("--since", help="published at or after (YYYY-MM[-DD] or ISO 8601, UTC; default: any)")
    parser.add_argument("--until", help="published before (YYYY-MM[-DD] or ISO 8601, UTC; default: any)")
    parser.add_argument(
        "--section", help="a section and those below it, e.g. Energy or Energy/Crude-Oil (default: all)"
    )
    parser.add_argument("--author", help="one of the article's authors, case-insensitive (default: all)")
    parser.add_argument(
        "--mentions",
        metavar="NAME",
        help="articles that mention this commodity, country or company (or ticker), e.g. Brent, "
        "Norway, Chevron, XOM; case-insensitive (default: all)",
    )


def bounded_int(low: int, high: int) -> Any:
    """An argparse type: a whole number from `low` to `high`, else the usage error saying so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    return parse


def settings_of(args: argparse.Namespace) -> Any:
    """The project's settings with this command's options and `-s` pairs applied."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "oilnews.settings")
    from scrapy.utils.project import get_project_settings

    from oilnews.config import SPIDER_ARGUMENTS, apply_spider_arguments, parse_assignment
    from oilnews.config.environment import apply_environment

    try:
        settings = get_project_settings()
    except OSError as error:  # Scrapy reads the scrapy.cfg nearest the working directory
        raise UsageError(
            f"cannot read {error.filename or 'scrapy.cfg'}: {error.strerror}; run oilnews from a "
            "directory this user may read (cd /opt/oilnews, or the checkout)"
        ) from None
    apply_environment(settings, os.environ)
    options = {name: getattr(args, name, None) for name in SPIDER_ARGUMENTS}
    options["full"] = True if options.get("full") else None
    apply_spider_arguments(settings, {k: v for k, v in options.items() if v is not None})
    for name, value in (
        ("OILNEWS_DATABASE_URL", getattr(args, "db", None)),
        ("OILNEWS_WARC_DIR", getattr(args, "warc", None)),
        ("OILNEWS_REPARSE_SECTIONS", getattr(args, "section", None)),
        ("LOG_LEVEL", getattr(args, "log_level", None)),
        ("LOG_FILE", getattr(args, "log_file", None)),
    ):
        if value is not None:
            settings.set(name, value, priority="cmdline")
    for pair in getattr(args, "set", None) or []:
        name, value = parse_assignment(pair)
        settings.set(name, value, priority="cmdline")
    return settings


def setting_of(args: argparse.Namespace, name: str) -> Any:
    """One OILNEWS_ setting of a command that builds no crawler (runs, export, search, show,
    report, status, spool), without Scrapy: `--db` for the database URL, else the environment,
    else settings.py (the same order as a crawl's; the environment is checked as for a crawl)."""
    from oilnews.config.environment import setting

    value = setting(name, os.environ)  # checks the environment even when --db is given
    if name == "OILNEWS_DATABASE_URL" and getattr(args, "db", None):
        return args.db
    return value


@contextmanager
def reading(args: argparse.Namespace) -> Iterator[Any]:
    """The database of a read command (runs, export, search, show, report, status): it must
    exist and be at the current schema; nothing is created or migrated."""
    from oilnews.storage.database import open_for_reading

    database = open_for_reading(setting_of(args, "OILNEWS_DATABASE_URL"))
    try:
        yield database
    finally:
        database.close()


def instant_of(args: argparse.Namespace, option: str) -> Any:
    """The instant a command's option (`since`, `until`, `changed_since`) gives, None when it
    is not given, or the usage error naming the option and the forms it takes."""
    from oilnews.dates import USER_INSTANT_FORMS, parse_user_instant

    value = getattr(args, option, None)
    if not value:
        return None
    try:
        return parse_user_instant(value)
    except ValueError:
        raise UsageError(f"--{option.replace('_', '-')} {value!r}: expected {USER_INSTANT_FORMS}") from None


def selection_of(args: argparse.Namespace) -> Any:
    """The article filters of a read command (search, export) from its options."""
    from oilnews.storage.selection import Selection

    query = getattr(args, "query", None)
    if query is not None:
        from oilnews.storage.search import query_problem

        problem = query_problem(query)
        if problem is not None:
            shown = query if len(query) <= 60 else query[:57] + "..."
            raise UsageError(f"search words {shown!r}: {problem}")
    return Selection(
        since=instant_of(args, "since"),
        until=instant_of(args, "until"),
        section=getattr(args, "section", None),
        author=getattr(args, "author", None),
        query=query,
        changed_since=instant_of(args, "changed_since"),
        mentions=getattr(args, "mentions", None),
    )


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of `oilnews`; the options of the command `argv` names (all of them when
    argv is None), so that a command imports no other command's module."""
    parser = ArgumentParser(prog="oilnews", description=__doc__.splitlines()[0])
    from oilnews import version

    parser.add_argument("--version", action="version", version=f"oilnews {version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    named = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    for name, help_line in COMMANDS.items():
        command = sub.add_parser(name, help=help_line, description=help_line)
        if argv is None or name == named:
            importlib.import_module(f"oilnews.cli.{name}").add_arguments(command)
    return parser


_signalled: list[int] = []  # the signals a read command was stopped by


def _terminated(number: int, _frame: object) -> None:
    _signalled.append(number)
    raise SystemExit(128 + number)


def _stopped_code() -> int | None:
    """128 + the signal, when the error being handled is what a signal's exit turned into: raised
    inside SQLite's progress callback it aborts the statement (OperationalError: interrupted)."""
    return 128 + _signalled[-1] if _signalled else None


def _debugging(args: argparse.Namespace | None) -> bool:
    return bool(os.environ.get("OILNEWS_DEBUG")) or getattr(args, "log_level", None) == "DEBUG"


def main(argv: list[str] | None = None) -> int:
    from oilnews.logs import first_line, install_masking

    install_masking()
    args: argparse.Namespace | None = None
    try:
        arguments = sys.argv[1:] if argv is None else argv
        try:
            args = build_parser(arguments).parse_args(arguments)
        except SystemExit as done:  # --help, --version: argparse printed them
            return int(done.code or 0) if isinstance(done.code, int | None) else int(ExitCode.USAGE)
        if argv is None and args.command not in ("crawl", "watch", "reparse"):
            # SIGTERM and SIGINT as an exit, so a file being written is removed, not left
            # half-done, and a SQLite statement stops (a crawl's signals are Scrapy's).
            signal.signal(signal.SIGTERM, _terminated)
            signal.signal(signal.SIGINT, _terminated)
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`oilnews export | head`): its choice, not an error here.
        # Python would complain again at exit flushing stdout; point it at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.OK)
    except OilnewsError as error:
        if (stopped := _stopped_code()) is not None:
            return stopped
        print(f"oilnews: error: {first_line(error)}", file=sys.stderr)
        if _debugging(args):
            traceback.print_exc()
        return int(error.exit_code)
    except Exception as error:  # a bug: one line, the traceback only when asked for
        if (stopped := _stopped_code()) is not None:
            return stopped
        print(
            f"oilnews: internal error: {type(error).__name__}: {first_line(error)} "
            "(OILNEWS_DEBUG=1 shows the traceback; please report it)",
            file=sys.stderr,
        )
        if _debugging(args):
            traceback.print_exc()
        return int(ExitCode.INTERNAL)


def run() -> NoReturn:
    """The `oilnews` command: main(), then out without Python's teardown. After a crawl that
    teardown freed every object of the run one by one: 2 s of a 6.5 s rerun over 100,000
    stored articles (issue 15). Everything is closed by then; streams and logs are flushed."""
    import logging

    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone (export | head), a closed stream
            stream.flush()
    os._exit(code)
