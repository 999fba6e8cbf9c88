"""Keep the page, re-derive the data: a crawl writes every fetch to WARC/1.1 files that warcio
reads back, and `oilnews reparse` restores a damaged store from them with the site gone."""

from __future__ import annotations

import gzip
import urllib.request
from collections import Counter
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from oilnews.items import DERIVED_FIELDS
from oilnews.replica.server import ReplicaServer
from oilnews.site import RSS_PATH, listing_path
from tests.helpers import crawl, oilnews_main, query, run_oilnews, runs

ARTICLES = 60
CONTENT = ("url", "title", "authors", "source", "published_at", "modified_at", "section", "keywords")
CONTENT += ("summary", "body", "image_url", "is_premium", "content_hash")
DERIVED = (*DERIVED_FIELDS, "derived_hash")


def _records(directory: Path) -> list[tuple[Path, object]]:
    found = []
    for path in sorted(directory.glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                body = record.content_stream().read() if record.rec_type == "response" else b""
                found.append((path, (record.rec_type, record.rec_headers, record.http_headers, body)))
    return found


def test_a_crawl_keeps_every_fetch_as_warc(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'oilnews.db'}"
    with ReplicaServer(ARTICLES) as site:
        # The default place (auto): a `warc` folder beside the SQLite file; files of about 100 KB.
        result = crawl(site.url, db, "-s", "OILNEWS_WARC_MAX_MB=0.1", OILNEWS_SPOOL_DIR=tmp_path / "spool")
        assert result.returncode == 0, result.stderr
        article_url = query(db, "select url from articles order by id limit 1")[0][0]
        with urllib.request.urlopen(article_url) as page:
            served = page.read()
    directory = tmp_path / "warc"
    files = sorted(directory.glob("*.warc.gz"))
    assert len(files) >= 2 and not list(directory.glob("*.open")), files  # rotated, every file closed
    records = _records(directory)
    kinds = Counter(kind for _, (kind, *_rest) in records)
    stats = runs(db)[0].stats
    assert kinds["warcinfo"] == len(files)  # one at the head of each file
    assert kinds["request"] == kinds["response"] == stats["downloader/response_count"]
    assert stats["oilnews/warc/records"] == 2 * kinds["response"]
    assert stats["oilnews/warc/files"] == len(files)
    assert 30 * 2**20 < stats["oilnews/peak_rss_bytes"] < 2**31  # the crawler's own peak, recorded
    first_of_each = {path: kind for path, (kind, *_rest) in reversed(records)}
    assert set(first_of_each.values()) == {"warcinfo"}
    responses = {}
    for _path, (kind, warc_headers, http_headers, body) in records:
        assert warc_headers.protocol == "WARC/1.1"  # type: ignore[attr-defined]
        if kind == "response":
            url = warc_headers.get_header("WARC-Target-URI")  # type: ignore[attr-defined]
            responses[url] = (http_headers, body)
    # The article as the server sent it, byte for byte, and robots.txt, a listing, the feed.
    headers, body = responses[article_url]
    assert body == served and headers.get_statuscode() == "200"  # type: ignore[attr-defined]
    assert any(url.endswith("/robots.txt") for url in responses)
    assert any(url.endswith(listing_path("Energy/Crude-Oil")) for url in responses)
    assert any(url.endswith(RSS_PATH) for url in responses)
    # Gzip per record: each member decompresses on its own (a reader may seek to any record).
    with files[0].open("rb") as stream:
        assert gzip.GzipFile(fileobj=stream).read(4) == b"WARC"
    run_id = runs(db)[0].id
    assert all(f.name.startswith(f"oilnews-news-run{run_id}-") for f in files)  # named per run


def test_no_capture_when_the_directory_setting_is_empty(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'oilnews.db'}"
    with ReplicaServer(20) as site:
        result = crawl(site.url, db, "-s", "OILNEWS_WARC_DIR=", OILNEWS_SPOOL_DIR=tmp_path / "spool")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "warc").exists()
    assert "oilnews/warc/fetches" not in runs(db)[0].stats


def test_reparse_restores_a_damaged_store_offline(database_url: str, tmp_path: Path) -> None:
    columns = ", ".join(CONTENT)
    with ReplicaServer(ARTICLES) as site:
        result = crawl(site.url, database_url, tmp=tmp_path)
        assert result.returncode == 0, result.stderr
    # The site is gone from here on: a reparse asks it for nothing.
    before = {
        row.url: row for row in query(database_url, f"select {columns}, version, last_seen_at from articles")
    }
    damaged, lost, untouched = sorted(before)[:3]
    derived = {row.url: row for row in query(database_url, f"select url, {', '.join(DERIVED)} from articles")}
    # A parser bug stored a wrong body (its hash with it); an article was lost outright; and
    # every article was stored before the derived fields existed (migration 0008 adds them empty).
    query(
        database_url, "update articles set body = 'garbled', content_hash = 'bad' where url = :u", u=damaged
    )
    query(database_url, "delete from articles where url = :u", u=lost)
    query(database_url, f"update articles set {', '.join(f'{name} = null' for name in DERIVED)}")

    reparse = run_oilnews("reparse", "--db", database_url, "--warc", str(tmp_path / "warc"))
    assert reparse.returncode == 0, reparse.stderr
    assert "updated 1, unchanged" in reparse.stderr and "new 1," in reparse.stderr, reparse.stderr

    after = {
        row.url: row for row in query(database_url, f"select {columns}, version, last_seen_at from articles")
    }
    assert set(after) == set(before)
    for url in before:
        assert tuple(after[url])[: len(CONTENT)] == tuple(before[url])[: len(CONTENT)], url  # back exactly
    filled = {row.url: row for row in query(database_url, f"select url, {', '.join(DERIVED)} from articles")}
    assert filled == derived  # the derived fields of every article, as the crawl gave them
    assert any(row.description for row in filled.values()) and any(row.countries for row in filled.values())
    assert after[damaged].version == before[damaged].version + 1  # a new version, as a crawl gives
    assert query(database_url, "select count(*) from article_versions")[0][0] == 1  # the garbled one kept
    # Unchanged articles are left as they were: not even "seen" again.
    assert after[untouched].version == before[untouched].version
    assert after[untouched].last_seen_at == before[untouched].last_seen_at
    latest = runs(database_url)[0]
    assert (latest.spider, latest.status) == ("reparse", "finished")
    assert latest.stats["oilnews/reparse/captures"] == ARTICLES + 1  # the twin's second URL too
    assert latest.stats.get("downloader/request_count", 0) == 0
    assert latest.stats["oilnews/store/articles_rederived"] == ARTICLES - 2  # in place: no version

    again = run_oilnews("reparse", "--db", database_url, "--warc", str(tmp_path / "warc"))
    assert again.returncode == 0 and "new 0, updated 0, unchanged" in again.stderr, again.stderr


def test_reparse_without_captures_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"
    empty = tmp_path / "empty"
    empty.mkdir()
    for warc in (str(empty), str(tmp_path / "missing")):
        result = oilnews_main("reparse", "--db", db, "--warc", warc)
        assert result.returncode == 64, result.stderr
        assert result.stderr.startswith("oilnews: error: no WARC files (*.warc.gz) in ")
        assert result.stderr.count("\n") == 1
    assert not (tmp_path / "new.db").exists()
