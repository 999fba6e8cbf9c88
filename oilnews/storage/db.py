"""Engine, migrations and batched writes. Every function here blocks: call it off the reactor."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, delete, event, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from oilnews.storage.models import (
    aliases_table,
    articles_table,
    links_table,
    quotes_table,
    runs_table,
    utcnow,
    versions_table,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

ARTICLE_FIELDS = (
    "url",
    "title",
    "authors",
    "source",
    "published_at",
    "modified_at",
    "section",
    "keywords",
    "summary",
    "body",
    "image_url",
    "is_premium",
    "content_hash",
)
# Fields whose change makes a new version (the hash covers title and body; these too).
VERSIONED_FIELDS = tuple(f for f in ARTICLE_FIELDS if f not in ("url", "content_hash"))
_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?P<tail>@)", re.I)
_MIGRATION_LOCK_ID = 0x0111_4E45_5753  # PostgreSQL advisory lock key: one migrator at a time
_WRITE_LOCK_ID = 0x0111_4E45_5754  # ... and one article batch at a time


def mask_secrets(text: str) -> str:
    """Password in any URL inside `text` replaced by ***, for logs and stored stats."""
    return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", text)


def normalize_database_url(url: str) -> str:
    """Plain `postgresql://` means psycopg 3 here, the driver oilnews installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str) -> Engine:
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # WAL lets readers (oilnews runs, health checks) work while a crawl writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent, safe with many workers)."""
    from alembic import command
    from alembic.config import Config

    with _migrations_dir() as location, engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(location))
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


@contextmanager
def _migrations_dir() -> Iterator[Path]:
    """The migrations as a real directory: Alembic lists files, and inside a scrapyd egg
    (a zip) there are none to list, so they are copied out first."""
    here = Path(__file__).with_name("migrations")
    if here.is_dir():
        yield here
        return
    source = resources.files("oilnews.storage") / "migrations"
    with tempfile.TemporaryDirectory(prefix="oilnews-migrations-") as tmp:
        target = Path(tmp)
        for folder in (source, source / "versions"):
            destination = target / folder.name if folder is not source else target
            destination.mkdir(exist_ok=True)
            for entry in folder.iterdir():
                if entry.is_file() and entry.name.endswith((".py", ".mako")):
                    (destination / entry.name).write_bytes(entry.read_bytes())
        yield target


def is_transient(error: BaseException) -> bool:
    """Errors worth a reconnect and retry: the server went away, a lock timed out."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


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
                mask_secrets(str(error.orig or error)).splitlines()[0],
            )
            if on_retry is not None:
                on_retry(error)
            engine.dispose()
            time.sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _insert(conn: Connection, table: Any) -> Any:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for database dialect {dialect!r}")


@dataclass
class BatchResult:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    aliases: int = 0
    links: int = 0
    quotes: int = 0
    folded: int = 0  # new URLs whose content another stored URL already has


def _chunks(rows: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def write_batch(
    conn: Connection,
    articles: Sequence[dict[str, Any]],
    quotes: Sequence[dict[str, Any]] = (),
    aliases: Sequence[dict[str, str]] = (),
) -> BatchResult:
    """Upsert one batch inside the caller's transaction.

    An article whose content hash changed keeps its previous fields in `article_versions`
    and gets `version + 1`; an unchanged one only moves `last_seen_at`. A new URL whose
    content is already stored under another URL becomes an alias of it: the database, not a
    worker's memory, has the last word, so several workers never store one story twice.
    """
    result = BatchResult()
    now = utcnow()
    table = articles_table
    if conn.dialect.name == "postgresql":
        # Batches of all workers take turns: the content-hash check below must not race.
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_ID})
    by_url = {a["url"]: a for a in articles}  # a URL twice in one batch: the last wins
    if by_url:
        existing = {
            row.url: row
            for chunk in _chunks(list(by_url), 500)
            for row in conn.execute(select(table).where(table.c.url.in_(chunk)))
        }
        fresh_hashes = list({a["content_hash"] for url, a in by_url.items() if url not in existing})
        stored_by_hash = {
            row.content_hash: row.url
            for chunk in _chunks(fresh_hashes, 500)
            for row in conn.execute(
                select(table.c.url, table.c.content_hash).where(table.c.content_hash.in_(chunk))
            )
        }
        aliases = list(aliases)
        for url in [u for u in by_url if u not in existing]:
            original = stored_by_hash.get(by_url[url]["content_hash"])
            if original is not None and original != url:
                aliases.append({"url": original, "alias": url})
                del by_url[url]
                result.folded += 1
        upserts: list[dict[str, Any]] = []
        versions: list[dict[str, Any]] = []
        for url, article in by_url.items():
            old = existing.get(url)
            row = {key: article.get(key) for key in ARTICLE_FIELDS}
            if old is None:
                result.new.append(url)
                upserts.append({**row, "version": 1, "first_seen_at": now, "last_seen_at": now})
            elif old.content_hash != article["content_hash"]:
                result.updated.append(url)
                upserts.append(
                    {
                        **row,
                        "version": old.version + 1,
                        "first_seen_at": old.first_seen_at,
                        "last_seen_at": now,
                    }
                )
                versions.append(
                    {
                        "article_id": old.id,
                        "version": old.version,
                        "content_hash": old.content_hash,
                        "seen_at": old.last_seen_at,
                        "fields": {k: _jsonable(getattr(old, k)) for k in VERSIONED_FIELDS},
                    }
                )
            else:
                result.unchanged.append(url)
        if upserts:
            stmt = _insert(conn, table)
            stmt = stmt.on_conflict_do_update(
                index_elements=["url"],
                set_={k: stmt.excluded[k] for k in (*ARTICLE_FIELDS[1:], "version", "last_seen_at")},
            )
            conn.execute(stmt, upserts)
        if versions:
            vstmt = _insert(conn, versions_table).on_conflict_do_nothing()
            conn.execute(vstmt, versions)
        if result.unchanged:
            for chunk in _chunks(result.unchanged, 500):
                conn.execute(update(table).where(table.c.url.in_(chunk)).values(last_seen_at=now))

        ids = {
            row.url: row.id
            for chunk in _chunks(list(by_url), 500)
            for row in conn.execute(select(table.c.id, table.c.url).where(table.c.url.in_(chunk)))
        }
        result.links = _write_links(conn, by_url, ids)
    if aliases:
        result.aliases = _write_aliases(conn, aliases, now)
    if quotes:
        qstmt = _insert(conn, quotes_table).on_conflict_do_nothing(index_elements=["blend_id", "observed_at"])
        rows = [{**q, "fetched_at": now} for q in quotes]
        result.quotes = conn.execute(qstmt, rows).rowcount or 0
    return result


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _write_aliases(conn: Connection, aliases: Sequence[dict[str, str]], now: datetime) -> int:
    """Record alias URLs against their article; the article was written first (an earlier
    batch, or this one), so an alias with no article means its write failed: skipped."""
    table = articles_table
    targets = list({a["url"] for a in aliases})
    ids = {
        row.url: row.id
        for chunk in _chunks(targets, 500)
        for row in conn.execute(select(table.c.id, table.c.url).where(table.c.url.in_(chunk)))
    }
    rows = [
        {"article_id": ids[a["url"]], "url": a["alias"], "first_seen_at": now}
        for a in aliases
        if a["url"] in ids and a["alias"] != a["url"]
    ]
    if rows:
        stmt = _insert(conn, aliases_table).on_conflict_do_nothing(index_elements=["url"])
        conn.execute(stmt, rows)
    return len(rows)


def _write_links(conn: Connection, by_url: dict[str, dict[str, Any]], ids: dict[str, int]) -> int:
    """The links of a page as last seen: sidebars rotate, so replace rather than accumulate."""
    table = links_table
    article_ids = [ids[url] for url, a in by_url.items() if a.get("links") is not None]
    for chunk in _chunks(article_ids, 500):
        conn.execute(delete(table).where(table.c.article_id.in_(chunk)))
    rows = [
        (ids[url], link["url"], link["kind"], link.get("title") or "")
        for url, article in by_url.items()
        for link in article.get("links") or ()
    ]
    if rows and conn.dialect.name == "postgresql":
        # ~25 rows per article, the bulk of every batch. The batch's old links were deleted
        # above and a page's links are unique, so COPY (no conflict handling) is safe and
        # several times faster than an INSERT per row.
        statement = f"COPY {table.name} (article_id, target_url, kind, anchor_text) FROM STDIN"
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    elif rows:
        # ... and for SQLite straight to the driver's executemany, without SQLAlchemy's
        # per-row parameter processing (a third of the write time).
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} (article_id, target_url, kind, anchor_text) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}) ON CONFLICT DO NOTHING",
            rows,
        )
    return len(rows)


@dataclass(frozen=True)
class KnownArticle:
    content_hash: str
    published_at: datetime | None
    last_seen_at: datetime | None
    alias_of: str | None = None  # set for an alias URL: the article it belongs to


def known_articles(conn: Connection) -> dict[str, KnownArticle]:
    """Every stored article URL and alias URL, with what incremental crawling needs."""
    a, al = articles_table, aliases_table
    known = {
        url: KnownArticle(digest, published, seen)
        for url, digest, published, seen in conn.execute(
            select(a.c.url, a.c.content_hash, a.c.published_at, a.c.last_seen_at)
        )
    }
    aliases = select(al.c.url, a.c.content_hash, a.c.published_at, a.c.last_seen_at, a.c.url).join(
        a, a.c.id == al.c.article_id
    )
    for alias, digest, published, seen, article_url in conn.execute(aliases):
        known[alias] = KnownArticle(digest, published, seen, article_url)
    return known


def completed_watermark(conn: Connection) -> datetime | None:
    """Newest publication date stored by the last crawl that walked to its end.

    Listing pagination may stop at articles no newer than this: a killed run's articles
    are newer than it, so the crawl after a kill still walks down to where the last
    complete run left off (no gap).
    """
    r = runs_table
    last_complete = conn.execute(
        select(r.c.finished_at)
        .where(r.c.finish_reason == "finished")
        .order_by(r.c.finished_at.desc())
        .limit(1)
    ).scalar()
    if last_complete is None:
        return None
    a = articles_table
    newest: datetime | None = conn.execute(
        select(a.c.published_at)
        .where(a.c.first_seen_at <= last_complete)
        .order_by(a.c.published_at.desc())
        .limit(1)
    ).scalar()
    return newest


def last_chart_fetch(conn: Connection) -> datetime | None:
    """When the rendered price chart was last stored: it need not be fetched every run."""
    q = quotes_table
    latest: datetime | None = conn.execute(
        select(q.c.fetched_at).where(q.c.source == "chart").order_by(q.c.fetched_at.desc()).limit(1)
    ).scalar()
    return latest


def abandon_stale_runs(conn: Connection, older_than: datetime) -> int:
    """Runs still 'running' long after they started were killed: say so."""
    r = runs_table
    result = conn.execute(
        update(r).where(r.c.status == "running", r.c.started_at < older_than).values(status="abandoned")
    )
    return int(result.rowcount or 0)


def recent_runs(conn: Connection, limit: int | None = None) -> list[Any]:
    """crawl_runs rows, newest first, with their JSON columns decoded on every database."""
    query = select(runs_table).order_by(runs_table.c.id.desc())
    return list(conn.execute(query if limit is None else query.limit(limit)))


def start_run(conn: Connection, spider: str, site_url: str) -> int:
    result = conn.execute(
        _insert(conn, runs_table)
        .values(
            spider=spider,
            site_url=site_url,
            started_at=utcnow(),
            status="running",
            counts={},
            health={},
            stats={},
        )
        .returning(runs_table.c.id)
    )
    return int(result.scalar_one())


def finish_run(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(update(runs_table).where(runs_table.c.id == run_id).values(**values))


class Database:
    """One engine per crawl, shared by the pipelines and extensions that need it.

    `run()` is the only way components touch the database: the blocking work goes to a
    thread, inside one transaction, retried with a fresh connection on transient errors.
    """

    def __init__(self, url: str, retries: int = 5, backoff: float = 0.5, auto_migrate: bool = True) -> None:
        self.url = url
        self.retries = max(1, retries)
        self.backoff = backoff
        self.auto_migrate = auto_migrate
        self._engine: Engine | None = None
        self.on_retry: Callable[[BaseException], None] | None = None
        # Components open in parallel threads: one engine, one migration. SQLite has one
        # writer anyway, so its transactions are serialised here rather than by lock errors.
        self._engine_lock = threading.Lock()
        self._sqlite_lock = threading.Lock() if url.startswith("sqlite") else None

    @classmethod
    def for_crawler(cls, crawler: Any) -> Database:
        database: Database | None = getattr(crawler, "_oilnews_database", None)
        if database is None:
            settings = crawler.settings
            database = cls(
                settings.get("OILNEWS_DATABASE_URL"),
                retries=settings.getint("OILNEWS_DB_RETRIES"),
                backoff=settings.getfloat("OILNEWS_DB_RETRY_BACKOFF"),
                auto_migrate=settings.getbool("OILNEWS_DB_AUTO_MIGRATE"),
            )
            crawler._oilnews_database = database
        return database

    @property
    def safe_url(self) -> str:
        return mask_secrets(self.url)

    @property
    def engine(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                engine = create_db_engine(self.url)
                if self.auto_migrate:
                    with_retries(engine, lambda: migrate(engine), self.retries, self.backoff)
                self._engine = engine
            return self._engine

    def transaction(self, work: Callable[[Connection], T]) -> T:
        engine = self.engine

        def attempt() -> T:
            with engine.begin() as conn:
                return work(conn)

        if self._sqlite_lock is None:
            return with_retries(engine, attempt, self.retries, self.backoff, self.on_retry)
        with self._sqlite_lock:
            return with_retries(engine, attempt, self.retries, self.backoff, self.on_retry)

    async def run(self, work: Callable[[Connection], T]) -> T:
        return await asyncio.to_thread(self.transaction, work)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
