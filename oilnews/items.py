"""Typed items. Pipelines handle them through itemadapter, storage maps them to rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from oilnews.dates import json_value


@dataclass
class ArticleLink:
    """A link found on an article page. `kind` says where on the page it sat."""

    url: str
    kind: str
    title: str = ""


@dataclass
class AuthorProfile:
    """The author box of an article page: who wrote it, as the site presents them."""

    profile_url: str
    name: str
    bio: str | None = None
    avatar_url: str | None = None


@dataclass
class ArticleImage:
    """An image of the article (the lead picture, a figure of the body): never the site's
    share logo or a placeholder."""

    url: str
    alt: str | None = None
    caption: str | None = None


@dataclass
class ArticleItem:
    url: str
    title: str = ""
    authors: list[str] = field(default_factory=list)
    source: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    section: str | None = None
    keywords: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    body: str = ""
    image_url: str | None = None
    is_premium: bool = False
    # Derived from the page beside the content (a change to these alone is no new version):
    description: str | None = None  # the meta description
    language: str | None = None  # the page's lang, when its text agrees ("en")
    body_markdown: str = ""  # the body with its structure: subheadings, lists, links, key points
    images: list[ArticleImage] = field(default_factory=list)
    commodities: dict[str, int] = field(default_factory=dict)  # name -> mentions (pages.mentions)
    countries: dict[str, int] = field(default_factory=dict)
    companies: dict[str, int] = field(default_factory=dict)
    links: list[ArticleLink] = field(default_factory=list)
    links_too_long: int = 0  # links left out: longer than urls.MAX_URL_LENGTH
    dates_rejected: list[str] = field(default_factory=list)  # date sources that could not be right
    author_profiles: list[AuthorProfile] = field(default_factory=list)
    content_hash: str | None = None  # set by the clean pipeline
    derived_hash: str | None = None  # ... of the derived fields: a reparse refreshes them in place
    fetched_url: str | None = None  # the URL downloaded, before canonicalisation
    # When the page was fetched, where that is not now: a reparse's capture. It dates the row
    # (first/last seen) instead of the write, and an unchanged article is then left untouched.
    seen_at: datetime | None = None
    claimed_url: str | None = None  # another URL the page names as its own (not believed)
    # Where the body came from: "html" (the article container), "json_ld" (a fallback
    # that carries boilerplate: counted, and a health failure when common), or "none".
    body_source: str = "html"

    def to_json(self) -> dict[str, Any]:
        return {name: json_value(value) for name, value in asdict(self).items()}


# The fields derived from a page beside its content: stored in place, never versioned.
DERIVED_FIELDS = (
    "description",
    "language",
    "body_markdown",
    "images",
    "commodities",
    "countries",
    "companies",
)


def derived_row(item: ArticleItem) -> dict[str, Any]:
    """An article's derived fields as the database's values (images as plain objects)."""
    row = {name: getattr(item, name) for name in DERIVED_FIELDS}
    row["images"] = [asdict(image) for image in item.images]
    return row


@dataclass
class PriceQuoteItem:
    blend_id: int
    name: str
    price: float
    change: float | None = None
    change_percent: float | None = None
    observed_at: datetime | None = None
    source: str = "ticker"

    def to_json(self) -> dict[str, Any]:
        return {name: json_value(value) for name, value in asdict(self).items()}


@dataclass
class ListingEntry:
    """One article teaser on a section listing, RSS feed or sitemap."""

    url: str
    title: str = ""
    listed_at: datetime | None = None
    author: str | None = None
    modified_at: datetime | None = None  # sitemap lastmod: a stored article changed after this


@dataclass
class ListingPage:
    entries: list[ListingEntry]
    next_url: str | None = None
    total_pages: int | None = None


@dataclass
class AliasItem:
    """`alias` served the same content as the stored article at `url` (the dedupe pipeline's)."""

    url: str
    alias: str
