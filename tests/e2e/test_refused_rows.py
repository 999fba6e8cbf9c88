"""A row the database refuses, as an operator meets it: a trigger (standing in for a constraint,
a too-long value, a writer bug) refuses one article. Run 1 stores every other article and
keeps the refused one as a dead letter, failing its health check with the reason; run 2 is
not blocked (not even by a spooled batch holding that row); once the database accepts the
row, `oilnews spool replay` stores it. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from oilnews.errors import ExitCode
from oilnews.replica.server import ReplicaServer
from tests.helpers import crawl, oilnews_main, query, runs

N = 60
REFUSED = 7  # neither a content twin (index % 50 == 21) nor the first of anything

SQLITE_TRIGGER = """
CREATE TRIGGER refuse_one BEFORE INSERT ON articles WHEN NEW.url = '{url}'
BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END
"""
POSTGRES_TRIGGER = (
    """
CREATE FUNCTION refuse_one() RETURNS trigger AS $$
BEGIN
  IF NEW.url = '{url}' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
""",
    "CREATE TRIGGER refuse_one BEFORE INSERT ON articles FOR EACH ROW EXECUTE FUNCTION refuse_one()",
)


def _execute(db: str, *statements: str) -> None:
    from oilnews.storage.engine import create_db_engine

    engine = create_db_engine(db)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def refuse(db: str, url: str) -> None:
    if db.startswith("sqlite"):
        _execute(db, SQLITE_TRIGGER.format(url=url))
    else:
        _execute(db, *(s.format(url=url) for s in POSTGRES_TRIGGER))


def accept(db: str) -> None:
    if db.startswith("sqlite"):
        _execute(db, "DROP TRIGGER refuse_one")
    else:
        _execute(db, "DROP TRIGGER refuse_one ON articles", "DROP FUNCTION refuse_one()")


def stored_urls(db: str) -> set[str]:
    return {row.url for row in query(db, "select url from articles")}


def dead_letters(spool: Path) -> list[dict[str, object]]:
    return [
        json.loads(line) for f in sorted(spool.glob("dead-*.jsonl")) for line in f.read_text().splitlines()
    ]


def test_a_refused_row_is_isolated_kept_and_stored_once_accepted(database_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    assert oilnews_main("db", "upgrade", "--db", database_url).returncode == 0
    with ReplicaServer(N) as site:
        every = {site.url + site.state.catalogue.path(i) for i in range(N)}
        bad = site.url + site.state.catalogue.path(REFUSED)
        refuse(database_url, bad)

        first = crawl(site.url, database_url, tmp=tmp_path)
        assert first.returncode == ExitCode.UNHEALTHY, first.stderr[-3000:]
        assert "Traceback" not in first.stderr
        last = first.stderr.strip().splitlines()[-1]
        assert last.startswith("oilnews: error: health check failed: 1 rows refused by the database"), last
        # Every other article stored: under its URL, or (a content twin fetched first, as
        # concurrency decides) under the twin's, its own URL then an alias of it.
        aliases = {row.url for row in query(database_url, "select url from article_aliases")}
        stored = stored_urls(database_url)
        assert every - {bad} <= stored | aliases and len(stored & every) + len(every & aliases) == N - 1
        assert bad not in stored | aliases and len(stored) == N - 1
        (letter,) = dead_letters(spool)
        assert letter["kind"] == "refused" and "refused by the test trigger" in str(letter["error"])
        assert [a["url"] for a in letter["articles"]] == [bad]  # type: ignore[union-attr]
        run = runs(database_url, 1)[0]
        assert run.status == "failed" and run.stats["oilnews/store/dead_letter/refused"] == 1
        assert any("refused by the database" in f for f in run.health["failures"])

        # Run 2, with a spooled batch holding the refused row (as a replay would meet it):
        # the replay moves it to the dead letters and the run goes on.
        (spool / "batch-1.jsonl").write_text(
            (spool / next(p.name for p in spool.glob("dead-*.jsonl"))).read_text()
        )
        second = crawl(site.url, database_url, tmp=tmp_path)
        assert second.returncode == ExitCode.UNHEALTHY, second.stderr[-3000:]
        assert "Traceback" not in second.stderr and "could be downloaded" not in second.stderr
        assert runs(database_url, 1)[0].id == run.id + 1  # recorded, not blocked
        assert not list(spool.glob("batch-*"))  # the spooled line was replayed (into a dead letter)
        assert len(dead_letters(spool)) == 3  # run 1's, the replayed line, run 2's own refusal

    listed = oilnews_main("spool", "--dir", str(spool), "--json")
    assert listed.returncode == 0
    pending = json.loads(listed.stdout)
    assert pending["dead_letters"]["lines"] == 3 and pending["spooled"]["lines"] == 0
    assert "refused by the test trigger" in pending["dead_letters"]["first_error"]
    text_listing = oilnews_main("spool", "--dir", str(spool))
    assert "dead letters: 3 (3 items)" in text_listing.stdout

    still = oilnews_main("spool", "replay", "--dir", str(spool), "--db", database_url)
    assert still.returncode == ExitCode.UNHEALTHY and "still refused" in still.stderr
    assert bad not in stored_urls(database_url) and len(dead_letters(spool)) == 3  # kept, not lost

    accept(database_url)
    replayed = oilnews_main("spool", "replay", "--dir", str(spool), "--db", database_url)
    assert replayed.returncode == 0, replayed.stderr
    assert "3 stored, 0 refused again" in replayed.stderr
    assert bad in stored_urls(database_url)
    assert query(database_url, "select count(*) from articles where url = :u", u=bad)[0][0] == 1
    assert not dead_letters(spool) and not list(spool.glob("*.replaying"))
