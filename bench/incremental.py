"""Issue 3: a scheduled rerun over an unchanged 5,000-article site must be nearly free."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import crawl, write_section
from oilnews.replica.server import ReplicaServer

ARTICLES = 5000


def main() -> None:
    epoch = (datetime.now(UTC) - timedelta(days=70)).replace(microsecond=0)  # outside the refresh window
    with tempfile.TemporaryDirectory() as tmp, ReplicaServer(ARTICLES, epoch=epoch) as site:
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        spool = ["-s", f"OILNEWS_SPOOL_DIR={Path(tmp) / 'spool'}"]
        first = crawl(site.url, db, *spool)
        second = crawl(site.url, db, *spool)
    assert first.returncode == 0 and second.returncode == 0, "a benchmark crawl failed"
    r1, r2 = first.counts["requests"], second.counts["requests"]
    lines = [
        "| run | requests | articles new | skipped known | wall time (s) |",
        "|---|---:|---:|---:|---:|",
        f"| 1 (empty database) | {r1} | {first.counts['articles_new']} | {first.counts['skipped_known']} | {first.seconds:.1f} |",
        f"| 2 (nothing changed) | {r2} | {second.counts['articles_new']} | {second.counts['skipped_known']} | {second.seconds:.1f} |",
        "",
        f"run 2 / run 1: requests {r2 / r1:.2%} (target at most 2%), wall time {second.seconds / first.seconds:.2%}"
        " (target at most 5%).",
        f"Wall time is the whole `oilnews crawl` process, interpreter start-up and migrations check included"
        f" ({ARTICLES} articles, SQLite).",
    ]
    write_section("incremental", "Incremental rerun (issue 3)", "python -m bench incremental", lines)


if __name__ == "__main__":
    main()
