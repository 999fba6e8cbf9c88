"""SQLAlchemy 2 typed ORM models. The Alembic migrations in ./migrations create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from oilnews.dates import utc_from_db
from oilnews.items import DERIVED_FIELDS


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite, which stores no offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: oilnews stores aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return utc_from_db(value)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a real bigint.
BigID = BigInteger().with_variant(Integer(), "sqlite")


# Text from a page has no natural length: unbounded on PostgreSQL (migration 0007). SQLite
# never enforces a VARCHAR's length, so its columns keep the declaration they were made with
# (changing it there would rebuild the articles table and its search triggers).
PageText = Text().with_variant(String(255), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSONType, default=list)
    source: Mapped[str | None] = mapped_column(PageText)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    section: Mapped[str | None] = mapped_column(PageText, index=True)
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    summary: Mapped[list[str]] = mapped_column(JSONType, default=list)
    body: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    is_premium: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the stored content last changed (new, new version, or updated in place): what an
    # incremental export (`oilnews export --bookmark`) follows. last_seen_at moves on every fetch.
    # Nullable only so the migration can add it without rebuilding the table; always written.
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Derived from the page beside the content (migration 0008; oilnews reparse fills them for
    # articles stored before): updated in place when derived_hash changes, never versioned.
    description: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    body_markdown: Mapped[str | None] = mapped_column(Text)
    images: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    commodities: Mapped[dict[str, int] | None] = mapped_column(JSONType)
    countries: Mapped[dict[str, int] | None] = mapped_column(JSONType)
    companies: Mapped[dict[str, int] | None] = mapped_column(JSONType)
    derived_hash: Mapped[str | None] = mapped_column(String(64))


class Author(Base):
    """A contributor as the article page's author box shows them, keyed by profile URL."""

    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    profile_url: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str] = mapped_column(PageText)
    bio: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # name, bio or avatar changed


class ArticleAuthor(Base):
    __tablename__ = "article_authors"
    __table_args__ = (UniqueConstraint("article_id", "author_id"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)


class ArticleAlias(Base):
    """Another URL under which the same content was found (same content hash)."""

    __tablename__ = "article_aliases"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleVersion(Base):
    """A previous content version of an article, kept when a refresh finds it changed."""

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleLinkRow(Base):
    __tablename__ = "article_links"
    __table_args__ = (UniqueConstraint("article_id", "target_url", "kind"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    target_url: Mapped[str] = mapped_column(String(2048), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    anchor_text: Mapped[str] = mapped_column(Text, default="")


class PriceQuote(Base):
    __tablename__ = "price_quotes"
    __table_args__ = (UniqueConstraint("blend_id", "observed_at"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    blend_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(PageText)
    price: Mapped[float] = mapped_column(Float)
    change: Mapped[float | None] = mapped_column(Float)
    change_percent: Mapped[float | None] = mapped_column(Float)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32), default="ticker")
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    spider: Mapped[str] = mapped_column(String(64))
    site_url: Mapped[str] = mapped_column(String(2048))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A watcher's last sign of life (every OILNEWS_WATCH_HEARTBEAT_SECONDS); empty for a crawl.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(32), default="running")
    finish_reason: Mapped[str | None] = mapped_column(String(64))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    health: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Distributed mode: the shared run this worker belonged to (its Redis prefix), and which
    # worker it was (host:pid). Empty for a crawl on its own.
    run_group: Mapped[str | None] = mapped_column(String(128), index=True)
    worker: Mapped[str | None] = mapped_column(String(255))


class BackfillMonth(Base):
    """One month of the archive a sliced backfill wants (oilnews.extensions.backfill)."""

    __tablename__ = "backfill_months"
    __table_args__ = (UniqueConstraint("year", "month"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | complete
    articles: Mapped[int] = mapped_column(Integer, default=0)  # listed in its sitemap
    seconds: Mapped[float] = mapped_column(Float, default=0.0)  # spent on it, all runs together
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_crawl_runs_started_at", CrawlRun.started_at)

# Core Table objects for bulk statements (the ORM classes type __table__ as a FromClause).
articles_table = cast(Table, Article.__table__)
aliases_table = cast(Table, ArticleAlias.__table__)
versions_table = cast(Table, ArticleVersion.__table__)
links_table = cast(Table, ArticleLinkRow.__table__)
quotes_table = cast(Table, PriceQuote.__table__)
runs_table = cast(Table, CrawlRun.__table__)
authors_table = cast(Table, Author.__table__)
article_authors_table = cast(Table, ArticleAuthor.__table__)
backfill_table = cast(Table, BackfillMonth.__table__)

# The stored article, field by field (what an item's dict carries into the writer and what an
# export holds of it), and what the writer's upsert adds. Its content (what a version holds),
# then what is derived beside it.
CONTENT_FIELDS = (
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
ARTICLE_FIELDS = (*CONTENT_FIELDS, *DERIVED_FIELDS, "derived_hash")
# Fields whose change makes a new version (the hash covers title and body; these too).
VERSIONED_FIELDS = tuple(f for f in CONTENT_FIELDS if f not in ("url", "content_hash"))
# Every column the article upsert writes, and those a conflict (a stored URL) overwrites.
UPSERT_COLUMNS = (*ARTICLE_FIELDS, "version", "first_seen_at", "last_seen_at", "changed_at")
UPDATED_ON_CONFLICT = tuple(c for c in UPSERT_COLUMNS if c not in ("url", "first_seen_at"))
