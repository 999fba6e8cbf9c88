"""Faults and hostile input: the crawl completes, nothing is lost or doubled, every failure is
counted with its reason and its URL recorded."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from oilnews.replica.faults import Fault
from oilnews.replica.server import ReplicaServer
from tests.helpers import (
    IN_CI,
    ROOT,
    PrivatePostgres,
    crawl,
    crawl_command,
    query,
    run_oilnews,
    runs,
    unavailable,
)

N = 120
FAST_RETRIES = [
    "-s",
    "DOWNLOAD_TIMEOUT=2",
    "-s",
    "OILNEWS_RETRY_BACKOFF_BASE=0.2",
    "-s",
    "RETRY_TIMES=2",
    "-s",
    "OILNEWS_HEALTH_MAX_ERROR_RATE=1",
]


def run_stats(db: str) -> dict:  # type: ignore[type-arg]
    return runs(db, 1)[0].stats


def test_server_faults_and_hostile_pages(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(N) as site, ReplicaServer(5) as elsewhere:
        cat = site.state.catalogue
        paths = [cat.path(i) for i in range(N) if i % 50 != 21]  # no content twins
        recovers = {"500": 1, "502": 1, "503": 2, "429": 1, "retry_after": 1, "reset": 1, "truncated": 1}
        gives_up = {
            "503": None,
            "reset": None,
            "timeout": None,
            "huge": None,
            "redirect_loop": None,
            "redirect_offsite": None,
            "empty": None,
        }
        stored_anyway = ["slow", "malformed", "latin1_no_charset", "many_links", "hostile_body"]
        plan: dict[str, tuple[str, Fault]] = {}
        pick = iter(paths[10:])
        for kind, times in recovers.items():
            plan[next(pick)] = ("recovers", Fault(kind, times=times))
        for kind, times in gives_up.items():
            plan[next(pick)] = (kind, Fault(kind, times=times, seconds=4, target=elsewhere.url))
        for kind in stored_anyway:
            plan[next(pick)] = (kind, Fault(kind, seconds=1))
        site.state.faults = {path: fault for path, (_, fault) in plan.items()}

        result = crawl(site.url, sqlite_url, *FAST_RETRIES, tmp=tmp_path)
        assert result.returncode in (0, 1), result.stderr
        assert not elsewhere.hits, "a redirect led the crawler off the site"

    stats = run_stats(sqlite_url)
    assert stats["finish_reason"] == "finished"
    stored = {r.url.removeprefix(site.url) for r in query(sqlite_url, "select url from articles")}
    skipped = {s["url"].removeprefix(site.url): s["reason"] for s in stats["oilnews/skipped_urls"]}
    for path, (expect, _fault) in plan.items():
        if expect == "recovers" or (expect in stored_anyway and expect != "malformed"):
            assert path in stored, (expect, path)
        elif expect in gives_up:
            assert path not in stored, (expect, path)
            assert path in skipped, (expect, path, skipped)
    assert skipped[next(p for p, (e, _) in plan.items() if e == "503")] == "http_503"
    assert skipped[next(p for p, (e, _) in plan.items() if e == "empty")] == "empty_page"
    assert skipped[next(p for p, (e, _) in plan.items() if e == "redirect_offsite")] == "redirect_offsite"
    assert stats.get("oilnews/retry/waits", 0) >= len(recovers)
    # every article without a permanent fault is stored (the two content twins once each)
    malformed_lost = not any(p in stored for p, (e, _) in plan.items() if e == "malformed")
    assert len(stored) == N - len(gives_up) - int(malformed_lost)
    bodies = " ".join(r.body for r in query(sqlite_url, "select body from articles"))
    assert "INJECTED" not in bodies and "<script" not in bodies
    many = next(p for p, (e, _) in plan.items() if e == "many_links")
    (links,) = query(
        sqlite_url,
        "select count(*) from article_links l join articles a on a.id = l.article_id where a.url = :u",
        u=site.url + many,
    )
    assert 0 < links[0] <= 1000  # bounded


def test_scope_refuses_other_hosts_ports_and_schemes(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(40) as site, ReplicaServer(5) as other:
        first = site.state.catalogue.path(5)
        site.state.faults = {first: Fault("redirect_offsite", target=other.url)}
        result = crawl(site.url, sqlite_url, tmp=tmp_path)
        assert result.returncode == 0, result.stderr
        assert not other.hits
    stats = run_stats(sqlite_url)
    assert stats["oilnews/scope/redirect_offsite"] >= 1
    # recorded at most: off-site and non-HTTP links are links, never requests
    recorded = {r.target_url for r in query(sqlite_url, "select distinct target_url from article_links")}
    assert any(u.startswith("https://www.bloomberg.com/") for u in recorded)
    assert not any(u.startswith(("file:", "javascript:", "data:", "mailto:")) for u in recorded)


def test_sigkill_at_random_moments_then_clean_rerun(sqlite_url: str, tmp_path: Path) -> None:
    rng = random.Random(20261124)
    with ReplicaServer(N * 2) as site:
        for _ in range(3):
            command = crawl_command(
                site.url, sqlite_url, tmp=tmp_path, OILNEWS_DB_BATCH_SIZE=7, CONCURRENT_REQUESTS=4
            )
            process = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.8, 3.0))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        assert crawl(site.url, sqlite_url, tmp=tmp_path).returncode == 0
    rows = query(
        sqlite_url, "select count(*), count(distinct url), count(distinct content_hash) from articles"
    )
    assert tuple(rows[0]) == (N * 2, N * 2, N * 2)
    aliases = query(sqlite_url, "select count(*) from article_aliases")[0][0]
    assert aliases == sum(1 for i in range(N * 2) if i % 50 == 21)


def test_database_url_password_never_logged(
    replica: ReplicaServer, postgres_url: str, tmp_path: Path
) -> None:
    secret_url = postgres_url.replace("postgresql://postgres@", "postgresql://postgres:s3cret-pw@")
    result = run_oilnews(
        "crawl",
        "--site",
        replica.url,
        "--db",
        secret_url,
        "--max-pages",
        "1",
        "--log-level",
        "DEBUG",
        "-s",
        f"OILNEWS_SPOOL_DIR={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "postgres:***@" in result.stderr  # the closing summary names the database, masked
    (row,) = query(
        postgres_url, "select stats::text as s, counts::text as c, health::text as h from crawl_runs"
    )
    assert "s3cret-pw" not in row.s + row.c + row.h


@pytest.mark.postgres
def test_postgres_restart_mid_crawl_loses_and_doubles_nothing(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    postgres_url = private_postgres.url
    with ReplicaServer(N * 2) as site:
        command = crawl_command(
            site.url,
            postgres_url,
            tmp=tmp_path,
            OILNEWS_DB_BATCH_SIZE=10,
            CONCURRENT_REQUESTS=2,
            DOWNLOAD_DELAY=0.02,
            OILNEWS_DB_RETRY_BACKOFF=1,
            OILNEWS_DB_RETRIES=8,
        )
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None and time.monotonic() < deadline
            try:
                if query(postgres_url, "select count(*) from articles")[0][0] >= 30:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        private_postgres.restart()
        _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    (restarted,) = query(postgres_url, "select pg_postmaster_start_time() > now() - interval '5 minutes'")
    assert restarted[0], "the server was not restarted during the crawl"
    rows = query(postgres_url, "select count(*), count(distinct url) from articles")
    assert tuple(rows[0]) == (N * 2, N * 2)
    assert query(postgres_url, "select count(*) from article_aliases")[0][0] == 5  # the twin URLs
    # Reconnected by pool pre-ping or by the batch retry, depending on where the restart hit.
    assert not run_stats(postgres_url).get("oilnews/store/spooled_items")


def test_ci_has_every_service() -> None:
    """Under CI=true the fault tests above must have run, not skipped."""
    if not IN_CI:
        pytest.skip("only meaningful under CI=true")
    assert shutil.which("pg_ctl") or list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))


def test_full_database_is_a_clear_failure_and_loses_nothing(replica: ReplicaServer, tmp_path: Path) -> None:
    """A database whose disk fills up mid-crawl: clear error, exit 3, the batch spooled, the crawl
    stopped (no point downloading what cannot be stored)."""
    disk = tmp_path / "tiny"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        unavailable(f"cannot mount a small tmpfs to fill up: {mounted.stderr.decode().strip()}")
    try:
        result = crawl(
            replica.url,
            f"sqlite:///{disk / 'full.db'}",
            "-s",
            "OILNEWS_DB_RETRIES=2",
            "-s",
            "OILNEWS_DB_RETRY_BACKOFF=0.01",
            tmp=tmp_path,
        )
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    assert result.returncode == 3, result.stderr[-2000:]  # the database is unusable: fails at once
    assert "database or disk is full" in result.stderr
    assert "spooled to" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("oilnews: error: database") and "free disk space" in last
    spooled = sum(
        len(line) > 0
        for f in (tmp_path / "spool").glob("batch-*.jsonl")
        for line in f.read_text().splitlines()
    )
    assert spooled >= 1  # the batches that did not fit wait for the next run
