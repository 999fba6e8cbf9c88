"""The three ways to run: cron (flock'd script), scrapyd (real daemon, real egg), one-shot with health."""

from __future__ import annotations

import json
import os
import re
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

    first = subprocess.Popen([str(CRON)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while "crawl starting" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline and first.poll() is None, "the first run never took the lock"
        time.sleep(0.05)
    started = time.monotonic()
    second = subprocess.run([str(CRON)], env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 75
    assert time.monotonic() - started < 5  # at once, not after waiting for the lock
    assert second.stdout == second.stderr == ""  # a skip behind a live crawl is no news for cron
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, log.read_text()[-3000:]
    assert out == err == "", "a successful cron run must print nothing (cron mails any output)"

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


def test_cron_failure_is_one_line_on_stderr_with_the_exit_code(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(40) as site:
        site.state.broken_articles = True
        result = subprocess.run(
            [str(CRON)],
            env=cron_env(site.url, sqlite_url, tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
        )
    log = tmp_path / "logs" / "crawl.log"
    assert result.returncode == 1
    assert "finished with exit code 1" in log.read_text()
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("oilnews-cron: crawl failed with exit code 1 (a health check failed): ")
    assert "health check failed: body missing" in line and line.endswith(f"log: {log}")


def test_cron_says_when_the_site_is_down(sqlite_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CRON)], env=cron_env("http://127.0.0.1:9", sqlite_url, tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "exit code 2 (the site could not be reached): error: cannot reach http://127.0.0.1:9" in line


def test_cron_speaks_up_when_a_crawl_holds_the_lock_too_long(sqlite_url: str, tmp_path: Path) -> None:
    if shutil.which("flock") is None:
        unavailable("flock (util-linux) is not installed")
    env = cron_env("http://127.0.0.1:9", sqlite_url, tmp_path, OILNEWS_LOCK_STALE_MINUTES="1")
    lock = tmp_path / "crawl.lock"
    (tmp_path / "crawl.lock.started").write_text(str(int(time.time()) - 300))
    holder = subprocess.Popen(["flock", str(lock), "sleep", "30"])
    try:
        time.sleep(0.5)
        result = subprocess.run([str(CRON)], env=env, capture_output=True, text=True, timeout=30)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 75
    (line,) = result.stderr.splitlines()
    assert "the crawl started 5 minutes ago still holds" in line


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

        # One set of variables (the env file's) for scrapyd-deploy and the schedule script.
        scrapyd_env = {
            **os.environ,
            "SCRAPYD_URL": url,
            "SCRAPYD_USERNAME": auth[0],
            "SCRAPYD_PASSWORD": auth[1],
        }
        deployed = subprocess.run(
            [str(BIN / "scrapyd-deploy"), "env", "--version", "1"],
            cwd=ROOT,
            env=scrapyd_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert deployed.returncode == 0, deployed.stderr
        assert '"status": "ok"' in deployed.stdout and '"spiders": 3' in deployed.stdout, deployed.stdout

        schedule = [str(ROOT / "deploy" / "scrapyd" / "schedule"), f"site={replica.url}"]
        first = subprocess.run(
            schedule,
            env={**scrapyd_env, "OILNEWS_BIN": str(BIN / "oilnews")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.returncode == 0, first.stderr
        job = first.stdout.strip()
        again = subprocess.run(
            schedule,
            env={**scrapyd_env, "OILNEWS_BIN": str(BIN / "oilnews")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 75, again.stderr  # a news job is pending or running already
        assert again.stderr.strip() == (
            f"oilnews: not scheduling: news job {job} is still pending or running on {url}"
        )
        refused = subprocess.run(
            schedule,
            env={**scrapyd_env, "SCRAPYD_PASSWORD": "wrong", "OILNEWS_BIN": str(BIN / "oilnews")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 64
        assert refused.stderr.strip() == (
            f"oilnews: error: scrapyd at {url} refused the credentials: set SCRAPYD_USERNAME and SCRAPYD_PASSWORD"
        )

        deadline = time.monotonic() + 300
        while not any(j["id"] == job for j in _call(url, "listjobs.json?project=oilnews", auth)["finished"]):
            assert time.monotonic() < deadline, "the scrapyd job did not finish"
            time.sleep(1)

        # The watcher as a scrapyd job, bounded by max_minutes.
        watcher = subprocess.run(
            [str(BIN / "oilnews"), "schedule", "--spider", "watch", f"site={replica.url}", "max_minutes=0.2"],
            env=scrapyd_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert watcher.returncode == 0, watcher.stderr
        watch_job = watcher.stdout.strip()
        deadline = time.monotonic() + 120
        while not any(
            j["id"] == watch_job for j in _call(url, "listjobs.json?project=oilnews", auth)["finished"]
        ):
            assert time.monotonic() < deadline, "the scrapyd watch job did not finish"
            time.sleep(1)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    log = next((tmp_path / "logs").rglob(f"{job}.log")).read_text()
    assert "'finish_reason': 'finished'" in log, log[-3000:]
    assert query(sqlite_url, "select count(*) from articles")[0][0] == 300
    news, watched = query(
        sqlite_url, "select spider, status, site_url, heartbeat_at from crawl_runs order by id"
    )
    assert (news.spider, news.status, news.site_url) == ("news", "finished", replica.url)
    assert (watched.spider, watched.status) == ("watch", "finished")
    assert "s3cret-pass" not in log
    watch_log = next((tmp_path / "logs").rglob(f"{watch_job}.log")).read_text()
    assert "OILNEWS_WATCH_MAX_MINUTES reached" in watch_log and "'finish_reason': 'finished'" in watch_log


def test_schedule_without_scrapyd_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [str(BIN / "oilnews"), "schedule", "--url", url], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"oilnews: error: cannot reach scrapyd at {url}: is it running? (set SCRAPYD_URL or --url)"
    )


def test_systemd_units_verify_and_are_sandboxed(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the units with this checkout's paths; the exposure score the
    deploy README states for each service. (Offline: no systemd needs to run here.)"""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        unavailable("systemd-analyze is not installed (apt-get install systemd)")
    units = ROOT / "deploy" / "systemd"
    env_file = tmp_path / "env"
    env_file.write_text("OILNEWS_DATABASE_URL=sqlite:////var/lib/oilnews/oilnews.db\n")
    services = ("oilnews-crawl.service", "oilnews-watch.service", "oilnews-scrapyd.service")
    for name in services:
        text = (units / name).read_text()
        (tmp_path / name).write_text(
            text.replace("/opt/oilnews", str(ROOT)).replace("/etc/oilnews/env", str(env_file))
        )
    shutil.copy(units / "oilnews-crawl.timer", tmp_path)
    verify = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in (*services, "oilnews-crawl.timer"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0 and verify.stdout == verify.stderr == "", verify.stderr
    stated = (ROOT / "deploy" / "README.md").read_text()
    for name in services:
        security = subprocess.run(
            [analyze, "security", "--offline=true", str(units / name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout).group(1))  # type: ignore[union-attr]
        assert f"`{name}`: **{score:.1f} OK**" in stated, (
            f"deploy/README.md must state the score {score} of {name}"
        )
        assert score <= 2.0
    crawl = (units / "oilnews-crawl.service").read_text()
    assert "UMask=0027" in crawl and "TimeoutStartSec=12h" in crawl
    watch = (units / "oilnews-watch.service").read_text()
    assert "Restart=on-failure" in watch and "UMask=0027" in watch and "oilnews watch" in watch
