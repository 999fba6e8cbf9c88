"""The three ways to run: cron (flock'd script), scrapyd (real daemon, real egg), one-shot with health."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest

from oilnews.replica.server import ReplicaServer
from tests.helpers import ROOT, crawl, query, runs, unavailable

BIN = Path(sys.executable).parent
CRON = ROOT / "deploy" / "cron" / "oilnews-cron"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cron_env(site: str, db: str, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "OILNEWS_BIN": str(BIN / "oilnews"),
        "OILNEWS_SITE_URL": site,
        "OILNEWS_DATABASE_URL": db,
        "OILNEWS_LOG_DIR": str(tmp / "logs"),
        "OILNEWS_LOCK_FILE": str(tmp / "crawl.lock"),
        "OILNEWS_SPOOL_DIR": str(tmp / "spool"),
        **extra,
    }


def test_cron_runs_never_overlap(replica: ReplicaServer, sqlite_url: str, tmp_path: Path) -> None:
    if shutil.which("flock") is None:
        unavailable("flock (util-linux) is not installed")
    env = cron_env(replica.url, sqlite_url, tmp_path, OILNEWS_LOG_MAX_BYTES="100")
    log = tmp_path / "logs" / "crawl.log"
    log.parent.mkdir()
    log.write_text("an old log over the size limit\n" * 10)

    first = subprocess.Popen([str(CRON)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while "crawl starting" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline and first.poll() is None, "the first run never took the lock"
        time.sleep(0.05)
    started = time.monotonic()
    second = subprocess.run([str(CRON)], env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 75
    assert time.monotonic() - started < 5  # at once, not after waiting for the lock
    assert first.wait(timeout=300) == 0, log.read_text()[-3000:]

    text = log.read_text()
    assert "this run is skipped" in text and "finished with exit code 0" in text
    assert (tmp_path / "logs" / "crawl.log.1").read_text().startswith("an old log")  # rotated
    assert query(sqlite_url, "select count(*) from articles")[0][0] == 300
    assert query(sqlite_url, "select count(*) from crawl_runs")[0][0] == 1


def test_broken_site_fails_health_check(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(60) as site:
        site.state.broken_articles = True  # a redesign: article pages without their body
        result = crawl(site.url, sqlite_url, tmp=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "UNHEALTHY" in result.stderr or "health check failed" in result.stderr
    (run,) = runs(sqlite_url)
    health = run.health
    assert run.status == "failed" and health["ok"] is False
    assert any(f.startswith("body missing in") for f in health["failures"]), health
    assert query(sqlite_url, "select count(*) from articles")[0][0] == 0


def test_scrapy_crawl_exit_code_carries_health(sqlite_url: str) -> None:
    with ReplicaServer(40) as site:
        site.state.broken_articles = True
        env = {**os.environ, "OILNEWS_DATABASE_URL": sqlite_url}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "news",
                "-a",
                f"site={site.url}",
                "-s",
                "LOG_LEVEL=ERROR",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 1
    assert "health check failed: body missing" in result.stderr


def test_cron_passes_failing_exit_code_through(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(40) as site:
        site.state.broken_articles = True
        result = subprocess.run(
            [str(CRON)],
            env=cron_env(site.url, sqlite_url, tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 1
    assert "finished with exit code 1" in (tmp_path / "logs" / "crawl.log").read_text()


def _call(url: str, endpoint: str, auth: tuple[str, str], data: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    from urllib.parse import urlencode

    request = urllib.request.Request(f"{url}/{endpoint}", data=urlencode(data).encode() if data else None)
    request.add_header("Authorization", "Basic " + b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.mark.scrapyd
def test_scrapyd_deploy_schedule_and_store(replica: ReplicaServer, sqlite_url: str, tmp_path: Path) -> None:
    scrapyd = BIN / "scrapyd"
    if not scrapyd.exists() or not (BIN / "scrapyd-deploy").exists():
        unavailable("scrapyd and scrapyd-client are not installed (pip install -e .[deploy])")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    auth = ("oilnews", "s3cret-pass")
    conf = (ROOT / "deploy" / "scrapyd" / "scrapyd.conf").read_text()
    conf = conf.replace("http_port        = 6800", f"http_port        = {port}")
    for name in ("eggs", "dbs"):
        conf = conf.replace(f"/var/lib/scrapyd/{name}", str(tmp_path / name))
    conf = conf.replace("/var/log/scrapyd", str(tmp_path / "logs"))
    (tmp_path / "scrapyd.conf").write_text(conf)
    env = {
        **os.environ,
        "SCRAPYD_USERNAME": auth[0],
        "SCRAPYD_PASSWORD": auth[1],
        "OILNEWS_DATABASE_URL": sqlite_url,
        "OILNEWS_SPOOL_DIR": str(tmp_path / "spool"),
    }
    with (tmp_path / "scrapyd.err").open("w") as errors:
        daemon = subprocess.Popen(
            [str(scrapyd)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=errors
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert _call(url, "daemonstatus.json", auth)["status"] == "ok"
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "scrapyd.err").read_text()
                time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError):  # the API is closed without the password
            _call(url, "daemonstatus.json", ("oilnews", "wrong"))

        deploy_env = {
            **os.environ,
            "OILNEWS_SCRAPYD_URL": url,
            "OILNEWS_SCRAPYD_USERNAME": auth[0],
            "OILNEWS_SCRAPYD_PASSWORD": auth[1],
        }
        deployed = subprocess.run(
            [str(BIN / "scrapyd-deploy"), "env", "--version", "1"],
            cwd=ROOT,
            env=deploy_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert deployed.returncode == 0, deployed.stderr
        assert '"status": "ok"' in deployed.stdout and '"spiders": 1' in deployed.stdout, deployed.stdout

        schedule_env = {
            **os.environ,
            "SCRAPYD_URL": url,
            "SCRAPYD_USERNAME": auth[0],
            "SCRAPYD_PASSWORD": auth[1],
        }
        schedule = [str(ROOT / "deploy" / "scrapyd" / "schedule"), f"site={replica.url}"]
        first = subprocess.run(
            schedule,
            env={**schedule_env, "OILNEWS_BIN": str(BIN / "oilnews")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.returncode == 0, first.stderr
        job = first.stdout.strip()
        again = subprocess.run(
            schedule,
            env={**schedule_env, "OILNEWS_BIN": str(BIN / "oilnews")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 75, again.stderr  # a news job is pending or running already

        deadline = time.monotonic() + 300
        while not any(j["id"] == job for j in _call(url, "listjobs.json?project=oilnews", auth)["finished"]):
            assert time.monotonic() < deadline, "the scrapyd job did not finish"
            time.sleep(1)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    log = next((tmp_path / "logs").rglob(f"{job}.log")).read_text()
    assert "'finish_reason': 'finished'" in log, log[-3000:]
    assert query(sqlite_url, "select count(*) from articles")[0][0] == 300
    (run,) = query(sqlite_url, "select status, site_url from crawl_runs")
    assert (run.status, run.site_url) == ("finished", replica.url)
    assert "s3cret-pass" not in log
