"""`oilnews report`: one self-contained HTML page of what was collected and how the crawls went.

Charts are drawn by matplotlib and embedded as inline SVG with the text as paths, so the page
needs nothing from the network: no script, no style sheet, no font, no image. Sections:
articles per day by section, top authors and sources, crawl runs over time (unhealthy ones
marked with their reason), the price of each blend (one panel a unit: a barrel, a gallon, a
million BTU) with the latest quotes, and the latest articles. Each part covers the last `--days`
days of the data it has (oilnews.report.data), and says which. An empty database or a
short history gives a page that says so, not an error.
"""

from __future__ import annotations

import argparse
import html
import sys
from datetime import datetime
from pathlib import Path

from oilnews.cli import add_db, instant_of, reading
from oilnews.dates import utc_from_db
from oilnews.errors import ExitCode, UsageError
from oilnews.report.charts import CHART_IDS, CHARTS, svg
from oilnews.report.data import ReportData, collect
from oilnews.site import price_unit
from oilnews.storage.files import write_atomically


def _stamp(value: datetime | None) -> str:
    aware = utc_from_db(value)
    return aware.strftime("%Y-%m-%d %H:%M") if aware is not None else "-"


# --- page -----------------------------------------------------------------------------------
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:16px;color:#1a202c}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px;border-bottom:1px solid #e2e8f0}
.meta,.window{color:#4a5568}.window{font-size:12px;margin:0 0 6px}
.empty{color:#718096;font-style:italic;padding:12px;border:1px dashed #cbd5e0}
figure{margin:0}figure svg{width:100%;height:auto}table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #edf2f7;padding:4px 6px;text-align:left;vertical-align:top}
.bad{color:#c53030}.num{text-align:right}
"""


def _chart(chart_id: str, data: ReportData) -> str | None:
    figure = CHARTS[CHART_IDS.index(chart_id)](data)
    return None if figure is None else svg(figure)


def _section(title: str, chart_id: str, svg: str | None, window: str, empty: str) -> str:
    e = html.escape
    body = (
        f'<figure class="chart" id="{chart_id}">{svg}</figure>'
        if svg
        else f'<p class="empty" id="{chart_id}">{e(empty)}</p>'
    )
    return f"<h2>{e(title)}</h2><p class='window'>{e(window)}</p>{body}"


def _price_table(data: ReportData) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(q.name)}</td><td class='num'>{q.price:g}</td><td>{e(price_unit(q.name))}</td>"
        f"<td class='num'>{'' if q.change is None else f'{q.change:+g}'}</td>"
        f"<td class='num'>{'' if q.change_percent is None else f'{q.change_percent:+.2f}%'}</td>"
        f"<td>{e(_stamp(q.observed_at))}</td></tr>"
        for q in data.latest_prices
    )
    head = "<tr><th>blend</th><th>price</th><th>unit</th><th>change</th><th>change %</th><th>observed (UTC)</th></tr>"
    return f"<table id='latest-prices'>{head}{rows}</table>" if rows else ""


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
    days = data.days
    published = sum(sum(c.values()) for c in data.articles_per_day.values())
    articles_window = data.articles_window.describe(days)
    runs_window = data.runs_window.describe(days)
    prices_window = data.prices_window.describe(days)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>oilnews report {data.generated_at:%Y-%m-%d %H:%M} UTC</title><style>{STYLE}</style></head><body>",
        "<h1>oilnews report</h1>",
        f"<p class='meta'>{data.total_articles} articles stored; {published} published {e(articles_window)}; "
        f"{len(data.runs)} crawl runs ({len(unhealthy)} not healthy) {e(runs_window)}. "
        f"Generated {data.generated_at:%Y-%m-%d %H:%M} UTC.</p>",
        f"<ul>{failed}</ul>" if failed else "",
        _section(
            "Articles per day by section",
            CHART_IDS[0],
            _chart(CHART_IDS[0], data),
            articles_window,
            "No article stored yet: run oilnews crawl.",
        ),
        _section(
            "Top authors and sources",
            CHART_IDS[1],
            _chart(CHART_IDS[1], data),
            articles_window,
            "No article stored yet: run oilnews crawl.",
        ),
        _section(
            "Most mentioned: commodities, countries, companies",
            CHART_IDS[4],
            _chart(CHART_IDS[4], data),
            articles_window,
            "No article names a commodity, country or company of the gazetteer yet.",
        ),
        _section(
            "Crawl runs over time",
            CHART_IDS[2],
            _chart(CHART_IDS[2], data),
            runs_window,
            "No crawl run recorded yet.",
        ),
        _section(
            "Prices by blend",
            CHART_IDS[3],
            _chart(CHART_IDS[3], data),
            prices_window,
            "No price quote stored yet (the ticker is read from listing pages).",
        ),
        _price_table(data),
        "<h2>Latest articles</h2>",
        latest,
        "</body></html>",
    ]
    return "".join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--out", default="report.html", help="where to write it (default: report.html)")
    parser.add_argument(
        "--days",
        type=int,
        default=30,
        help="how many days each part covers (default: 30, its last 30 days of data)",
    )
    parser.add_argument(
        "--until",
        help="end of the window, YYYY-MM[-DD] or ISO 8601 (default: the newest of each part's data)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise UsageError(f"--days {args.days}: at least 1")
    until = instant_of(args, "until")
    with reading(args) as database:
        data = database.transaction(lambda conn: collect(conn, args.days, until))
    page = render(data).encode("utf-8")
    out = Path(args.out)
    write_atomically(out, lambda stream: stream.write(page))  # a reader never sees half a page
    print(
        f"oilnews: report of {data.articles_window.describe(args.days)} written to {out} ({len(page) // 1024} KiB)",
        file=sys.stderr,
    )
    return ExitCode.OK
