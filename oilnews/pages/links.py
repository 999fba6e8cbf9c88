"""The links of an article page: the sidebar and page blocks that lead to more articles
(related, most popular, most commented, previous/next, the related-posts grid), forum threads,
and the bound on how many one page may give. Pure: a parsed page in, ArticleLinks out."""

from __future__ import annotations

from itertools import islice
from typing import Any

from oilnews.items import ArticleLink
from oilnews.pages.common import Page, element_text
from oilnews.urls import MAX_URL_LENGTH, canonical_url

# Sidebar and page blocks whose links lead to more articles (the crawl frontier):
# (kind, class of the <a>, class of the element holding its title or None for the <a> itself).
LINK_BLOCKS: tuple[tuple[str, str, str | None], ...] = (
    ("related", "sidebarRelatedArticles__itemLink", None),
    ("popular", "sidebarTrendingArticles__article", "sidebarTrendingArticles__articleTitle"),
    ("most_commented", "sidebarSponsorContent__article", "sidebarSponsorContent__articleTitle"),
    ("navigation", "singleArticle__navigation__articleTitleLink", None),  # previous or next, by ancestor
    ("related_posts", "articleRelatedPosts__article", "articleRelatedPosts__articleTitle"),
)


def block_links(page: Page, links: PageLinks) -> list[Any]:
    """Sidebar and page-block links into `links`; returns the author boxes met on the way.

    One pass over the page's classed links, matched in Python: XPath class tests over the
    whole page cost more than the parse itself. The forum threads of the community block
    (`a.full_parent`) and the author box (its `a.authorBox__moreInfo`) are found in it too.
    """
    boxes: list[Any] = []
    for a in page.xpath("//a[@class]"):
        classes = str(a.get("class") or "").split()
        if "full_parent" in classes:
            forum_link(page, a, links)
            continue
        if "authorBox__moreInfo" in classes:
            box = next(
                (e for e in a.iterancestors("div") if "authorBox" in str(e.get("class") or "").split()), None
            )
            if box is not None:
                boxes.append(box)
            continue
        for block, css, title_css in LINK_BLOCKS:
            if css not in classes:
                continue
            kind = navigation_kind(a) if block == "navigation" else block
            if kind is None:
                break
            title = ""
            if title_css is not None:
                holder = next((e for e in a.iter() if title_css in str(e.get("class") or "").split()), None)
                title = element_text(holder) if holder is not None else ""
            links.add(a.get("href"), kind, title or element_text(a))
            break
    return boxes


def forum_link(page: Page, anchor: Any, links: PageLinks) -> None:
    """A forum thread of the community block (../shared/seed-page-text.txt shows them on a
    premium page): a `forum` link with its title, never followed (another site, and no news)."""
    # div.community_block > ul > li > div.headline_row > a: a few levels up, never the whole
    # chain (the "Headlines" block has forty such anchors that are not forum threads).
    in_block = any(
        "community_block" in str(e.get("class") or "") for e in islice(anchor.iterancestors("div"), 3)
    )
    if not in_block:
        return
    row = anchor.getparent()
    title = (
        next((e for e in row if "article_name" in str(e.get("class") or "")), None)
        if row is not None
        else None
    )
    links.add(anchor.get("href"), "forum", element_text(title) if title is not None else "")


def navigation_kind(element: Any) -> str | None:
    for ancestor in element.iterancestors():
        classes = str(ancestor.get("class") or "")
        if "singleArticle__navigation__previous" in classes:
            return "previous"
        if "singleArticle__navigation__next" in classes:
            return "next"
    return None


# A real article page carries about 30 links; a page with thousands is hostile or broken,
# and storing them all would let one page flood article_links and the crawl frontier.
MAX_LINKS_PER_PAGE = 1000


class PageLinks:
    """Links of one page, canonicalised, deduplicated per (url, kind), order kept, bounded."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.items: list[ArticleLink] = []
        self.too_long = 0  # links left out: longer than the longest URL stored
        self._seen: set[tuple[str, str]] = set()

    def add(self, href: str | None, kind: str, title: str = "") -> None:
        if len(self.items) >= MAX_LINKS_PER_PAGE:
            return
        url = canonical_url(href, self.base_url) if href else None
        if url is None and href is not None and len(href) > MAX_URL_LENGTH:
            self.too_long += 1
        if url is None or (url, kind) in self._seen:
            return
        self._seen.add((url, kind))
        self.items.append(ArticleLink(url=url, kind=kind, title=title))
