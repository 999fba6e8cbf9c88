"""Helpers shared by the page parsers: text of an lxml element, JSON-LD lookup."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from parsel import Selector

from oilnews.text import clean_line

# Elements whose text is never article text.
SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "iframe",
        "template",
        "svg",
        "object",
        "embed",
        "form",
        "button",
        "select",
        "textarea",
    }
)


def _iter_text(element: Any) -> Iterator[str]:
    # Comments and processing instructions have a non-string tag: no text, tail kept by the parent.
    if isinstance(element.tag, str) and element.tag.lower() not in SKIP_TAGS:
        if element.text:
            yield element.text
        for child in element:
            yield from _iter_text(child)
            if child.tail:
                yield child.tail


def element_text(element: Any) -> str:
    """Visible text of an element, scripts and styles left out, whitespace collapsed."""
    return clean_line("".join(_iter_text(element)))


def selector_text(selector: Selector | None) -> str:
    return element_text(selector.root) if selector is not None else ""


def json_ld_objects(selector: Selector) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object on the page, `@graph` members and arrays flattened.

    A block that does not parse is skipped: the rest of the page still parses.
    """
    for raw in selector.xpath('//script[@type="application/ld+json"]/text()').getall():
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        for obj in stack:
            if not isinstance(obj, dict):
                continue
            yield obj
            graph = obj.get("@graph")
            if isinstance(graph, list):
                yield from (g for g in graph if isinstance(g, dict))


def json_ld_of_type(selector: Selector, *types: str) -> dict[str, Any]:
    for obj in json_ld_objects(selector):
        kind = obj.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(k in types for k in kinds):
            return obj
    return {}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
