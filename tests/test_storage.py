"""Schema: the Alembic migrations produce exactly the ORM models, on both databases."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from oilnews.logs import mask_secrets
from oilnews.storage.database import Database
from oilnews.storage.engine import normalize_database_url
from oilnews.storage.models import Base
from oilnews.storage.search import is_index_object
from tests.helpers import ROOT


def test_migrations_match_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        database.transaction(lambda conn: None)  # migrates
        with database.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_object": lambda obj, name, *_: not is_index_object(name)}
            )
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
        database.transaction(lambda conn: None)  # a second migrate is a no-op
    finally:
        database.close()


def test_secrets_masked_and_driver_chosen() -> None:
    assert mask_secrets("postgresql://u:s3cret@db:5432/x failed") == "postgresql://u:***@db:5432/x failed"
    assert mask_secrets("redis://:pw@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert normalize_database_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_transaction_retries_on_a_fresh_connection_after_the_server_drops_it(postgres_url: str) -> None:
    from sqlalchemy import text

    retried: list[BaseException] = []
    database = Database(postgres_url, retries=3, backoff=0.01)
    database.on_retry = retried.append
    attempts = []

    def work(conn):  # type: ignore[no-untyped-def]
        attempts.append(conn.execute(text("select pg_backend_pid()")).scalar())
        if len(attempts) == 1:
            conn.execute(text("select pg_terminate_backend(pg_backend_pid())"))  # the server kills us
        return conn.execute(text("select 42")).scalar()

    try:
        assert database.transaction(work) == 42
    finally:
        database.close()
    assert len(attempts) == 2 and attempts[0] != attempts[1] and len(retried) == 1


def test_upgrade_rewrites_stored_urls_into_the_w3lib_form(database_url: str) -> None:
    """0002: keys stored in the old form (a raw `é`) keep deduplicating after the upgrade;
    a story stored under both forms becomes one row, the other copy kept as a version."""
    from sqlalchemy import text

    from oilnews.storage.engine import create_db_engine
    from oilnews.storage.schema import migrate

    site = "https://oilprice.com/Energy/Crude-Oil/"
    engine = create_db_engine(database_url)
    try:
        migrate(engine, "0001")
        row = (
            "INSERT INTO articles (id, url, title, authors, body, keywords, summary, is_premium, "
            "content_hash, version, first_seen_at, last_seen_at) VALUES (:id, :url, :title, '[]', :body, "
            "'[]', '[]', false, :hash, 1, '2026-01-01 00:00:00', '2026-01-02 00:00:00')"
        )
        with engine.begin() as conn:
            conn.execute(
                text(row), dict(id=1, url=site + "Café.html", title="old form", body="b1", hash="h1")
            )
            conn.execute(
                text(row), dict(id=2, url=site + "Caf%C3%A9.html", title="new", body="b2", hash="h2")
            )
            conn.execute(text(row), dict(id=3, url=site + "Naïve.html", title="alone", body="b3", hash="h3"))
            conn.execute(
                text(
                    "INSERT INTO article_aliases (article_id, url, first_seen_at) VALUES (3, :u, '2026-01-01')"
                ),
                {"u": site + "Naïve.amp-like.html"},
            )
            for article_id, target in ((1, "Zoë.html"), (2, "Zo%C3%AB.html"), (3, "Zoë.html")):
                conn.execute(
                    text(
                        "INSERT INTO article_links (article_id, target_url, kind, anchor_text) VALUES (:a, :t, 'related', '')"
                    ),
                    {"a": article_id, "t": site + target},
                )
        migrate(engine)
        with engine.connect() as conn:
            articles = conn.execute(text("SELECT id, url, title, version FROM articles ORDER BY id")).all()
            aliases = conn.execute(text("SELECT article_id, url FROM article_aliases ORDER BY url")).all()
            links = conn.execute(
                text("SELECT article_id, target_url FROM article_links ORDER BY article_id")
            ).all()
            versions = conn.execute(
                text("SELECT article_id, version, content_hash FROM article_versions")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(a) for a in articles] == [
        (1, site + "Caf%C3%A9.html", "old form", 2),
        (3, site + "Na%C3%AFve.html", "alone", 1),
    ]
    assert [tuple(a) for a in aliases] == [(3, site + "Na%C3%AFve.amp-like.html")]
    assert [tuple(v) for v in versions] == [(1, 1, "h2")]  # the other copy's contents, kept
    assert [tuple(link) for link in links] == [(1, site + "Zo%C3%AB.html"), (3, site + "Zo%C3%AB.html")]


def test_upgrades_keep_every_alias_link_and_version(sqlite_url: str) -> None:
    """A migration must never rebuild `articles` on SQLite: the drop would cascade to its
    aliases, links and versions. Rows stored at the first schema survive every upgrade, and
    the search index covers them."""
    from sqlalchemy import text

    from oilnews.storage.engine import create_db_engine
    from oilnews.storage.schema import migrate
    from oilnews.storage.search import search
    from oilnews.storage.selection import Selection

    engine = create_db_engine(sqlite_url)
    try:
        migrate(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO articles (id, url, title, authors, body, keywords, summary, is_premium, "
                    "content_hash, version, first_seen_at, last_seen_at) VALUES (1, 'https://oilprice.com/E/A.html', "
                    "'Lithium output', '[]', 'b', '[]', '[]', false, 'h', 2, '2026-01-01 00:00:00', '2026-01-02 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO article_aliases (article_id, url, first_seen_at) VALUES (1, 'https://oilprice.com/E/B.html', '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO article_links (article_id, target_url, kind, anchor_text) VALUES (1, 'https://oilprice.com/E/C.html', 'related', '')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO article_versions (article_id, version, content_hash, fields, seen_at) VALUES (1, 1, 'h0', '{}', '2026-01-01 12:00:00')"
                )
            )
        migrate(engine)
        with engine.connect() as conn:
            counts = [
                conn.execute(text(f"select count(*) from {t}")).scalar()
                for t in ("article_aliases", "article_links", "article_versions")
            ]
            changed = conn.execute(text("select changed_at from articles")).scalar()
            hits = search(conn, "lithium", Selection())  # the index was built for stored rows
    finally:
        engine.dispose()
    assert [h.id for h in hits] == [1]
    assert counts == [1, 1, 1]
    assert str(changed).startswith("2026-01-01 12:00:00")  # its newest version's time


def test_declared_head_is_alembics_head() -> None:
    """The start-up fast path (no Alembic when the schema is current) reads the same head."""
    from oilnews.storage.schema import declared_head, head_revision

    assert declared_head() == head_revision()


def test_a_read_commands_statement_ends_at_its_timeout(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query a read command sends to PostgreSQL is cancelled past READ_STATEMENT_TIMEOUT_MS
    (statement_timeout): it ends, with an error, instead of running on after its client died."""
    database_url = postgres_url
    import time

    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from oilnews.storage import engine as engines

    database = Database(database_url)
    try:
        database.transaction(lambda conn: None)  # the schema, so the database exists
    finally:
        database.close()
    monkeypatch.setattr(engines, "READ_STATEMENT_TIMEOUT_MS", 300)
    reader = engines.create_db_engine(database_url, create_dirs=False)
    endless = "SELECT pg_sleep(30)"
    started = time.monotonic()
    try:
        with (
            reader.connect() as conn,
            pytest.raises(OperationalError, match="canceling statement due to statement timeout"),
        ):
            conn.execute(text(endless))
        with reader.connect() as conn:  # the next statement has its own time
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        reader.dispose()
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(("number", "code"), [(15, 143), (2, 130)])
def test_a_read_commands_sqlite_statement_stops_at_sigterm_and_ctrl_c(
    number: int, code: int, tmp_path: Path
) -> None:
    """SQLite runs a statement in C: without the read engine's signal check a SIGTERM waits for
    the statement (this one counts to 10^10: minutes). With it the statement ends at once and the
    CLI's exit is the signal's."""
    program = (
        "import signal, sys\n"
        "from oilnews import cli\n"
        "from oilnews.storage.engine import create_db_engine\n"
        "signal.signal(signal.SIGTERM, cli._terminated)\n"
        "signal.signal(signal.SIGINT, cli._terminated)\n"
        f"engine = create_db_engine('sqlite:///{tmp_path}/x.db', create_dirs=False)\n"
        "with engine.connect() as conn:\n"
        "    print('running', flush=True)\n"
        "    try:\n"
        "        conn.exec_driver_sql('with recursive n(i) as (select 1 union all select i + 1 from n '\n"
        "                             'where i < 10000000000) select count(*) from n').all()\n"
        "    except Exception:\n"
        "        sys.exit(cli._stopped_code())\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, text=True, cwd=ROOT
    ) as process:
        assert process.stdout is not None and process.stdout.readline() == "running\n"
        time.sleep(0.3)  # into the statement
        stopped = time.monotonic()
        process.send_signal(number)
        try:
            assert process.wait(timeout=10) == code
        finally:
            process.kill()
        assert time.monotonic() - stopped < 3


def test_a_write_to_a_device_or_pipe_goes_into_it_and_leaves_it_there(tmp_path: Path) -> None:
    """`--out /dev/null` or a named pipe: written into, never renamed over (as root, renaming
    over /dev/null replaced the device with a file)."""
    import os
    import stat
    import threading

    from oilnews.storage.files import write_atomically

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    write_atomically(pipe, lambda stream: stream.write(b"rows\n"))
    reader.join(timeout=10)
    assert received == [b"rows\n"]
    assert stat.S_ISFIFO(pipe.stat().st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]
    write_atomically(Path(os.devnull), lambda stream: stream.write(b"gone"))
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)
