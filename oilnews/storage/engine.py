"""Connecting to the database: URL checks, engines, and which errors to retry (the schema and
its migrations: oilnews.storage.schema).

Every function here blocks: call it off the reactor (oilnews.storage.database does).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from oilnews.errors import DatabaseUnusable, UsageError
from oilnews.logs import first_line, mask_secrets

logger = logging.getLogger(__name__)

# Errors that waiting does not fix, by what the driver says (connection errors carry no SQLSTATE),
# each with what to do about it.
PERMANENT_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), hint)
    for pattern, hint in (
        (r'database "[^"]+" does not exist', "create the database, or fix its name in the URL"),
        (r'role "[^"]+" does not exist', "create the role, or fix the user name in the URL"),
        (
            r"password authentication failed|no password supplied|authentication failed|pg_hba\.conf",
            "check the user and password in the URL (OILNEWS_DATABASE_URL)",
        ),
        (
            r"failed to resolve host|could not translate host name|name or service not known",
            "check the host name in the URL",
        ),
        (r"permission denied", "grant the user the rights it needs on this database"),
        (
            r"readonly database|read-only|read only",
            "the database is read-only: point --db at a writable database",
        ),
        (r"database or disk is full|no space left on device|could not extend file", "free disk space"),
        (r"unable to open database file", "check that the directory exists and is writable"),
        (r"file is not a database|database disk image is malformed", "this file is not an SQLite database"),
    )
)

T = TypeVar("T")


SUPPORTED = "sqlite:///path/to/file.db or postgresql://user@host/dbname"


def normalize_database_url(url: str) -> str:
    """Plain `postgresql://` means psycopg 3 here, the driver oilnews installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _unescaped_credentials(url: str) -> bool:
    """Whether the user and password of a server's URL hold an @ or a / that is not
    percent-encoded: SQLAlchemy would read part of the password as the host or the database."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower().startswith("sqlite"):
        return False
    rest = rest.split("?", 1)[0]
    if rest.count("@") > 1:
        return True
    credentials = rest.rpartition("@")[0]
    return "/" in credentials


def parse_database_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it, or DatabaseUnusable saying which databases work (a
    password that cannot be read right: UsageError, saying how to write it)."""
    if _unescaped_credentials(url):
        raise UsageError(
            f"the database URL {mask_secrets(url)} (--db or OILNEWS_DATABASE_URL) has an @ or / in its "
            "user or password: percent-encode them (@ as %40, / as %2F, : as %3A)"
        )
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseUnusable(f"{mask_secrets(url)!r} is not a database URL: use {SUPPORTED}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql", "postgres"):
        raise DatabaseUnusable(
            f"{parsed.get_backend_name()!r} databases are not supported ({mask_secrets(url)}): use {SUPPORTED}"
        )
    return make_url(normalize_database_url(url))


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases and in-memory ones)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    name = parsed.database.removeprefix("file:").split("?")[0]
    return Path(name).expanduser()


def _cannot_place(path: Path, why: str) -> DatabaseUnusable:
    return DatabaseUnusable(
        f"cannot create the directory of {path}: {why}; give --db a path in a directory this user may write"
    )


def new_sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL that does not exist yet, once it is clear it can be created
    there (the nearest existing directory above it is one this user may write); None when the
    file exists or the database is not an SQLite file. Creates nothing."""
    path = sqlite_path(parse_database_url(url).render_as_string(hide_password=False))
    if path is None or path.exists():
        return None
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise _cannot_place(path, "Not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise _cannot_place(path, "Permission denied")
    return path


READ_STATEMENT_TIMEOUT_MS = 30_000
# SQLite steps a statement in C with the GIL released, so a SIGTERM or Ctrl-C is not acted on
# until the statement ends (a long search, a whole-table export). A read command's connection
# calls back into Python this often (virtual-machine instructions; about 1 ms of SQLite's work,
# a cost too small to measure): the signal's handler runs there, its exception aborts the
# statement, and the CLI exits with the signal's code (oilnews.cli.main).
SQLITE_SIGNAL_CHECK_STEPS = 100_000


def _let_signals_in() -> int:
    return 0  # go on: the call itself is the point, a pending signal handler runs at it


def create_db_engine(url: str, create_dirs: bool = True) -> Engine:
    """An engine for `url`; `create_dirs=False` for read-only commands, which create nothing."""
    parsed = parse_database_url(url)
    rendered = parsed.render_as_string(hide_password=False)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(rendered)
        if create_dirs and path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:  # the user's --db names a place no file can go: exit 3
                raise _cannot_place(path, str(error.strerror or error)) from None
        engine = create_engine(rendered, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # WAL lets readers (oilnews runs, health checks) work while a crawl writes.
            if create_dirs:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            if not create_dirs:
                dbapi_conn.set_progress_handler(_let_signals_in, SQLITE_SIGNAL_CHECK_STEPS)

        return engine
    # A read command's query ends with its client: a statement PostgreSQL runs on for longer
    # than READ_STATEMENT_TIMEOUT (a search gone quadratic, the client killed) is cancelled.
    # (SQLite runs inside the client's own process: a killed client ends its query, a stopped one
    # at its next signal check. A timeout there would also cut an export streaming for longer.)
    options = {"options": f"-c statement_timeout={READ_STATEMENT_TIMEOUT_MS}"} if not create_dirs else {}
    try:
        return create_engine(rendered, pool_pre_ping=True, pool_size=2, max_overflow=2, connect_args=options)
    except (NoSuchModuleError, ImportError) as error:
        raise DatabaseUnusable(f"no driver for {mask_secrets(url)}: {first_line(error)}") from None


def permanent_reason(error: BaseException) -> str | None:
    """What to do about an error that waiting will not fix; None for anything else."""
    message = str(getattr(error, "orig", None) or error)
    for pattern, hint in PERMANENT_ERRORS:
        if pattern.search(message):
            return hint
    return None


def is_transient(error: BaseException) -> bool:
    """Errors worth a reconnect and retry: the server went away or restarts, a lock timed out."""
    if permanent_reason(error) is not None:
        return False
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def unusable(error: BaseException, url: str) -> DatabaseUnusable:
    """A permanent database error as the one line a user reads."""
    hint = permanent_reason(error) or "check the database URL and the server"
    return DatabaseUnusable(
        f"database {mask_secrets(url)} is unusable: {first_line(error.__cause__ or error)}; {hint}"
    )


def with_retries(
    engine: Engine,
    work: Callable[[], T],
    attempts: int,
    backoff: float,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run `work` (one transaction); on a transient error drop the pool and try again."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as error:
            if attempt == attempts or not is_transient(error):
                raise
            logger.warning(
                "database error (attempt %d/%d), reconnecting: %s",
                attempt,
                attempts,
                first_line(error.orig or error),
            )
            if on_retry is not None:
                on_retry(error)
            engine.dispose()
            time.sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")
