"""Article page -> ArticleItem. Pure: needs a response, never a crawl.

JSON-LD first for dates and authors (it carries offsets and survives template changes),
selectors for the rest. The body is walked element by element so boilerplate is dropped by
structure (ad containers, the "More Top Reads" list) and by pattern (signature lines).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import TextResponse

from oilnews.dates import parse_byline_date, parse_iso, plausible_publication
from oilnews.items import ArticleImage, ArticleItem, AuthorProfile
from oilnews.pages.body import BodyWalker, body_container, body_markdown, content_of
from oilnews.pages.common import Page, as_list, element_text, json_ld_of_type
from oilnews.pages.links import PageLinks, block_links
from oilnews.site import section_of_path
from oilnews.text import clean_line, looks_english
from oilnews.urls import canonical_url

_TITLE_SUFFIX = re.compile(r"\s*\|\s*OilPrice\.com\s*$", re.IGNORECASE)


_OUTLET = re.compile(
    r"\.(?:com|org|net|info|io|co|news|uk|eu)\b|\b(?:news|agency|press|media|times|journal|reuters|bloomberg|eurasianet|rigzone|safehaven)\b",
    re.IGNORECASE,
)


_GENERIC_IMAGES = ("facebook-share-logo", "oilprice-logo", "default")


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


def _title(page: Page, ld: dict[str, Any]) -> str:
    content = content_of(page)
    title = page.text_at(".//h1", content) if content is not None else ""
    if not title:
        title = clean_line(unescape(str(ld.get("headline") or ld.get("name") or "")))
    if not title:
        og = page.meta("og:title") or page.text_at("//title")
        title = _TITLE_SUFFIX.sub("", clean_line(og))
    return title


def _byline(page: Page) -> tuple[list[str], str]:
    """Names and date text from `By <a>Name</a> - Aug 01, 2025, 2:15 AM CDT`."""
    content = content_of(page)
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


def _description(page: Page, ld: dict[str, Any]) -> str | None:
    text = page.meta("description") or page.meta("og:description") or str(ld.get("description") or "")
    return clean_line(unescape(text)) or None


def _language(page: Page, body: str) -> str | None:
    """The page's `lang` (its primary subtag), when the text agrees: an English text under
    another tag, or none, is English; a tag of English over text that is not, is not believed."""
    declared = str(page.root.get("lang") or "").strip().split("-")[0].lower() or None
    english = looks_english(body)
    if english is None:
        return declared
    if english:
        return "en"
    return None if declared in (None, "en") else declared


def _image_url(img: Any, sources: list[Any], base_url: str) -> str | None:
    candidates = [img.get("data-src"), img.get("src")] if img is not None else []
    # A <picture>'s widest source when the <img> is a lazy placeholder.
    candidates += [str(s.get("srcset") or "").split(",")[-1].strip().split(" ")[0] for s in reversed(sources)]
    for candidate in candidates:
        url = str(candidate or "").strip()
        if url and not url.startswith("data:") and not any(g in url for g in _GENERIC_IMAGES):
            return canonical_url(url, base_url)
    return None


def _images(page: Page, base_url: str) -> list[ArticleImage]:
    """The lead picture and the body's figures, each once, with its alt text and caption."""
    content = content_of(page)
    if content is None:
        return []
    found: dict[str, ArticleImage] = {}
    for holder in page.xpath(
        ".//picture[contains(@class, 'singleArticle__articleImage')] | .//figure", content
    ):
        img = next(holder.iter("img"), None)
        url = _image_url(img, list(holder.iter("source")), base_url)
        if url is None or url in found:
            continue
        caption = next(holder.iter("figcaption"), None)
        found[url] = ArticleImage(
            url=url,
            alt=clean_line(img.get("alt")) or None if img is not None else None,
            caption=(element_text(caption) or None) if caption is not None else None,
        )
    return list(found.values())


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
    content = content_of(page)
    # The badge sits above the title, a direct child of the content block.
    if content is not None and page.xpath(
        "./*[contains(@class, 'premium') or normalize-space(.) = 'Premium Content']", content
    ):
        return True
    return bool(summary) and container is not None and container.get("id") == "article-content"


def _plausible_date(
    sources: tuple[tuple[str, Any, Callable[[Any], datetime | None]], ...], rejected: list[str]
) -> datetime | None:
    """The first source's date that can be a real publication time (dates.plausible_publication);
    each source that gives one that cannot (no date at all, before 1990, days ahead, a number or
    a list) is named in `rejected` and the next one is read."""
    now = datetime.now(UTC)
    for name, raw, parse in sources:
        if raw in (None, ""):
            continue
        value = parse(raw) if isinstance(raw, str) else None
        if plausible_publication(value, now):
            return value
        rejected.append(name)
    return None


def parse_article(response: TextResponse) -> ArticleItem:
    page = Page.of(response)
    ld = json_ld_of_type(page, "NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle")
    url, claimed_url = _identity(page, ld, response.url)
    links = PageLinks(url)

    byline_names, byline_date = _byline(page)
    authors = _authors(ld, byline_names)

    walker = BodyWalker(links, authors)
    container = body_container(page)
    if container is not None:
        walker.walk(container)
    body = "\n\n".join(walker.paragraphs)
    body_source = "html" if body else "none"
    if not body and ld.get("articleBody") and container is None:
        body = clean_line(unescape(str(ld["articleBody"])))
        body_source = "json_ld"

    author_boxes = block_links(page, links)

    rejected: list[str] = []
    published = _plausible_date(
        (
            ("json_ld_published", ld.get("datePublished"), parse_iso),
            ("byline", byline_date, parse_byline_date),
        ),
        rejected,
    )
    modified = _plausible_date((("json_ld_modified", ld.get("dateModified"), parse_iso),), rejected)
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
        description=_description(page, ld),
        language=_language(page, body),
        body_markdown=body_markdown(walker) if body_source == "html" else "",
        images=_images(page, url),
        links=links.items,
        links_too_long=links.too_long,
        dates_rejected=rejected,
        author_profiles=_author_profiles(page, author_boxes, url),
        fetched_url=response.url,
        claimed_url=claimed_url,
        body_source=body_source,
    )
