"""Every read command's answer over 100,000 stored articles (issue 28: "every query answers
within a second"), on SQLite and PostgreSQL.

The store is dataout's (the replica's articles through the batch writer) plus 2,000 crawl runs.
Each command runs in this process through `oilnews.cli.main(argv)` (what a person types, less
the interpreter's start-up), its output to a scratch file, five times: the median and the
slowest are reported. The searches include the bounds' worst case: 16 different common words,
each OR'ed, and a query of 500 characters.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from bench.common import on_both_databases, write_section
from bench.dataout import ARTICLES, fill

RUNS = 2_000
REPEAT = 5
COMMON = (
    "oil gas crude prices energy market output demand supply production exports imports china us russia opec"
)


def add_runs(db: str) -> None:
    from sqlalchemy import insert

    from oilnews.storage.database import Database
    from oilnews.storage.models import runs_table

    start = datetime(2023, 1, 1, tzinfo=UTC)
    rows = [
        {
            "spider": "news",
            "site_url": "https://oilprice.com",
            "started_at": start + timedelta(minutes=30 * i),
            "finished_at": start + timedelta(minutes=30 * i + 3),
            "status": "finished" if i % 50 else "failed",
            "finish_reason": "finished",
            "counts": {"articles_new": i % 40, "errors": 0},
            "health": {"ok": bool(i % 50), "failures": [] if i % 50 else ["too many errors"]},
            "stats": {"downloader/request_count": 120},
        }
        for i in range(RUNS)
    ]
    database = Database(db)
    try:
        database.transaction(lambda conn: conn.execute(insert(runs_table), rows))
    finally:
        database.close()


def commands(db: str, out: str) -> list[tuple[str, list[str]]]:
    from oilnews.replica.content import Catalogue

    article = Catalogue(ARTICLES).article(ARTICLES // 2)
    url = f"https://oilprice.com{article.path}"
    return [
        ("search: one common word", ["search", "oil", "--db", db]),
        ("search: a title's words", ["search", article.title, "--db", db]),
        ("search: oil OR gas, 1000 hits", ["search", "oil OR gas", "--db", db, "--limit", "1000"]),
        ('search: "a phrase" -word', ["search", '"crude exports" -china', "--db", db]),
        ("search: prefix*", ["search", "refin*", "--db", db]),
        ("search: 16 common words OR'ed", ["search", " OR ".join(COMMON.split()), "--db", db]),
        ("search: 500 characters", ["search", ("oil gas crude " * 40)[:500], "--db", db]),
        (
            "search: with --section and --since",
            ["search", "gas", "--section", "Energy", "--since", "2023-02", "--db", db],
        ),
        ("show: by URL, with --links --versions", ["show", url, "--links", "--versions", "--db", db]),
        ("runs: latest 20 of 2,000", ["runs", "--db", db]),
        ("runs: --limit 1000 --json", ["runs", "--limit", "1000", "--json", "--db", db]),
        ("status", ["status", "--db", db]),
        ("report: the whole page", ["report", "--db", db, "--out", out]),
        ("export: --query brent, JSONL", ["export", "--query", "brent", "--db", db, "--out", out]),
        (
            "export: --author, --section",
            ["export", "--author", article.author, "--section", "Energy", "--db", db, "--out", out],
        ),
    ]


def measure(argv: list[str]) -> tuple[float, float, int]:
    from oilnews.cli import main

    timings, code = [], 0
    for _ in range(REPEAT):
        sink = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        started = time.perf_counter()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
            code = main(argv)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), max(timings), code


def report_queries(db: str) -> tuple[float, float]:
    """The report's database work alone (oilnews.report.data.collect); its charts are matplotlib's."""
    from oilnews.report.data import collect
    from oilnews.storage.database import open_for_reading

    database = open_for_reading(db)
    timings = []
    try:
        for _ in range(REPEAT):
            started = time.perf_counter()
            database.transaction(lambda conn: collect(conn, 30))
            timings.append(time.perf_counter() - started)
    finally:
        database.close()
    return statistics.median(timings), max(timings)


def run(name: str, db: str) -> list[str]:
    started = time.perf_counter()
    fill(db)
    add_runs(db)
    print(
        f"{name}: filled {ARTICLES} articles and {RUNS} runs in {time.perf_counter() - started:.0f}s",
        file=sys.stderr,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        measure(["runs", "--db", db])  # the first command pays the imports: not a query's cost
        for label, argv in commands(db, out):
            median, slowest, code = measure(argv)
            rows.append(f"| {name} | {label} | {median * 1000:,.0f} | {slowest * 1000:,.0f} | {code} |")
    median, slowest = report_queries(db)
    rows.append(f"| {name} | report: its queries alone | {median * 1000:,.0f} | {slowest * 1000:,.0f} | |")
    return rows


def main() -> None:
    lines = [
        f"{ARTICLES:,} replica articles and {RUNS:,} crawl runs stored; each command through "
        f"`oilnews.cli.main(argv)` in one process, {REPEAT} times (output to a file; start-up not counted).",
        "",
        "| database | command | median (ms) | slowest (ms) | exit |",
        "|---|---|---:|---:|---:|",
    ]
    lines += on_both_databases(run, "queries.db")
    lines += ["", f"Target: every command within 1 s (1,000 ms). ({datetime.now(UTC):%Y-%m-%d})"]
    write_section(
        "queries", "Every read command over 100,000 articles (issue 28)", "python -m bench queries", lines
    )
