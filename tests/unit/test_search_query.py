"""The search syntax, parsed and written for both engines: table-driven, no database."""

from __future__ import annotations

import pytest

from oilnews.storage.search import query_problem
from oilnews.storage.search_query import SearchSyntaxError, parse, to_fts5, to_tsquery


@pytest.mark.parametrize(
    ("query", "fts5", "tsquery"),
    [
        ("oil gas", '("oil" AND "gas")', "('oil' & 'gas')"),
        ("Oil AND gas", '("oil" AND "gas")', "('oil' & 'gas')"),
        ("oil OR gas", '("oil") OR ("gas")', "('oil') | ('gas')"),
        ("oil or gas", '("oil") OR ("gas")', "('oil') | ('gas')"),
        ("oil -gas", '(("oil") NOT ("gas"))', "('oil' & !'gas')"),
        ("oil NOT gas", '(("oil") NOT ("gas"))', "('oil' & !'gas')"),
        ('"crude oil" refin*', '("crude oil" AND "refin"*)', "(('crude' <-> 'oil') & 'refin':*)"),
        ('brent -"natural gas"', '(("brent") NOT ("natural gas"))', "('brent' & !('natural' <-> 'gas'))"),
        ("a b OR c", '("a" AND "b") OR ("c")', "('a' & 'b') | ('c')"),
        ("oil OIL gas oil", '("oil" AND "gas")', "('oil' & 'gas')"),  # a term once
        ("U.S. oil-price", '("u s" AND "oil price")', "(('u' <-> 's') & ('oil' <-> 'price'))"),
        # Whatever the words hold, they reach the engines as quoted words, never as syntax.
        (
            "NEAR(oil gas) title:oil",
            '("near oil" AND "gas" AND "title oil")',
            "(('near' <-> 'oil') & 'gas' & ('title' <-> 'oil'))",
        ),
        ("it's ' & | ! :*", '("it s")', "(('it' <-> 's'))"),
    ],
)
def test_a_query_is_written_for_both_engines(query: str, fts5: str, tsquery: str) -> None:
    parsed = parse(query)
    assert (to_fts5(parsed), to_tsquery(parsed)) == (fts5, tsquery)
    assert query_problem(query) is None


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ('"crude oil', 'a " without its closing "'),
        ("oil OR", "OR needs words on both sides"),
        ("OR oil", "OR needs words on both sides"),
        ("oil OR OR gas", "OR needs words on both sides"),
        ("-gas", "only excluded words"),
        ("oil OR -gas", "only excluded words"),
        ("oil NOT", "NOT needs a word after it"),
        ("?! ...", "give at least one word"),
        ("", "give at least one word"),
    ],
)
def test_a_query_that_cannot_be_parsed_says_why(query: str, says: str) -> None:
    with pytest.raises(SearchSyntaxError, match=says):
        parse(query)
    assert says in str(query_problem(query))
