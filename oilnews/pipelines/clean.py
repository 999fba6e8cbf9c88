"""Normalise every item the same way, whatever parser produced it (article page, listing, ticker, chart)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler

from oilnews.dates import to_utc
from oilnews.items import ArticleImage, ArticleItem, ArticleLink, AuthorProfile, derived_row
from oilnews.pages.mentions import KINDS, mentions
from oilnews.stats import key
from oilnews.text import clean_body, clean_line, content_hash, derived_hash
from oilnews.urls import MAX_URL_LENGTH, canonical_url

logger = logging.getLogger(__name__)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in (clean_line(x) for x in values) if v))


def clean_article(item: ArticleItem) -> ArticleItem:
    """Whitespace, entities, mojibake, boilerplate lines, UTC dates, canonical URLs, hash."""
    item.url = canonical_url(item.url) or item.url
    item.title = clean_line(item.title)
    item.authors = _unique(item.authors)
    item.source = clean_line(item.source) or None
    item.section = clean_line(item.section) or None
    item.keywords = _unique(item.keywords)
    item.summary = _unique(item.summary)
    item.body = clean_body(item.body)
    item.image_url = clean_line(item.image_url) or None
    if item.image_url and len(item.image_url) > MAX_URL_LENGTH:
        item.image_url = None
    item.published_at = to_utc(item.published_at) if item.published_at else None
    item.modified_at = to_utc(item.modified_at) if item.modified_at else None
    links: dict[tuple[str, str], ArticleLink] = {}
    for link in item.links:
        url = canonical_url(link.url)
        if url:
            links.setdefault(
                (url, link.kind), ArticleLink(url=url, kind=link.kind, title=clean_line(link.title))
            )
    item.links = list(links.values())
    profiles: dict[str, AuthorProfile] = {}
    for profile in item.author_profiles:
        url = canonical_url(profile.profile_url)
        if url and clean_line(profile.name):
            profiles.setdefault(
                url,
                AuthorProfile(
                    profile_url=url,
                    name=clean_line(profile.name),
                    bio=clean_line(profile.bio) or None,
                    avatar_url=clean_line(profile.avatar_url) or None,
                ),
            )
    item.author_profiles = list(profiles.values())
    item.description = clean_line(item.description) or None
    images: dict[str, ArticleImage] = {}
    for image in item.images:
        url = canonical_url(image.url)
        if url:
            images.setdefault(
                url, ArticleImage(url, clean_line(image.alt) or None, clean_line(image.caption) or None)
            )
    item.images = list(images.values())
    found = mentions(item.title, item.body)
    item.commodities, item.countries, item.companies = (found[kind] for kind in KINDS)
    item.content_hash = content_hash(item.title, item.body)
    item.derived_hash = derived_hash(derived_row(item))
    return item


class CleanPipeline:
    def __init__(self, stats: Any) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanPipeline:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticleItem):
            too_long = item.links_too_long + sum(1 for link in item.links if len(link.url) > MAX_URL_LENGTH)
            if too_long:  # left out by the parser, or by clean_article (canonical_url)
                self.stats.inc_value(key("links", "too_long"), too_long)
            for source in item.dates_rejected:  # the parser read the next source instead
                self.stats.inc_value(key("dates", "rejected", source))
            clean_article(item)
            self.stats.inc_value(key("clean", "articles"))
            if item.claimed_url:
                # The parser stored the page under its own URL; the claim is only recorded.
                logger.warning(
                    "%s names %s as its canonical URL: stored under its own", item.url, item.claimed_url
                )
                self.stats.inc_value(key("identity", "canonical_rejected"))
        return item
