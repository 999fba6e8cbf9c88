"""`oilnews report`: one self-contained HTML page of what was collected and how the crawls went.

Charts are drawn by matplotlib and embedded as inline SVG with the text as paths, so the page
needs nothing from the network: no script, no style sheet, no font, no image. Sections:
articles per day by section, top authors and sources, crawl runs over time (unhealthy ones
marked with their reason), the price history of each blend (ticker and chart points), and the
latest articles. An empty database or a short history gives a page that says so, not an error.
"""

from __future__ import annotations

import argparse
import html
import io
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from oilnews.cli import add_db, reading
from oilnews.dates import utc_from_db
from oilnews.errors import ExitCode, UsageError
from oilnews.storage.files import write_atomically
from oilnews.storage.models import articles_table, quotes_table, runs_table

TOP = 10  # authors, sources, sections shown by name (the rest are "other")
LATEST = 50  # latest articles in the table
CHART_IDS = ("articles-per-day", "authors-sources", "crawl-runs", "prices")


@dataclass
class ReportData:
    days: int
    generated_at: datetime
    since: datetime
    articles_per_day: dict[str, Counter[date]] = field(default_factory=dict)  # section -> day -> n
    authors: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    runs: list[Any] = field(default_factory=list)
    prices: dict[str, list[tuple[datetime, float, str]]] = field(default_factory=dict)  # blend -> points
    latest: list[Any] = field(default_factory=list)
    total_articles: int = 0


def _stamp(value: datetime | None) -> str:
    aware = utc_from_db(value)
    return aware.strftime("%Y-%m-%d %H:%M") if aware is not None else "-"


def collect(conn: Connection, days: int, now: datetime | None = None) -> ReportData:
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    data = ReportData(days=days, generated_at=now, since=since)
    a, q, r = articles_table, quotes_table, runs_table
    data.total_articles = int(conn.execute(select(func.count()).select_from(a)).scalar() or 0)
    per_day: dict[str, Counter[date]] = defaultdict(Counter)
    for published, section, authors, source in conn.execute(
        select(a.c.published_at, a.c.section, a.c.authors, a.c.source).where(a.c.published_at >= since)
    ):
        top_section = (section or "unknown").split("/")[0]
        per_day[top_section][utc_from_db(published).date()] += 1  # type: ignore[union-attr]
        data.authors.update(authors or [])
        data.sources[source or "unknown"] += 1
    data.articles_per_day = dict(per_day)
    data.runs = list(conn.execute(select(r).where(r.c.started_at >= since).order_by(r.c.started_at)))
    for name, observed, price, source in conn.execute(
        select(q.c.name, q.c.observed_at, q.c.price, q.c.source)
        .where(q.c.observed_at >= since)
        .order_by(q.c.observed_at)
    ):
        data.prices.setdefault(name, []).append((utc_from_db(observed), float(price), source))  # type: ignore[arg-type]
    data.latest = list(
        conn.execute(
            select(a.c.url, a.c.title, a.c.published_at, a.c.section, a.c.authors)
            .order_by(a.c.published_at.desc().nulls_last(), a.c.id.desc())
            .limit(LATEST)
        )
    )
    return data


# --- charts ---------------------------------------------------------------------------------
def _figure(height: float = 3.6) -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display; SVG out
    matplotlib.rcParams["svg.fonttype"] = "path"  # text as outlines: no font to load
    matplotlib.rcParams["svg.hashsalt"] = "oilnews"  # stable ids: the same data, the same page
    # Labels come from pages (author names, sources, sections): `$...$` in one is text, never
    # mathtext, which would fail on `$\\notacommand$` and could render anything.
    matplotlib.rcParams["text.parse_math"] = False
    from matplotlib.figure import Figure

    return Figure(figsize=(9.5, height), layout="constrained")


def _svg(figure: Any) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # inline: drop the XML declaration and doctype


def chart_articles_per_day(data: ReportData) -> str | None:
    if not data.articles_per_day:
        return None
    days = sorted({d for counts in data.articles_per_day.values() for d in counts})
    totals = Counter({s: sum(c.values()) for s, c in data.articles_per_day.items()})
    shown = [s for s, _ in totals.most_common(TOP)]
    figure = _figure()
    ax = figure.add_subplot()
    bottom = [0] * len(days)
    for section in shown:
        values = [data.articles_per_day[section].get(d, 0) for d in days]
        ax.bar(days, values, bottom=bottom, label=section, width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title("Articles per day by section")
    ax.set_ylabel("articles")
    ax.legend(fontsize=7, ncols=2)
    figure.autofmt_xdate()
    return _svg(figure)


def chart_authors_sources(data: ReportData) -> str | None:
    if not data.authors and not data.sources:
        return None
    figure = _figure(4.2)
    for position, (title, counts) in enumerate(
        (("Top authors", data.authors), ("Top sources", data.sources)), 1
    ):
        ax = figure.add_subplot(1, 2, position)
        top = counts.most_common(TOP)[::-1]
        ax.barh(
            [name for name, _ in top], [n for _, n in top], color="#2b6cb0" if position == 1 else "#c05621"
        )
        ax.set_title(title)
        ax.tick_params(axis="y", labelsize=7)
    return _svg(figure)


def chart_runs(data: ReportData) -> str | None:
    if not data.runs:
        return None
    figure = _figure(4.4)
    top, bottom = figure.subplots(2, 1, sharex=True)
    starts = [utc_from_db(r.started_at) for r in data.runs]
    durations = [
        ((utc_from_db(r.finished_at) - utc_from_db(r.started_at)).total_seconds() if r.finished_at else 0.0)  # type: ignore[operator]
        for r in data.runs
    ]
    top.plot(starts, durations, marker="o", color="#2b6cb0", label="duration (s)")
    bad = [(s, d, r) for s, d, r in zip(starts, durations, data.runs, strict=True) if r.status != "finished"]
    if bad:
        top.scatter(
            [s for s, _, _ in bad],
            [d for _, d, _ in bad],
            color="#c53030",
            zorder=3,
            s=60,
            label="unhealthy / failed",
        )
        for s, d, r in bad:
            reason = "; ".join((r.health or {}).get("failures") or [r.finish_reason or r.status])
            top.annotate(
                reason[:60], (s, d), fontsize=6, color="#c53030", xytext=(4, 6), textcoords="offset points"
            )
    top.set_title("Crawl runs")
    top.set_ylabel("seconds")
    top.legend(fontsize=7)
    counts = [r.counts or {} for r in data.runs]
    bottom.plot(starts, [c.get("articles_new", 0) for c in counts], marker=".", label="new")
    bottom.plot(starts, [c.get("articles_updated", 0) for c in counts], marker=".", label="updated")
    bottom.plot(starts, [c.get("errors", 0) for c in counts], marker=".", color="#c53030", label="errors")
    bottom.set_ylabel("articles / errors")
    bottom.legend(fontsize=7)
    figure.autofmt_xdate()
    return _svg(figure)


def chart_prices(data: ReportData) -> str | None:
    if not data.prices:
        return None
    figure = _figure(4.0)
    ax = figure.add_subplot()
    for name, points in sorted(data.prices.items()):
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="." if len(points) < 50 else None,
            label=name,
        )
    ax.set_title("Oil prices (ticker and chart)")
    ax.set_ylabel("USD")
    ax.legend(fontsize=7, ncols=3)
    figure.autofmt_xdate()
    return _svg(figure)


# --- page -----------------------------------------------------------------------------------
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1000px;padding:16px;color:#1a202c}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e2e8f0}
.meta{color:#4a5568}.empty{color:#718096;font-style:italic;padding:12px;border:1px dashed #cbd5e0}
figure{margin:0}figure svg{width:100%;height:auto}table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #edf2f7;padding:4px 6px;text-align:left;vertical-align:top}
.bad{color:#c53030}.num{text-align:right}
"""


def _section(title: str, chart_id: str, svg: str | None, empty: str) -> str:
    body = (
        f'<figure class="chart" id="{chart_id}">{svg}</figure>'
        if svg
        else f'<p class="empty" id="{chart_id}">{html.escape(empty)}</p>'
    )
    return f"<h2>{html.escape(title)}</h2>{body}"


def render(data: ReportData) -> str:
    e = html.escape
    unhealthy = [r for r in data.runs if r.status != "finished"]
    rows = "".join(
        f"<tr><td>{e(_stamp(row.published_at))}</td>"
        f'<td><a href="{e(row.url)}">{e(row.title)}</a></td><td>{e(row.section or "")}</td>'
        f"<td>{e(', '.join(row.authors or []))}</td></tr>"
        for row in data.latest
    )
    latest = (
        f"<table><tr><th>published (UTC)</th><th>title</th><th>section</th><th>authors</th></tr>{rows}</table>"
        if rows
        else '<p class="empty">No article stored yet: run <code>oilnews crawl</code>.</p>'
    )
    failed = "".join(
        f"<li class='bad'>run {r.id} at {e(_stamp(r.started_at))}: "
        f"{e('; '.join((r.health or {}).get('failures') or [r.finish_reason or r.status]))}</li>"
        for r in unhealthy
    )
    window = f"last {data.days} days (since {data.since:%Y-%m-%d %H:%M} UTC)"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>oilnews report {data.generated_at:%Y-%m-%d %H:%M} UTC</title><style>{STYLE}</style></head><body>",
        "<h1>oilnews report</h1>",
        f"<p class='meta'>{data.total_articles} articles stored; {window}: "
        f"{sum(sum(c.values()) for c in data.articles_per_day.values())} published, {len(data.runs)} crawl runs "
        f"({len(unhealthy)} unhealthy or failed). Generated {data.generated_at:%Y-%m-%d %H:%M} UTC.</p>",
        f"<ul>{failed}</ul>" if failed else "",
        _section(
            "Articles per day by section",
            CHART_IDS[0],
            chart_articles_per_day(data),
            f"No article published in the {window}.",
        ),
        _section(
            "Top authors and sources", CHART_IDS[1], chart_authors_sources(data), "No authors or sources yet."
        ),
        _section("Crawl runs over time", CHART_IDS[2], chart_runs(data), f"No crawl run in the {window}."),
        _section(
            "Price history by blend", CHART_IDS[3], chart_prices(data), f"No price quote in the {window}."
        ),
        "<h2>Latest articles</h2>",
        latest,
        "</body></html>",
    ]
    return "".join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--out", default="report.html", help="where to write it (default: report.html)")
    parser.add_argument("--days", type=int, default=30, help="how far back the charts go (default: 30)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise UsageError(f"--days {args.days}: at least 1")
    with reading(args) as database:
        data = database.transaction(lambda conn: collect(conn, args.days))
    page = render(data).encode("utf-8")
    out = Path(args.out)
    write_atomically(out, lambda stream: stream.write(page))  # a reader never sees half a page
    print(
        f"oilnews: report of the last {args.days} days written to {out} ({len(page) // 1024} KiB)",
        file=sys.stderr,
    )
    return ExitCode.OK
