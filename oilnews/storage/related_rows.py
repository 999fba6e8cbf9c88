"""The rows a batch writes beside its articles, under their ids: each page's links as last
seen, its author boxes and authors, and the other URLs that served the same content (aliases)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select

from oilnews.storage.models import (
    aliases_table,
    article_authors_table,
    articles_table,
    authors_table,
    links_table,
)
from oilnews.storage.sql import insert_for, one_of, written


def write_aliases(conn: Connection, aliases: Sequence[dict[str, str]], now: datetime) -> int:
    """Record alias URLs against their article; the article was written first (an earlier
    batch, or this one), so an alias with no article means its write failed: skipped."""
    table = articles_table
    targets = list({a["url"] for a in aliases})
    ids = {
        row.url: row.id
        for where in one_of(conn, table.c.url, targets)
        for row in conn.execute(select(table.c.id, table.c.url).where(where))
    }
    rows = [
        {"article_id": ids[a["url"]], "url": a["alias"], "first_seen_at": now}
        for a in aliases
        if a["url"] in ids and a["alias"] != a["url"]
    ]
    stmt = insert_for(conn, aliases_table).on_conflict_do_nothing(index_elements=["url"])
    return written(conn, stmt, rows, aliases_table.c.id)


def has_children(article: dict[str, Any]) -> bool:
    """Whether an article brings rows that hang off its id (links, authors)."""
    return bool(article.get("links") or article.get("author_profiles"))


def write_authors(
    conn: Connection,
    by_url: dict[str, dict[str, Any]],
    ids: dict[str, int],
    now: datetime,
    stored_before: set[int],
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
    changed_profiles = written(conn, stmt, rows, table.c.id)
    author_ids = {
        row.profile_url: row.id
        for where in one_of(conn, table.c.profile_url, list(profiles))
        for row in conn.execute(select(table.c.id, table.c.profile_url).where(where))
    }
    link = article_authors_table
    stale = list({article_id for article_id, _ in pairs if article_id in stored_before})
    for where in one_of(conn, link.c.article_id, stale):
        conn.execute(delete(link).where(where))
    links = [{"article_id": a, "author_id": author_ids[p]} for a, p in dict.fromkeys(pairs)]
    conn.execute(insert_for(conn, link).on_conflict_do_nothing(), links)
    return changed_profiles


def write_links(
    conn: Connection, by_url: dict[str, dict[str, Any]], ids: dict[str, int], stored_before: set[int]
) -> int:
    """The links of a page as last seen: sidebars rotate, so replace rather than accumulate
    (a page stored for the first time has none to replace)."""
    table = links_table
    article_ids = [
        ids[url] for url, a in by_url.items() if a.get("links") is not None and ids.get(url) in stored_before
    ]
    for where in one_of(conn, table.c.article_id, article_ids):
        conn.execute(delete(table).where(where))
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
