"""Text normalisation shared by the page parsers and the clean pipeline.

Every function here is idempotent: running the clean pipeline over an item the parser
already cleaned changes nothing, so an item cleaned twice is stored as if cleaned once.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata

import ftfy

_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# Byte sequences that UTF-8 read as cp1252/latin-1 leaves behind ("Africaâ€™s").
_MOJIBAKE_HINT = re.compile(
    "[\u00c2\u00c3\u00c5\u00e2][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"
)
_FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,
    uncurl_quotes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    normalization="NFC",
    explain=False,
)

# Paragraphs that are site furniture, never article text.
BOILERPLATE_PARAGRAPHS = re.compile(
    r"^(?:more top reads from oilprice\.com:?|more company news from oilprice\.com:?"
    r"|download the free oilprice app(?: today)?|back to homepage|advertisement"
    r"|leave a comment|related:.*|read more:.*)$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^by\.?\s+(?P<who>.+?)\s*$", re.IGNORECASE)


def fix_mojibake(text: str) -> str:
    """Repair UTF-8 decoded as cp1252 (the 2011 archive); leave clean text untouched."""
    if not _MOJIBAKE_HINT.search(text):
        return text
    return str(ftfy.fix_text(text, config=_FTFY_CONFIG))


def clean_line(text: str | None) -> str:
    """One line of text: entities decoded, mojibake fixed, whitespace collapsed."""
    if not text:
        return ""
    if (
        text.isascii()
        and "&" not in text
        and "  " not in text
        and text == text.strip()
        and text.isprintable()
    ):
        return text  # already clean: most titles and anchors on the page
    if "&" in text:
        text = html.unescape(text)
    text = fix_mojibake(text)
    text = _ZERO_WIDTH.sub("", text)
    text = _SPACES.sub(" ", text.replace("\n", " "))
    return unicodedata.normalize("NFC", text).strip()


def clean_body(text: str | None) -> str:
    """Paragraphs cleaned one by one, separated by exactly one blank line."""
    if not text:
        return ""
    paragraphs = (clean_line(p) for p in _BLANK_LINES.split(text.replace("\r\n", "\n")))
    return "\n\n".join(p for p in paragraphs if p and not is_boilerplate(p))


def is_boilerplate(paragraph: str) -> bool:
    return bool(BOILERPLATE_PARAGRAPHS.match(paragraph))


def is_signature(paragraph: str, names: list[str]) -> bool:
    """ "By Irina Slav for Oilprice.com", "By. Joao Peixe, Deputy Editor OilPrice.com",
    or "By <one of the byline names>" closing an article."""
    match = _SIGNATURE.match(paragraph)
    if not match or len(paragraph) > 120:
        return False
    who = match.group("who").rstrip(".").lower()
    if "oilprice.com" in who:
        return True
    return any(who == name.lower().rstrip(".") for name in names if name)


def content_hash(title: str, body: str) -> str:
    """Identity of an article's content, blind to whitespace and case: the same story
    served under two URLs hashes the same."""
    normal = " ".join(f"{title}\n{body}".lower().split())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


# The commonest English words: a text in English is made of them about four words in ten.
_ENGLISH = frozenset(
    [
        "the",
        "of",
        "and",
        "to",
        "in",
        "a",
        "is",
        "that",
        "for",
        "it",
        "as",
        "was",
        "with",
        "be",
        "by",
        "on",
        "not",
        "he",
        "this",
        "are",
        "or",
        "his",
        "from",
        "at",
        "which",
        "but",
        "have",
        "an",
        "they",
        "you",
        "were",
        "her",
        "she",
        "there",
        "been",
        "one",
        "all",
        "we",
        "their",
        "has",
        "would",
        "when",
        "if",
        "more",
        "will",
        "its",
        "also",
        "who",
        "said",
        "than",
        "after",
        "new",
        "into",
        "over",
        "could",
        "can",
        "may",
        "about",
    ]
)
_WORD = re.compile(r"[^\W\d_]+")


def looks_english(text: str) -> bool | None:
    """Whether a text reads as English (its common words, at least one in seven); None when it
    is too short to tell."""
    words = _WORD.findall(text[:5000].lower())
    if len(words) < 30:
        return None
    return sum(1 for w in words if w in _ENGLISH) / len(words) >= 1 / 7


def derived_hash(fields: dict[str, object]) -> str:
    """Identity of an article's derived fields (description, language, Markdown body, images,
    mentions): a reparse that derives them anew updates them in place when this changes."""
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
