"""A backfill in budgeted slices over a replica whose articles span many months: run again and
again with a small budget (and killed once in the middle), it ends with every article stored
once and every month marked complete."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from oilnews.replica.faults import Fault
from oilnews.replica.server import ReplicaServer
from tests.helpers import ROOT, crawl, crawl_command, query, run_oilnews

N = 240
STEP = timedelta(hours=30)  # 240 articles over ten months
EPOCH = (datetime.now(UTC) - N * STEP).replace(microsecond=0)


def site() -> ReplicaServer:
    return ReplicaServer(N, epoch=EPOCH, step=STEP)


def months_of(db: str) -> list[tuple[int, int, str]]:
    return [
        tuple(r) for r in query(db, "select year, month, status from backfill_months order by year, month")
    ]


def test_backfill_in_slices_ends_complete_with_no_gap(sqlite_url: str, tmp_path: Path) -> None:
    since = f"{EPOCH:%Y-%m}"
    slice_args = (
        "--backfill-since",
        since,
        "-s",
        "OILNEWS_BACKFILL_BUDGET_MINUTES=0.005",
        "-s",
        "OILNEWS_MAX_HOPS=0",
    )
    with site() as server:
        first = crawl(server.url, sqlite_url, *slice_args, tmp=tmp_path)
        assert first.returncode == 0, first.stderr
        stored_first = query(sqlite_url, "select count(*) from articles")[0][0]
        assert 0 < stored_first < N, "one slice must not do the whole archive"
        wanted = months_of(sqlite_url)
        assert len(wanted) >= 10
        complete = {(y, m) for y, m, status in wanted if status == "complete"}
        assert len(complete) < len(wanted)

        # Killed in the middle of a slice: nothing it did not finish may count as complete.
        # (Slow pages and small batches, so the kill lands while it works, not after.)
        cat = server.state.catalogue
        server.state.faults = {cat.path(i): Fault("slow", seconds=1.0) for i in range(N)}
        killed = subprocess.Popen(
            crawl_command(
                server.url,
                sqlite_url,
                *slice_args[:2],
                "-s",
                "OILNEWS_BACKFILL_BUDGET_MINUTES=5",
                "-s",
                "OILNEWS_DB_BATCH_SIZE=5",
                tmp=tmp_path,
            ),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while query(sqlite_url, "select count(*) from articles")[0][0] < stored_first + 20:
            assert time.monotonic() < deadline and killed.poll() is None
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        server.state.faults = {}
        assert {(y, m) for y, m, s in months_of(sqlite_url) if s == "complete"} == complete

        for _ in range(40):
            if all(status == "complete" for *_, status in months_of(sqlite_url)):
                break
            result = crawl(server.url, sqlite_url, *slice_args, tmp=tmp_path)
            assert result.returncode == 0, result.stderr
        status = run_oilnews("status", "--db", sqlite_url, "--json")
    assert all(s == "complete" for *_, s in months_of(sqlite_url)), months_of(sqlite_url)
    rows = query(sqlite_url, "select count(*), count(distinct url) from articles")[0]
    assert tuple(rows) == (N, N)  # every article once (the replica's twins are aliases)
    progress = json.loads(status.stdout)
    assert progress["months_done"] == progress["months_wanted"] == len(wanted)
    assert progress["eta_seconds"] == 0


def test_status_before_and_during_a_backfill(sqlite_url: str, tmp_path: Path) -> None:
    with site() as server:
        assert crawl(server.url, sqlite_url, tmp=tmp_path).returncode == 0
        none = run_oilnews("status", "--db", sqlite_url)
        assert none.returncode == 0 and "no backfill" in none.stdout
        args = ("--backfill-since", f"{EPOCH:%Y-%m}", "-s", "OILNEWS_BACKFILL_BUDGET_MINUTES=0.01")
        assert crawl(server.url, sqlite_url, *args, tmp=tmp_path).returncode == 0
    text = run_oilnews("status", "--db", sqlite_url).stdout
    assert "months complete" in text and "articles stored" in text
