"""An article body as Markdown (CommonMark): paragraphs, subheadings, lists, quotes, inline
links and emphasis. Page text is hostile: every character that could make Markdown structure
or raw HTML is escaped, and only http(s) links become links, their URLs percent-encoded, so a
renderer downstream (a static site, a notes tool, a RAG pipeline) gets the text and nothing else."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from w3lib.url import safe_url_string

from oilnews.pages.common import SKIP_TAGS
from oilnews.text import clean_line

# Backslash-escapable punctuation (CommonMark 2.4) that can start structure inside a line.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
# At a line's start: a heading, a quote, a list item, a thematic break, a numbered item.
_BLOCK_START = re.compile(r"^(#{1,6}(?=\s|$)|>|[-+*](?=\s|$)|=+\s*$|(\d{1,9})([.)])(?=\s|$))")

_EMPHASIS = {"strong": "**", "b": "**", "em": "*", "i": "*"}


def escape(text: str) -> str:
    """Text that Markdown shows as it is: no markup, no raw HTML."""
    text = _INLINE_SPECIAL.sub(r"\\\1", text)
    match = _BLOCK_START.match(text)
    if match and match.group(2):  # "1. " at the start: escape the dot, not the number
        return match.group(2) + "\\" + text[len(match.group(2)) :]
    return "\\" + text if match else text


def link_target(href: str | None, base_url: str) -> str | None:
    """The absolute, percent-encoded http(s) URL of a link, or None (javascript:, mailto:,
    data: and the like are not links in the output)."""
    if not href:
        return None
    url = urljoin(base_url, href.strip())
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    # Parentheses and spaces would end the link destination early.
    return safe_url_string(url).replace("(", "%28").replace(")", "%29")


def inline(element: Any, base_url: str) -> str:
    """One element's content as a line of Markdown: links, emphasis, escaped text."""
    return _spaces("".join(_inline_parts(element, base_url, top=True))).strip()


def _text(fragment: str) -> str:
    """A text fragment as Markdown: cleaned as all page text is (entities, mojibake), and only
    then escaped, so that an entity can never decode into markup after the escaping; the spaces
    at its edges are kept (they separate it from the next element)."""
    spaced = _spaces(fragment)
    core = clean_line(spaced)
    if not core:
        return " " if spaced else ""
    lead = " " if spaced.startswith(" ") else ""
    trail = " " if spaced.endswith(" ") else ""
    return lead + escape(core) + trail


def _inline_parts(element: Any, base_url: str, top: bool = False) -> list[str]:
    tag = element.tag.lower() if isinstance(element.tag, str) else ""
    if not tag or tag in SKIP_TAGS:
        return []
    parts: list[str] = []
    if element.text:
        parts.append(_text(element.text))
    for child in element:
        parts.extend(_inline_parts(child, base_url))
        if child.tail:
            parts.append(_text(child.tail))
    if top:
        return parts
    text = "".join(parts)
    if tag == "a":
        target = link_target(element.get("href"), base_url)
        label = _spaces(text).strip()
        return [f"[{label}]({target})"] if target and label else [text]
    if tag in _EMPHASIS and text.strip():
        mark = _EMPHASIS[tag]
        # The marks hug the words (CommonMark's flanking rule); spaces stay outside.
        lead, core, trail = _split_spaces(text)
        return [f"{lead}{mark}{core}{mark}{trail}"]
    if tag == "br":
        return [" "]
    return [text]


def _spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _split_spaces(text: str) -> tuple[str, str, str]:
    core = text.strip()
    start = text.index(core[0]) if core else 0
    return text[:start], core, text[start + len(core) :]
