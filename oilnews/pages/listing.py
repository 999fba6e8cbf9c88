"""Section listing page -> article URLs with their listing date, and the next page."""

from __future__ import annotations

import re

from scrapy.http import TextResponse

from oilnews.dates import parse_listing_date
from oilnews.items import ListingEntry, ListingPage
from oilnews.pages.common import selector_text
from oilnews.text import clean_line
from oilnews.urls import canonical_url

_NUM_PAGES = re.compile(r"(\d+)")


def parse_listing(response: TextResponse) -> ListingPage:
    entries: list[ListingEntry] = []
    seen: set[str] = set()
    for teaser in response.css("div.categoryArticle"):
        href = (
            teaser.css("div.categoryArticle__content > a::attr(href)").get()
            or teaser.css("a::attr(href)").get()
        )
        url = canonical_url(href, response.url) if href else None
        if url is None or url in seen:
            continue
        seen.add(url)
        title_node = teaser.css("h2.categoryArticle__title")
        meta = clean_line(" ".join(teaser.css("p.categoryArticle__meta::text").getall()))
        date_text, _, author = meta.partition("|")
        entries.append(
            ListingEntry(
                url=url,
                title=selector_text(title_node[0]) if title_node else "",
                listed_at=parse_listing_date(date_text),
                author=author.strip() or None,
            )
        )
    next_href = (
        response.css("div.pagination a.next::attr(href)").get()
        or response.css('link[rel="next"]::attr(href)').get()
    )
    total = _NUM_PAGES.search(response.css("div.pagination span.num_pages::text").get() or "")
    return ListingPage(
        entries=entries,
        next_url=canonical_url(next_href, response.url) if next_href else None,
        total_pages=int(total.group(1)) if total else None,
    )
