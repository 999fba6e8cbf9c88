"""`crawl_runs`: one row per crawl, opened as running, closed with counts, health and stats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from oilnews.health import ABANDONED, RUNNING
from oilnews.storage.models import runs_table, utcnow


def abandon_stale_runs(conn: Connection, older_than: datetime) -> int:
    """Runs still 'running' long after they started (a watcher: after its last heartbeat)
    were killed: say so."""
    r = runs_table
    alive_at = func.coalesce(r.c.heartbeat_at, r.c.started_at)
    result = conn.execute(
        update(r).where(r.c.status == RUNNING, alive_at < older_than).values(status=ABANDONED)
    )
    return int(result.rowcount or 0)


def recent_runs(conn: Connection, limit: int | None = None) -> list[Any]:
    """crawl_runs rows, newest first, with their JSON columns decoded on every database."""
    query = select(runs_table).order_by(runs_table.c.id.desc())
    return list(conn.execute(query if limit is None else query.limit(limit)))


def start_run(
    conn: Connection, spider: str, site_url: str, run_group: str | None = None, worker: str | None = None
) -> int:
    result = conn.execute(
        insert(runs_table)
        .values(
            spider=spider,
            site_url=site_url,
            run_group=run_group,
            worker=worker,
            started_at=utcnow(),
            status=RUNNING,
            counts={},
            health={},
            stats={},
        )
        .returning(runs_table.c.id)
    )
    return int(result.scalar_one())


def finish_run(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(update(runs_table).where(runs_table.c.id == run_id).values(**values))


def heartbeat_run(
    conn: Connection, run_id: int, at: datetime, counts: dict[str, Any], health: dict[str, Any]
) -> None:
    """A running watcher is alive: its counts so far, and in `health` its polling state and
    heartbeat interval (replaced by the verdict when it ends)."""
    conn.execute(
        update(runs_table)
        .where(runs_table.c.id == run_id, runs_table.c.status == "running")
        .values(heartbeat_at=at, counts=counts, health=health)
    )


def latest_run(conn: Connection, spider: str) -> Any:
    """The newest run of one spider (`watch`: the watcher), or None."""
    r = runs_table
    return conn.execute(select(r).where(r.c.spider == spider).order_by(r.c.id.desc()).limit(1)).first()
