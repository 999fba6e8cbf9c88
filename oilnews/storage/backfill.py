"""`backfill_months`: which months of the archive a sliced backfill has completed.

A month is complete when every article its monthly sitemap lists is stored (or was answered
gone or dropped with its reason in the run that checked it). Only a run that closed normally
marks months complete, after the store pipeline flushed: a killed run leaves its months
incomplete, and the next run checks them again (stored articles are skipped as known).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from oilnews.storage.models import aliases_table, articles_table, backfill_table, utcnow
from oilnews.storage.sql import insert_for, one_of

Month = tuple[int, int]


def ensure_months(conn: Connection, months: Iterable[Month]) -> None:
    rows = [{"year": y, "month": m, "status": "pending", "articles": 0, "seconds": 0.0} for y, m in months]
    if rows:
        conn.execute(
            insert_for(conn, backfill_table).on_conflict_do_nothing(index_elements=["year", "month"]), rows
        )


def incomplete_months(conn: Connection, since: Month) -> list[Month]:
    """Months from `since` on that are not complete, oldest first."""
    b = backfill_table
    query = (
        select(b.c.year, b.c.month)
        .where(b.c.status != "complete", (b.c.year * 100 + b.c.month) >= since[0] * 100 + since[1])
        .order_by(b.c.year, b.c.month)
    )
    return [(int(y), int(m)) for y, m in conn.execute(query)]


def stored_urls(conn: Connection, urls: list[str]) -> set[str]:
    """Which of `urls` are stored, as articles or as aliases of one."""
    found: set[str] = set()
    for column in (articles_table.c.url, aliases_table.c.url):
        for where in one_of(conn, column, urls):
            found.update(u for (u,) in conn.execute(select(column).where(where)))
    return found


def record_month(
    conn: Connection, month: Month, seconds: float, articles: int | None, complete: bool
) -> None:
    b = backfill_table
    values: dict[str, Any] = {"seconds": b.c.seconds + seconds, "updated_at": utcnow()}
    if articles is not None:
        values["articles"] = articles
    if complete:
        values.update(status="complete", completed_at=utcnow())
    conn.execute(update(b).where(b.c.year == month[0], b.c.month == month[1]).values(**values))


@dataclass
class BackfillProgress:
    since: Month | None
    wanted: int
    done: int
    articles_listed: int  # in the sitemaps of the months checked so far
    seconds: float  # spent on the archive, all runs together
    last_completed_at: datetime | None

    @property
    def eta_seconds(self) -> float | None:
        """Time left at the rate measured so far (seconds per completed month)."""
        if not self.done or self.done >= self.wanted:
            return None if not self.done else 0.0
        return self.seconds / self.done * (self.wanted - self.done)


def progress(conn: Connection) -> BackfillProgress:
    b = backfill_table
    first = conn.execute(select(b.c.year, b.c.month).order_by(b.c.year, b.c.month).limit(1)).first()
    wanted, done, listed, seconds, last = conn.execute(
        select(
            func.count(),
            func.count().filter(b.c.status == "complete"),
            func.coalesce(func.sum(b.c.articles), 0),
            func.coalesce(func.sum(b.c.seconds), 0.0),
            func.max(b.c.completed_at),
        )
    ).one()
    return BackfillProgress(
        (int(first[0]), int(first[1])) if first else None,
        int(wanted),
        int(done),
        int(listed),
        float(seconds),
        last,
    )


def articles_published_since(conn: Connection, since: Month | None) -> int:
    """Articles stored whose publication is in month `since` or later (all of them for None):
    what `oilnews status` sets against the backfill's months."""
    query = select(func.count()).select_from(articles_table)
    if since is not None:
        query = query.where(articles_table.c.published_at >= datetime(since[0], since[1], 1, tzinfo=UTC))
    return int(conn.execute(query).scalar() or 0)
