"""What a read command costs to start (issue 29: `oilnews runs` at most 1.6x the CPU of
`python -c "import sqlalchemy"`): each command as a whole process, paired run by run with the
yardstick (A B A B ...), its user + system CPU from the kernel's accounting of the child
(os.wait4), so a drifting machine moves both. The database is a migrated, empty SQLite file:
the cost measured is starting, not querying.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime

from bench.common import ROOT, write_section

PAIRS = 9
YARDSTICK = [sys.executable, "-c", "import sqlalchemy"]


def cpu_seconds(argv: list[str]) -> float:
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/startup.db"
        oilnews = [sys.executable, "-m", "oilnews.cli"]
        subprocess.run([*oilnews, "db", "upgrade", "--db", db], check=True, capture_output=True, cwd=ROOT)
        commands = {
            "oilnews runs": ["runs", "--db", db],
            "oilnews status": ["status", "--db", db],
            "oilnews search oil": ["search", "oil", "--db", db],
            "oilnews export --out FILE": ["export", "--db", db, "--out", f"{tmp}/out.jsonl"],
            "oilnews show 1": ["show", "1", "--db", db],
            "oilnews --help": ["--help"],
        }
        rows = []
        for label, argv in commands.items():
            cpu_seconds([*oilnews, *argv])  # warm the file cache once
            ratios, own, yard = [], [], []
            for _ in range(PAIRS):
                a, b = cpu_seconds([*oilnews, *argv]), cpu_seconds(YARDSTICK)
                own.append(a)
                yard.append(b)
                ratios.append(a / b)
            rows.append(
                f"| `{label}` | {statistics.median(own) * 1000:.0f} | {statistics.median(yard) * 1000:.0f} | "
                f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |"
            )
    lines = [
        f'Each command as a whole process, {PAIRS} pairs with `python -c "import sqlalchemy"`; CPU is',
        "user + system of the child (os.wait4), median of the pairs; the ratio is taken pair by pair.",
        "",
        "| command | CPU (ms) | import sqlalchemy (ms) | ratio, median (range) |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        f"Target: at most 1.6x for the read commands (Scrapy and Twisted not imported). ({datetime.now(UTC):%Y-%m-%d})",
    ]
    write_section(
        "startup", "What a read command costs to start (issue 29)", "python -m bench startup", lines
    )
