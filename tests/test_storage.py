"""Schema: the Alembic migrations produce exactly the ORM models, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from oilnews.logs import mask_secrets
from oilnews.storage.database import Database
from oilnews.storage.engine import normalize_database_url
from oilnews.storage.models import Base


def test_migrations_match_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        database.transaction(lambda conn: None)  # migrates
        with database.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
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
