"""Issue 7.2: article parser vs trafilatura's extract vs lxml parsing alone, on the real pages."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.common import ROOT, write_section

PAGES = ROOT.parent / "shared" / "oilprice-pages"


def rate(work: Callable[[bytes], object], pages: list[bytes], seconds: float = 3.0) -> float:
    """Pages per second, repeated over the set for at least `seconds` after a warm-up."""
    for page in pages:
        work(page)
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for page in pages:
            work(page)
        done += len(pages)
    return done / elapsed


def main() -> None:
    import lxml.html
    import trafilatura
    from scrapy.http import HtmlResponse

    from oilnews.pages.article import parse_article
    from oilnews.pipelines.clean import clean_article

    files = sorted(PAGES.glob("article__*.html"))
    if not files:
        raise SystemExit(f"bench parse: no pages in {PAGES}")
    pages = [f.read_bytes() for f in files]
    url = "https://oilprice.com/Latest-Energy-News/World-News/page.html"

    def oilnews_parse(page: bytes) -> object:
        return clean_article(parse_article(HtmlResponse(url=url, body=page, encoding="utf-8")))

    def lxml_only(page: bytes) -> object:
        return lxml.html.fromstring(page)

    def trafilatura_extract(page: bytes) -> object:
        return trafilatura.extract(page.decode("utf-8"), url=url)

    ours, lxml_rate, traf = (
        rate(oilnews_parse, pages),
        rate(lxml_only, pages),
        rate(trafilatura_extract, pages),
    )
    size = sum(map(len, pages)) / len(pages) / 1024
    lines = [
        f"{len(pages)} real article pages from ../shared/oilprice-pages (mean {size:.0f} KiB), each parsed from bytes.",
        "",
        "| extractor | articles/s |",
        "|---|---:|",
        f"| oilnews `parse_article` + `clean_article` (full item) | {ours:,.0f} |",
        f"| trafilatura `extract` (text only) | {traf:,.0f} |",
        f"| lxml `html.fromstring` alone (no extraction) | {lxml_rate:,.0f} |",
        "",
        f"oilnews / trafilatura: {ours / traf:.1f}x (target at least 20x); "
        f"oilnews / lxml alone: {ours / lxml_rate:.2f} (target at least 0.5).",
    ]
    write_section("parse", "Parse speed (issue 7.2)", "python -m bench parse", lines)


if __name__ == "__main__":
    main()
