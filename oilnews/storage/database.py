"""The database service of a crawl: one engine, transactions off the reactor thread.

`Database` is a Scrapy extension (EXTENSIONS), so the pipelines, the spider's KnownIndex and
the run recorder find the one instance through `crawler.get_extension(Database)`. Outside a
crawl (the CLI's read commands) it is built directly.

Errors: a transient one (connection dropped, server restarting) is retried on a fresh
connection; a permanent one (see storage.engine.PERMANENT_ERRORS) becomes DatabaseUnusable at
once, with one line saying what to do.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from oilnews.errors import DatabaseUnusable
from oilnews.logs import mask_secrets
from oilnews.storage.engine import (
    create_db_engine,
    parse_database_url,
    permanent_reason,
    sqlite_path,
    unusable,
    with_retries,
)
from oilnews.storage.schema import declared_head, head_revision, migrate, newer_schema, schema_revision

if TYPE_CHECKING:  # the read commands build a Database without Scrapy
    from scrapy.crawler import Crawler

T = TypeVar("T")


class Database:
    """One engine per crawl, shared by the components that need it.

    `run()` is the only way components touch the database: the blocking work goes to a
    thread, inside one transaction, retried with a fresh connection on transient errors.
    """

    def __init__(
        self,
        url: str,
        retries: int = 5,
        backoff: float = 0.5,
        auto_migrate: bool = True,
        read_only: bool = False,
    ) -> None:
        parse_database_url(url)  # a malformed or unsupported URL fails here, before any work
        self.url = url
        self.retries = max(1, retries)
        self.backoff = backoff
        self.auto_migrate = auto_migrate and not read_only
        self.read_only = read_only
        self._engine: Engine | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.on_retry: Callable[[BaseException], None] | None = None
        # Components open in parallel threads: one engine, one migration. SQLite has one
        # writer anyway, so its transactions are serialised here rather than by lock errors.
        self._engine_lock = threading.Lock()
        self._sqlite_lock = threading.Lock() if sqlite_path(url) is not None else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Database:
        from scrapy import signals

        settings = crawler.settings
        database = cls(
            settings.get("OILNEWS_DATABASE_URL"),
            retries=settings.getint("OILNEWS_DB_RETRIES"),
            backoff=settings.getfloat("OILNEWS_DB_RETRY_BACKOFF"),
            auto_migrate=settings.getbool("OILNEWS_DB_AUTO_MIGRATE"),
        )
        # After every spider_closed handler (the pipelines' last batch, the run record).
        crawler.signals.connect(database.close, signal=signals.engine_stopped)
        return database

    @classmethod
    def of(cls, crawler: Crawler) -> Database:
        database = crawler.get_extension(cls)
        if database is None:
            raise RuntimeError("oilnews.storage.database.Database must be in EXTENSIONS")
        return database

    @property
    def safe_url(self) -> str:
        return mask_secrets(self.url)

    @property
    def engine(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                self._engine = self._open()
            return self._engine

    def _open(self) -> Engine:
        path = sqlite_path(self.url)
        if self.read_only and path is not None and not path.is_file():
            raise DatabaseUnusable(
                f"no database at {path}: crawl into it first (oilnews crawl --db {self.safe_url})"
            )
        engine = create_db_engine(self.url, create_dirs=not self.read_only)
        try:
            if self.auto_migrate:
                with_retries(engine, lambda: migrate(engine), self.retries, self.backoff)
            elif self.read_only:
                self._check_schema(engine)
        except DBAPIError as error:
            engine.dispose()
            raise unusable(error, self.url) from error
        except DatabaseUnusable:
            engine.dispose()
            raise
        return engine

    def _check_schema(self, engine: Engine) -> None:
        revision = schema_revision(engine)
        if revision is None:
            raise DatabaseUnusable(f"{self.safe_url} holds no oilnews data: crawl into it first")
        # The head from the migration files (declared_head), not from Alembic, which costs half
        # a second of every read command's start to load.
        head = declared_head() or head_revision()
        if revision == head:
            return
        newer = newer_schema(self.url, revision)
        if newer is not None:
            raise newer
        raise DatabaseUnusable(
            f"{self.safe_url} is at schema {revision}, this oilnews needs {head}: "
            f"run `oilnews db upgrade --db {self.safe_url}`"
        )

    def transaction(self, work: Callable[[Connection], T]) -> T:
        engine = self.engine

        def attempt() -> T:
            with engine.begin() as conn:
                return work(conn)

        try:
            if self._sqlite_lock is None:
                return with_retries(engine, attempt, self.retries, self.backoff, self.on_retry)
            with self._sqlite_lock:
                return with_retries(engine, attempt, self.retries, self.backoff, self.on_retry)
        except DBAPIError as error:
            if permanent_reason(error) is not None:
                raise unusable(error, self.url) from error
            raise

    async def call(self, work: Callable[[], T]) -> T:
        """`work` in the database thread, without a transaction of its own (it may open some):
        the writes with the file I/O that goes with them (the spool), off the reactor thread."""
        # One thread for all of a crawl's database work, not asyncio's pool of several: glibc
        # gives each thread that allocates its own malloc arena, and the arenas of a long
        # crawl's writer threads held memory that was never given back (issue 15).
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oilnews-db")
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work` as one transaction in the database thread (retried on transient errors)."""
        return await self.call(lambda: self.transaction(work))

    def check_writable(self) -> None:
        """Connect, migrate and try a write (rolled back): a crawl fails here, at once, on a
        database it could never write to, instead of after downloading pages."""
        engine = self.engine

        def probe() -> None:
            with engine.connect() as conn, conn.begin() as transaction:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
                transaction.rollback()

        try:
            with_retries(engine, probe, self.retries, self.backoff)
        except SQLAlchemyError as error:
            raise unusable(error, self.url) from error

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def open_for_reading(url: str) -> Database:
    """A database a read command may query: it must exist and be at the current schema;
    nothing is created or migrated."""
    database = Database(url, retries=1, read_only=True)
    database.engine  # noqa: B018 - opens now, so a missing database is the first thing said
    return database
