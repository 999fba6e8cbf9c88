"""Getting the data out, on SQLite and PostgreSQL: export in every format read back, filters and
the bookmark, full-text search, one article with its versions, authors and forum links."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oilnews.replica.pages import FORUM_THREADS, REPLICA_COMPANIES, author_bio
from oilnews.replica.server import ReplicaServer
from oilnews.text import clean_line
from tests.helpers import (
    crawl,
    frameworks_loaded_by,
    fresh_postgres_database,
    oilnews_main,
    query,
    run_oilnews,
    runs,
)

N = 120
EDITED = frozenset({5, 60})  # neither a twin (index % 50 == 21)


def export(db: str, *args: str) -> Any:
    result = oilnews_main("export", "--db", db, *args)
    assert result.returncode == 0, result.stderr
    return result


def jsonl(db: str, *args: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in export(db, *args).stdout.splitlines()]


def article_row(url: str, title: str, body: str) -> dict[str, Any]:
    """An article as the writer takes it (write_batch), its content hash its URL."""
    return {
        "url": url,
        "title": title,
        "authors": ["A. Writer"],
        "body": body,
        "content_hash": url,
        "published_at": datetime(2025, 1, 1, tzinfo=UTC),
        "keywords": [],
        "summary": [],
        "is_premium": False,
        "links": [],
    }


def stored_articles(db: str) -> list[Any]:
    return query(db, "select id, url, title, authors, section, published_at, body from articles order by id")


def authors_of(value: Any) -> list[str]:
    return json.loads(value) if isinstance(value, str) else list(value)


@contextmanager
def stored_site(kind: str, tmp: Path) -> Iterator[tuple[str, ReplicaServer]]:
    """A replica of N articles crawled into a new database of `kind`."""
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            db = f"sqlite:///{tmp / 'oilnews.db'}"
        else:
            db = stack.enter_context(fresh_postgres_database())
        site = stack.enter_context(ReplicaServer(N))
        result = crawl(site.url, db, tmp=tmp)
        assert result.returncode == 0, result.stderr
        yield db, site


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    """The database of the module's shared crawls: one parameter for both, so pytest runs
    every test on SQLite and then every test on PostgreSQL, building each crawl once."""
    return str(request.param)


@pytest.fixture(scope="module")
def crawled(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ReplicaServer]]:
    """One crawl per database, read by every test that only reads."""
    with stored_site(kind, tmp_path_factory.mktemp("crawled")) as stored:
        yield stored


@dataclass
class Recrawl:
    """A crawl, what was exported and stored before the site moved on, and the --full crawl
    after it published 10 articles and revised EDITED; one per database, for the tests of
    change: bookmarks, search after edits, versions, author bios."""

    db: str
    site: ReplicaServer
    bookmark: Path
    first_export: list[dict[str, Any]]
    second_export: list[dict[str, Any]]
    original: Any  # the catalogue before the edits
    bio_reset: str  # the author whose stored bio was made stale before the --full crawl
    authors_before: dict[str, Any]
    counts: dict[str, Any]


@pytest.fixture(scope="module")
def recrawled(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recrawl]:
    from sqlalchemy import text

    from oilnews.storage.engine import create_db_engine

    tmp = tmp_path_factory.mktemp("recrawled")
    with stored_site(kind, tmp) as (db, site):
        bookmark = tmp / "bookmark.json"
        first = jsonl(db, "--bookmark", str(bookmark), "--fields", "id,changed_at")
        second = jsonl(db, "--bookmark", str(bookmark), "--fields", "id")
        original = site.state.catalogue
        stale = sorted({original.article(i).author for i in range(N)})[0]
        engine = create_db_engine(db)
        with engine.begin() as conn:
            conn.execute(text("update authors set bio = 'an old bio' where name = :n"), {"n": stale})
        engine.dispose()
        before = {r["name"]: r["updated_at"] for r in jsonl(db, "--table", "authors")}
        site.publish(N + 10, edited=EDITED)
        result = crawl(site.url, db, "--full", tmp=tmp)
        assert result.returncode == 0, result.stderr
        yield Recrawl(db, site, bookmark, first, second, original, stale, before, runs(db, 1)[0].counts)


def test_every_format_reads_back_as_the_rows(crawled: tuple[str, ReplicaServer], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    db, _site = crawled
    rows = stored_articles(db)
    expected = [(r.id, r.url, r.title, authors_of(r.authors)) for r in rows]

    lines = jsonl(db)
    assert [(r["id"], r["url"], r["title"], r["authors"]) for r in lines] == expected
    assert all(datetime.fromisoformat(r["published_at"]).tzinfo is not None for r in lines)

    csv_file = tmp_path / "articles.csv"
    export(db, "--format", "csv", "--out", str(csv_file))
    raw = csv_file.read_bytes()
    assert raw.count(b"\r\n") >= len(rows) + 1  # RFC 4180 line ends (the header and each row)
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert [(int(r["id"]), r["url"], r["title"], r["authors"].split(" | ")) for r in table] == expected
    assert table[0]["body"] == rows[0].body  # paragraphs (newlines) survive quoting

    out = tmp_path / "articles.parquet"
    export(db, "--format", "parquet", "--out", str(out))
    parquet = pq.read_table(out)
    assert str(parquet.schema.field("published_at").type) == "timestamp[us, tz=UTC]"
    assert str(parquet.schema.field("authors").type) == "list<element: string>"
    data = parquet.to_pylist()
    assert [(r["id"], r["url"], r["title"], r["authors"]) for r in data] == expected
    assert [r["published_at"] for r in data] == [datetime.fromisoformat(r["published_at"]) for r in lines]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]

    # A reader that stops early (`oilnews export | head`) is its choice: exit 0, nothing on stderr.
    import subprocess
    import sys

    from tests.helpers import ROOT

    reader = subprocess.Popen(
        [sys.executable, "-m", "oilnews.cli", "export", "--db", db],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stdout.read(100)
    reader.stdout.close()
    _out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0 and err == b"", err


def test_the_python_api_gives_the_exports_rows(crawled: tuple[str, ReplicaServer]) -> None:
    """`oilnews.open(url)`: the export's rows as dicts (aware UTC datetimes, lists), the same
    filters and search syntax, and pandas frames with timezone-aware timestamps."""
    import oilnews

    db, site = crawled
    exported = jsonl(db)
    with oilnews.open(db) as store:
        articles = list(store.articles())
        assert [a["id"] for a in articles] == [r["id"] for r in exported]
        first, line = articles[0], exported[0]
        assert first["published_at"] == datetime.fromisoformat(line["published_at"])
        assert first["published_at"].tzinfo is UTC and first["authors"] == line["authors"]
        assert {k: v for k, v in first.items() if not isinstance(v, datetime)} == {
            k: v for k, v in line.items() if not isinstance(first[k], datetime)
        }
        middle = sorted(r["published_at"] for r in exported)[N // 2]  # an ISO instant with its offset
        for filters, arguments in (
            ({"since": middle, "section": "Energy"}, ["--since", middle, "--section", "Energy"]),
            (
                {"query": "oil OR gas", "until": datetime.fromisoformat(middle)},
                ["--query", "oil OR gas", "--until", middle],
            ),
        ):
            assert list(store.articles(**filters)), filters
            assert [a["id"] for a in store.articles(**filters)] == [r["id"] for r in jsonl(db, *arguments)]
        target = site.state.catalogue.article(30)
        assert site.url + target.path in [h["url"] for h in store.search(target.title, limit=5)]
        assert [r["status"] for r in store.runs()] == [r.status for r in runs(db)]
        frame = store.articles_frame(since=middle)
        assert len(frame) == len(list(store.articles(since=middle))) > 0
        assert str(frame["published_at"].dt.tz) == "UTC"
        weekly = frame.set_index("published_at").resample("W").size()
        assert weekly.sum() == len(frame)
        quotes = store.quotes_frame()
        assert (
            len(quotes) == len(jsonl(db, "--table", "quotes")) and str(quotes["observed_at"].dt.tz) == "UTC"
        )
        with pytest.raises(oilnews.errors.UsageError, match='a " without its closing'):
            list(store.articles(query='"crude'))


def test_the_python_api_without_pandas_names_the_extra(sqlite_url: str) -> None:
    assert oilnews_main("db", "upgrade", "--db", sqlite_url).returncode == 0
    program = (
        "import sys; sys.modules['pandas'] = None  # as if not installed\n"
        "import oilnews\n"
        f"store = oilnews.open({sqlite_url!r})\n"
        "assert list(store.articles()) == []\n"
        "try:\n"
        "    store.articles_frame()\n"
        "except oilnews.errors.MissingDependency as error:\n"
        "    print(error)\n"
    )
    out, loaded = frameworks_loaded_by(program)
    assert "pandas is not installed" in out.stdout and "pip install 'oilnews[analysis]'" in out.stdout
    assert loaded == []  # read-only, without Scrapy or Twisted


def test_filters_give_exactly_their_subsets(crawled: tuple[str, ReplicaServer]) -> None:
    db, _site = crawled
    rows = stored_articles(db)

    def published(r: Any) -> datetime:
        value = r.published_at
        return (datetime.fromisoformat(value) if isinstance(value, str) else value).replace(tzinfo=UTC)

    middle = sorted(published(r) for r in rows)[len(rows) // 2]
    since, until = middle.isoformat(), (middle + timedelta(hours=6)).isoformat()
    window = {r.id for r in rows if middle <= published(r) < middle + timedelta(hours=6)}
    assert 0 < len(window) < len(rows)
    assert {r["id"] for r in jsonl(db, "--since", since, "--until", until, "--fields", "id")} == window
    # Without an offset an instant is UTC, as the help says, not the site's US Central time.
    naive = (
        middle.replace(tzinfo=None).isoformat(),
        (middle + timedelta(hours=6)).replace(tzinfo=None).isoformat(),
    )
    assert {r["id"] for r in jsonl(db, "--since", naive[0], "--until", naive[1], "--fields", "id")} == window

    energy = {r.id for r in rows if r.section == "Energy" or (r.section or "").startswith("Energy/")}
    assert 0 < len(energy) < len(rows)
    assert {r["id"] for r in jsonl(db, "--section", "Energy", "--fields", "id")} == energy

    author = authors_of(rows[0].authors)[0]
    by_author = {r.id for r in rows if author in authors_of(r.authors)}
    assert {r["id"] for r in jsonl(db, "--author", author.upper(), "--fields", "id")} == by_author

    only = jsonl(db, "--fields", "url,title", "--section", "Energy")
    assert all(list(r) == ["url", "title"] for r in only)
    bad = oilnews_main("export", "--db", db, "--fields", "url,nonsense")
    assert bad.returncode == 64 and "nonsense not in articles" in bad.stderr


def test_bookmark_exports_only_what_is_new_or_changed(recrawled: Recrawl) -> None:
    db, site, bookmark = recrawled.db, recrawled.site, recrawled.bookmark
    assert len(recrawled.first_export) == N
    assert recrawled.second_export == []  # nothing since
    assert (recrawled.counts["articles_new"], recrawled.counts["articles_updated"]) == (10, len(EDITED))

    changed = jsonl(db, "--bookmark", str(bookmark), "--fields", "id,url")
    new_urls = {site.url + site.state.catalogue.path(i) for i in range(N, N + 10)}
    edited_urls = {site.url + site.state.catalogue.path(i) for i in EDITED}
    assert {r["url"] for r in changed} == new_urls | edited_urls  # exactly: no unchanged row again
    assert jsonl(db, "--bookmark", str(bookmark)) == []
    # A high-water mark, not every id: id ranges per changed_at (a crawl's batches share one).
    recent = json.loads(bookmark.read_text())["recent"]
    spans = sum(len(ranges) for ranges in recent.values())
    assert spans <= 3 * len(recent) and len(recent) < N / 4, recent

    # A failed export leaves neither a partial file nor a moved bookmark.
    before = bookmark.read_text()
    broken = oilnews_main("export", "--db", db, "--bookmark", str(bookmark), "--fields", "id,bogus")
    assert broken.returncode == 64 and bookmark.read_text() == before


def _search_urls(db: str, words: str, *extra: str) -> list[str]:
    result = oilnews_main("search", words, "--db", db, "--json", *extra)
    urls = [json.loads(line)["url"] for line in result.stdout.splitlines()]
    assert result.returncode == (0 if urls else 1), result.stderr  # grep's: 1 when nothing matches
    return urls


def test_search_ranks(crawled: tuple[str, ReplicaServer]) -> None:
    db, site = crawled
    target = site.state.catalogue.article(30)
    words = " ".join(target.paragraphs[1].split()[:6])  # words of its body
    result = oilnews_main("search", words, "--db", db, "--json")
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert site.url + target.path in [h["url"] for h in hits]
    assert all("[" in h["snippet"] and "]" in h["snippet"] for h in hits)


def test_search_syntax_means_what_readme_says(crawled: tuple[str, ReplicaServer]) -> None:
    """OR, -word, NOT, "phrases" and prefix* give the same sets on SQLite and PostgreSQL: the
    sets are checked against each other and against the replica's own titles."""
    db, site = crawled

    def found(words: str) -> set[str]:
        return set(_search_urls(db, words, "--limit", "1000"))

    oil, gas, both = found("oil"), found("gas"), found("oil gas")
    assert oil and gas and both and both == oil & gas and oil != gas
    assert found("oil OR gas") == oil | gas == found("gas or oil")
    assert found("oil -gas") == oil - gas == found("oil NOT gas")
    assert found("oil OR gas -oil") == (gas - oil) | oil  # OR binds loosest: oil OR (gas -oil)
    target = site.state.catalogue.article(7)
    first, second = target.title.split()[:2]
    phrase = found(f'"{first} {second}"')
    assert site.url + target.path in phrase and phrase <= found(f"{first} {second}")
    prefixed = found(f"{first[:4]}*")
    assert found(first) <= prefixed and site.url + target.path in prefixed


def test_search_follows_edits(recrawled: Recrawl) -> None:
    """An edited article is found by its new words and no longer by the ones the edit removed."""
    db, site = recrawled.db, recrawled.site

    def words(text: str) -> set[str]:
        return set(text.lower().replace(".", " ").replace(",", " ").split())

    edited = recrawled.original.article(5)
    revised = site.state.catalogue.article(5)
    gone = words(edited.paragraphs[-1]) - words(" ".join(revised.paragraphs))
    assert gone
    url = site.url + edited.path
    assert url in _search_urls(db, revised.paragraphs[-1], "--limit", "200")
    assert url not in _search_urls(db, " ".join(sorted(gone)), "--limit", "200")


def test_a_title_hit_ranks_above_a_body_hit(database_url: str) -> None:
    from oilnews.storage.database import Database
    from oilnews.storage.search import search
    from oilnews.storage.selection import Selection
    from oilnews.storage.writer import write_batch

    database = Database(database_url)
    try:
        database.transaction(
            lambda conn: write_batch(
                conn,
                [
                    article_row(
                        "https://oilprice.com/a/Body.html",
                        "Copper demand grows",
                        "Miners say lithium output rose.",
                    ),
                    article_row(
                        "https://oilprice.com/a/Title.html", "Lithium prices climb", "Miners say output rose."
                    ),
                    article_row("https://oilprice.com/a/None.html", "Copper again", "Nothing here."),
                    {
                        **article_row(
                            "https://oilprice.com/a/Described.html", "Zinc report", "Miners say output rose."
                        ),
                        "description": "Why lithium refiners moved to Chile",
                    },
                ],
            )
        )
        hits = database.transaction(lambda conn: search(conn, "lithium", Selection()))
    finally:
        database.close()
    # The title counts most, then the meta description, then the body.
    assert [h.url for h in hits] == [
        "https://oilprice.com/a/Title.html",
        "https://oilprice.com/a/Described.html",
        "https://oilprice.com/a/Body.html",
    ]
    assert hits[0].rank > hits[1].rank > hits[2].rank
    assert "[lithium]" in hits[1].snippet.lower()  # the snippet shows where the description matched


def test_show_one_article_with_aliases_links_and_versions(recrawled: Recrawl) -> None:
    db, site = recrawled.db, recrawled.site
    url = site.url + site.state.catalogue.path(5)

    shown = oilnews_main("show", url, "--db", db, "--versions", "--json")
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["url"] == url and view["version"] == 2
    assert set(view["links"]) >= {"related", "popular", "most_commented"}
    (old,) = view["versions"]
    assert old["version"] == 1 and "body" in old["changes"]
    assert any(line.startswith("+Update: this story was revised") for line in old["changes"]["body"]["diff"])

    text = oilnews_main("show", str(view["id"]), "--db", db, "--versions", "--links").stdout
    assert text.splitlines()[1] == url and "version 1 (seen until" in text and "related " in text

    twin = query(db, "select a.url, al.url from article_aliases al join articles a on a.id = al.article_id")
    assert twin, "the replica serves content twins"
    by_alias = json.loads(oilnews_main("show", twin[0][1], "--db", db, "--json").stdout)
    assert by_alias["url"] == twin[0][0] and twin[0][1] in by_alias["aliases"]

    missing = oilnews_main("show", site.url + "/Energy/Coal/Nope.html", "--db", db)
    assert missing.returncode == 64 and "no stored article" in missing.stderr


def test_authors_and_forum_links(crawled: tuple[str, ReplicaServer]) -> None:
    db, site = crawled
    cat = site.state.catalogue
    names = {cat.article(i).author for i in range(N)}
    authors = {r["name"]: r for r in jsonl(db, "--table", "authors")}
    assert set(authors) == names
    for name, record in authors.items():
        assert record["profile_url"] == f"{site.url}/contributors/{name.replace(' ', '-')}"
        assert record["bio"] == author_bio(name)
    assert sum(r["articles"] for r in authors.values()) == N  # every article linked to its author

    premium = sum(1 for i in range(N) if cat.article(i).premium)
    forum = query(db, "select count(*) from article_links where kind = 'forum'")[0][0]
    assert premium > 0 and forum == premium * len(FORUM_THREADS)
    skipped = runs(db, 1)[0].stats.get("oilnews/skipped_urls") or []
    assert not [s for s in skipped if "community.oilprice.com/topic/1278" in s["url"]]  # never requested


def test_a_changed_bio_is_updated_and_an_unchanged_one_untouched(recrawled: Recrawl) -> None:
    name, before = recrawled.bio_reset, recrawled.authors_before
    after = {r["name"]: r for r in jsonl(recrawled.db, "--table", "authors")}
    assert after[name]["bio"] == author_bio(name) and after[name]["updated_at"] > before[name]
    other = sorted(before)[1]
    assert other != name and after[other]["updated_at"] == before[other]


def test_a_terminal_gets_a_progress_bar(crawled: tuple[str, ReplicaServer], tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    from tests.helpers import ROOT

    db, _site = crawled
    leader, follower = pty.openpty()  # stderr on a terminal, as a person runs it
    out = tmp_path / "a.jsonl"
    process = subprocess.run(
        [sys.executable, "-m", "oilnews.cli", "export", "--db", db, "--out", str(out)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        timeout=120,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.returncode == 0
    assert f"[{'#' * 30}] {N}/{N} rows".encode() in seen, seen[-400:]
    piped = run_oilnews("export", "--db", db, "--out", str(out))  # a real process: stderr a pipe
    assert "\r[" not in piped.stderr  # not a terminal: no bar


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["oil " * 2_500], "10000 characters, at most 500"),
        ([" ".join(f"word{n}" for n in range(20))], "20 different words, at most 16"),
        (["oil", "--limit", "99999999999999999999"], "is not between 1 and 1000"),
        (["oil", "--limit", "-1"], "is not between 1 and 1000"),
        (["oil", "--limit", "many"], "'many' is not a whole number"),
        (["crude \udcff oil"], "not valid UTF-8"),  # a byte that is no UTF-8, as Python passes it on
        (["?!"], "give at least one word"),
        (['"crude oil'], 'a " without its closing "'),
        (["oil OR"], "OR needs words on both sides"),
        (["OR gas"], "OR needs words on both sides"),
        (["-gas NOT oil"], "only excluded words"),
        (["oil NOT"], "NOT needs a word after it"),
    ],
)
def test_search_words_are_bounded(
    crawled: tuple[str, ReplicaServer], arguments: list[str], says: str
) -> None:
    db, _site = crawled
    result = oilnews_main("search", *arguments, "--db", db)
    assert result.returncode == 64, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("oilnews: error: ") and says in line, line


def test_a_long_query_of_repeated_words_answers_at_once(crawled: tuple[str, ReplicaServer]) -> None:
    import time

    db, _site = crawled
    started = time.monotonic()
    result = oilnews_main("search", ("oil gas crude " * 35).strip(), "--db", db, "--json")
    assert result.returncode in (0, 1), result.stderr  # searched (found or not), not refused
    assert time.monotonic() - started < 5  # repeated words are searched once
    assert oilnews_main("export", "--db", db, "--query", "x" * 600).returncode == 64  # export's too


def test_shell_conventions_of_the_read_commands(crawled: tuple[str, ReplicaServer]) -> None:
    db, _site = crawled
    nothing = oilnews_main("search", "zyxwvutsrq", "--db", db)
    assert nothing.returncode == 1 and nothing.stdout == "" and "no article matches" in nothing.stderr
    to_stdout = oilnews_main("export", "--db", db, "--out", "-", "--fields", "id")
    assert to_stdout.returncode == 0 and len(to_stdout.stdout.splitlines()) == N
    for table, option in (("quotes", "--section"), ("runs", "--since"), ("authors", "--query")):
        refused = oilnews_main("export", "--db", db, "--table", table, option, "2023-01")
        assert refused.returncode == 64, refused.stderr
        assert f"{option} do not apply to --table {table}" in refused.stderr
    version = oilnews_main("--version")
    assert version.returncode == 0 and version.stdout.startswith("oilnews ")


def test_sigterm_during_an_export_leaves_no_partial_file(tmp_path: Path) -> None:
    """A file being written when SIGTERM comes is removed, not left half-done beside its target."""
    import signal
    import subprocess
    import sys
    import time

    from oilnews.storage.database import Database
    from oilnews.storage.writer import write_batch
    from tests.helpers import ROOT

    db = f"sqlite:///{tmp_path / 'big.db'}"
    database = Database(db)
    body = "Crude moved. " * 400  # about 5 KB an article: 8,000 of them take a while to write
    try:
        for start in range(0, 8_000, 1_000):
            rows = [
                article_row(f"https://oilprice.com/Energy/Crude-Oil/A{n}.html", f"Article {n}", body)
                for n in range(start, start + 1_000)
            ]
            database.transaction(lambda conn, rows=rows: write_batch(conn, rows))
    finally:
        database.close()
    out = tmp_path / "out" / "all.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "oilnews.cli", "export", "--db", db, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(".all.jsonl.*.partial")):
        assert process.poll() is None, "the export ended before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert not out.exists() and not list(out.parent.iterdir()), list(out.parent.iterdir())


def test_richer_articles_as_the_replica_made_them(crawled: tuple[str, ReplicaServer], tmp_path: Path) -> None:
    """Description, language, images, Markdown body and mentions of every stored article, against
    what the replica put on its pages; exported, filtered by what they mention, and as Markdown files."""
    db, site = crawled
    catalogue = site.state.catalogue
    rows = {row["url"]: row for row in jsonl(db)}
    checked = 0
    for index in range(N):
        article = catalogue.article(index)
        row = rows.get(site.url + article.path)
        if row is None:
            continue  # a twin stored under its other URL
        checked += 1
        assert row["description"] == clean_line(article.paragraphs[0][:150])  # mojibake fixed, as all text
        assert row["language"] == "en"
        urls = [image["url"] for image in row["images"]]
        lead = [url for url in urls if "/718x300/" in url]
        assert len(lead) == article.has_picture and len(urls) == len(lead) + (index % 4 == 1), (index, urls)
        assert not any("facebook-share-logo" in url for url in urls)
        captions = [image["caption"] for image in row["images"] if image["caption"]]
        assert captions == ([f"Output in {article.title.split()[0]}, by month"] if index % 4 == 1 else [])
        assert ("\n\n## What comes next\n\n" in row["body_markdown"]) == (index % 3 == 0)
        assert "[Bloomberg reported](https://www.bloomberg.com/news/energy)" in row["body_markdown"]
        company = REPLICA_COMPANIES[index // 2 % len(REPLICA_COMPANIES)] if index % 2 == 0 else None
        assert (company in row["companies"]) if company else not row["companies"], (index, row["companies"])
    assert checked > N - 5

    # --mentions: a company by its name or ticker, any case; a country; the others left out.
    shell = {r["url"] for r in jsonl(db, "--mentions", "shell")}
    assert shell == {u for u, r in rows.items() if "Shell" in r["companies"]} and shell
    assert {r["url"] for r in jsonl(db, "--mentions", "SHEL")} == shell
    norway = {r["url"] for r in jsonl(db, "--mentions", "Norway")}
    assert norway == {u for u, r in rows.items() if "Norway" in r["countries"]}

    one = sorted(shell)[0]
    shown = oilnews_main("show", one, "--db", db)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert f"description {rows[one]['description']}" in lines and "language en" in lines
    assert any(line.startswith("companies Shell (") for line in lines)

    # Parquet and CSV carry them too: the images and mentions as JSON text.
    import pyarrow.parquet as pq

    parquet = tmp_path / "shell.parquet"
    export(
        db,
        "--format",
        "parquet",
        "--out",
        str(parquet),
        "--mentions",
        "Shell",
        "--fields",
        "url,language,companies,images",
    )
    table = pq.read_table(parquet).to_pylist()
    assert {r["url"] for r in table} == shell
    assert all(
        r["language"] == "en" and json.loads(r["companies"]) == rows[r["url"]]["companies"] for r in table
    )
    assert all(json.loads(r["images"]) == rows[r["url"]]["images"] for r in table)
    cells = list(csv.DictReader(io.StringIO(export(db, "--format", "csv", "--mentions", "Shell").stdout)))
    assert {c["url"] for c in cells} == shell and all(json.loads(c["companies"]) for c in cells)

    out = tmp_path / "md"
    result = export(db, "--format", "markdown", "--out", str(out), "--mentions", "Shell")
    assert "exported" in result.stderr
    files = sorted(out.glob("*.md"))
    assert len(files) == len(shell)
    document = files[0].read_text(encoding="utf-8")
    front, heading, body = document.split("\n---\n", 1)[0], *document.split("\n---\n", 1)[1].split("\n\n", 1)
    fields = {line.split(": ", 1)[0]: json.loads(line.split(": ", 1)[1]) for line in front.splitlines()[1:]}
    assert fields["url"] in shell and fields["language"] == "en" and fields["tags"]
    assert heading.strip() == "# " + rows[fields["url"]]["title"]
    assert body.rstrip("\n") == rows[fields["url"]]["body_markdown"]

    # With a bookmark, as the other formats: the first export writes every article's file, the
    # next one (nothing changed since) writes none.
    bookmark, marked = tmp_path / "md.bookmark", tmp_path / "md-bookmarked"
    first = export(db, "--format", "markdown", "--out", str(marked), "--bookmark", str(bookmark))
    again = export(
        db, "--format", "markdown", "--out", str(tmp_path / "md-again"), "--bookmark", str(bookmark)
    )
    assert f"exported {len(rows)} rows" in first.stderr and "exported 0 rows" in again.stderr
    assert len(list(marked.glob("*.md"))) == len(rows) and not list((tmp_path / "md-again").glob("*.md"))
