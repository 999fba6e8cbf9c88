"""stored URLs in w3lib's canonical form

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Canonical URLs became w3lib's `canonicalize_url` form (one percent-encoding: `Café.html` and
`Caf%C3%A9.html` are one key, as in Scrapy's dupefilter). Stored keys written in the old form
are rewritten so an existing database keeps deduplicating across the upgrade:

- an article, alias or link whose URL changes form is updated in place;
- two articles whose URLs now name one key are one story stored twice: the older row (the
  lower id) is kept under the new key, the other's aliases and links move to it, and the
  other's contents (and its earlier versions) are kept as earlier versions of the kept row when
  they differ, so nothing stored is lost. (No alias is needed for the old spelling: every URL
  is canonicalised before it is looked up.)

It calls the canonicaliser of the code that runs it: a later change of form comes with its own
migration, and this one then leaves rows already in that form untouched.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from oilnews.dates import json_value
from oilnews.storage.models import UTCDateTime
from oilnews.urls import canonical_url

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VERSIONED = ("title", "authors", "body", "summary", "keywords", "modified_at", "image_url")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
# Typed views of the tables, so JSON and timestamps read back as values on both dialects.
articles = sa.table(
    "articles",
    sa.column("id"),
    sa.column("url"),
    sa.column("title"),
    sa.column("authors", JSON),
    sa.column("body"),
    sa.column("summary", JSON),
    sa.column("keywords", JSON),
    sa.column("modified_at", UTCDateTime()),
    sa.column("image_url"),
    sa.column("content_hash"),
    sa.column("version"),
    sa.column("first_seen_at", UTCDateTime()),
    sa.column("last_seen_at", UTCDateTime()),
)
versions = sa.table(
    "article_versions",
    sa.column("article_id"),
    sa.column("version"),
    sa.column("content_hash"),
    sa.column("fields", JSON),
    sa.column("seen_at", UTCDateTime()),
)
aliases = sa.table(
    "article_aliases",
    sa.column("id"),
    sa.column("article_id"),
    sa.column("url"),
    sa.column("first_seen_at", UTCDateTime()),
)
links = sa.table(
    "article_links", sa.column("id"), sa.column("article_id"), sa.column("kind"), sa.column("target_url")
)


def _recanonical(url: str) -> str:
    return canonical_url(url) or url


def _article(conn: sa.Connection, article_id: int) -> Any:
    return conn.execute(sa.select(articles).where(articles.c.id == article_id)).one()


def _merge(conn: sa.Connection, keeper_id: int, duplicate_id: int) -> None:
    """Fold article row `duplicate_id` into `keeper_id`, losing nothing it held."""
    keeper, duplicate = _article(conn, keeper_id), _article(conn, duplicate_id)
    # The duplicate's history, then its current contents, become earlier versions of the keeper.
    history = [
        (row.content_hash, row.fields, row.seen_at)
        for row in conn.execute(
            sa.select(versions).where(versions.c.article_id == duplicate_id).order_by(versions.c.version)
        )
    ]
    if duplicate.content_hash != keeper.content_hash:
        fields = {name: json_value(getattr(duplicate, name)) for name in VERSIONED}
        history.append((duplicate.content_hash, fields, duplicate.last_seen_at))
    version = keeper.version
    for content_hash, fields, seen_at in history:
        conn.execute(
            versions.insert().values(
                article_id=keeper_id,
                version=version,
                content_hash=content_hash,
                fields=fields,
                seen_at=seen_at,
            )
        )
        version += 1
    conn.execute(articles.update().where(articles.c.id == keeper_id).values(version=version))
    conn.execute(versions.delete().where(versions.c.article_id == duplicate_id))
    # Aliases and links move to the kept row; a copy it already has would collide, so it goes.
    kept_aliases = sa.select(aliases.c.url).where(aliases.c.article_id == keeper_id)
    conn.execute(
        aliases.delete().where(aliases.c.article_id == duplicate_id, aliases.c.url.in_(kept_aliases))
    )
    conn.execute(aliases.update().where(aliases.c.article_id == duplicate_id).values(article_id=keeper_id))
    for link in conn.execute(sa.select(links).where(links.c.article_id == duplicate_id)).all():
        clash = conn.execute(
            sa.select(links.c.id).where(
                links.c.article_id == keeper_id,
                links.c.kind == link.kind,
                links.c.target_url == link.target_url,
            )
        ).first()
        if clash:
            conn.execute(links.delete().where(links.c.id == link.id))
        else:
            conn.execute(links.update().where(links.c.id == link.id).values(article_id=keeper_id))
    conn.execute(articles.delete().where(articles.c.id == duplicate_id))


def upgrade() -> None:
    conn = op.get_bind()
    owner = {row.url: row.id for row in conn.execute(sa.select(articles.c.id, articles.c.url))}
    for url, article_id in sorted(owner.items(), key=lambda pair: pair[1]):
        new = _recanonical(url)
        if new == url:
            continue
        other = owner.get(new)
        if other is None:
            conn.execute(articles.update().where(articles.c.id == article_id).values(url=new))
        elif other < article_id:  # the older row keeps the key; this one folds into it
            _merge(conn, other, article_id)
        else:  # this row is the older one: it takes the new key, the newer row folds into it
            _merge(conn, article_id, other)
            conn.execute(articles.update().where(articles.c.id == article_id).values(url=new))
        owner[new] = min(article_id, other or article_id)
        del owner[url]
    stored = set(owner) | {row.url for row in conn.execute(sa.select(aliases.c.url))}
    for row in conn.execute(sa.select(aliases.c.id, aliases.c.url)).all():
        new = _recanonical(row.url)
        if new == row.url:
            continue
        if new in stored:  # the key is stored already: the old-form alias says nothing more
            conn.execute(aliases.delete().where(aliases.c.id == row.id))
        else:
            conn.execute(aliases.update().where(aliases.c.id == row.id).values(url=new))
            stored.add(new)
    for row in conn.execute(sa.select(links)).all():
        new = _recanonical(row.target_url)
        if new == row.target_url:
            continue
        clash = conn.execute(
            sa.select(links.c.id).where(
                links.c.article_id == row.article_id, links.c.kind == row.kind, links.c.target_url == new
            )
        ).first()
        if clash:
            conn.execute(links.delete().where(links.c.id == row.id))
        else:
            conn.execute(links.update().where(links.c.id == row.id).values(target_url=new))


def downgrade() -> None:
    """The old form is not restored: both forms name the same pages."""
