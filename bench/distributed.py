"""Issue 7.5: two scrapy-redis workers vs one on the same replica, into PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import ROOT, postgres_database, write_section
from oilnews.replica.server import ReplicaServer

ARTICLES = 4000
REDIS_URL = os.environ.get("OILNEWS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def run_workers(site: str, db: str, workers: int, tmp: Path) -> float:
    env = {
        **os.environ,
        "OILNEWS_REDIS_URL": REDIS_URL,
        "OILNEWS_REDIS_GENERATION": f"bench-{uuid.uuid4().hex[:8]}",
        "OILNEWS_SPOOL_DIR": str(tmp / "spool"),
    }
    command = [sys.executable, "-m", "oilnews.cli", "crawl", "--site", site, "--db", db, "--quiet"]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL) for _ in range(workers)
    ]
    codes = [p.wait() for p in processes]
    assert codes == [0] * workers, codes
    return time.perf_counter() - started


def main() -> None:
    from sqlalchemy import text

    from oilnews.storage.engine import create_db_engine

    timings = {}
    with tempfile.TemporaryDirectory() as tmp, ReplicaServer(ARTICLES) as site:
        for workers in (1, 2):
            with postgres_database() as db:
                timings[workers] = run_workers(site.url, db, workers, Path(tmp))
                engine = create_db_engine(db)
                with engine.connect() as conn:
                    stored = conn.execute(text("select count(*) from articles")).scalar()
                engine.dispose()
                assert stored == ARTICLES, stored
    lines = [
        f"A {ARTICLES:,}-article replica crawled into PostgreSQL through the local Redis, wall time from",
        "the workers' start to the last one's exit. The replica, Redis, PostgreSQL and the workers share",
        f"this machine's {os.cpu_count()} cores, so the workers compete with the site they crawl.",
        "",
        "| workers | wall time (s) | articles/s |",
        "|---:|---:|---:|",
        *(f"| {w} | {t:.1f} | {ARTICLES / t:.0f} |" for w, t in timings.items()),
        "",
        f"Speed-up of two workers over one: {timings[1] / timings[2]:.2f}x.",
    ]
    write_section(
        "distributed", "Two workers vs one through Redis (issue 7.5)", "python -m bench distributed", lines
    )


if __name__ == "__main__":
    main()
