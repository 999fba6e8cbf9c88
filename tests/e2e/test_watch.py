"""Watch mode end to end: a replica that publishes on a clock, `oilnews watch` storing each
article within the poll bound, once; heartbeats, SIGTERM, a killed watcher, a site outage with
its alerts, and a PostgreSQL restart ridden out.

One test runs on a clock of seconds (the freshness bound as a user would see it, scaled 60x);
the others on FAST_WATCH's, 240x, and `status` judges a silent watcher by a clock the test
moves forward (oilnews.summary.utc_now) instead of waiting for it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from oilnews.errors import ExitCode
from oilnews.replica.server import ReplicaServer
from tests.helpers import ROOT, PrivatePostgres, oilnews_main, query, runs, unavailable, watch_command

PUBLISH_EVERY = 3.0
# The real-clock test's policy: the defaults divided by 60.
SECONDS_CLOCK = {
    "OILNEWS_WATCH_MIN_SECONDS": 1,
    "OILNEWS_WATCH_MAX_SECONDS": 3,
    "OILNEWS_WATCH_LISTING_MAX_SECONDS": 6,
    "OILNEWS_WATCH_HEARTBEAT_SECONDS": 1,
    "OILNEWS_DB_FLUSH_SECONDS": 2,
}
# Feed polled at least every 3 s (OILNEWS_WATCH_MAX_SECONDS), a part-filled batch written
# within 2 s (OILNEWS_DB_FLUSH_SECONDS), plus the article's own request, parse and a loaded
# CI machine.
POLL_BOUND = 3 + 2 + 4
FAST_PUBLISH = 0.5  # the replica's clock for the FAST_WATCH tests


def _utc(value: Any) -> datetime:
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _wait(
    condition: Callable[[], Any], seconds: float, what: str, process: subprocess.Popen[str] | None = None
) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = condition()
        except Exception:  # the database may not exist yet
            value = None
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"the watcher exited ({process.returncode}) before {what}: {process.stderr.read() if process.stderr else ''}"
            )
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _heartbeat(db: str) -> Any:
    rows = runs(db, 1)
    return rows and rows[0].status == "running" and rows[0].heartbeat_at is not None


def _start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@contextmanager
def watching(command: list[str]) -> Iterator[subprocess.Popen[str]]:
    """A watcher in the background, killed at the end if a failed assertion left it running."""
    watcher = _start(command)
    try:
        yield watcher
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate(timeout=30)


def _terminate(watcher: subprocess.Popen[str]) -> str:
    """SIGTERM, as systemd stops it; its stderr."""
    watcher.send_signal(signal.SIGTERM)
    return watcher.communicate(timeout=60)[1]


def test_watch_stores_each_article_as_it_is_published(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with ReplicaServer(40, access_log=log) as site:
        site.publish_every(PUBLISH_EVERY, until=time.time() + 30)
        result = subprocess.run(
            watch_command(site.url, sqlite_url, tmp_path, "--max-minutes", "0.6", **SECONDS_CLOCK),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
        final = site.state.catalogue
    assert result.returncode == 0, result.stderr[-3000:]
    assert final.size >= 48  # 8+ published while it watched

    stored = {
        urlsplit(row.url).path: _utc(row.first_seen_at)
        for row in query(sqlite_url, "select url, first_seen_at from articles")
    }
    (counts,) = query(
        sqlite_url, "select count(*), count(distinct url), count(distinct content_hash) from articles"
    )
    assert tuple(counts) == (final.size, final.size, final.size)  # every article, each once
    delays = []
    for index in range(40, final.size):
        path = final.path(index)
        assert path in stored, f"article {index} published at {final.published(index)} never stored"
        delays.append((stored[path] - final.published(index)).total_seconds())
    assert max(delays) <= POLL_BOUND, sorted(delays)

    lines = [line.split() for line in log.read_text().splitlines()]
    by_path = Counter(path for _method, path, _status in lines)
    articles = {path: n for path, n in by_path.items() if path in {final.path(i) for i in range(final.size)}}
    assert set(articles.values()) == {1}, "an article page was downloaded twice"
    feed = Counter(status for _m, path, status in lines if path == "/rss/main")
    assert feed["304"] > 0 and feed["200"] <= final.size - 40 + 1, feed  # a 200 only when it changed
    assert feed["304"] + feed["200"] >= 30 / 3  # polled at least every OILNEWS_WATCH_MAX_SECONDS

    run = runs(sqlite_url, 1)[0]
    assert (run.spider, run.status, run.finish_reason) == ("watch", "finished", "finished")
    assert run.heartbeat_at is not None and run.stats["oilnews/watch/heartbeats"] >= 30
    assert run.stats["oilnews/watch/not_modified"] == feed["304"] + sum(
        1 for _m, path, status in lines if status == "304" and path != "/rss/main"
    )


def test_watch_without_validators_hashes_the_listing(sqlite_url: str, tmp_path: Path) -> None:
    """A site that sends no ETag/Last-Modified: an unchanged feed is told by its listed URLs."""
    with ReplicaServer(30) as site:
        site.state.validators = False
        site.publish_every(FAST_PUBLISH, until=time.time() + 3)
        result = subprocess.run(
            watch_command(
                site.url, sqlite_url, tmp_path, "--max-minutes", "0.12", "--sections", "Energy/Crude-Oil"
            ),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        final = site.state.catalogue
    assert result.returncode == 0, result.stderr[-3000:]
    assert query(sqlite_url, "select count(*) from articles")[0][0] == final.size
    stats = runs(sqlite_url, 1)[0].stats
    assert "oilnews/watch/not_modified" not in stats  # no validators, no 304
    assert stats["oilnews/watch/unchanged"] >= 3  # the quiet polls after the last publication


def test_watch_heartbeat_status_sigterm_and_a_killed_watcher(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = tmp_path / "oilnews.prom"

    def read_gauges() -> dict[str, float]:
        if not metrics.exists():
            return {}
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(metrics.read_text())
            for sample in family.samples
        }

    with ReplicaServer(30) as site, contextlib.ExitStack() as cleanup:  # no watcher outlives a failure
        site.publish_every(FAST_PUBLISH)
        command = watch_command(site.url, sqlite_url, tmp_path, OILNEWS_METRICS_FILE=metrics)
        watcher = cleanup.enter_context(watching(command))
        _wait(lambda: _heartbeat(sqlite_url), 60, "a heartbeat", watcher)
        # A heartbeat may come before every source's first poll (a loaded machine): wait for those.
        _wait(
            lambda: read_gauges().get("oilnews_watch_polls", 0) >= 24, 30, "every source polled once", watcher
        )
        gauges = read_gauges()
        assert time.time() - gauges["oilnews_watch_heartbeat_timestamp_seconds"] < 30
        assert gauges["oilnews_watch_failing_sources"] == 0 and gauges["oilnews_watch_outage_seconds"] == 0
        assert gauges["oilnews_watch_polls"] >= 24  # every source polled once at start
        alive = oilnews_main("status", "--db", sqlite_url)
        assert alive.returncode == 0, alive.stderr
        assert alive.stdout.startswith("watcher run 1: watching, heartbeat "), alive.stdout
        listed = oilnews_main("runs", "--db", sqlite_url)
        assert "running" in listed.stdout and "watching, heartbeat" in listed.stdout, listed.stdout
        published = site.state.catalogue.size
        _wait(
            lambda: query(sqlite_url, "select count(*) from articles")[0][0] >= published + 2,
            30,
            "new articles",
        )
        watcher.send_signal(signal.SIGTERM)
        _, stderr = watcher.communicate(timeout=60)
        assert watcher.returncode == ExitCode.TERMINATED, stderr[-3000:]
        run = runs(sqlite_url, 1)[0]
        assert (run.status, run.finish_reason) == ("interrupted", "shutdown")
        ended = oilnews_main("status", "--db", sqlite_url)
        assert ended.returncode == 0 and "watcher run 1: ended " in ended.stdout, ended.stdout

        killed = cleanup.enter_context(watching(watch_command(site.url, sqlite_url, tmp_path)))
        _wait(lambda: runs(sqlite_url, 1)[0].id == 2 and _heartbeat(sqlite_url), 60, "a heartbeat", killed)
        killed.kill()
        killed.communicate(timeout=30)
    from oilnews import summary

    killed_at = summary.utc_now()
    just_killed = oilnews_main("status", "--db", sqlite_url)
    assert just_killed.returncode == 0, just_killed.stdout + just_killed.stderr  # not silent yet
    later = killed_at + timedelta(seconds=summary.stale_after(0.25) + 1)
    monkeypatch.setattr(summary, "utc_now", lambda: later)
    silent = oilnews_main("status", "--db", sqlite_url)
    assert silent.returncode == 1, silent.stdout + silent.stderr
    assert silent.stdout.startswith("watcher run 2: watcher silent for "), silent.stdout
    assert "hung or killed" in oilnews_main("runs", "--db", sqlite_url).stdout


def test_watch_rides_out_a_site_outage_and_alerts_once_each_way(
    sqlite_url: str, tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    site = ReplicaServer(30).start()
    port = int(site.url.rsplit(":", 1)[1])
    command = watch_command(
        site.url,
        sqlite_url,
        tmp_path,
        OILNEWS_ALERT_WEBHOOK=url,
        OILNEWS_WATCH_ALERT_AFTER_MINUTES=0.05,
        OILNEWS_HEALTH_MAX_ERROR_RATE=1,
        DOWNLOAD_TIMEOUT=2,
        OILNEWS_RETRY_BACKOFF_BASE=0.2,
    )
    try:
        with watching(command) as watcher:
            _wait(
                lambda: query(sqlite_url, "select count(*) from articles")[0][0] == 30,
                60,
                "the first articles",
                watcher,
            )
            site.stop()  # the site goes away
            _wait(lambda: received, 60, "the outage alert", watcher)
            assert watcher.poll() is None  # still watching
            site = ReplicaServer(36, port=port).start()  # back, with six new articles
            _wait(lambda: len(received) >= 2, 60, "the recovery message", watcher)
            _wait(
                lambda: query(sqlite_url, "select count(*) from articles")[0][0] == 36,
                60,
                "the new articles",
                watcher,
            )
            stderr = _terminate(watcher)
    finally:
        site.stop()
    assert watcher.returncode == ExitCode.TERMINATED, stderr[-3000:]
    assert len(received) == 2, received
    assert not received[0]["healthy"] and "every poll of the site failing" in received[0]["text"]
    assert received[1]["healthy"] and "healthy again" in received[1]["text"]
    stats = runs(sqlite_url, 1)[0].stats
    assert stats["oilnews/watch/poll_failed"] >= 3
    assert query(sqlite_url, "select count(*), count(distinct url) from articles")[0] == (36, 36)


@pytest.mark.postgres
def test_watch_spools_through_a_postgres_outage_and_replays(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    postgres_url = private_postgres.url
    with ReplicaServer(30) as site:
        site.publish_every(FAST_PUBLISH)
        command = watch_command(
            site.url, postgres_url, tmp_path, OILNEWS_DB_RETRIES=2, OILNEWS_DB_RETRY_BACKOFF=0.2
        )
        with watching(command) as watcher:
            _wait(lambda: _heartbeat(postgres_url), 60, "a heartbeat", watcher)
            private_postgres.stop()
            try:
                _wait(
                    lambda: list((tmp_path / "spool").glob("batch-*.jsonl")), 60, "a spooled batch", watcher
                )
            finally:
                private_postgres.start()
            size = site.state.catalogue.size
            _wait(
                lambda: query(postgres_url, "select count(*) from articles")[0][0] >= size,
                90,
                "the spooled articles replayed",
                watcher,
            )
            stderr = _terminate(watcher)
        final = site.state.catalogue.size
    assert watcher.returncode == ExitCode.TERMINATED, stderr[-3000:]
    rows = query(postgres_url, "select count(*), count(distinct url) from articles")
    assert rows[0][0] == rows[0][1] and final - 2 <= rows[0][0] <= final
    stats = runs(postgres_url, 1)[0].stats
    assert stats["oilnews/store/spooled_items"] > 0
    assert stats["oilnews/store/spool_recovered"] == stats["oilnews/store/spooled_items"]
    assert not list((tmp_path / "spool").glob("batch-*"))


@pytest.mark.browser
def test_watch_polls_the_ticker_and_renders_the_chart(sqlite_url: str, tmp_path: Path) -> None:
    """The slower clocks in the same process: the ticker from a listing page, the chart through
    Chromium (once at start: OILNEWS_CHART_EVERY_HOURS is long)."""
    from scrapy.settings import Settings

    from oilnews.middlewares.rendering import chromium_path

    if chromium_path(Settings({"OILNEWS_CHROMIUM_PATH": ""})) is None:
        unavailable("Chromium is not installed (apt-get install chromium; scripts/services does it)")
    with ReplicaServer(20) as site:
        command = watch_command(
            site.url, sqlite_url, tmp_path, "--max-minutes", "0.25", OILNEWS_RENDER="true"
        )
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    sources = dict(query(sqlite_url, "select source, count(*) from price_quotes group by source"))
    assert sources.get("chart", 0) > 0 and sum(n for s, n in sources.items() if s != "chart") > 0, sources
    stats = runs(sqlite_url, 1)[0].stats
    assert stats["oilnews/render/chart_points"] > 0 and stats["oilnews/pages/ticker"] >= 1
