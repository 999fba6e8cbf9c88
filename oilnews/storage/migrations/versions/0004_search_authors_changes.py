"""full-text search index, authors, articles.changed_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

- `articles.changed_at`: when the stored content last changed. Rows stored before it existed
  take their last change as well as it is known: the newest version's time for an article
  that has versions, its first sighting otherwise.
- `authors` and `article_authors`: the author box of article pages (filled as pages are
  fetched again).
- The full-text index (oilnews.storage.search), built here for the articles already stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from oilnews.storage.models import UTCDateTime
from oilnews.storage.search import create_index, drop_index

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A plain ADD COLUMN, never a batch rebuild of `articles`: on SQLite a rebuild drops the
    # table, and with foreign keys on that cascades to every alias, link and version.
    op.add_column("articles", sa.Column("changed_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE articles SET changed_at = COALESCE("
        "(SELECT MAX(v.seen_at) FROM article_versions v WHERE v.article_id = articles.id), first_seen_at)"
    )
    op.create_index("ix_articles_changed_at", "articles", ["changed_at"])
    op.create_table(
        "authors",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("profile_url", sa.String(length=2048), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("avatar_url", sa.String(length=2048), nullable=True),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("profile_url"),
    )
    op.create_table(
        "article_authors",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("article_id", BIG_ID, nullable=False),
        sa.Column("author_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["authors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "author_id"),
    )
    op.create_index("ix_article_authors_article_id", "article_authors", ["article_id"])
    op.create_index("ix_article_authors_author_id", "article_authors", ["author_id"])
    create_index(op.get_bind(), columns=("title", "body"))  # the index of this revision's time


def downgrade() -> None:
    drop_index(op.get_bind())
    op.drop_table("article_authors")
    op.drop_table("authors")
    op.drop_index("ix_articles_changed_at", "articles")
    op.drop_column("articles", "changed_at")
