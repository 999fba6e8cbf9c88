"""End to end: the real command line crawling the replica into real databases."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from oilnews.dates import parse_user_instant
from oilnews.replica.content import TWIN_REMAINDER
from oilnews.replica.server import ReplicaServer
from oilnews.storage.schema import head_revision
from tests.helpers import (
    FIXTURES,
    ROOT,
    crawl,
    held_port,
    oilnews_main,
    query,
    run_oilnews,
    runs,
    shared_page,
)

ARTICLES = 300
TWINS = sum(1 for i in range(ARTICLES) if i % 50 == TWIN_REMAINDER)


def test_crawl_replica_into_database(replica: ReplicaServer, database_url: str, tmp_path: Path) -> None:
    result = crawl(replica.url, database_url, tmp=tmp_path)
    assert result.returncode == 0, result.stderr

    stored = query(
        database_url, "select count(*), count(distinct url), count(distinct content_hash) from articles"
    )[0]
    assert tuple(stored) == (ARTICLES, ARTICLES, ARTICLES)  # every article once
    empty = query(
        database_url, "select count(*) from articles where title = '' or body = '' or published_at is null"
    )
    assert empty[0][0] == 0
    # Each twin pair (same story, second URL) is one article row plus one alias row.
    pairs = query(
        database_url,
        "select a.url, al.url as alias from article_aliases al join articles a on a.id = al.article_id",
    )
    assert len(pairs) == TWINS
    assert all(("/Company-News/" in p.alias) != ("/Company-News/" in p.url) for p in pairs)
    assert (
        query(database_url, "select count(*) from articles where url in (select url from article_aliases)")[
            0
        ][0]
        == 0
    )
    assert (
        query(database_url, "select count(*) from articles where url like '%amp.html' or url like '%utm_%'")[
            0
        ][0]
        == 0
    )
    links = dict(
        tuple(r) for r in query(database_url, "select kind, count(*) from article_links group by kind")
    )
    for kind in (
        "related",
        "popular",
        "most_commented",
        "previous",
        "next",
        "related_posts",
        "more_top_reads",
        "body",
    ):
        assert links.get(kind, 0) > 0, kind
    offsite = query(
        database_url, "select count(*) from article_links where target_url like 'https://www.bloomberg.com/%'"
    )
    assert offsite[0][0] == ARTICLES  # recorded...
    premium = query(database_url, "select count(*) from articles where is_premium")
    assert premium[0][0] > 0
    assert query(database_url, "select count(*) from price_quotes where source = 'ticker'")[0][0] == 8

    run = runs(database_url)
    assert len(run) == 1 and run[0].status == "finished" and run[0].finish_reason == "finished"
    counts = run[0].counts
    assert counts["articles_new"] == ARTICLES and counts["duplicates"] == TWINS

    # ...never requested: only the replica was contacted, each article page once, no AMP copy.
    article_hits = {p: n for p, n in replica.hits.items() if p.endswith(".html") and "/Page-" not in p}
    assert all(n == 1 for n in article_hits.values()), [p for p, n in article_hits.items() if n > 1]
    assert not any(p.endswith(".amp.html") for p in replica.hits)
    assert len(article_hits) == ARTICLES + TWINS


def test_second_run_stores_no_duplicates(replica: ReplicaServer, sqlite_url: str, tmp_path: Path) -> None:
    assert crawl(replica.url, sqlite_url, tmp=tmp_path).returncode == 0
    second = crawl(replica.url, sqlite_url, "--max-pages", "1", tmp=tmp_path)
    assert second.returncode == 0, second.stderr
    assert query(sqlite_url, "select count(*) from articles")[0][0] == ARTICLES
    assert query(sqlite_url, "select count(*) from article_aliases")[0][0] == TWINS
    assert query(sqlite_url, "select count(*) from crawl_runs where status = 'finished'")[0][0] == 2


def test_limits_max_pages_and_hops(replica: ReplicaServer, sqlite_url: str, tmp_path: Path) -> None:
    result = crawl(
        replica.url,
        sqlite_url,
        "--max-pages",
        "1",
        "--max-hops",
        "0",
        "--sections",
        "Latest-Energy-News/World-News",
        "-s",
        "OILNEWS_USE_RSS=false",
        tmp=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert query(sqlite_url, "select count(*) from articles")[0][0] == 20  # one listing page, no sidebar hops
    assert replica.hits["/Latest-Energy-News/World-News/Page-2.html"] == 0


def test_since_stops_pagination_and_walks_sitemaps(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(300) as site:
        newest = site.state.catalogue.published(299)
        # Three hours before the newest article, without an offset: UTC (the site's own US
        # Central reading would take six hours more, about 20 more articles).
        since = (newest - timedelta(hours=3)).replace(tzinfo=None).isoformat(timespec="minutes")
        result = crawl(
            site.url,
            sqlite_url,
            "--since",
            since,
            "--max-hops",
            "0",
            "-s",
            "OILNEWS_USE_RSS=false",
            tmp=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        stored = query(sqlite_url, "select count(*) from articles")[0][0]
        cutoff = parse_user_instant(since)
        expected = sum(1 for i in range(300) if site.state.catalogue.published(i) >= cutoff)
        assert 0 < expected < 300
        assert stored == expected
        assert any(p.startswith("/sitemap_articles_") for p in site.hits)
        assert site.hits["/Latest-Energy-News/World-News/Page-3.html"] == 0


def test_scrapy_crawl_news_from_project_dir(replica: ReplicaServer, sqlite_url: str) -> None:
    env = {**os.environ, "OILNEWS_SITE_URL": replica.url, "OILNEWS_DATABASE_URL": sqlite_url}
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-s", "LOG_LEVEL=WARNING", "-a", "max_pages=1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert query(sqlite_url, "select count(*) from articles")[0][0] > 100


def test_unreachable_site_is_one_clear_line(sqlite_url: str) -> None:
    with held_port() as port:
        result = crawl(f"http://127.0.0.1:{port}", sqlite_url)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"cannot reach http://127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_parse_command_prints_item_json() -> None:
    url = "https://oilprice.com/Geopolitics/International/Kazakhstan-On-Edge.html"
    result = oilnews_main("parse", str(FIXTURES / "premium_article.html"), "--url", url)
    assert result.returncode == 0, result.stderr
    item = json.loads(result.stdout)
    assert item["source"] == "Eurasianet.org" and item["is_premium"] and len(item["summary"]) == 3
    assert item["published_at"] == "2022-09-27T22:00:00+00:00"


def test_parse_of_a_page_of_another_kind_exits_1_naming_what_is_missing() -> None:
    listing = shared_page("listing__World-News__Page-1.html")
    url = "https://oilprice.com/Latest-Energy-News/World-News/"
    as_article = oilnews_main("parse", str(listing), "--url", url)
    assert as_article.returncode == 1 and json.loads(as_article.stdout)["url"] == url  # the item still shown
    (line,) = as_article.stderr.strip().splitlines()
    assert "is not an article page: no body, published_at found" in line and "--kind listing" in line
    as_listing = oilnews_main("parse", str(listing), "--url", url, "--kind", "listing")
    assert as_listing.returncode == 0 and len(json.loads(as_listing.stdout)["entries"]) == 20
    premium = oilnews_main("parse", str(FIXTURES / "premium_article.html"), "--url", url, "--kind", "listing")
    assert premium.returncode == 1 and "is not a listing page: no entries found" in premium.stderr


def test_runs_command_lists_runs(replica: ReplicaServer, sqlite_url: str, tmp_path: Path) -> None:
    crawl(replica.url, sqlite_url, "--max-pages", "1", tmp=tmp_path)
    result = oilnews_main("runs", "--db", sqlite_url)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split()[:4] == ["run", "kind", "started", "(UTC)"]
    assert row.split()[:2] == ["1", "news"] and "finished" in row.split()


def test_robots_txt_is_obeyed(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(120) as site:
        site.state.robots_txt = "User-agent: *\nDisallow: /Energy/Coal/\n"
        result = crawl(site.url, sqlite_url, tmp=tmp_path)
        assert result.returncode == 0, result.stderr
        hits = dict(site.hits)
    assert hits["/robots.txt"] >= 1
    assert not [p for p in hits if p.startswith("/Energy/Coal/")]
    assert query(sqlite_url, "select count(*) from articles where url like '%/Energy/Coal/%'")[0][0] == 0
    assert query(sqlite_url, "select count(*) from articles")[0][0] > 0


def test_db_upgrade_replica_serve_and_progress_lines(sqlite_url: str, tmp_path: Path) -> None:
    upgraded = oilnews_main("db", "upgrade", "--db", sqlite_url)
    assert upgraded.returncode == 0 and "schema up to date" in upgraded.stdout
    assert query(sqlite_url, "select version_num from alembic_version")[0][0] == head_revision()

    import urllib.request

    server = subprocess.Popen(  # port 0: the replica says which port it was given
        [sys.executable, "-m", "oilnews.cli", "replica", "serve", "--port", "0", "--articles", "40"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert "serving on http://127.0.0.1:" in first, first
        site = first.split("serving on ", 1)[1].strip()
        with urllib.request.urlopen(site + "/robots.txt", timeout=10) as robots:
            assert b"Disallow: /account/" in robots.read()
        result = run_oilnews(
            "crawl",
            "--site",
            site,
            "--db",
            sqlite_url,
            "--progress",
            "0.2",
            "-s",
            f"OILNEWS_SPOOL_DIR={tmp_path}",
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout:
            server.stdout.close()
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    progress = [line for line in lines if line.startswith("[")]
    assert progress and all(
        re.search(r"pages \d+ \([\d.-]+/s\), queued \d+, articles parsed \d+, stored new", p)
        for p in progress
    ), progress
    assert lines[-1].startswith("oilnews: done in ") and "articles new 40" in lines[-1]  # summary


def _summary_counts(stderr: str) -> dict[str, int]:
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("oilnews: done in "), stderr[-2000:]
    return {name: int(n) for name, n in re.findall(r"(new|updated|quotes|links|aliases) (\d+)", line)}


def test_counts_agree_with_the_tables(database_url: str, tmp_path: Path) -> None:
    """Summary line, stats and crawl_runs say what the tables hold, on SQLite and PostgreSQL
    (PostgreSQL's rowcount of a multi-row insert is no count: -1 or a batch figure)."""
    tables = ("articles", "price_quotes", "article_links", "article_aliases")

    def table_counts() -> dict[str, int]:
        return {t: query(database_url, f"select count(*) from {t}")[0][0] for t in tables}

    with ReplicaServer(120) as site:
        before = {t: 0 for t in tables}
        for extra in ((), ("--full",)):
            result = run_oilnews(
                "crawl",
                "--site",
                site.url,
                "--db",
                database_url,
                "-s",
                f"OILNEWS_SPOOL_DIR={tmp_path}",
                *extra,
            )
            assert result.returncode == 0, result.stderr
            after = table_counts()
            run = runs(database_url, 1)[0]
            stats, counts = run.stats, run.counts
            grown = {t: after[t] - before[t] for t in tables}
            assert counts["articles_new"] == stats.get("oilnews/store/articles_new", 0) == grown["articles"]
            assert counts["quotes"] == stats.get("oilnews/store/quotes", 0) == grown["price_quotes"]
            assert counts["aliases"] == stats.get("oilnews/store/aliases", 0) == grown["article_aliases"]
            summary = _summary_counts(result.stderr)
            assert summary["new"] == counts["articles_new"] and summary["quotes"] == counts["quotes"]
            if not extra:  # a first crawl: every link row is this run's
                assert counts["links"] == grown["article_links"] == after["article_links"] > 0
            else:  # --full: every article again, none new, unchanged, its links rewritten
                assert counts["articles_new"] == 0 and counts["articles_unchanged"] == after["articles"]
                assert counts["links"] == after["article_links"]
            before = after
