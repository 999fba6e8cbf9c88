"""Issue 15: a crawl of 100,000 articles in flat memory (peak under 300 MB, flat in its second
half), then reruns over those 100,000 stored articles with nothing new (at most 2 s of process
wall time, the median of five, under 200 MB), side by side in one run."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from bench.common import ROOT, last_run, write_section
from oilnews.replica.server import ReplicaServer

ARTICLES = 100_000
RERUNS = 5


def sampled(command: list[str]) -> tuple[float, list[tuple[float, float]], int]:
    """(wall seconds, [(second, RSS MB)] every 0.5 s, exit code) of a command."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL)
    watched = psutil.Process(process.pid)
    samples: list[tuple[float, float]] = []
    while process.poll() is None:
        try:
            samples.append((time.monotonic() - started, watched.memory_info().rss / 2**20))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.5 if samples and samples[-1][0] > 5 else 0.05)
    code = process.wait()
    return time.monotonic() - started, samples, code


def main() -> None:
    # Dated long ago: outside the refresh window, so the rerun has nothing to fetch again.
    epoch = (datetime.now(UTC) - timedelta(days=4000)).replace(microsecond=0)
    step = timedelta(minutes=17)
    with tempfile.TemporaryDirectory() as tmp, ReplicaServer(ARTICLES, epoch=epoch, step=step) as site:
        db = f"sqlite:///{Path(tmp) / 'memory.db'}"
        command = [
            sys.executable, "-m", "oilnews.cli", "crawl", "--site", site.url, "--db", db, "--quiet",
            "-s", f"OILNEWS_SPOOL_DIR={Path(tmp) / 'spool'}", "-s", "OILNEWS_RENDER=false",
        ]  # fmt: skip
        total, samples, code = sampled(command)
        assert code == 0, "the crawl failed"
        _stats, counts = last_run(db)
        reruns: list[tuple[float, float]] = []  # (wall seconds, peak RSS MB) of each rerun
        for _ in range(RERUNS):
            rerun_seconds, rerun_samples, rerun_code = sampled(command)
            assert rerun_code == 0, "the rerun failed"
            reruns.append((rerun_seconds, max(r for _, r in rerun_samples)))
        _rstats, rerun_counts = last_run(db)
    marks = []
    for share in (0.1, 0.25, 0.5, 0.75, 0.95):
        moment, rss = min(samples, key=lambda s: abs(s[0] - share * total))
        marks.append(f"| {share:.0%} | {moment:.0f} | {rss:.0f} |")
    peak = max(r for _, r in samples)
    second_half = [r for t, r in samples if t > total / 2]
    rerun_walls = [w for w, _ in reruns]
    rerun_peak = max(r for _, r in reruns)
    lines = [
        f"`oilnews crawl` of a {ARTICLES:,}-article replica into an empty SQLite database"
        f" ({counts['articles_new']:,} articles stored, {counts['requests']:,} requests, {total:.0f} s), resident"
        " memory sampled every 0.5 s with psutil:",
        "",
        "| point of the crawl | seconds | RSS (MB) |",
        "|---|---:|---:|",
        *marks,
        "",
        f"Peak RSS {peak:.0f} MB (target under 300 MB); second half of the crawl between"
        f" {min(second_half):.0f} and {max(second_half):.0f} MB.",
        "",
        f"Then the same command again, {RERUNS} times one after the other, nothing new on the site:"
        f" {rerun_counts['requests']:,} requests and {rerun_counts['articles_new']} new each (the last);"
        f" process wall time median {statistics.median(rerun_walls):.2f} s (target at most 2 s), the runs"
        f" {', '.join(f'{w:.2f}' for w in rerun_walls)} s; peak RSS at most {rerun_peak:.0f} MB (target under 200 MB).",
        f"One run is no measurement on a shared virtual machine: the {RERUNS} runs spread over"
        f" {max(rerun_walls) - min(rerun_walls):.2f} s, so their median is the figure.",
    ]
    write_section(
        "memory", "Memory over 100,000 articles, and the rerun (issue 15)", "python -m bench memory", lines
    )


if __name__ == "__main__":
    main()
