"""Text from pages is hostile wherever it goes (issue 28): a title that drives a terminal and
runs in a spreadsheet, an author name that is matplotlib mathtext, served by the replica. It
is stored exactly as the page says; every place that shows it makes it harmless."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from oilnews.replica.faults import HOSTILE_AUTHOR, HOSTILE_TITLE_PREFIX, Fault
from oilnews.replica.server import ReplicaServer
from tests.helpers import crawl, oilnews_main, query

HOSTILE = 5
RAW_CONTROLS = ("\x1b", "\x07", "\x9b")


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("hostile")
    db = f"sqlite:///{tmp / 'oilnews.db'}"
    with ReplicaServer(40) as site:
        url = site.url + site.state.catalogue.path(HOSTILE)
        site.state.faults = {site.state.catalogue.path(HOSTILE): Fault("hostile_text")}
        result = crawl(site.url, db, tmp=tmp)
        assert result.returncode == 0, result.stderr[-3000:]
    yield db, url


def test_stored_exactly_as_the_page_says(hostile_db: tuple[str, str]) -> None:
    db, url = hostile_db
    ((title, authors),) = query(db, "select title, authors from articles where url = :u", u=url)
    assert title.startswith(HOSTILE_TITLE_PREFIX)
    assert json.loads(authors) == [HOSTILE_AUTHOR]


@pytest.mark.parametrize(
    "command", [["show", "{url}"], ["show", "{url}", "--links"], ["search", "HYPERLINK"]]
)
def test_the_terminal_sees_escapes_not_controls(hostile_db: tuple[str, str], command: list[str]) -> None:
    db, url = hostile_db
    result = oilnews_main(*(part.format(url=url) for part in command), "--db", db)
    assert result.returncode == 0, result.stderr
    assert not any(c in result.stdout + result.stderr for c in RAW_CONTROLS), repr(result.stdout[:300])
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m" in result.stdout  # shown, visibly


def test_a_spreadsheet_gets_text_not_a_formula(hostile_db: tuple[str, str], tmp_path: Path) -> None:
    db, url = hostile_db

    def titles(fmt: str) -> dict[str, str]:
        out = tmp_path / f"articles.{fmt}"
        assert oilnews_main("export", "--db", db, "--format", fmt, "--out", str(out)).returncode == 0
        rows = csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8"), newline=""))
        return {row["url"]: row["title"] for row in rows}

    guarded, raw = titles("csv"), titles("csv-raw")
    assert guarded[url] == "'" + raw[url] and raw[url].startswith("=HYPERLINK(")
    assert all(t == raw[u] for u, t in guarded.items() if u != url)  # the others untouched
    exported = [json.loads(line) for line in oilnews_main("export", "--db", db).stdout.splitlines()]
    assert next(r["title"] for r in exported if r["url"] == url).startswith(HOSTILE_TITLE_PREFIX)


def test_the_report_draws_a_mathtext_author_as_text(hostile_db: tuple[str, str], tmp_path: Path) -> None:
    db, _url = hostile_db
    out = tmp_path / "report.html"
    result = oilnews_main("report", "--db", db, "--out", str(out), "--days", "100000")
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 10_000


def test_page_text_past_any_old_bound_is_stored_and_a_url_past_the_limit_left_out(
    database_url: str, tmp_path: Path
) -> None:
    """A 324-character author name (varchar(255) refused it on PostgreSQL, and its whole batch)
    and a 3,000-character link: the article is stored, the name whole, the link counted."""
    from oilnews.replica.faults import OVERSIZED_AUTHOR
    from tests.helpers import runs

    with ReplicaServer(20) as site:
        url = site.url + site.state.catalogue.path(3)
        site.state.faults = {site.state.catalogue.path(3): Fault("oversized")}
        result = crawl(site.url, database_url, tmp=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert query(database_url, "select count(*) from articles")[0][0] == 20
    ((authors,),) = query(database_url, "select authors from articles where url = :u", u=url)
    name = OVERSIZED_AUTHOR.strip()
    assert len(name) > 255 and (json.loads(authors) if isinstance(authors, str) else authors) == [name]
    # The author box's name went into the authors table (its profile URL then taken over by
    # the author's other articles, as a changed bio is), which refused it before.
    assert not runs(database_url, 1)[0].stats.get("oilnews/store/dead_letter/refused")
    assert not query(database_url, "select count(*) from article_links where length(target_url) > 2048")[0][0]
    assert runs(database_url, 1)[0].stats["oilnews/links/too_long"] == 1


def test_the_reachability_probe_never_follows_robots_txt_off_the_site(
    sqlite_url: str, tmp_path: Path
) -> None:
    with ReplicaServer(20) as other, ReplicaServer(20) as site:
        site.state.faults = {"/robots.txt": Fault("redirect_offsite", target=other.url)}
        result = crawl(site.url, sqlite_url, tmp=tmp_path)
        assert not other.hits, dict(other.hits)  # another origin (a port is one): never asked
    assert result.returncode == 0, result.stderr[-3000:]
