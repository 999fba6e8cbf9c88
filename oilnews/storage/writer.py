"""The batch writer: one batch of items into the tables, inside the caller's transaction.

Upserts by canonical URL (`ON CONFLICT`), versions of changed articles, aliases for content
already stored under another URL, the links and authors of each page as last seen
(storage.related_rows), price quotes. Counts are of rows actually written (storage.sql.written):
RETURNING on PostgreSQL, whose driver gives -1 or a batch figure for multi-row statements;
SQLite's own count of changed rows. Every statement's text is the same whatever a batch's
length (storage.sql).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text, update

from oilnews.dates import json_value
from oilnews.items import DERIVED_FIELDS
from oilnews.storage.models import (
    ARTICLE_FIELDS,
    UPDATED_ON_CONFLICT,
    VERSIONED_FIELDS,
    articles_table,
    quotes_table,
    utcnow,
    versions_table,
)
from oilnews.storage.postgres_upsert import upsert_postgres
from oilnews.storage.related_rows import has_children, write_aliases, write_authors, write_links
from oilnews.storage.sql import insert_for, one_of, power_of_two_slices, written

_WRITE_LOCK_ID = 0x0111_4E45_5754  # PostgreSQL advisory lock key: one article batch at a time


# What the writer reads of every stored row of a batch.
_STATE_COLUMNS = ("id", "url", "content_hash", "version", "first_seen_at", "last_seen_at", "derived_hash")


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
    rederived: list[str] = field(default_factory=list)  # unchanged content, derived fields refreshed


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
    content is already stored under another URL, or comes earlier in this batch, becomes an
    alias of it: the database, not a worker's memory, has the last word, so several workers
    never store one story twice.
    """
    result = BatchResult()
    now = utcnow()
    if conn.dialect.name == "postgresql":
        # Batches of all workers take turns: the content-hash check below must not race.
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_ID})
    by_url = {a["url"]: a for a in articles}  # a URL twice in one batch: the last wins
    aliases = list(aliases)
    if by_url:
        stored = _stored_rows(conn, list(by_url), list({a["content_hash"] for a in by_url.values()}))
        existing = {hit.url: hit for hit in stored if hit.url in by_url}
        aliases += _fold_known_content(by_url, existing, stored, result)
        upserts, versions = _plan(conn, by_url, existing, now, max_versions_per_day, result)
        ids = {url: old.id for url, old in existing.items() if url in by_url}
        ids.update(_upsert(conn, upserts, by_url, ids))
        if versions:
            conn.execute(insert_for(conn, versions_table).on_conflict_do_nothing(), versions)
        # Seen again now; an article re-derived from a capture (seen_at) was not seen anew.
        seen_now = [url for url in result.unchanged if by_url[url].get("seen_at") is None]
        for where in one_of(conn, articles_table.c.url, seen_now):
            conn.execute(update(articles_table).where(where).values(last_seen_at=now))
        _rederive(conn, by_url, existing, result, now)
        stored_before = {old.id for old in existing.values()}  # only these can have old links
        result.links = write_links(conn, by_url, ids, stored_before)
        result.authors = write_authors(conn, by_url, ids, now, stored_before)
    if aliases:
        result.aliases = write_aliases(conn, aliases, now)
    if quotes:
        qstmt = insert_for(conn, quotes_table).on_conflict_do_nothing(
            index_elements=["blend_id", "observed_at"]
        )
        result.quotes = written(conn, qstmt, [{**q, "fetched_at": now} for q in quotes], quotes_table.c.id)
    return result


def _rederive(
    conn: Connection,
    by_url: dict[str, dict[str, Any]],
    existing: dict[str, Any],
    result: BatchResult,
    now: datetime,
) -> None:
    """Unchanged articles whose derived fields came out otherwise (a better parser, a reparse
    of articles stored before those fields existed): those fields updated in place, no version."""
    stale = [url for url in result.unchanged if by_url[url].get("derived_hash") != existing[url].derived_hash]
    if not stale:
        return
    table = articles_table
    columns = (*DERIVED_FIELDS, "derived_hash")
    statement = (
        update(table)
        .where(table.c.url == bindparam("u"))
        .values(
            {**{name: bindparam(f"v_{name}") for name in columns}, "changed_at": bindparam("v_changed_at")}
        )
    )
    rows = [
        {"u": url, "v_changed_at": now, **{f"v_{name}": by_url[url].get(name) for name in columns}}
        for url in stale
    ]
    conn.execute(statement, rows)
    result.rederived.extend(stale)


def _stored_rows(conn: Connection, urls: list[str], hashes: list[str]) -> list[Any]:
    """What is needed of every stored row of the batch's URLs, and of any stored row with the
    same content (_STATE_COLUMNS), in one query."""
    table = articles_table
    if conn.dialect.name == "postgresql":
        # Straight to psycopg with binary arrays (%b), as the upsert's below: psycopg quotes
        # text arrays value by value with regular expressions (issue 15).
        return list(
            conn.exec_driver_sql(
                f"SELECT {', '.join(_STATE_COLUMNS)} FROM {table.name} "
                "WHERE url = ANY(%b::text[]) OR content_hash = ANY(%b::text[])",
                (urls, hashes),
            )
        )
    state = select(*(table.c[c] for c in _STATE_COLUMNS))
    stored = [row for where in one_of(conn, table.c.url, urls) for row in conn.execute(state.where(where))]
    stored += [
        row
        for where in one_of(conn, table.c.content_hash, hashes)
        for row in conn.execute(state.where(where))
    ]
    return stored


def _fold_known_content(
    by_url: dict[str, dict[str, Any]], existing: dict[str, Any], stored: list[Any], result: BatchResult
) -> list[dict[str, str]]:
    """New URLs whose content is stored under another URL (or comes earlier in the batch)
    leave `by_url` and become aliases of it (returned)."""
    stored_by_hash: dict[str, str] = {}
    for hit in stored:
        stored_by_hash.setdefault(hit.content_hash, hit.url)
    aliases = []
    for url in [u for u in by_url if u not in existing]:
        original = stored_by_hash.setdefault(by_url[url]["content_hash"], url)  # the batch's first URL wins
        if original != url:
            aliases.append({"url": original, "alias": url})
            del by_url[url]
            result.folded += 1
    return aliases


def _plan(
    conn: Connection,
    by_url: dict[str, dict[str, Any]],
    existing: dict[str, Any],
    now: datetime,
    max_versions_per_day: int,
    result: BatchResult,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows to upsert and the versions to keep: each article new, changed, churning past
    the day's version cap (updated in place) or unchanged (in `result`)."""
    table = articles_table
    changed = [
        old.id
        for url, old in existing.items()
        if url in by_url and old.content_hash != by_url[url]["content_hash"]
    ]
    recent = _recent_versions(conn, changed, now) if max_versions_per_day and changed else {}
    before = {
        row.id: row
        for where in one_of(conn, table.c.id, changed)
        for row in conn.execute(select(table.c.id, *(table.c[f] for f in VERSIONED_FIELDS)).where(where))
    }
    upserts: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    for url, article in by_url.items():
        old = existing.get(url)
        row = {key: article.get(key) for key in ARTICLE_FIELDS}
        seen = article.get("seen_at") or now  # when the page was fetched (a capture's time)
        if old is None:
            result.new.append(url)
            upserts.append(
                {**row, "version": 1, "first_seen_at": seen, "last_seen_at": seen, "changed_at": now}
            )
        elif max_versions_per_day and recent.get(old.id, 0) >= max_versions_per_day:
            result.churning.append(url)
            upserts.append(
                {
                    **row,
                    "version": old.version,
                    "first_seen_at": old.first_seen_at,
                    "last_seen_at": max(seen, old.last_seen_at),
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
                    "last_seen_at": max(seen, old.last_seen_at),
                    "changed_at": now,
                }
            )
            versions.append(
                {
                    "article_id": old.id,
                    "version": old.version,
                    "content_hash": old.content_hash,
                    "seen_at": old.last_seen_at,
                    "fields": {k: json_value(getattr(before[old.id], k)) for k in VERSIONED_FIELDS},
                }
            )
        else:
            result.unchanged.append(url)
    return upserts, versions


def _upsert(
    conn: Connection, upserts: list[dict[str, Any]], by_url: dict[str, dict[str, Any]], ids: dict[str, int]
) -> dict[str, int]:
    """The articles' rows upserted by URL; the ids of the new ones that links or authors will
    hang off (`ids` holds the stored ones already)."""
    if not upserts:
        return {}
    table = articles_table
    if conn.dialect.name == "postgresql":
        upsert_postgres(conn, upserts)
        wanted = [u["url"] for u in upserts if u["url"] not in ids and has_children(by_url[u["url"]])]
        return {
            row.url: row.id
            for where in one_of(conn, table.c.url, wanted)
            for row in conn.execute(select(table.c.id, table.c.url).where(where))
        }
    # SQLite: multi-row statements (one executemany of a one-row upsert took three times as
    # long: every row opened the table, its indexes and the search index's triggers again),
    # RETURNING the new rows' ids.
    stmt = insert_for(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["url"], set_={k: stmt.excluded[k] for k in UPDATED_ON_CONFLICT}
    )
    returning = stmt.returning(table.c.id, table.c.url)
    return {row.url: row.id for rows in power_of_two_slices(upserts) for row in conn.execute(returning, rows)}


def _recent_versions(conn: Connection, article_ids: list[int], now: datetime) -> dict[int, int]:
    """How many versions each article made in the 24 hours before `now`."""
    table = versions_table
    since = now - timedelta(days=1)
    counts: dict[int, int] = {}
    for where in one_of(conn, table.c.article_id, article_ids):
        query = (
            select(table.c.article_id, func.count())
            .where(where, table.c.seen_at >= since)
            .group_by(table.c.article_id)
        )
        counts.update({article_id: int(n) for article_id, n in conn.execute(query)})
    return counts
