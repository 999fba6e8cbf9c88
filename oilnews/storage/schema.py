"""The schema's history: the Alembic revisions this oilnews carries, where a database stands,
the migration to the newest (one migrator at a time), and a database a newer oilnews upgraded."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, text

from oilnews.errors import DatabaseUnusable
from oilnews.logs import mask_secrets

_MIGRATION_LOCK_ID = 0x0111_4E45_5753  # PostgreSQL advisory lock key: one migrator at a time


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*['\"]([^'\"]*)['\"]", re.M)


def known_revisions() -> set[str]:
    """Every migration this oilnews carries, read from the files."""
    with _migrations_dir() as location:
        return {
            fields["revision"]
            for path in (location / "versions").glob("*.py")
            if "revision" in (fields := dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8"))))
        }


def newer_schema(url: str, revision: str | None) -> DatabaseUnusable | None:
    """The error for a database a newer oilnews upgraded (a revision this one does not know):
    nothing may be written to it, and migrating it backwards is not this version's to do."""
    if revision is None or revision in known_revisions():
        return None
    return DatabaseUnusable(
        f"{mask_secrets(url)} was upgraded by a newer oilnews (schema revision {revision}): "
        "install that version (or newer) to use it"
    )


def declared_head() -> str | None:
    """The newest migration, read from the files without loading Alembic (half a second of
    every crawl's start); None if the history is not one line (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    with _migrations_dir() as location:
        for path in (location / "versions").glob("*.py"):
            fields = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
            if "revision" in fields:
                revisions.add(fields["revision"])
                if fields.get("down_revision"):
                    parents.add(fields["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`, by default the newest (idempotent, safe with many workers)."""
    current = schema_revision(engine)
    if revision == "head" and (head := declared_head()) is not None and current == head:
        return  # up to date: nothing for Alembic to do
    newer = newer_schema(engine.url.render_as_string(hide_password=True), current)
    if newer is not None:
        raise newer
    from alembic import command
    from alembic.config import Config

    with _migrations_dir() as location, engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(location))
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision a database is at (None: no oilnews schema in it)."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    with _migrations_dir() as location:
        config = Config()
        config.set_main_option("script_location", str(location))
        head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@contextmanager
def _migrations_dir() -> Iterator[Path]:
    """The migrations as a real directory: Alembic lists files, and inside a scrapyd egg
    (a zip) there are none to list, so they are copied out first."""
    here = Path(__file__).with_name("migrations")
    if here.is_dir():
        yield here
        return
    source = resources.files("oilnews.storage") / "migrations"
    with tempfile.TemporaryDirectory(prefix="oilnews-migrations-") as tmp:
        target = Path(tmp)
        for folder in (source, source / "versions"):
            destination = target / folder.name if folder is not source else target
            destination.mkdir(exist_ok=True)
            for entry in folder.iterdir():
                if entry.is_file() and entry.name.endswith((".py", ".mako")):
                    (destination / entry.name).write_bytes(entry.read_bytes())
        yield target
