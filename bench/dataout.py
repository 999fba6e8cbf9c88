"""Export throughput and memory, and search latency, over 100,000 stored articles (issue 13).

The articles are the replica's (its catalogue, cleaned as a crawl would), written straight
through the batch writer: this measures getting data out, not crawling it in. Export runs as
`oilnews export` in its own process (peak RSS from /usr/bin/time, RSS sampled over the run
for flatness) against a bare SQLAlchemy streaming SELECT of the same rows, doing nothing with
them; search runs 50 queries of body words and reports p50/p95.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, on_both_databases, write_section

ARTICLES = int(os.environ.get("OILNEWS_BENCH_DATAOUT_ARTICLES", "100000"))
QUERIES = 50


def fill(db: str) -> None:
    from oilnews.items import ArticleItem
    from oilnews.pipelines.clean import clean_article
    from oilnews.replica.content import Catalogue
    from oilnews.storage.database import Database
    from oilnews.storage.models import ARTICLE_FIELDS
    from oilnews.storage.writer import write_batch

    catalogue = Catalogue(ARTICLES)
    database = Database(db)
    try:
        for start in range(0, ARTICLES, 2000):
            rows = []
            for i in range(start, min(ARTICLES, start + 2000)):
                a = catalogue.article(i)
                item = clean_article(
                    ArticleItem(
                        url=f"https://oilprice.com{a.path}",
                        title=a.title,
                        authors=[a.author],
                        published_at=a.published,
                        section=a.section,
                        body="\n\n".join(a.paragraphs),
                        keywords=list(a.keywords),
                    )
                )
                row: dict[str, Any] = {name: getattr(item, name) for name in ARTICLE_FIELDS}
                row["links"] = []
                rows.append(row)
            database.transaction(lambda conn, rows=rows: write_batch(conn, rows))
    finally:
        database.close()


def bare_select(db: str) -> float:
    """Seconds to stream every article row with SQLAlchemy and drop it."""
    from sqlalchemy import select

    from oilnews.storage.engine import create_db_engine
    from oilnews.storage.models import articles_table
    from oilnews.storage.tables import ARTICLE_COLUMNS

    engine = create_db_engine(db)
    try:
        started = time.perf_counter()
        with engine.connect() as conn:
            statement = select(*(articles_table.c[n] for n in ARTICLE_COLUMNS)).order_by(articles_table.c.id)
            for _row in conn.execution_options(stream_results=True, yield_per=2000).execute(statement):
                pass
        return time.perf_counter() - started
    finally:
        engine.dispose()


def export_in_process(db: str, fmt: str) -> float:
    """Seconds for oilnews.cli.export.export of every article to a file, in this process."""
    from oilnews.cli.export import export
    from oilnews.storage.engine import create_db_engine
    from oilnews.storage.selection import Selection

    engine = create_db_engine(db)
    try:
        with tempfile.TemporaryDirectory() as tmp, engine.connect() as conn:
            started = time.perf_counter()
            export(conn, "articles", fmt, Path(tmp) / f"articles.{fmt}", Selection(), progress=False)
            return time.perf_counter() - started
    finally:
        engine.dispose()


def export_run(db: str, fmt: str) -> tuple[float, float, list[float]]:
    """(seconds, peak RSS MB, RSS samples MB) of `oilnews export --format fmt` to a file."""
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"articles.{fmt}"
        started = time.perf_counter()
        process = subprocess.Popen(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                sys.executable,
                "-m",
                "oilnews.cli",
                "export",
                "--db",
                db,
                "--format",
                fmt,
                "--out",
                str(out),
            ],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        samples: list[float] = []
        child = None
        while process.poll() is None:
            try:
                child = child or psutil.Process(process.pid).children()[0]
                samples.append(child.memory_info().rss / 2**20)
            except (IndexError, psutil.Error):
                pass
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        assert process.stderr is not None
        err = process.stderr.read()
        if process.returncode:
            raise RuntimeError(err)
        peak = int(err.strip().splitlines()[-1]) / 1024
    return seconds, peak, samples


def search_latency(db: str) -> tuple[float, float, int]:
    from oilnews.replica.content import Catalogue
    from oilnews.storage.database import Database
    from oilnews.storage.search import search
    from oilnews.storage.selection import Selection

    catalogue = Catalogue(ARTICLES)
    queries = [
        " ".join(catalogue.article(i * (ARTICLES // QUERIES)).paragraphs[1].split()[2:5])
        for i in range(QUERIES)
    ]
    database = Database(db)
    timings: list[float] = []
    hits = 0
    try:
        database.transaction(lambda conn: search(conn, queries[0], Selection()))  # warm the cache once
        for q in queries:
            started = time.perf_counter()
            hits += len(database.transaction(lambda conn, q=q: search(conn, q, Selection())))
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        database.close()
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], hits


def run(name: str, db: str) -> list[str]:
    started = time.perf_counter()
    fill(db)
    filled = time.perf_counter() - started
    bare = bare_select(db)
    rows = []
    for fmt in ("jsonl", "csv", "parquet"):
        inside = export_in_process(db, fmt)
        seconds, peak, samples = export_run(db, fmt)
        half = samples[len(samples) // 2 :] or [0.0]
        rows.append(
            f"| {name} | {fmt} | {ARTICLES / inside:,.0f} | {ARTICLES / bare:,.0f} | {bare / inside:.2f} | "
            f"{seconds:.1f} | {peak:.0f} | {min(half):.0f}-{max(half):.0f} |"
        )
    p50, p95, hits = search_latency(db)
    rows.append(
        f"| {name} | search | p50 {p50:.1f} ms, p95 {p95:.1f} ms ({QUERIES} queries, {hits} hits) | | | | |"
    )
    print(f"{name}: filled {ARTICLES} articles in {filled:.0f}s", file=sys.stderr)
    return rows


def main() -> None:
    lines = [
        f"{ARTICLES:,} replica articles (about 3 KiB of body each) stored, then exported to a file.",
        "Rows/s: `oilnews.cli.export.export` in the benchmark process against a bare SQLAlchemy streaming SELECT",
        "of the same columns that does nothing with the rows. Wall and RSS: the `oilnews export` command in",
        "its own process (start-up included): peak (/usr/bin/time) and the range sampled over the second",
        "half of the run (flat means constant memory).",
        "",
        "| database | format | export rows/s | bare SELECT rows/s | export / bare | command wall (s) | peak RSS (MB) | RSS 2nd half (MB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += on_both_databases(run, "dataout.db")
    lines += [
        "",
        f"Target: export at least half the bare SELECT's speed, flat memory. ({datetime.now(UTC):%Y-%m-%d})",
    ]
    write_section(
        "dataout", "Export and search over 100,000 articles (issue 13)", "python -m bench dataout", lines
    )
