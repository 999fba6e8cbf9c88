"""What an article mentions: commodities, countries and companies from a curated gazetteer
(gazetteer.json beside this file, data kept in the repository), matched on whole words in the
title and body and counted. Case matters where a name is also a common word: "Shell" the
company, not a shell."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

GAZETTEER = "gazetteer.json"  # package data: read through importlib.resources (a scrapyd egg is a zip)
KINDS = ("commodities", "countries", "companies")  # the article fields, in this order


@cache
def _patterns() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    data = _gazetteer()
    compiled: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for kind in KINDS:
        entries = []
        for entry in data[kind]:
            # Longest form first: "Brent crude" is one mention, not a Brent and a crude.
            forms = sorted(entry["forms"], key=len, reverse=True)
            alternation = "|".join(re.escape(form) for form in forms)
            flags = 0 if entry.get("case", True) else re.IGNORECASE
            entries.append((entry["name"], re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", flags)))
        compiled[kind] = entries
    return compiled


@cache
def _gazetteer() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files(__package__).joinpath(GAZETTEER).read_text(encoding="utf-8"))
    return data


def tickers() -> dict[str, str]:
    """A company's name -> its ticker, as the gazetteer gives it."""
    return {entry["name"]: entry["ticker"] for entry in _gazetteer()["companies"]}


def mentions(title: str, body: str) -> dict[str, dict[str, int]]:
    """For each kind, the names mentioned with how often, most mentioned first (then by name)."""
    text = f"{title}\n\n{body}"
    found: dict[str, dict[str, int]] = {}
    for kind, entries in _patterns().items():
        counts = {name: len(pattern.findall(text)) for name, pattern in entries}
        ranked = sorted(((n, c) for n, c in counts.items() if c), key=lambda nc: (-nc[1], nc[0]))
        found[kind] = dict(ranked)
    return found
