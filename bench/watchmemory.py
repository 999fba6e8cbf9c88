"""Issue 16: a watcher's memory over days of site time (the clock sped up 600 times)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from bench.common import ROOT, crawl, write_section
from bench.watch import ARCHIVE, PUBLISH_EVERY, scaled_settings
from oilnews.replica.server import ReplicaServer
from tests.helpers import query

SPEEDUP = 600.0
REAL_MINUTES = 8.0  # 80 hours of site time


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'watch.db'}"
        step = timedelta(seconds=PUBLISH_EVERY / SPEEDUP)
        epoch = datetime.now(UTC) - (ARCHIVE - 1) * step
        with ReplicaServer(ARCHIVE, epoch=epoch, step=step) as site:
            assert crawl(site.url, db, "-s", f"OILNEWS_SPOOL_DIR={Path(tmp) / 'spool'}").returncode == 0
            site.publish_every(step.total_seconds(), redate=False)
            options = [a for k, v in scaled_settings(SPEEDUP).items() for a in ("-s", f"{k}={v}")]
            command = [
                sys.executable, "-m", "oilnews.cli", "watch", "--site", site.url, "--db", db, "--quiet",
                "-s", f"OILNEWS_SPOOL_DIR={Path(tmp) / 'spool'}", "--max-minutes", str(REAL_MINUTES), *options,
            ]  # fmt: skip
            started = time.monotonic()
            watcher = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
            process = psutil.Process(watcher.pid)
            samples: list[tuple[float, float]] = []
            while watcher.poll() is None:
                try:
                    samples.append((time.monotonic() - started, process.memory_info().rss / 2**20))
                except psutil.NoSuchProcess:
                    break
                time.sleep(2)
            _, stderr = watcher.communicate()
            published = site.state.catalogue.size - ARCHIVE
        assert watcher.returncode == 0, stderr[-2000:]
        stored = query(db, "select count(*) from articles")[0][0] - ARCHIVE
    total = samples[-1][0]
    marks = []
    for share in (0.1, 0.25, 0.5, 0.75, 0.95):
        moment, rss = min(samples, key=lambda sample: abs(sample[0] - share * total))
        marks.append(f"| {moment * SPEEDUP / 3600:.0f} h | {rss:.0f} |")
    lines = [
        f"`oilnews watch` with every duration of its defaults divided by {SPEEDUP:.0f}, for {REAL_MINUTES:.0f} real"
        f" minutes = {REAL_MINUTES * SPEEDUP / 60 / 24:.1f} days of site time; the replica publishing one article"
        f" every {PUBLISH_EVERY / 60:.0f} min of site time ({published} published, {stored} stored). Resident memory"
        " sampled every 2 s with psutil:",
        "",
        "| site time | RSS (MB) |",
        "|---:|---:|",
        *marks,
        "",
        f"From the first quarter to the end: {marks[1].split('|')[2].strip()} MB -> {marks[-1].split('|')[2].strip()} MB.",
    ]
    write_section(
        "watchmemory", "A watcher's memory over days (issue 16)", "python -m bench watchmemory", lines
    )


if __name__ == "__main__":
    main()
