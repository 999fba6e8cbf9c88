import pytest

from oilnews.site import is_article_path, listing_path, section_of_path, sitemap_path
from oilnews.urls import canonical_url, is_article_url, same_origin

SITE = "https://oilprice.com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://www.OilPrice.com/Energy/Crude-Oil/A.html", "https://oilprice.com/Energy/Crude-Oil/A.html"),
        ("https://oilprice.com/Energy/Crude-Oil/A.amp.html", "https://oilprice.com/Energy/Crude-Oil/A.html"),
        (
            "https://oilprice.com/Energy/Crude-Oil/A.html#comments",
            "https://oilprice.com/Energy/Crude-Oil/A.html",
        ),
        (
            "https://oilprice.com/Energy/Crude-Oil/A.html?utm_source=rss&utm_medium=feed&fbclid=x",
            "https://oilprice.com/Energy/Crude-Oil/A.html",
        ),
        (
            "https://oilprice.com/search?q=oil&page=2&utm_campaign=z",
            "https://oilprice.com/search?page=2&q=oil",
        ),
        ("https://oilprice.com:443//Energy//A.html", "https://oilprice.com/Energy/A.html"),
        ("http://127.0.0.1:8900/Energy/Coal/B.html?gclid=1", "http://127.0.0.1:8900/Energy/Coal/B.html"),
        ("http://127.0.0.1:80/x.html", "http://127.0.0.1/x.html"),
        # one percent-encoding, as w3lib (and so Scrapy's dupefilter) writes it
        ("https://oilprice.com/Energy/Café.html", "https://oilprice.com/Energy/Caf%C3%A9.html"),
        ("https://oilprice.com/Energy/Caf%c3%a9.html", "https://oilprice.com/Energy/Caf%C3%A9.html"),
        ("https://oilprice.com/Energy/%7Ex.html", "https://oilprice.com/Energy/~x.html"),
        ("https://oilprice.com/s?b=2&a=1&b=1&utm_x=3", "https://oilprice.com/s?a=1&b=1&b=2"),
        # an article page is its path: query-string variants are one article
        ("https://oilprice.com/Energy/Coal/A.html?v=17&page=2", "https://oilprice.com/Energy/Coal/A.html"),
        ("http://127.0.0.1:8900/Energy/Coal/A.html?x", "http://127.0.0.1:8900/Energy/Coal/A.html"),
        ("javascript:void(0)", None),
        ("mailto:support@oilprice.com", None),
        ("file:///etc/passwd", None),
        ("data:text/html,hi", None),
        ("http://[::1]:99999/x", None),
    ],
)
def test_canonical_url(raw: str, expected: str | None) -> None:
    assert canonical_url(raw) == expected


def test_canonical_url_resolves_relative_links() -> None:
    base = "https://oilprice.com/Latest-Energy-News/World-News/A.html"
    assert canonical_url("/Company-News/B.html", base) == "https://oilprice.com/Company-News/B.html"


@pytest.mark.parametrize(
    ("url", "site", "expected"),
    [
        ("https://oilprice.com/x", SITE, True),
        ("http://www.oilprice.com/x", SITE, True),
        ("http://127.0.0.1:8900/x", "http://127.0.0.1:8900", True),
        ("http://127.0.0.1:8901/x", "http://127.0.0.1:8900", False),
        ("https://127.0.0.1:8900/x", "http://127.0.0.1:8900", False),
        ("http://localhost:8900/x", "http://127.0.0.1:8900", False),
        ("http://10.0.0.1/internal", SITE, False),
        ("https://community.oilprice.com/topic/1", SITE, False),
        ("file:///etc/passwd", SITE, False),
    ],
)
def test_same_origin(url: str, site: str, expected: bool) -> None:
    assert same_origin(url, site) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/Latest-Energy-News/World-News/Chevrons-Return.html", True),
        ("/Energy/Crude-Oil/Poland-Still-Supports-Ukraines-Oil-Pipeline-.html", True),
        ("/Company-News/Sunoco-LP-Boosts-Dividends-After-Strong-Q2.html", True),
        ("/Latest-Energy-News/World-News/Page-2.html", False),
        ("/Latest-Energy-News/World-News/", False),
        ("/contributors/Irina-Slav", False),
        ("/rss/main", False),
        ("/forum/topic/1.html", False),
    ],
)
def test_is_article_path(path: str, expected: bool) -> None:
    assert is_article_path(path) is expected


def test_site_paths() -> None:
    assert listing_path("Energy/Crude-Oil") == "/Energy/Crude-Oil/"
    assert listing_path("Energy/Crude-Oil", 3) == "/Energy/Crude-Oil/Page-3.html"
    assert sitemap_path(2024, 1) == "/sitemap_articles_2024_1.xml"
    assert section_of_path("/Energy/Crude-Oil/A.html") == "Energy/Crude-Oil"
    assert is_article_url("http://127.0.0.1:1/Energy/Coal/A.html", "http://127.0.0.1:1")
    assert not is_article_url("http://127.0.0.1:2/Energy/Coal/A.html", "http://127.0.0.1:1")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://u:s3cret@db/x", "postgresql://u:***@db/x"),
        (
            "postgresql://u:p@ss/w0rd@db.example:5432/x",
            "postgresql://u:***@db.example:5432/x",
        ),  # @ and / in it
        ("redis://:pw@h:6379/0 and smtp://a:b@c", "redis://:***@h:6379/0 and smtp://a:***@c"),
        ("sqlite:////var/lib/oilnews/oilnews.db", "sqlite:////var/lib/oilnews/oilnews.db"),
        ("https://oilprice.com/a@b.html", "https://oilprice.com/a@b.html"),  # no password: left
    ],
)
def test_a_password_is_masked_whatever_it_holds(text: str, masked: str) -> None:
    from oilnews.logs import mask_secrets

    assert mask_secrets(text) == masked


def test_text_for_a_terminal_shows_controls_as_escapes() -> None:
    from oilnews.logs import for_terminal

    hostile = "a\x1b]0;pwned\x07b\x1b[2Jc\x9bd\te\nf\u202eg\rh"
    shown = for_terminal(hostile)
    assert shown == "a\\x1b]0;pwned\\x07b\\x1b[2Jc\\x9bd\te\nf\\u202eg\\x0dh"
    text = "Brent 80 $/bbl, \u2018quotes\u2019 and \u65e5\u672c"
    assert for_terminal(text) == text  # printable text, any script, untouched
