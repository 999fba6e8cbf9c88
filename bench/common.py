"""Shared by the benchmarks: machine description, timed crawls, the results file."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oilnews.cli.crawl import crawl_argv

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


@dataclass
class CrawlResult:
    seconds: float
    returncode: int
    stats: dict[str, Any]
    counts: dict[str, Any]
    peak_rss_mb: float | None = None  # the crawler process's own peak (its stats)
    # /usr/bin/time's figure: the largest process of the tree it waited for, which is Chromium's
    # (or Playwright's driver) when a page was rendered, not the crawler's.
    tree_peak_rss_mb: float | None = None


def crawl(site: str, db: str, *extra: str, env: dict[str, str] | None = None) -> CrawlResult:
    """`oilnews crawl` in a fresh process, timed; stats read back from its crawl_runs row."""
    started = time.perf_counter()
    process = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *crawl_argv(site, db, *extra)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    seconds = time.perf_counter() - started
    peak = None
    last = process.stderr.strip().splitlines()[-1:] or [""]
    if last[0].isdigit():
        peak = int(last[0]) / 1024
    stats, counts = last_run(db)
    own = stats.get("oilnews/peak_rss_bytes")
    return CrawlResult(seconds, process.returncode, stats, counts, own / 2**20 if own else None, peak)


def last_run(db: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(stats, counts) of the newest crawl_runs row."""
    from oilnews.storage.database import Database
    from oilnews.storage.runs import recent_runs

    database = Database(db)
    try:
        (row,) = database.transaction(lambda conn: recent_runs(conn, 1))
    finally:
        database.close()
    return row.stats, row.counts


def write_section(name: str, title: str, command: str, lines: list[str]) -> None:
    """Replace (or add) this benchmark's section in bench/RESULTS.md and print it."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"## {title}", "", f"Measured {stamp} on {machine()}.", f"Command: `{command}`", "", *lines, ""]
    block = f"<!-- bench:{name} -->\n" + "\n".join(body) + f"<!-- /bench:{name} -->"
    print("\n".join(body))
    text = (
        RESULTS.read_text()
        if RESULTS.exists()
        else (
            "# Benchmark results\n\nEvery figure below was measured by `python -m bench`, side by side in one run on"
            " the machine named in its section. Re-run to refresh a section; the others stay.\n"
        )
    )
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
    text = (
        pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    )
    RESULTS.write_text(text)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL (OILNEWS_BENCH_POSTGRES_URL), dropped after."""
    import uuid

    from sqlalchemy import create_engine, text

    admin_url = os.environ.get("OILNEWS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"oilnews_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def on_both_databases(run: Callable[[str, str], list[str]], file_name: str) -> list[str]:
    """`run(name, url)`'s table rows on a scratch SQLite file, then on a fresh PostgreSQL database."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = run("SQLite", f"sqlite:///{tmp}/{file_name}")
    with postgres_database() as url:
        rows += run("PostgreSQL", url)
    return rows
