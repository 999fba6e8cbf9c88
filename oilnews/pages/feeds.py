"""RSS feed and XML sitemaps -> ListingEntry lists (the discovery side of a crawl)."""

from __future__ import annotations

from scrapy.http import Response
from scrapy.utils.sitemap import Sitemap

from oilnews.dates import parse_iso, parse_rfc822
from oilnews.items import ListingEntry
from oilnews.text import clean_line
from oilnews.urls import canonical_url


def parse_rss(response: Response) -> list[ListingEntry]:
    entries: list[ListingEntry] = []
    selector = response.selector  # type: ignore[attr-defined]
    selector.remove_namespaces()
    for item in selector.xpath("//item"):
        link = (item.xpath("link/text()").get() or "").strip()
        url = canonical_url(link, response.url) if link else None
        if url:
            entries.append(
                ListingEntry(
                    url=url,
                    title=clean_line(item.xpath("title/text()").get()),
                    listed_at=parse_rfc822(item.xpath("pubDate/text()").get()),
                )
            )
    return entries


def parse_sitemap(response: Response) -> tuple[list[ListingEntry], list[str]]:
    """(article entries, nested sitemap URLs). Entity expansion is off in Scrapy's parser."""
    try:
        sitemap = Sitemap(response.body)
    except Exception:  # lxml raises several types for garbage; the caller counts it
        return [], []
    entries: list[ListingEntry] = []
    nested: list[str] = []
    for entry in sitemap:
        loc = (entry.get("loc") or "").strip()
        url = canonical_url(loc, response.url) if loc else None
        if not url:
            continue
        if sitemap.type == "sitemapindex":
            nested.append(url)
        else:
            lastmod = parse_iso(entry.get("lastmod"))
            entries.append(ListingEntry(url=url, listed_at=lastmod, modified_at=lastmod))
    return entries, nested
