"""Ctrl-C and SIGTERM are an operator's own choice, not an incident: the run stops cleanly
(what was fetched is stored), exits 130 or 143 as shells expect, is recorded `interrupted`,
sends no alert, and the next run goes on from there."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from oilnews.errors import ExitCode
from oilnews.replica.server import ReplicaServer
from tests.helpers import ROOT, crawl, crawl_command, query, runs, watch_command

N = 150


def _stored(db: str) -> int:
    try:
        return int(query(db, "select count(*) from articles")[0][0])
    except Exception:  # the schema is not there yet
        return 0


def _interrupt_when(process: subprocess.Popen[str], ready: Any, sig: signal.Signals) -> str:
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None, "it ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.1)
    process.send_signal(sig)
    return process.communicate(timeout=120)[1]


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, ExitCode.INTERRUPTED), (signal.SIGTERM, ExitCode.TERMINATED)]
)
def test_a_crawl_stopped_by_a_signal_is_interrupted_not_failed(
    sig: signal.Signals, code: ExitCode, sqlite_url: str, tmp_path: Path, webhook: tuple[str, list[Any]]
) -> None:
    url, received = webhook
    with ReplicaServer(N) as site:
        command = crawl_command(
            site.url,
            sqlite_url,
            tmp=tmp_path,
            OILNEWS_DB_BATCH_SIZE=10,
            CONCURRENT_REQUESTS=2,
            DOWNLOAD_DELAY=0.02,
            OILNEWS_ALERT_WEBHOOK=url,
        )
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        stderr = _interrupt_when(process, lambda: _stored(sqlite_url) >= 30, sig)
        assert process.returncode == code, stderr[-3000:]
        assert f"stopped by {sig.name}" in stderr.strip().splitlines()[-1] and "Traceback" not in stderr
        run = runs(sqlite_url, 1)[0]
        assert (run.status, run.finish_reason) == ("interrupted", "shutdown")
        assert run.stats["oilnews/interrupted_by"] == sig.name
        assert 30 <= _stored(sqlite_url) < N
        assert received == []  # no alert for an operator's own stop

        rerun = crawl(site.url, sqlite_url, tmp=tmp_path, OILNEWS_ALERT_WEBHOOK=url)
        assert rerun.returncode == ExitCode.OK, rerun.stderr[-3000:]
    assert _stored(sqlite_url) == N
    assert runs(sqlite_url, 1)[0].status == "finished"
    assert received == []  # nor a "healthy again": the run before was no failure


def test_a_watcher_stopped_by_sigterm_is_interrupted(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(30) as site:
        watcher = subprocess.Popen(
            watch_command(site.url, sqlite_url, tmp_path),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        stderr = _interrupt_when(watcher, lambda: _stored(sqlite_url) == 30, signal.SIGTERM)
    assert watcher.returncode == ExitCode.TERMINATED, stderr[-3000:]
    run = runs(sqlite_url, 1)[0]
    assert (run.spider, run.status, run.finish_reason) == ("watch", "interrupted", "shutdown")
