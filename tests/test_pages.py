"""Saved HTML in, expected JSON out: the real pages in ../shared and the project's fixtures."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, TextResponse, XmlResponse

from oilnews.pages.article import parse_article
from oilnews.pages.feeds import parse_rss, parse_sitemap
from oilnews.pages.listing import parse_listing
from oilnews.pages.mentions import mentions
from oilnews.pages.ticker import parse_ticker
from oilnews.pipelines.clean import clean_article
from tests.helpers import FIXTURES, SHARED, html_response, shared_page

EXPECTED = sorted((FIXTURES / "expected").glob("*.json"))
# Strings that are site furniture: none may survive into a stored body.
BOILERPLATE = (
    "More Top Reads",
    "More Company News",
    "for Oilprice.com",
    "Oilprice.com",
    "OilPrice.com",
    "Download The Free Oilprice App",
    "Back to homepage",
    "ADVERTISEMENT",
    "Related:",
    "freestar",
    "Leave a comment",
    "EXXON",
    "Trading Vol",
    "\u00e2\u20ac",
    "&nbsp;",
    "&rsquo;",
)


@pytest.mark.parametrize("expected_file", EXPECTED, ids=lambda p: p.stem)
def test_real_article_pages(expected_file: Path) -> None:
    """The whole item, every field, against the expected JSON; and the facts read off the page
    by hand (paragraphs, first and last, links by kind), which the expected item must agree with."""
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    response = html_response(shared_page(expected["page"]), expected["url"])
    item = clean_article(parse_article(response))
    assert item.to_json() == expected["item"]

    assert item.url == expected["url"]
    assert item.published_at is not None and item.published_at.tzinfo is UTC
    paragraphs = item.body.split("\n\n")
    assert len(paragraphs) == expected["paragraph_count"]
    assert paragraphs[0] == expected["first_paragraph"]
    assert paragraphs[-1] == expected["last_paragraph"]
    for furniture in BOILERPLATE:
        assert furniture not in item.body, furniture
    counts = {kind: sum(1 for link in item.links if link.kind == kind) for kind in expected["link_counts"]}
    assert counts == expected["link_counts"]
    assert sum(expected["link_counts"].values()) == len(item.links)  # no kind left uncounted
    assert all(link.url.startswith("http") for link in item.links)
    # The body's own links (read off the page), in order, as Markdown links; without them the
    # Markdown is the plain body (none of these pages has a subheading, list or figure).
    position = 0
    for anchor, url in expected["body_links"]:
        position = item.body_markdown.index(f"[{anchor}]({url})", position) + 1
    assert re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", item.body_markdown) == item.body


@pytest.mark.parametrize(
    ("page", "url", "next_url"),
    [
        (
            "listing__World-News__Page-1.html",
            "https://oilprice.com/Latest-Energy-News/World-News/",
            "https://oilprice.com/Latest-Energy-News/World-News/Page-2.html",
        ),
        (
            "listing__World-News__Page-2.html",
            "https://oilprice.com/Latest-Energy-News/World-News/Page-2.html",
            "https://oilprice.com/Latest-Energy-News/World-News/Page-3.html",
        ),
    ],
)
def test_real_listing_pages(page: str, url: str, next_url: str) -> None:
    listing = parse_listing(html_response(shared_page(page), url))
    assert len(listing.entries) == 20
    assert len({e.url for e in listing.entries}) == 20
    assert all(
        e.url.startswith("https://oilprice.com/Latest-Energy-News/World-News/") for e in listing.entries
    )
    assert all(e.title and e.author and e.listed_at for e in listing.entries)
    assert listing.next_url == next_url
    assert listing.total_pages == 1194


def test_listing_page_two_first_entry() -> None:
    url = "https://oilprice.com/Latest-Energy-News/World-News/Page-2.html"
    first = parse_listing(html_response(shared_page("listing__World-News__Page-2.html"), url)).entries[0]
    assert (
        first.url
        == "https://oilprice.com/Latest-Energy-News/World-News/Lower-Oil-Prices-Impact-Indias-Largest-Oil-Company.html"
    )
    assert first.title == "Lower Oil Prices Impact India's Largest Oil Company"
    assert first.author == "Tsvetana Paraskova"
    assert first.listed_at == datetime(2025, 8, 13, 12, 43, tzinfo=UTC)  # 07:43 CDT


def test_real_ticker_one_quote_per_blend() -> None:
    page = shared_page("listing__World-News__Page-2.html")
    quotes = parse_ticker(
        html_response(page, "https://oilprice.com/"), datetime(2025, 8, 13, 12, 0, tzinfo=UTC)
    )
    by_id = {q.blend_id: q for q in quotes}
    assert len(quotes) == len(by_id) == 32
    wti = by_id[45]
    assert (wti.name, wti.observed_at) == ("WTI Crude", datetime(2025, 8, 13, 11, 49, tzinfo=UTC))
    assert wti.price > 0 and wti.change is not None and wti.change_percent is not None


def test_old_homepage_ticker_and_no_listing() -> None:
    page = shared_page("homepage__2018-03-17__transcribed.html")
    response = html_response(page, "https://oilprice.com/")
    assert parse_listing(response).entries == []
    assert len(parse_ticker(response, datetime(2018, 3, 17, tzinfo=UTC))) > 10


def test_premium_fixture_against_reader_text() -> None:
    """The premium page: key points, outlet byline, byline date, no furniture in the body."""
    url = "https://oilprice.com/Geopolitics/International/Kazakhstan-On-Edge-As-Russians-Scramble-To-Avoid-Putins-Mobilization.html"
    item = clean_article(parse_article(html_response(FIXTURES / "premium_article.html", url)))
    assert (
        item.title == "Kazakhstan On Edge As Russians Scramble To Avoid Putin\u2019s \u201cMobilization\u201d"
    )
    assert item.is_premium
    assert (item.authors, item.source) == (["Eurasianet.org"], "Eurasianet.org")
    assert item.published_at == datetime(2022, 9, 27, 22, 0, tzinfo=UTC)  # 5:00 PM CDT, from the byline
    assert item.section == "Geopolitics/International"
    assert len(item.summary) == 3 and item.summary[0].startswith("Russian President Vladimir Putin")
    paragraphs = item.body.split("\n\n")
    assert paragraphs[0].startswith("No sooner had Russian President")
    assert paragraphs[-1].endswith("said of the training.")
    assert len(paragraphs) == 22
    for furniture in BOILERPLATE:
        assert furniture not in item.body, furniture
    kinds = {(link.kind, link.url) for link in item.links}
    assert (
        "related_inline",
        "https://oilprice.com/Energy/Crude-Oil/The-US-Does-Not-Plan-To-Refill-Its-SPR-With-Sub-80-Oil.html",
    ) in kinds
    # the tracking parameter on the sidebar link is gone
    assert (
        "related",
        "https://oilprice.com/Geopolitics/International/Azerbaijan-Feels-the-Heat-as-US-House-Considers-Sanctions.html",
    ) in kinds

    # Markdown: the key points as a list first, the "Related:" line as a link, no furniture.
    blocks = item.body_markdown.split("\n\n")
    assert blocks[0].split("\n") == [f"- {point}" for point in item.summary]
    assert (
        "**Related: [The U.S. Does Not Plan To Refill Its SPR With Sub-$80 Oil]"
        "(https://oilprice.com/Energy/Crude-Oil/The-US-Does-Not-Plan-To-Refill-Its-SPR-With-Sub-80-Oil.html)**"
    ) in blocks
    assert blocks[1] == paragraphs[0] and blocks[-1] == paragraphs[-1]
    assert item.language == "en" and item.countries["Kazakhstan"] >= 5 and item.countries["Russia"] >= 5

    seed = SHARED / "seed-page-text.txt"
    if seed.is_file():
        reader_text = " ".join(seed.read_text(encoding="utf-8").split())
        for paragraph in paragraphs + item.summary:
            assert " ".join(paragraph.split()) in reader_text


@pytest.mark.parametrize(
    ("html", "expected_title", "expected_body"),
    [
        (
            b"<html><body><div class='singleArticle__content'><h1>T</h1><div id='news-content'><p>One<p>Two</div>",
            "T",
            "One\n\nTwo",
        ),
        (b"\x00\xff\xfe garbage <<<>>>", "", ""),
        (b"", "", ""),
        (
            b"<html><body><div id='article-content'><p>Text<script>alert(1)</script><style>p{}</style>"
            b"<iframe src='x'>frame</iframe></p><p><noscript>no</noscript>More</p></div>",
            "",
            "Text\n\nMore",
        ),
    ],
)
def test_hostile_html_never_raises(html: bytes, expected_title: str, expected_body: str) -> None:
    item = clean_article(
        parse_article(HtmlResponse(url="https://oilprice.com/Energy/Coal/A.html", body=html))
    )
    assert item.title == expected_title
    assert item.body == expected_body


def test_broken_json_ld_falls_back_to_byline() -> None:
    html = (
        b'<script type="application/ld+json">{"@type": "NewsArticle", broken</script>'
        b'<div class="singleArticle__content"><h1>T</h1><span class="article_byline">By <a href="/c/x">A B</a>'
        b" - Jan 10, 2025, 1:05 PM CST</span><div id='news-content'><p>Body.</p></div></div>"
    )
    item = parse_article(HtmlResponse(url="https://oilprice.com/Energy/Coal/A.html", body=html))
    assert item.authors == ["A B"]
    assert item.published_at == datetime(2025, 1, 10, 19, 5, tzinfo=UTC)


def test_foreign_canonical_is_not_trusted() -> None:
    html = b'<link rel="canonical" href="https://evil.example/x.html"><h1>T</h1>'
    item = parse_article(HtmlResponse(url="https://oilprice.com/Energy/Coal/A.html?utm_source=x", body=html))
    assert item.url == "https://oilprice.com/Energy/Coal/A.html"


def test_rss_and_sitemaps() -> None:
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>A &amp; B</title>'
        b"<link>https://oilprice.com/Energy/Coal/A.html?utm_source=rss</link>"
        b"<pubDate>Fri, 01 Aug 2025 07:15:00 +0000</pubDate></item></channel></rss>"
    )
    entries = parse_rss(TextResponse(url="https://oilprice.com/rss/main", body=rss, encoding="utf-8"))
    assert [(e.url, e.title, e.listed_at) for e in entries] == [
        ("https://oilprice.com/Energy/Coal/A.html", "A & B", datetime(2025, 8, 1, 7, 15, tzinfo=UTC))
    ]

    urlset = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://oilprice.com/Energy/Coal/A.html</loc><lastmod>2025-08-01T02:15:00-05:00</lastmod></url></urlset>"
    )
    found, nested = parse_sitemap(
        XmlResponse(url="https://oilprice.com/sitemap_articles_2025_8.xml", body=urlset)
    )
    assert [(e.url, e.listed_at) for e in found] == [
        ("https://oilprice.com/Energy/Coal/A.html", datetime(2025, 8, 1, 7, 15, tzinfo=UTC))
    ]
    assert nested == []

    index = (
        b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>https://oilprice.com/sitemap_articles_2025_8.xml</loc></sitemap></sitemapindex>"
    )
    assert parse_sitemap(XmlResponse(url="https://oilprice.com/sitemap_index.xml", body=index)) == (
        [],
        ["https://oilprice.com/sitemap_articles_2025_8.xml"],
    )
    # an XML bomb's entities are not expanded, garbage is no crash
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><urlset><url><loc>&b;</loc></url></urlset>'
    assert parse_sitemap(XmlResponse(url="https://oilprice.com/s.xml", body=bomb))[0] == []
    assert parse_sitemap(XmlResponse(url="https://oilprice.com/s.xml", body=b"not xml")) == ([], [])


@pytest.mark.parametrize("expected_file", EXPECTED, ids=lambda p: p.stem)
def test_author_box_of_real_pages(expected_file: Path) -> None:
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    item = parse_article(html_response(shared_page(expected["page"]), expected["url"]))
    (profile,) = item.author_profiles
    assert profile.name == expected["item"]["authors"][0]
    assert profile.profile_url == "https://oilprice.com/contributors/" + profile.name.replace(" ", "-") + (
        "-" if profile.name == "Joao Peixe" else ""  # the site's own URL ends in "-" for him
    )
    assert profile.bio and profile.bio.startswith(profile.name.split()[0])
    assert profile.avatar_url is None or profile.avatar_url.startswith(
        "https://d32r1sh890xpii.cloudfront.net/avatars/"
    )


def test_forum_threads_are_links_of_kind_forum() -> None:
    """The community block (the 2018 homepage has one; premium pages carry it too)."""
    page = shared_page("homepage__2018-03-17__transcribed.html")
    item = parse_article(html_response(page, "https://oilprice.com/"))
    forum = [link for link in item.links if link.kind == "forum"]
    assert len(forum) == 16
    assert forum[1].url == "https://community.oilprice.com/topic/1266-statoil-changes-name/"
    assert forum[1].title == "Statoil Changes Name"
    assert all(link.url.startswith("https://community.oilprice.com/topic/") for link in forum)


MOZAMBIQUE = "article__Mozambique-Moves-Towards-LNG-Production.html"
MOZAMBIQUE_URL = (
    "https://oilprice.com/Latest-Energy-News/World-News/Mozambique-Moves-Towards-LNG-Production.html"
)


@pytest.mark.parametrize(
    "value",
    [
        '"0000-00-00"',
        '"9999-12-31T99:99"',
        '"2100-01-01T00:00:00Z"',
        '"1970-01-01T00:00:00Z"',
        "12345",
        '["2011-06-15"]',
        '"soon"',
    ],
)
def test_a_json_ld_date_that_cannot_be_right_falls_back_to_the_byline(value: str) -> None:
    import re

    page = shared_page(MOZAMBIQUE).read_text(encoding="utf-8")
    hostile, n = re.subn(r'"datePublished":\s*"[^"]*"', f'"datePublished": {value}', page)
    assert n >= 1
    item = parse_article(HtmlResponse(url=MOZAMBIQUE_URL, body=hostile.encode("utf-8"), encoding="utf-8"))
    assert item.published_at == datetime(2011, 6, 15, 18, 55, tzinfo=UTC)  # the byline's 1:55 PM CDT
    assert item.dates_rejected == ["json_ld_published"]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (b"<p>Plain text.</p>", "Plain text."),
        (b"<h2>Output</h2><p>More.</p>", "## Output\n\nMore."),
        (b"<blockquote>A quote</blockquote>", "> A quote"),
        (b"<p>a <b>bold</b> and <em>slanted</em> word</p>", "a **bold** and *slanted* word"),
        (
            b"<p>See <a href='/Energy/Coal/B.html'>this</a>.</p>",
            "See [this](https://oilprice.com/Energy/Coal/B.html).",
        ),
        # Hostile text stays text: no raw HTML, no injected link, no script link, no structure.
        (
            b"<p>&lt;img src=x onerror=alert(1)&gt; [x](javascript:alert(1))</p>",
            "\\<img src=x onerror=alert(1)\\> \\[x\\](javascript:alert(1))",
        ),
        (b"<p><a href='javascript:alert(1)'>click</a> me</p>", "click me"),
        # An entity that decodes into markup is decoded first, then escaped (never raw HTML).
        (
            b"<p>&amp;lt;img src=x onerror=alert(1)&amp;gt; and <a href='/x.html'>&amp;lt;b&amp;gt;bold</a></p>",
            "\\<img src=x onerror=alert(1)\\> and [\\<b\\>bold](https://oilprice.com/x.html)",
        ),
        (b"<p># not a heading</p><p>1. not a list</p>", "\\# not a heading\n\n1\\. not a list"),
        (b"<p><a href='https://e.org/a b(c)'>odd</a></p>", "[odd](https://e.org/a%20b%28c%29)"),
    ],
)
def test_body_markdown(html: bytes, expected: str) -> None:
    page = (
        b"<html><body><div class='singleArticle__content'><h1>T</h1><div id='news-content'>%s</div></div>"
        % html
    )
    item = parse_article(HtmlResponse(url="https://oilprice.com/Energy/Coal/A.html", body=page))
    assert item.body_markdown == expected


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        (
            "en",
            "The price of oil rose as the market expected that it would be a tight year for all. " * 3,
            "en",
        ),
        (
            None,
            "The price of oil rose as the market expected that it would be a tight year for all. " * 3,
            "en",
        ),
        (
            "en",
            "Der Ölpreis stieg, weil der Markt ein knappes Jahr erwartete, sagten Händler heute. " * 3,
            None,
        ),
        (
            "de",
            "Der Ölpreis stieg, weil der Markt ein knappes Jahr erwartete, sagten Händler heute. " * 3,
            "de",
        ),
        ("en-GB", "Too short to tell.", "en"),
    ],
)
def test_language_is_the_pages_when_its_text_agrees(
    lang: str | None, text: str, expected: str | None
) -> None:
    attribute = f" lang='{lang}'" if lang else ""
    page = f"<html{attribute}><body><div id='news-content'><p>{text}</p></div></body></html>".encode()
    item = parse_article(HtmlResponse(url="https://oilprice.com/Energy/Coal/A.html", body=page))
    assert item.language == expected


def test_mentions_are_whole_words_and_case_where_it_matters() -> None:
    found = mentions(
        "Shell Buys Into Brent Crude Output",
        "The shell of the old plant. Shell's deal with Aramco lifts Saudi Arabia; "
        "U.S. and American refiners buy Brent crude and natural gas; Brentwood is a town.",
    )
    assert found["companies"] == {"Shell": 2, "Saudi Aramco": 1}
    assert found["countries"] == {"United States": 2, "Saudi Arabia": 1}
    assert found["commodities"]["Brent"] == 2 and found["commodities"]["natural gas"] == 1
