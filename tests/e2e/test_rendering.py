"""Browser rendering through scrapy-playwright and Debian's Chromium, only where needed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
from scrapy.http import HtmlResponse

from oilnews.middlewares.rendering import chromium_path
from oilnews.pages.article import parse_article
from oilnews.pipelines.clean import clean_article
from oilnews.replica.content import Catalogue
from oilnews.replica.pages import CHART_BLENDS, CHART_POINTS, render_article
from oilnews.replica.server import ReplicaServer
from tests.helpers import ROOT, crawl, crawl_command, query, runs, unavailable

pytestmark = pytest.mark.browser
JS_EVERY = 10
# Measured here for 200 pages rendered four at a time: 873 MB PSS for the crawler, the
# Playwright driver and Chromium together; the limit leaves room, and catches a leak.
PEAK_PSS_LIMIT_MB = 1200


@pytest.fixture(autouse=True)
def browser() -> None:
    from scrapy.settings import Settings

    if chromium_path(Settings({"OILNEWS_CHROMIUM_PATH": ""})) is None:
        unavailable("Chromium is not installed (apt-get install chromium; scripts/services does it)")


@pytest.fixture
def tag(monkeypatch: pytest.MonkeyPatch) -> str:
    """A mark in the environment of this test's crawls, inherited by the Playwright driver and
    the Chromium it starts: the browsers this test left behind, not another test's."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(TAG, value)
    return value


TAG = "OILNEWS_TEST_TAG"


def live_chromium(tag: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "status"]):
        if "chrom" not in (process.info["name"] or "") or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if process.environ().get(TAG) == tag:
                found.append(process)
        except psutil.Error:  # gone meanwhile, or not ours to read
            pass
    return found


def stats_of(db: str) -> dict:  # type: ignore[type-arg]
    return runs(db, 1)[0].stats


def test_script_pages_challenges_and_chart(sqlite_url: str, tmp_path: Path, tag: str) -> None:
    n = 60
    with ReplicaServer(n, js_every=JS_EVERY) as site:
        result = crawl(site.url, sqlite_url, tmp=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        base = site.url
    cat = site.state.catalogue
    scripted = [i for i in range(n) if cat.script_built(i)]
    challenged = [i for i in range(n) if cat.challenged(i)]
    assert scripted and challenged

    rows = {
        r.url: r
        for r in query(
            sqlite_url, "select url, title, body, authors, published_at, content_hash from articles"
        )
    }
    assert len(rows) == n
    static = Catalogue(n)  # the same site with no browser-only pages: the static twins
    for index in scripted:
        html = render_article(static, static.article(index), base, datetime.now(UTC))
        twin = clean_article(parse_article(HtmlResponse(url=base + static.path(index), body=html.encode())))
        row = rows[twin.url]
        assert (row.title, row.body, row.content_hash) == (twin.title, twin.body, twin.content_hash)
    for index in challenged:
        assert base + cat.path(index) in rows  # the JavaScript check was passed

    chart = query(
        sqlite_url,
        "select blend_id, count(*) as n from price_quotes where source = 'chart' group by blend_id",
    )
    assert {r.blend_id: r.n for r in chart} == {blend: CHART_POINTS for blend in CHART_BLENDS}
    stats = stats_of(sqlite_url)
    assert stats["oilnews/render/empty_body"] == len(scripted)
    assert stats["oilnews/render/challenge"] == len(challenged)
    # images, fonts and media are never fetched by the browser
    assert not any(k.startswith("playwright/request_count/resource_type/image") for k in stats)
    assert not live_chromium(tag)


def test_rendering_off_records_what_needed_a_browser(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(40, js_every=JS_EVERY) as site:
        probe = (
            "import sys\nfrom oilnews.cli import main\ncode = main(sys.argv[1:])\n"
            "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('playwright', 'scrapy_playwright')))\n"
        )
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                probe,
                "crawl",
                "--site",
                site.url,
                "--db",
                sqlite_url,
                "--quiet",
                "-s",
                "OILNEWS_RENDER=false",
                "-s",
                f"OILNEWS_SPOOL_DIR={tmp_path}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.stdout.strip().endswith("[]"), result.stdout + result.stderr[-2000:]
    stats = stats_of(sqlite_url)
    assert stats["oilnews/skipped/challenge_needs_browser"] == sum(1 for i in range(40) if i % JS_EVERY == 5)
    assert stats["oilnews/skipped/empty_body_needs_browser"] == sum(1 for i in range(40) if i % JS_EVERY == 3)


def test_missing_browser_is_a_clear_error(replica: ReplicaServer, sqlite_url: str, tmp_path: Path) -> None:
    result = crawl(
        replica.url,
        sqlite_url,
        "--max-pages",
        "1",
        "-s",
        "OILNEWS_CHROMIUM_PATH=/nonexistent/chromium",
        tmp=tmp_path,
    )
    assert "no Chromium was found" in result.stderr
    assert not query(sqlite_url, "select count(*) from price_quotes where source = 'chart'")[0][0]


def test_200_rendered_pages_bounded_and_cleaned_up(sqlite_url: str, tmp_path: Path, tag: str) -> None:
    with ReplicaServer(200) as site:
        command = crawl_command(site.url, sqlite_url, tmp=tmp_path, OILNEWS_RENDER_ALWAYS="true")
        process = subprocess.Popen(
            command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        watched = psutil.Process(process.pid)
        peak = 0.0
        while process.poll() is None:
            try:
                tree = [watched, *watched.children(recursive=True)]
                peak = max(peak, sum(p.memory_full_info().pss for p in tree if p.is_running()) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.5)
        assert process.returncode == 0
    assert query(sqlite_url, "select count(*) from articles")[0][0] == 200
    stats = stats_of(sqlite_url)
    assert stats["playwright/page_count"] >= 200
    assert stats["playwright/page_count/closed"] == stats["playwright/page_count"]
    assert stats["playwright/page_count/max_concurrent"] <= 4
    time.sleep(1)
    assert not live_chromium(tag), "a Chromium process outlived the crawl"
    assert 0 < peak < PEAK_PSS_LIMIT_MB, f"peak PSS {peak:.0f} MB"
    print(f"peak PSS of crawler + driver + Chromium over 200 rendered pages: {peak:.0f} MB")


def test_the_browser_fetches_only_the_crawls_own_site(sqlite_url: str, tmp_path: Path, tag: str) -> None:
    """A listed page that is a JavaScript check sending the browser to another host (and
    loading a script and a fetch() from it): rendered, nothing reaches that host, and no page
    of it is stored as an article."""
    from oilnews.replica.faults import Fault

    with ReplicaServer(20) as other, ReplicaServer(20) as site:
        hostile = site.state.catalogue.path(4)
        site.state.faults = {hostile: Fault("challenge_offsite", target=other.url)}
        result = crawl(site.url, sqlite_url, tmp=tmp_path)
        assert not other.hits, dict(other.hits)  # not the crawler, not Chromium
    assert result.returncode in (0, 1), result.stderr[-3000:]
    urls = {row.url for row in query(sqlite_url, "select url from articles")}
    assert not [u for u in urls if u.startswith(other.url)]
    assert site.url + hostile not in urls and len(urls) == 19
    stats = stats_of(sqlite_url)
    assert stats["oilnews/render/challenge"] == 1
    assert stats.get("playwright/request_count/aborted", 0) >= 1
    assert not live_chromium(tag)
