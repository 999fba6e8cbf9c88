"""A person's search words, parsed once and written for each database's full-text engine.

The syntax is PostgreSQL's `websearch_to_tsquery` (what a web search box takes), plus prefixes:

    oil gas            both words (every word is required)
    oil OR gas         either (OR binds loosest: `a b OR c` is `(a b) OR c`)
    oil -gas           oil, not gas (also `NOT gas`)
    "crude oil"        the words next to each other, in this order
    refin*             a word beginning with `refin` (refinery, refining, refined)

Words are matched stemmed on both databases ("prices" finds "price"), case-insensitively. Every
part of the query is a word of letters and digits, so nothing a person types reaches either
engine as syntax: it is parsed here and written out by `to_fts5` and `to_tsquery`. A query this
cannot parse (an unclosed quote, an OR with nothing on one side, only excluded words) is a
SearchSyntaxError saying what is wrong; README "Search" documents the syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A token: a quoted phrase (the quote may be unclosed: an error), an operator word or a term.
_TOKEN = re.compile(r'(?P<neg>-)?(?P<phrase>"[^"]*"?)|(?P<word>-?[^\s"]+)')
_WORD = re.compile(r"\w+", re.UNICODE)


class SearchSyntaxError(ValueError):
    """What is wrong with a query, in words a person can act on."""


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase's words in order
    prefix: bool = False  # the last word is a prefix (`refin*`)
    excluded: bool = False  # `-word`, `NOT word`


@dataclass(frozen=True)
class Query:
    groups: tuple[tuple[Term, ...], ...]  # OR of groups; a group's terms are all required

    def words(self) -> set[str]:
        return {word for group in self.groups for term in group for word in term.words}


def parse(text: str) -> Query:
    groups: list[list[Term]] = [[]]
    negate_next = False
    for match in _TOKEN.finditer(text):
        if match.group("phrase") is not None:
            phrase = match.group("phrase")
            if len(phrase) < 2 or not phrase.endswith('"'):
                raise SearchSyntaxError('a " without its closing "')
            words = tuple(w.lower() for w in _WORD.findall(phrase))
            if words:
                groups[-1].append(Term(words, excluded=negate_next or bool(match.group("neg"))))
            negate_next = False
            continue
        token = match.group("word")
        if token.upper() == "OR":
            if not groups[-1] or negate_next:
                raise SearchSyntaxError("OR needs words on both sides, as in: oil OR gas")
            groups.append([])
            continue
        if token == "NOT":
            negate_next = True
            continue
        if token == "AND":
            continue  # every word is required anyway
        excluded = negate_next or token.startswith("-")
        negate_next = False
        body = token.lstrip("-")
        parts = tuple(w.lower() for w in _WORD.findall(body))
        if not parts:
            continue  # punctuation alone: nothing to match, as a search box ignores it
        # `oil-price` or `U.S.` are one term of several words in a row, as the index splits them.
        groups[-1].append(Term(parts, prefix=body.endswith("*"), excluded=excluded))
    if negate_next:
        raise SearchSyntaxError("NOT needs a word after it, as in: oil NOT gas")
    if not groups[-1] and len(groups) > 1:
        raise SearchSyntaxError("OR needs words on both sides, as in: oil OR gas")
    if not any(groups):
        raise SearchSyntaxError("give at least one word")
    for group in groups:
        if all(term.excluded for term in group):
            raise SearchSyntaxError("only excluded words: say what to find, as in: oil -gas")
    # A term repeated is searched once (`oil oil oil` is `oil`): snippet and headline functions
    # grow with the square of the terms.
    return Query(tuple(tuple(dict.fromkeys(group)) for group in groups))


def _fts5_term(term: Term) -> str:
    quoted = '"' + " ".join(term.words) + '"'  # a quoted string: the words in a row (a phrase)
    return quoted + ("*" if term.prefix else "")


def to_fts5(query: Query) -> str:
    """The query in SQLite FTS5's syntax: every word inside quotes, so none is an operator."""
    groups = []
    for group in query.groups:
        wanted = " AND ".join(_fts5_term(t) for t in group if not t.excluded)
        unwanted = " OR ".join(_fts5_term(t) for t in group if t.excluded)
        groups.append(f"(({wanted}) NOT ({unwanted}))" if unwanted else f"({wanted})")
    return " OR ".join(groups)


def _ts_term(term: Term) -> str:
    words = [f"'{word}'" for word in term.words]  # \w+ only: no quote can be inside
    if term.prefix:
        words[-1] += ":*"
    text = " <-> ".join(words)
    if len(words) > 1:
        text = f"({text})"
    return "!" + text if term.excluded else text


def to_tsquery(query: Query) -> str:
    """The query in PostgreSQL's to_tsquery syntax (each word stemmed by the english
    configuration there, as the stored vector was)."""
    return " | ".join("(" + " & ".join(_ts_term(t) for t in group) + ")" for group in query.groups)
