"""Issue 7.4: memory over a 20,000-article crawl must stay flat (target under 300 MB)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.common import ROOT, last_run, write_section
from oilnews.replica.server import ReplicaServer

ARTICLES = 20_000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ReplicaServer(ARTICLES) as site:
        db = f"sqlite:///{Path(tmp) / 'memory.db'}"
        command = [
            sys.executable,
            "-m",
            "oilnews.cli",
            "crawl",
            "--site",
            site.url,
            "--db",
            db,
            "--quiet",
            "-s",
            f"OILNEWS_SPOOL_DIR={Path(tmp) / 'spool'}",
        ]
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL)
        watched = psutil.Process(process.pid)
        samples: list[tuple[float, float]] = []
        while process.poll() is None:
            try:
                samples.append((time.monotonic() - started, watched.memory_info().rss / 2**20))
            except psutil.NoSuchProcess:
                break
            time.sleep(0.5)
        assert process.wait() == 0, "the crawl failed"
        _stats, counts = last_run(db)
    total = samples[-1][0]
    marks = []
    for share in (0.1, 0.25, 0.5, 0.75, 0.95):
        moment, rss = min(samples, key=lambda s: abs(s[0] - share * total))
        marks.append(f"| {share:.0%} | {moment:.0f} | {rss:.0f} |")
    peak = max(r for _, r in samples)
    second_half = [r for t, r in samples if t > total / 2]
    lines = [
        f"`oilnews crawl` of a {ARTICLES:,}-article replica into SQLite ({counts['articles_new']:,} articles stored,"
        f" {counts['requests']:,} requests, {total:.0f} s), resident memory sampled every 0.5 s with psutil.",
        "",
        "| point of the crawl | seconds | RSS (MB) |",
        "|---|---:|---:|",
        *marks,
        "",
        f"Peak RSS {peak:.0f} MB (target under 300 MB); second half of the crawl between "
        f"{min(second_half):.0f} and {max(second_half):.0f} MB.",
    ]
    write_section("memory", "Memory over a long crawl (issue 7.4)", "python -m bench memory", lines)


if __name__ == "__main__":
    main()
