"""The body of an article page, walked element by element so boilerplate is dropped by
structure (ad containers, share and quote widgets, the "More Top Reads" list, whose links are
kept) and by pattern (signature lines). Pure: a parsed page in, paragraphs and links out."""

from __future__ import annotations

import re
from typing import Any

from oilnews.pages import markdown
from oilnews.pages.common import Page, element_text
from oilnews.pages.links import PageLinks
from oilnews.text import is_boilerplate, is_signature

# News items use #news-content, editorials and premium articles #article-content.
BODY_CONTAINERS = "id('news-content article-content')"  # id(): lxml's index, no tree scan


_MORE_HEADING = re.compile(r"^more (?:top reads|company news) from oilprice\.com:?$", re.IGNORECASE)


_AD_ID_PREFIXES = ("oilprice_", "div-gpt-ad")


_PARAGRAPH_TAGS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})


_LIST_TAGS = frozenset({"ul", "ol"})


_CONTAINER_TAGS = frozenset({"div", "section", "article", "span", "center", "main", "body", "html"})


_SKIP_CLASSES = ("stock", "quote", "share", "ad-", "ads", "advert", "newsletter", "subscribe")


def _classes(element: Any) -> str:
    return str(element.get("class") or "").lower()


def _is_ad(element: Any) -> bool:
    ident = str(element.get("id") or "")
    if ident.startswith(_AD_ID_PREFIXES) or element.get("data-freestar-ad") is not None:
        return True
    classes = _classes(element)
    return any(marker in classes for marker in _SKIP_CLASSES)


class BodyWalker:
    """Splits the body container into summary bullets, paragraphs and link lists."""

    def __init__(self, links: PageLinks, names: list[str]) -> None:
        self.links = links
        self.names = names
        self.summary: list[str] = []
        self.paragraphs: list[str] = []
        self.markdown: list[str] = []  # the same blocks as Markdown (pages.markdown)
        self.summary_markdown: list[str] = []
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
        entries = [li for li in element.iter("li") if element_text(li)]
        items = [element_text(li) for li in entries]
        marked = [markdown.inline(li, self.links.base_url) for li in entries]
        if not self.paragraphs:
            # A list before the first paragraph is the premium key-points block.
            self.summary.extend(items)
            self.summary_markdown.extend(marked)
            return
        self._record_body_links(element)
        self.paragraphs.extend(f"• {item}" for item in items)
        numbered = element.tag.lower() == "ol"
        self.markdown.append(
            "\n".join(f"{n}. {m}" if numbered else f"- {m}" for n, m in enumerate(marked, 1))
        )

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
            self.markdown.append(markdown.inline(element, self.links.base_url))  # the line as a link
            return
        if is_boilerplate(text) or is_signature(text, self.names):
            return
        self._record_body_links(element)
        self.paragraphs.append(text)
        self.markdown.append(_block(element, markdown.inline(element, self.links.base_url)))

    def _record_body_links(self, element: Any) -> None:
        for a in element.iter("a"):
            self.links.add(a.get("href"), "body", element_text(a))


def _block(element: Any, line: str) -> str:
    """A paragraph's Markdown by its tag: a subheading keeps its level, a quote its mark."""
    tag = element.tag.lower()
    if tag in ("h2", "h3", "h4", "h5", "h6"):
        return "#" * int(tag[1]) + " " + line
    if tag == "blockquote":
        return "> " + line
    return line


def body_markdown(walker: BodyWalker) -> str:
    """The whole body as Markdown: the key points as a list first, then the blocks."""
    blocks = ["\n".join(f"- {point}" for point in walker.summary_markdown)] if walker.summary_markdown else []
    return "\n\n".join([*blocks, *walker.markdown])


def content_of(page: Page) -> Any:
    """The block holding the heading, byline and body (looked up once per page)."""
    if "content" not in page.memo:
        # In the 2025 template it is the body container's parent: found without a tree scan.
        body = body_container(page)
        parent = body.getparent() if body is not None else None
        if parent is not None and "singleArticle__content" in str(parent.get("class") or ""):
            page.memo["content"] = parent
        else:
            page.memo["content"] = page.first_at("//div[contains(@class, 'singleArticle__content')]")
    return page.memo["content"]


def body_container(page: Page) -> Any:
    if "body" not in page.memo:
        page.memo["body"] = page.first_at(BODY_CONTAINERS)
    return page.memo["body"]
