"""Schema: the Alembic migrations produce exactly the ORM models, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from oilnews.storage.db import Database, mask_secrets, normalize_database_url
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
