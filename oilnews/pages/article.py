"""Article page -> ArticleItem. Pure: needs a response, never a crawl.

JSON-LD first for dates and authors (it carries offsets and survives template changes),
selectors for the rest. The body is walked element by element so boilerplate is dropped by
structure (ad containers, the "More Top Reads" list) and by pattern (signature lines).
"""

from __future__ import annotations

import re
from html import unescape
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import TextResponse

from oilnews.dates import parse_byline_date, parse_iso
from oilnews.items import ArticleItem, ArticleLink, AuthorProfile
from oilnews.pages.common import Page, as_list, element_text, json_ld_of_type
from oilnews.site import section_of_path
from oilnews.text import clean_line, is_boilerplate, is_signature
from oilnews.urls import canonical_url

# News items use #news-content, editorials and premium articles #article-content.
BODY_CONTAINERS = "id('news-content article-content')"  # id(): lxml's index, no tree scan
_TITLE_SUFFIX = re.compile(r"\s*\|\s*OilPrice\.com\s*$", re.IGNORECASE)
_MORE_HEADING = re.compile(r"^more (?:top reads|company news) from oilprice\.com:?$", re.IGNORECASE)
_OUTLET = re.compile(
    r"\.(?:com|org|net|info|io|co|news|uk|eu)\b|\b(?:news|agency|press|media|times|journal|reuters|bloomberg|eurasianet|rigzone|safehaven)\b",
    re.IGNORECASE,
)
_GENERIC_IMAGES = ("facebook-share-logo", "oilprice-logo", "default")
_AD_ID_PREFIXES = ("oilprice_", "div-gpt-ad")
_PARAGRAPH_TAGS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})
_LIST_TAGS = frozenset({"ul", "ol"})
_CONTAINER_TAGS = frozenset({"div", "section", "article", "span", "center", "main", "body", "html"})
_SKIP_CLASSES = ("stock", "quote", "share", "ad-", "ads", "advert", "newsletter", "subscribe")

# Sidebar and page blocks whose links lead to more articles (the crawl frontier):
# (kind, class of the <a>, class of the element holding its title or None for the <a> itself).
LINK_BLOCKS: tuple[tuple[str, str, str | None], ...] = (
    ("related", "sidebarRelatedArticles__itemLink", None),
    ("popular", "sidebarTrendingArticles__article", "sidebarTrendingArticles__articleTitle"),
    ("most_commented", "sidebarSponsorContent__article", "sidebarSponsorContent__articleTitle"),
    ("navigation", "singleArticle__navigation__articleTitleLink", None),  # previous or next, by ancestor
    ("related_posts", "articleRelatedPosts__article", "articleRelatedPosts__articleTitle"),
)


def _block_links(page: Page, links: _Links) -> list[Any]:
    """Sidebar and page-block links into `links`; returns the author boxes met on the way.

    One pass over the page's classed links, matched in Python: XPath class tests over the
    whole page cost more than the parse itself. The forum threads of the community block
    (`a.full_parent`) and the author box (its `a.authorBox__moreInfo`) are found in it too.
    """
    boxes: list[Any] = []
    for a in page.xpath("//a[@class]"):
        classes = str(a.get("class") or "").split()
        if "full_parent" in classes:
            _forum_link(page, a, links)
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
            kind = _navigation_kind(a) if block == "navigation" else block
            if kind is None:
                break
            title = ""
            if title_css is not None:
                holder = next((e for e in a.iter() if title_css in str(e.get("class") or "").split()), None)
                title = element_text(holder) if holder is not None else ""
            links.add(a.get("href"), kind, title or element_text(a))
            break
    return boxes


def _forum_link(page: Page, anchor: Any, links: _Links) -> None:
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


def _author_profiles(page: Page, boxes: list[Any], base_url: str) -> list[AuthorProfile]:
    """The author box: `div.authorBox` with name, bio, avatar and the profile link."""
    profiles: list[AuthorProfile] = []
    for box in boxes:

        def first(expression: str, box: Any = box) -> Any:
            return next(iter(page.xpath(expression, box)), None)

        link = first(".//a[contains(@class, 'authorBox__moreInfo')]/@href")
        name = first(".//*[contains(@class, 'authorBox__authorName')]")
        profile_url = canonical_url(str(link), base_url) if link else None
        if profile_url is None or name is None or not element_text(name):
            continue
        bio = first(".//*[contains(@class, 'authorBox__authorBio')]")
        avatar = first(".//img[contains(@class, 'authorBox__avatar')]")
        avatar_url = (avatar.get("data-src") or avatar.get("src") or "") if avatar is not None else ""
        if avatar_url.startswith("data:") or any(g in avatar_url for g in _GENERIC_IMAGES):
            avatar_url = ""  # a placeholder, not this author's picture
        profiles.append(
            AuthorProfile(
                profile_url=profile_url,
                name=element_text(name),
                bio=(element_text(bio) or None) if bio is not None else None,
                avatar_url=canonical_url(avatar_url, base_url) if avatar_url else None,
            )
        )
    return profiles


def _navigation_kind(element: Any) -> str | None:
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


class _Links:
    """Links of one page, canonicalised, deduplicated per (url, kind), order kept, bounded."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.items: list[ArticleLink] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, href: str | None, kind: str, title: str = "") -> None:
        if len(self.items) >= MAX_LINKS_PER_PAGE:
            return
        url = canonical_url(href, self.base_url) if href else None
        if url is None or (url, kind) in self._seen:
            return
        self._seen.add((url, kind))
        self.items.append(ArticleLink(url=url, kind=kind, title=title))


def _classes(element: Any) -> str:
    return str(element.get("class") or "").lower()


def _is_ad(element: Any) -> bool:
    ident = str(element.get("id") or "")
    if ident.startswith(_AD_ID_PREFIXES) or element.get("data-freestar-ad") is not None:
        return True
    classes = _classes(element)
    return any(marker in classes for marker in _SKIP_CLASSES)


class _BodyWalker:
    """Splits the body container into summary bullets, paragraphs and link lists."""

    def __init__(self, links: _Links, names: list[str]) -> None:
        self.links = links
        self.names = names
        self.summary: list[str] = []
        self.paragraphs: list[str] = []
        self._more_list_pending = False

    def walk(self, container: Any) -> None:
        for child in container:
            tag = child.tag.lower() if isinstance(child.tag, str) else ""
            if not tag or tag in (
                "script",
                "style",
                "noscript",
                "iframe",
                "form",
                "table",
                "figure",
                "img",
                "br",
                "hr",
            ):
                continue
            if _is_ad(child):
                continue
            if tag in _LIST_TAGS:
                self._list(child)
            elif tag in _PARAGRAPH_TAGS:
                self._paragraph(child)
            elif tag in _CONTAINER_TAGS:
                self.walk(child)

    def _list(self, element: Any) -> None:
        if self._more_list_pending:
            self._more_list_pending = False
            for a in element.iter("a"):
                self.links.add(a.get("href"), "more_top_reads", element_text(a))
            return
        items = [text for text in (element_text(li) for li in element.iter("li")) if text]
        if not self.paragraphs:
            # A list before the first paragraph is the premium key-points block.
            self.summary.extend(items)
            return
        self._record_body_links(element)
        self.paragraphs.extend(f"• {item}" for item in items)

    def _paragraph(self, element: Any) -> None:
        text = element_text(element)
        if not text:
            return
        if _MORE_HEADING.match(text):
            self._more_list_pending = True
            return
        if text.lower().startswith("related:"):
            for a in element.iter("a"):
                self.links.add(a.get("href"), "related_inline", element_text(a))
            return
        if is_boilerplate(text) or is_signature(text, self.names):
            return
        self._record_body_links(element)
        self.paragraphs.append(text)

    def _record_body_links(self, element: Any) -> None:
        for a in element.iter("a"):
            self.links.add(a.get("href"), "body", element_text(a))


def _content(page: Page) -> Any:
    """The block holding the heading, byline and body (looked up once per page)."""
    if "content" not in page.memo:
        # In the 2025 template it is the body container's parent: found without a tree scan.
        body = _body_container(page)
        parent = body.getparent() if body is not None else None
        if parent is not None and "singleArticle__content" in str(parent.get("class") or ""):
            page.memo["content"] = parent
        else:
            page.memo["content"] = page.first_at("//div[contains(@class, 'singleArticle__content')]")
    return page.memo["content"]


def _body_container(page: Page) -> Any:
    if "body" not in page.memo:
        page.memo["body"] = page.first_at(BODY_CONTAINERS)
    return page.memo["body"]


def _title(page: Page, ld: dict[str, Any]) -> str:
    content = _content(page)
    title = page.text_at(".//h1", content) if content is not None else ""
    if not title:
        title = clean_line(unescape(str(ld.get("headline") or ld.get("name") or "")))
    if not title:
        og = page.meta("og:title") or page.text_at("//title")
        title = _TITLE_SUFFIX.sub("", clean_line(og))
    return title


def _byline(page: Page) -> tuple[list[str], str]:
    """Names and date text from `By <a>Name</a> - Aug 01, 2025, 2:15 AM CDT`."""
    content = _content(page)
    node = page.first_at(
        ".//span[contains(@class, 'article_byline')]", content if content is not None else page.root
    )
    if node is None:
        return [], ""
    text = element_text(node)
    names = [name for name in (element_text(a) for a in node.iter("a")) if name]
    head, _, date_text = text.partition(" - ")
    if not names:
        who = re.sub(r"^By\.?\s+", "", head.strip(), flags=re.IGNORECASE)
        names = [n.strip() for n in re.split(r",\s*|\s+and\s+|\s*&\s*", who) if n.strip()]
    return names, date_text.strip()


def _authors(ld: dict[str, Any], byline_names: list[str]) -> list[str]:
    names: list[str] = []
    for author in as_list(ld.get("author")):
        name = author.get("name") if isinstance(author, dict) else author
        if isinstance(name, str) and clean_line(name):
            names.append(clean_line(unescape(name)))
    names = names or byline_names
    return list(dict.fromkeys(names))


def _source(ld: dict[str, Any], authors: list[str]) -> str:
    """The outlet when the byline names one ("By Eurasianet.org"), else Oilprice.com."""
    for author in as_list(ld.get("author")):
        if isinstance(author, dict) and author.get("@type") == "Organization" and author.get("name"):
            return clean_line(str(author["name"]))
    for name in authors:
        if _OUTLET.search(name):
            return name
    return "Oilprice.com"


def _image(page: Page, ld: dict[str, Any]) -> str | None:
    candidates: list[Any] = [*as_list(ld.get("image")), page.meta("og:image")]
    for candidate in candidates:
        url = candidate.get("url") if isinstance(candidate, dict) else candidate
        if isinstance(url, str) and url.strip() and not any(g in url for g in _GENERIC_IMAGES):
            return url.strip()
    return None


def _keywords(page: Page) -> list[str]:
    raw = page.meta("news_keywords") or page.meta("keywords") or ""
    words = (clean_line(k) for k in raw.split(","))
    return list(dict.fromkeys(w for w in words if w))


def _identity(page: Page, ld: dict[str, Any], response_url: str) -> tuple[str, str | None]:
    """(the URL the article is stored under, a different URL the page claims or None).

    An article is the URL it was fetched from, canonicalised: the canonical form already folds
    every variant a page may name (scheme, `www.`, host case, AMP, tracking parameters). A
    `<link rel=canonical>`, JSON-LD `url` or `og:url` naming anything else is not believed: a
    CMS slip must never store this page over another article's row. The claim is returned so
    it can be counted and logged.
    """
    fetched = canonical_url(response_url) or response_url
    for candidate in (page.meta("canonical"), ld.get("url"), page.meta("og:url")):
        if isinstance(candidate, str) and candidate.strip():
            claimed = canonical_url(candidate, response_url)
            if claimed is not None and claimed != fetched:
                return fetched, claimed
    return fetched, None


def _is_premium(page: Page, url: str, summary: list[str], container: Any) -> bool:
    if "/gea-articles/" in url:
        return True
    content = _content(page)
    # The badge sits above the title, a direct child of the content block.
    if content is not None and page.xpath(
        "./*[contains(@class, 'premium') or normalize-space(.) = 'Premium Content']", content
    ):
        return True
    return bool(summary) and container is not None and container.get("id") == "article-content"


def parse_article(response: TextResponse) -> ArticleItem:
    page = Page.of(response)
    ld = json_ld_of_type(page, "NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle")
    url, claimed_url = _identity(page, ld, response.url)
    links = _Links(url)

    byline_names, byline_date = _byline(page)
    authors = _authors(ld, byline_names)

    walker = _BodyWalker(links, authors)
    container = _body_container(page)
    if container is not None:
        walker.walk(container)
    body = "\n\n".join(walker.paragraphs)
    body_source = "html" if body else "none"
    if not body and ld.get("articleBody") and container is None:
        body = clean_line(unescape(str(ld["articleBody"])))
        body_source = "json_ld"

    author_boxes = _block_links(page, links)

    published = parse_iso(ld.get("datePublished")) or parse_byline_date(byline_date)
    modified = parse_iso(ld.get("dateModified"))
    return ArticleItem(
        url=url,
        title=_title(page, ld),
        authors=authors,
        source=_source(ld, authors),
        published_at=published,
        modified_at=modified,
        section=section_of_path(urlsplit(url).path),
        keywords=_keywords(page),
        summary=walker.summary,
        body=body,
        image_url=_image(page, ld),
        is_premium=_is_premium(page, url, walker.summary, container),
        links=links.items,
        author_profiles=_author_profiles(page, author_boxes, url),
        fetched_url=response.url,
        claimed_url=claimed_url,
        body_source=body_source,
    )
