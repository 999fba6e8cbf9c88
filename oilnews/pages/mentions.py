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


# An entry: its name, whether case matters, its forms as plain text (casefolded when case does
# not matter), and the whole-word pattern that counts them.
Entry = tuple[str, bool, tuple[str, ...], re.Pattern[str]]


@cache
def _patterns() -> dict[str, list[Entry]]:
    data = _gazetteer()
    compiled: dict[str, list[Entry]] = {}
    for kind in KINDS:
        entries: list[Entry] = []
        for entry in data[kind]:
            # Longest form first: "Brent crude" is one mention, not a Brent and a crude.
            forms = sorted(entry["forms"], key=len, reverse=True)
            alternation = "|".join(re.escape(form) for form in forms)
            case = bool(entry.get("case", True))
            pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", 0 if case else re.IGNORECASE)
            needles = tuple(forms) if case else tuple(form.casefold() for form in forms)
            entries.append((entry["name"], case, needles, pattern))
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
    folded = text.casefold()
    found: dict[str, dict[str, int]] = {}
    for kind, entries in _patterns().items():
        # A whole-word match needs the form as a substring first: most of the gazetteer is not
        # in a given article, and a substring test costs far less than the pattern's scan.
        counts = {
            name: len(pattern.findall(text))
            for name, case, needles, pattern in entries
            if any(needle in (text if case else folded) for needle in needles)
        }
        ranked = sorted(((n, c) for n, c in counts.items() if c), key=lambda nc: (-nc[1], nc[0]))
        found[kind] = dict(ranked)
    return found
