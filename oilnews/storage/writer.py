"""The batch writer: one batch of items into the tables, inside the caller's transaction.

Upserts by canonical URL (`ON CONFLICT`), versions of changed articles, aliases for content
already stored under another URL, the links of each page as last seen, price quotes. Counts
are of rows actually written: RETURNING, not a driver's rowcount (PostgreSQL gives -1 or a
batch figure for multi-row statements).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from oilnews.dates import json_value
from oilnews.storage.models import (
    aliases_table,
    article_authors_table,
    articles_table,
    authors_table,
    links_table,
    quotes_table,
    utcnow,
    versions_table,
)

T = TypeVar("T")
_WRITE_LOCK_ID = 0x0111_4E45_5754  # PostgreSQL advisory lock key: one article batch at a time

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


def insert_for(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (upserts)."""
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
    churning: list[str] = field(default_factory=list)  # changed again past the day's version cap
    authors: int = 0  # author profiles new or changed


def chunks(rows: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    """`rows` in slices of `size`: IN lists and parameter counts stay bounded."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def write_batch(
    conn: Connection,
    articles: Sequence[dict[str, Any]],
    quotes: Sequence[dict[str, Any]] = (),
    aliases: Sequence[dict[str, str]] = (),
    max_versions_per_day: int = 0,
) -> BatchResult:
    """Upsert one batch inside the caller's transaction.

    An article whose content hash changed keeps its previous fields in `article_versions`
    and gets `version + 1`; an unchanged one only moves `last_seen_at`. An article that
    already made `max_versions_per_day` versions in the last 24 hours (a page whose text
    changes on every fetch: a counter, a rotating quote) is updated in place instead, so
    its history cannot grow without bound; 0 means no cap. A new URL whose
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
            for chunk in chunks(list(by_url), 500)
            for row in conn.execute(select(table).where(table.c.url.in_(chunk)))
        }
        fresh_hashes = list({a["content_hash"] for url, a in by_url.items() if url not in existing})
        stored_by_hash = {
            row.content_hash: row.url
            for chunk in chunks(fresh_hashes, 500)
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
        changed = [
            old.id
            for url, old in existing.items()
            if url in by_url and old.content_hash != by_url[url]["content_hash"]
        ]
        recent = _recent_versions(conn, changed, now) if max_versions_per_day and changed else {}
        upserts: list[dict[str, Any]] = []
        versions: list[dict[str, Any]] = []
        for url, article in by_url.items():
            old = existing.get(url)
            row = {key: article.get(key) for key in ARTICLE_FIELDS}
            if old is None:
                result.new.append(url)
                upserts.append(
                    {**row, "version": 1, "first_seen_at": now, "last_seen_at": now, "changed_at": now}
                )
            elif max_versions_per_day and recent.get(old.id, 0) >= max_versions_per_day:
                result.churning.append(url)
                upserts.append(
                    {
                        **row,
                        "version": old.version,
                        "first_seen_at": old.first_seen_at,
                        "last_seen_at": now,
                        "changed_at": now,
                    }
                )
            elif old.content_hash != article["content_hash"]:
                result.updated.append(url)
                upserts.append(
                    {
                        **row,
                        "version": old.version + 1,
                        "first_seen_at": old.first_seen_at,
                        "last_seen_at": now,
                        "changed_at": now,
                    }
                )
                versions.append(
                    {
                        "article_id": old.id,
                        "version": old.version,
                        "content_hash": old.content_hash,
                        "seen_at": old.last_seen_at,
                        "fields": {k: json_value(getattr(old, k)) for k in VERSIONED_FIELDS},
                    }
                )
            else:
                result.unchanged.append(url)
        if upserts:
            stmt = insert_for(conn, table)
            stmt = stmt.on_conflict_do_update(
                index_elements=["url"],
                set_={
                    k: stmt.excluded[k]
                    for k in (*ARTICLE_FIELDS[1:], "version", "last_seen_at", "changed_at")
                },
            )
            conn.execute(stmt, upserts)
        if versions:
            vstmt = insert_for(conn, versions_table).on_conflict_do_nothing()
            conn.execute(vstmt, versions)
        if result.unchanged:
            for chunk in chunks(result.unchanged, 500):
                conn.execute(update(table).where(table.c.url.in_(chunk)).values(last_seen_at=now))

        ids = {
            row.url: row.id
            for chunk in chunks(list(by_url), 500)
            for row in conn.execute(select(table.c.id, table.c.url).where(table.c.url.in_(chunk)))
        }
        result.links = _write_links(conn, by_url, ids)
        result.authors = _write_authors(conn, by_url, ids, now)
    if aliases:
        result.aliases = _write_aliases(conn, aliases, now)
    if quotes:
        qstmt = insert_for(conn, quotes_table).on_conflict_do_nothing(
            index_elements=["blend_id", "observed_at"]
        )
        rows = [{**q, "fetched_at": now} for q in quotes]
        result.quotes = len(conn.execute(qstmt.returning(quotes_table.c.id), rows).all())
    return result


def _recent_versions(conn: Connection, article_ids: list[int], now: datetime) -> dict[int, int]:
    """How many versions each article made in the 24 hours before `now`."""
    table = versions_table
    since = now - timedelta(days=1)
    counts: dict[int, int] = {}
    for chunk in chunks(article_ids, 500):
        query = (
            select(table.c.article_id, func.count())
            .where(table.c.article_id.in_(chunk), table.c.seen_at >= since)
            .group_by(table.c.article_id)
        )
        counts.update({article_id: int(n) for article_id, n in conn.execute(query)})
    return counts


def _write_aliases(conn: Connection, aliases: Sequence[dict[str, str]], now: datetime) -> int:
    """Record alias URLs against their article; the article was written first (an earlier
    batch, or this one), so an alias with no article means its write failed: skipped."""
    table = articles_table
    targets = list({a["url"] for a in aliases})
    ids = {
        row.url: row.id
        for chunk in chunks(targets, 500)
        for row in conn.execute(select(table.c.id, table.c.url).where(table.c.url.in_(chunk)))
    }
    rows = [
        {"article_id": ids[a["url"]], "url": a["alias"], "first_seen_at": now}
        for a in aliases
        if a["url"] in ids and a["alias"] != a["url"]
    ]
    if rows:
        stmt = insert_for(conn, aliases_table).on_conflict_do_nothing(index_elements=["url"])
        return len(conn.execute(stmt.returning(aliases_table.c.id), rows).all())
    return 0


def _write_authors(
    conn: Connection, by_url: dict[str, dict[str, Any]], ids: dict[str, int], now: datetime
) -> int:
    """Author boxes into `authors` (keyed by profile URL; name, bio and avatar updated when they
    change) and the article's authors into `article_authors`, as last seen."""
    profiles = {
        p["profile_url"]: p for article in by_url.values() for p in article.get("author_profiles") or ()
    }
    pairs = [
        (ids[url], p["profile_url"])
        for url, article in by_url.items()
        for p in article.get("author_profiles") or ()
    ]
    if not profiles:
        return 0
    table = authors_table
    stmt = insert_for(conn, table)
    excluded = stmt.excluded
    changed = or_(
        *(
            func.coalesce(table.c[name], "") != func.coalesce(excluded[name], "")
            for name in ("name", "bio", "avatar_url")
        )
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["profile_url"],
        set_={
            "name": excluded.name,
            "bio": excluded.bio,
            "avatar_url": excluded.avatar_url,
            "updated_at": now,
        },
        where=changed,
    )
    rows = [{**p, "first_seen_at": now, "updated_at": now} for p in profiles.values()]
    written = len(conn.execute(stmt.returning(table.c.id), rows).all())
    author_ids = {
        row.profile_url: row.id
        for chunk in chunks(list(profiles), 500)
        for row in conn.execute(select(table.c.id, table.c.profile_url).where(table.c.profile_url.in_(chunk)))
    }
    link = article_authors_table
    article_ids = list({article_id for article_id, _ in pairs})
    for chunk in chunks(article_ids, 500):
        conn.execute(delete(link).where(link.c.article_id.in_(chunk)))
    links = [{"article_id": a, "author_id": author_ids[p]} for a, p in dict.fromkeys(pairs)]
    conn.execute(insert_for(conn, link).on_conflict_do_nothing(), links)
    return written


def _write_links(conn: Connection, by_url: dict[str, dict[str, Any]], ids: dict[str, int]) -> int:
    """The links of a page as last seen: sidebars rotate, so replace rather than accumulate."""
    table = links_table
    article_ids = [ids[url] for url, a in by_url.items() if a.get("links") is not None]
    for chunk in chunks(article_ids, 500):
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
