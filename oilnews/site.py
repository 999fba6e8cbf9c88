"""Facts about oilprice.com that both the crawler and the replica rely on.

One place for the section list and the URL shapes, so the replica serves exactly what the
spider expects to find (see ../shared/oilprice-markup.md §6).
"""

from __future__ import annotations

import re
from typing import Any

REAL_SITE_URL = "https://oilprice.com"
REAL_SITE_HOSTS = frozenset({"oilprice.com", "www.oilprice.com"})

# Section listings crawled by default: Latest Energy News and the main editorial sections.
DEFAULT_SECTIONS: tuple[str, ...] = (
    "Latest-Energy-News/World-News",
    "Energy/Energy-General",
    "Energy/Oil-Prices",
    "Energy/Crude-Oil",
    "Energy/Heating-Oil",
    "Energy/Gas-Prices",
    "Energy/Natural-Gas",
    "Energy/Coal",
    "Geopolitics/Africa",
    "Geopolitics/Asia",
    "Geopolitics/Europe",
    "Geopolitics/International",
    "Geopolitics/Middle-East",
    "Geopolitics/North-America",
    "Geopolitics/South-America",
    "Alternative-Energy/Renewable-Energy",
    "Alternative-Energy/Solar-Energy",
    "Alternative-Energy/Wind-Power",
    "Alternative-Energy/Nuclear-Power",
    "Finance/the-Economy",
    "Finance/the-Markets",
    "Metals/Commodities",
)

# Top-level path segments under which article pages live.
ARTICLE_ROOTS = frozenset(
    {
        "Latest-Energy-News",
        "Energy",
        "Geopolitics",
        "Alternative-Energy",
        "The-Environment",
        "Finance",
        "Metals",
        "Company-News",
        "Interviews",
    }
)

RSS_PATH = "/rss/main"
CHART_PATH = "/oil-price-charts/"  # the blends' price history, drawn by script
LISTING_PAGE_RE = re.compile(r"/Page-(\d+)\.html$")
ARTICLE_PATH_RE = re.compile(r"^/(?P<root>[A-Za-z-]+)/(?:(?P<sub>[A-Za-z0-9-]+)/)?[^/]+\.html$")


def sitemap_path(year: int, month: int) -> str:
    """Monthly article sitemap; the month is not zero-padded on the real site."""
    return f"/sitemap_articles_{year}_{month}.xml"


def listing_path(section: str, page: int = 1) -> str:
    section = section.strip("/")
    return f"/{section}/" if page <= 1 else f"/{section}/Page-{page}.html"


def is_article_path(path: str) -> bool:
    """True for `/<Root>/<Sub>/<slug>.html` and `/Company-News/<slug>.html` pages."""
    if LISTING_PAGE_RE.search(path):
        return False
    match = ARTICLE_PATH_RE.match(path)
    return match is not None and match.group("root") in ARTICLE_ROOTS


def section_of_path(path: str) -> str | None:
    """`/Energy/Crude-Oil/slug.html` -> `Energy/Crude-Oil`."""
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[:-1]) or None


def reachable(site_url: str, timeout: float = 15) -> str | None:
    """None when the site answers at all (any HTTP status), else the reason it does not: the
    probe before a crawl. A redirect is followed on the crawl's own site only (the scope rule of
    every fetch): one to another host, port or scheme is not, and its 3xx shows the site is up."""
    import urllib.error
    import urllib.request  # here: this module is imported by every command, the probe by crawls

    from oilnews.urls import same_origin

    class SiteOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            if not same_origin(newurl, site_url):
                return None  # urllib then raises HTTPError with the 3xx: an answer
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.build_opener(SiteOnlyRedirects())
    try:
        with opener.open(site_url.rstrip("/") + "/robots.txt", timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as error:
        return str(getattr(error, "reason", error))


# The unit of a blend's price on the ticker: crude in US dollars a barrel, but the ticker's
# refined products a gallon and natural gas per million BTU (NYMEX's contracts), which must not
# share an axis with a barrel.
PRICE_UNITS = {"Gasoline": "USD/gal", "Heating Oil": "USD/gal", "Natural Gas": "USD/MMBtu"}
DEFAULT_PRICE_UNIT = "USD/bbl"


def price_unit(blend: str) -> str:
    return next(
        (unit for name, unit in PRICE_UNITS.items() if name.lower() in blend.lower()), DEFAULT_PRICE_UNIT
    )
