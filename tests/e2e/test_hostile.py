"""Hostile sites, round two: crawls that would never end and pages that would overwrite other
articles. Each case is served by the replica; each crawl must end within the bound stated in
its test, store every other article once, and change no stored article because of another page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oilnews.replica.faults import Fault
from oilnews.replica.server import ReplicaServer
from tests.helpers import crawl, query, runs

SECTION = "Energy/Crude-Oil"
N = 60  # all in one section: three listing pages of 20


def site() -> ReplicaServer:
    return ReplicaServer(N, sections=(SECTION,))


def ok_crawl(server: ReplicaServer, db: str, tmp: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    result = crawl(server.url, db, "--sections", SECTION, *extra, tmp=tmp)
    assert result.returncode == 0, result.stderr
    return runs(db, 1)[0].stats


def assert_stored_once(db: str, server: ReplicaServer, indexes: range | set[int] = range(N)) -> None:
    """Each article stored once, with its own title, under its URL (or, for a replica twin, its
    second URL: whichever of the two arrived first); no row holds another page's content."""
    cat = server.state.catalogue
    rows = query(db, "select url, title from articles")
    titles = [title for _url, title in rows]
    assert len(titles) == len(set(titles)), "an article stored twice"
    by_title = {title: url.removeprefix(server.url) for url, title in rows}
    for i in range(N):
        article = cat.article(i)
        if i not in indexes:
            continue
        assert article.title in by_title, f"article {i} not stored"
        assert by_title[article.title] in {article.path, article.twin_path}, (i, by_title[article.title])
    known = {cat.article(i).title for i in range(N)}
    assert set(by_title) <= known, "a row with a title no page has"


@pytest.mark.parametrize("mode", ["endless", "repeat_last", "loop"])
def test_a_pagination_that_never_ends_ends_at_the_first_page_with_nothing_new(
    mode: str, sqlite_url: str, tmp_path: Path
) -> None:
    """Bound: at most one listing page past the last real one (3 real pages here)."""
    with site() as server:
        server.state.pagination = mode
        stats = ok_crawl(server, sqlite_url, tmp_path)
        listing_hits = sum(n for path, n in server.hits.items() if path.startswith(f"/{SECTION}/Page-"))
        listing_hits += server.hits[f"/{SECTION}/"]
    assert listing_hits == (2 if mode == "endless" else 4), server.hits
    assert stats["oilnews/listing/stopped_nothing_new"] == 1
    # "endless" lists only the newest 20, again and again: those at least are stored
    assert_stored_once(sqlite_url, server, range(N - 20, N) if mode == "endless" else range(N))


def test_a_canonical_naming_another_article_never_overwrites_it(sqlite_url: str, tmp_path: Path) -> None:
    with site() as server:
        cat = server.state.catalogue
        liar, victim = cat.path(10), cat.path(11)
        server.state.claimed_canonical = {
            liar: server.url + victim,  # canonical, og:url and JSON-LD url all name another article
            # a variant of the page's own URL is no claim: AMP, tracking parameters, host case
            cat.path(12): server.url.upper() + cat.path(12)[: -len(".html")] + ".amp.html?utm_source=x",
        }
        stats = ok_crawl(server, sqlite_url, tmp_path)
    assert_stored_once(sqlite_url, server)  # both stored, each under its own URL
    assert stats["oilnews/identity/canonical_rejected"] == 1
    assert query(sqlite_url, "select count(*) from article_versions")[0][0] == 0


def test_thousands_of_query_string_variants_are_one_article(sqlite_url: str, tmp_path: Path) -> None:
    with site() as server:
        cat = server.state.catalogue
        target = cat.path(30)
        server.state.faults = {cat.path(5): Fault("query_variants", target=target)}
        ok_crawl(server, sqlite_url, tmp_path)
        assert server.hits[target] == 1
    assert_stored_once(sqlite_url, server)


def test_a_sitemap_index_naming_thousands_of_sitemaps_is_bounded(sqlite_url: str, tmp_path: Path) -> None:
    with site() as server:
        server.state.sitemap_index_size = 5_000
        stats = ok_crawl(server, sqlite_url, tmp_path, "-s", "OILNEWS_MAX_SITEMAPS=40")
        extra = sum(n for path, n in server.hits.items() if path.startswith("/sitemap_extra_"))
    assert 0 < extra <= 40  # (the two monthly indexes may name the same sitemap: fetched once)
    assert stats["oilnews/sitemaps/capped"] > 0
    assert_stored_once(sqlite_url, server)


def test_an_article_that_changes_on_every_fetch_makes_a_bounded_history(
    sqlite_url: str, tmp_path: Path
) -> None:
    with site() as server:
        churning = server.state.catalogue.path(N - 3)  # on page 1: listed by every run
        server.state.churning = {churning}
        every_run = ("-s", "OILNEWS_REFRESH_WINDOW_HOURS=1000000", "-s", "OILNEWS_MAX_VERSIONS_PER_DAY=2")
        for _ in range(5):
            stats = ok_crawl(server, sqlite_url, tmp_path, *every_run)
        assert server.hits[churning] == 5
    url = server.url + churning
    ((version, body),) = query(sqlite_url, "select version, body from articles where url = :u", u=url)
    assert version == 3  # two versions kept, then updated in place
    assert query(sqlite_url, "select count(*) from article_versions")[0][0] == 2
    assert f"Readers online right now: {5 * 37 + 1}." in body  # the latest text is what is stored
    assert stats["oilnews/store/articles_churning"] == 1
    assert_stored_once(sqlite_url, server)


@pytest.mark.parametrize("case", ["answers_500", "huge"])
def test_a_robots_txt_that_fails_or_is_huge(case: str, sqlite_url: str, tmp_path: Path) -> None:
    with site() as server:
        if case == "answers_500":
            server.state.robots_status = 500
            server.state.robots_txt = "<html>Internal Server Error</html>"
        else:
            rules = "".join(f"Disallow: /private-{n}/\n" for n in range(100_000))  # ~2.2 MB
            server.state.robots_txt = "User-agent: *\nDisallow: /rss/\n" + rules
        stats = ok_crawl(
            server, sqlite_url, tmp_path, "-s", "RETRY_TIMES=1", "-s", "OILNEWS_RETRY_BACKOFF_BASE=0.1"
        )
        rss_hits = server.hits["/rss/main"]
    assert stats["oilnews/robots/" + ("unavailable" if case == "answers_500" else "truncated")] == 1
    assert rss_hits == (0 if case == "huge" else 1)  # the first 512 KiB still apply
    assert_stored_once(sqlite_url, server)


def test_redirects_that_hop_between_articles_store_each_article_once(sqlite_url: str, tmp_path: Path) -> None:
    with site() as server:
        cat = server.state.catalogue
        a, b, c = cat.path(20), cat.path(21), cat.path(22)
        server.state.faults = {a: Fault("redirect_to", target=b), b: Fault("redirect_to", target=c)}
        ok_crawl(server, sqlite_url, tmp_path)
    assert_stored_once(sqlite_url, server, set(range(N)) - {20, 21})  # they answer only with a redirect
    urls = {url.removeprefix(server.url) for (url,) in query(sqlite_url, "select url from articles")}
    assert a not in urls and b not in urls and c in urls
