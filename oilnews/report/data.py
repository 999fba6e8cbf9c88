"""What `oilnews report` shows, read from the database: each part over its own window, the last
`days` days *of the data it has* (an archive crawled a year ago still has a report), unless the
person names the end of the window."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from oilnews.dates import utc_from_db
from oilnews.pages.mentions import KINDS
from oilnews.storage.models import articles_table, quotes_table, runs_table

LATEST = 50  # latest articles in the table


@dataclass
class Window:
    """[start, end) of one part of the report, and what its end is the newest of."""

    start: datetime
    end: datetime
    anchored_on: str  # "stored articles", "crawl runs", "price quotes", or "--until"

    def describe(self, days: int) -> str:
        last = f"{self.end - timedelta(microseconds=1):%Y-%m-%d}"
        return f"{self.start:%Y-%m-%d} to {last} (the last {days} days of the {self.anchored_on})"


@dataclass
class ReportData:
    days: int
    generated_at: datetime
    articles_window: Window
    runs_window: Window
    prices_window: Window
    articles_per_day: dict[str, Counter[date]] = field(default_factory=dict)  # section -> day -> n
    authors: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    # commodities / countries / companies -> name -> articles that mention it (pages.mentions)
    mentions: dict[str, Counter[str]] = field(default_factory=dict)
    runs: list[Any] = field(default_factory=list)
    prices: dict[str, list[tuple[datetime, float, str]]] = field(default_factory=dict)  # blend -> points
    latest_prices: list[Any] = field(default_factory=list)  # the newest quote of each blend
    latest: list[Any] = field(default_factory=list)
    total_articles: int = 0


def _window(
    conn: Connection, column: Any, days: int, until: datetime | None, what: str, now: datetime
) -> Window:
    if until is not None:
        return Window(until - timedelta(days=days), until, "--until")
    newest = utc_from_db(conn.execute(select(func.max(column))).scalar())
    if newest is None:
        return Window(now - timedelta(days=days), now, what)
    end = newest + timedelta(microseconds=1)  # the newest row inside [start, end)
    return Window(end - timedelta(days=days), end, what)


def collect(
    conn: Connection, days: int, until: datetime | None = None, now: datetime | None = None
) -> ReportData:
    now = now or datetime.now(UTC)
    a, q, r = articles_table, quotes_table, runs_table
    data = ReportData(
        days=days,
        generated_at=now,
        articles_window=_window(conn, a.c.published_at, days, until, "stored articles", now),
        runs_window=_window(conn, r.c.started_at, days, until, "crawl runs", now),
        prices_window=_window(conn, q.c.observed_at, days, until, "price quotes", now),
    )
    data.total_articles = int(conn.execute(select(func.count()).select_from(a)).scalar() or 0)
    per_day: dict[str, Counter[date]] = defaultdict(Counter)
    articles = data.articles_window
    data.mentions = {kind: Counter() for kind in KINDS}
    for published, section, authors, source, *named in conn.execute(
        select(a.c.published_at, a.c.section, a.c.authors, a.c.source, *(a.c[kind] for kind in KINDS)).where(
            a.c.published_at >= articles.start, a.c.published_at < articles.end
        )
    ):
        top_section = (section or "unknown").split("/")[0]
        per_day[top_section][utc_from_db(published).date()] += 1  # type: ignore[union-attr]
        data.authors.update(authors or [])
        data.sources[source or "unknown"] += 1
        for kind, names in zip(KINDS, named, strict=True):
            data.mentions[kind].update(list(names or {}))  # each name once an article (its keys)
    data.articles_per_day = dict(per_day)
    runs = data.runs_window
    data.runs = list(
        conn.execute(
            select(r).where(r.c.started_at >= runs.start, r.c.started_at < runs.end).order_by(r.c.started_at)
        )
    )
    prices = data.prices_window
    newest: dict[str, Any] = {}
    for row in conn.execute(
        select(q.c.name, q.c.observed_at, q.c.price, q.c.change, q.c.change_percent, q.c.source)
        .where(q.c.observed_at >= prices.start, q.c.observed_at < prices.end)
        .order_by(q.c.observed_at)
    ):
        observed = utc_from_db(row.observed_at)
        data.prices.setdefault(row.name, []).append((observed, float(row.price), row.source))  # type: ignore[arg-type]
        newest[row.name] = row
    data.latest_prices = [newest[name] for name in sorted(newest)]
    data.latest = list(
        conn.execute(
            select(a.c.url, a.c.title, a.c.published_at, a.c.section, a.c.authors)
            .order_by(a.c.published_at.desc().nulls_last(), a.c.id.desc())
            .limit(LATEST)
        )
    )
    return data
