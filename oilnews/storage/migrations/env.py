"""Alembic environment: runs on the connection oilnews passes in, or on OILNEWS_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from oilnews.storage.engine import create_db_engine
from oilnews.storage.models import Base
from oilnews.storage.search import is_index_object

target_metadata = Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """The full-text index is the database's own (triggers, a generated column), not a model."""
    return not is_index_object(name)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get(
        "OILNEWS_DATABASE_URL", "sqlite:///oilnews.db"
    )
    engine = create_db_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
