"""Alembic environment: runs on the connection oilnews passes in, or on OILNEWS_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from oilnews.storage.engine import create_db_engine
from oilnews.storage.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
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
