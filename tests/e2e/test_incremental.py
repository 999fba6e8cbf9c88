"""Scheduled crawls stay cheap: known articles are not downloaded again, edits become
versions, and a killed crawl is finished by the next one without duplicates or gaps."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oilnews.replica.server import ReplicaServer
from tests.helpers import ROOT, crawl, crawl_command, query, runs

N = 300
# Old enough to be outside the 48 h refresh window, recent enough for the sitemap lookback.
EPOCH = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)


def article_hits(site: ReplicaServer) -> int:
    return sum(n for path, n in site.hits.items() if path.endswith(".html") and "/Page-" not in path)


def run_counts(db: str) -> dict:  # type: ignore[type-arg]
    return runs(db, 1)[0].counts


def test_incremental_runs_new_and_edited(database_url: str, tmp_path: Path) -> None:
    with ReplicaServer(N, epoch=EPOCH) as site:
        assert crawl(site.url, database_url, tmp=tmp_path).returncode == 0
        assert query(database_url, "select count(*) from articles")[0][0] == N
        run1_requests = run_counts(database_url)["requests"]

        before = article_hits(site)
        second = crawl(site.url, database_url, tmp=tmp_path)
        assert second.returncode == 0, second.stderr
        assert article_hits(site) == before  # no article page downloaded again
        counts = run_counts(database_url)
        assert counts["articles_new"] == 0 and counts["skipped_known"] > 0
        assert counts["requests"] <= 0.2 * run1_requests
        assert query(database_url, "select count(*) from articles")[0][0] == N

        edited = frozenset({5, 60, 120, 180, 240})  # none of them a twin (index % 50 == 21)
        site.publish(N + 20, edited=edited)
        third = crawl(site.url, database_url, tmp=tmp_path)
        assert third.returncode == 0, third.stderr
        counts = run_counts(database_url)
        assert (counts["articles_new"], counts["articles_updated"]) == (20, 5)
        assert query(database_url, "select count(*) from articles")[0][0] == N + 20
        versions = query(
            database_url,
            "select a.version, v.version as old from article_versions v "
            "join articles a on a.id = v.article_id",
        )
        assert len(versions) == 5 and all((v.version, v.old) == (2, 1) for v in versions)
        bodies = query(
            database_url, "select count(*) from articles where body like '%Update: this story was revised%'"
        )
        assert bodies[0][0] == 5

        full = crawl(site.url, database_url, "--full", tmp=tmp_path)  # --full downloads everything again
        assert full.returncode == 0
        assert run_counts(database_url)["articles_unchanged"] == N + 20


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_crawl_is_finished_by_the_next(sig: signal.Signals, sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(N, epoch=EPOCH) as site:
        args = crawl_command(
            site.url,
            sqlite_url,
            tmp=tmp_path,
            OILNEWS_DB_BATCH_SIZE=10,
            CONCURRENT_REQUESTS=2,
            DOWNLOAD_DELAY=0.01,
        )
        process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        stored = 0
        while stored < 60:
            assert process.poll() is None, "the crawl ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.1)
            try:
                stored = query(sqlite_url, "select count(*) from articles")[0][0]
            except Exception:  # schema not there yet
                stored = 0
        process.send_signal(sig)
        process.wait(timeout=120)
        interrupted = query(sqlite_url, "select count(*) from articles")[0][0]
        assert 60 <= interrupted < N

        rerun = crawl(site.url, sqlite_url, tmp=tmp_path)
        assert rerun.returncode == 0, rerun.stderr
        rows = query(
            sqlite_url, "select count(*), count(distinct url), count(distinct content_hash) from articles"
        )
        assert tuple(rows[0]) == (N, N, N)
        statuses = [r.status for r in query(sqlite_url, "select status from crawl_runs order by id")]
        assert statuses[-1] == "finished"
