"""See it and be told: the HTML report in a real Chromium, alerts to a real HTTP and SMTP server
on loopback, the metrics file parsed with prometheus_client's parser."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from oilnews.dates import utc_from_db
from oilnews.replica.server import ReplicaServer
from tests.helpers import IN_CI, crawl, oilnews_main, query, smtp_controller, unavailable

CHROMIUM = "/usr/bin/chromium"


def chromium() -> str:
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    return str(path)


@pytest.mark.browser
def test_report_draws_every_chart_offline(sqlite_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from oilnews.report.charts import CHART_IDS

    with ReplicaServer(150) as site:
        assert crawl(site.url, sqlite_url, tmp=tmp_path).returncode == 0
        site.state.broken_articles = True  # a second, unhealthy run: marked on the runs chart
        assert crawl(site.url, sqlite_url, "--full", tmp=tmp_path).returncode == 1
    out = tmp_path / "report.html"
    # The replica publishes in January 2023: the default window is the last 30 days *of the data*.
    result = oilnews_main("report", "--db", sqlite_url, "--out", str(out))
    assert result.returncode == 0, result.stderr
    page_html = out.read_text(encoding="utf-8")
    assert "(the last 30 days of the stored articles)" in page_html and "2023-01" in page_html
    assert "(the last 30 days of the crawl runs)" in page_html
    assert "USD/bbl" in page_html and "USD/gal" in page_html and "USD/MMBtu" in page_html  # latest prices
    assert "<script" not in page_html and "<link" not in page_html and "@import" not in page_html
    # Nothing to fetch: no image or font source, no url() but the SVGs' own #clip-path references.
    assert " src=" not in page_html and not re.search(r"url\((?!#)", page_html)

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(out.as_uri())
            page.wait_for_load_state("load")
            drawn = page.evaluate(
                """ids => ids.map(id => {
                    const svg = document.querySelector('#' + id + ' svg');
                    if (!svg) return [id, 0, 0];
                    const box = svg.getBoundingClientRect();
                    return [id, svg.querySelectorAll('path').length, box.width * box.height];
                })""",
                list(CHART_IDS),
            )
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            marks = page.locator("text=health check failed").count() + page.locator("li.bad").count()
        finally:
            browser.close()
    assert requests == [out.as_uri()], f"the page made network requests: {requests[1:]}"
    for chart_id, paths, area in drawn:
        assert paths > 20 and area > 50_000, f"chart {chart_id} not drawn ({paths} paths, {area:.0f} px²)"
    assert marks >= 1  # the unhealthy run is listed with its reason
    assert (tmp_path / "report.png").stat().st_size > 20_000
    check_the_charts(sqlite_url)


def check_the_charts(db: str) -> None:
    """What makes the charts readable, on the figures themselves: legends beside the plot (never
    over the data), every bar labelled with its count, a barrel never on a gallon's axis, and a
    time axis of hours around two runs minutes apart (not the years matplotlib picks for a point)."""
    from oilnews.report.charts import (
        figure_articles_per_day,
        figure_authors_sources,
        figure_mentions,
        figure_prices,
        figure_runs,
    )
    from oilnews.report.data import collect
    from oilnews.storage.database import open_for_reading

    database = open_for_reading(db)
    try:
        data = database.transaction(lambda conn: collect(conn, 30))
    finally:
        database.close()
    figures = [
        make(data) for make in (figure_articles_per_day, figure_authors_sources, figure_runs, figure_prices)
    ]
    for figure in figures:
        figure.canvas.draw()
        for ax in figure.axes:
            legend = ax.get_legend()
            if legend is not None:
                assert legend.get_window_extent().x0 >= ax.get_window_extent().x1, "a legend over the data"
    per_day, authors = figures[0].axes[0], figures[1].axes
    assert len(per_day.texts) == len({d for c in data.articles_per_day.values() for d in c})  # a total a day
    for ax in authors:
        assert len(ax.texts) == len(ax.patches) > 0  # a count on every bar
    units = [ax.get_ylabel() for ax in figures[3].axes]
    assert sorted(units) == ["USD/MMBtu", "USD/bbl", "USD/gal"]
    for ax in figures[3].axes:
        names = [line.get_label() for line in ax.get_lines()]
        assert ("Brent Crude" in names) == (ax.get_ylabel() == "USD/bbl")
        assert ("Gasoline" in names) == (ax.get_ylabel() == "USD/gal")
    low, high = figures[2].axes[-1].get_xlim()
    assert timedelta(days=high - low) <= timedelta(hours=3), "the runs axis spans more than the runs"
    # What the articles mention: a panel a kind, its names the most mentioned, a count on each bar,
    # and that count the number of articles of the window naming it (not of mentions).
    window = data.articles_window
    named: Counter[str] = Counter()
    for published, countries in query(db, "select published_at, countries from articles"):
        if window.start <= utc_from_db(published) < window.end:  # type: ignore[operator]
            named.update(list(json.loads(countries) if isinstance(countries, str) else (countries or {})))
    assert data.mentions["countries"] == named and max(named.values()) > 1
    mentioned = figure_mentions(data)
    mentioned.canvas.draw()
    assert [ax.get_title() for ax in mentioned.axes] == ["Commodities", "Countries", "Companies"]
    for ax, kind in zip(mentioned.axes, ("commodities", "countries", "companies"), strict=True):
        names = [label.get_text() for label in ax.get_yticklabels()]
        assert names[::-1] == [name for name, _ in data.mentions[kind].most_common(10)] and names
        assert len(ax.texts) == len(ax.patches)


def test_report_of_an_empty_database_is_a_page(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    assert oilnews_main("db", "upgrade", "--db", db).returncode == 0
    out = tmp_path / "empty.html"
    result = oilnews_main("report", "--db", db, "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert (
        "No article stored yet" in text and "No crawl run recorded yet" in text and "No price quote" in text
    )


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    try:
        import aiosmtpd.controller  # noqa: F401
    except ImportError:
        if IN_CI:
            raise
        pytest.skip("aiosmtpd is not installed (pip install '.[dev]')")

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    controller = smtp_controller(Handler())
    port = int(controller.port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_alerts_for_a_failed_run_and_once_for_the_recovery(
    webhook: tuple[str, list[dict[str, Any]]], smtp: tuple[int, list[Any]], sqlite_url: str, tmp_path: Path
) -> None:
    hook_url, posts = webhook
    port, mails = smtp
    env = {
        "OILNEWS_ALERT_WEBHOOK": hook_url,
        "OILNEWS_ALERT_EMAIL_TO": "ops@example.org",
        "OILNEWS_SMTP_HOST": "127.0.0.1",
        "OILNEWS_SMTP_PORT": str(port),
    }
    metrics = tmp_path / "oilnews.prom"
    env["OILNEWS_METRICS_FILE"] = str(metrics)
    with ReplicaServer(60) as site:
        assert crawl(site.url, sqlite_url, tmp=tmp_path, **env).returncode == 0
        assert posts == [] and mails == []  # healthy after nothing: no news
        site.state.broken_articles = True
        assert crawl(site.url, sqlite_url, "--full", tmp=tmp_path, **env).returncode == 1
        site.state.broken_articles = False
        assert crawl(site.url, sqlite_url, "--full", tmp=tmp_path, **env).returncode == 0
        assert crawl(site.url, sqlite_url, tmp=tmp_path, **env).returncode == 0  # healthy again: silent

    assert [p["healthy"] for p in posts] == [False, True]
    failed, recovered = posts
    assert (
        failed["text"].startswith("oilnews run 2 on http://") and "FAILED: body missing in" in failed["text"]
    )
    assert "articles new 0" in failed["text"] and "Log: " in failed["text"]
    assert recovered["text"].startswith("oilnews run 3 on ") and "healthy again" in recovered["text"]
    assert len(mails) == 2
    subjects = [m.content.decode().split("Subject: ", 1)[1].splitlines()[0] for m in mails]
    assert subjects[0].startswith("oilnews: crawl FAILED") and subjects[1].startswith(
        "oilnews: healthy again"
    )
    assert mails[0].rcpt_tos == ["ops@example.org"]

    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f.samples[0].value for f in text_string_to_metric_families(metrics.read_text())}
    assert families["oilnews_last_run_healthy"] == 1
    assert families["oilnews_last_run_articles_new"] == 0
    assert (
        families["oilnews_last_run_end_timestamp_seconds"]
        >= families["oilnews_last_run_start_timestamp_seconds"]
    )
    assert families["oilnews_newest_article_age_seconds"] > 0
    assert {"oilnews_last_run_errors", "oilnews_last_run_quotes", "oilnews_last_run_duration_seconds"} <= set(
        families
    )


def test_an_undeliverable_alert_is_counted_and_bounded(sqlite_url: str, tmp_path: Path) -> None:
    import socket

    # A server that accepts the connection and never answers: the alert times out.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    try:
        env = {
            "OILNEWS_ALERT_WEBHOOK": f"http://127.0.0.1:{silent.getsockname()[1]}/hook",
        }
        with ReplicaServer(40) as site:
            site.state.broken_articles = True
            started = time.monotonic()
            result = crawl(site.url, sqlite_url, "-s", "OILNEWS_ALERT_TIMEOUT=2", tmp=tmp_path, **env)
            took = time.monotonic() - started
    finally:
        silent.close()
    assert result.returncode == 1  # the health check's verdict, not the alert's
    from tests.helpers import runs

    stats = runs(sqlite_url, 1)[0].stats
    assert stats.get("oilnews/alerts/failed/webhook") == 1
    assert took < 30


def test_email_alert_over_starttls_with_a_login(sqlite_url: str, tmp_path: Path) -> None:
    """A relay that insists on STARTTLS and a login: the alert goes through it, the password
    never in the message or the log."""
    import ssl
    import subprocess

    try:
        from aiosmtpd.smtp import AuthResult
    except ImportError:
        if IN_CI:
            raise
        pytest.skip("aiosmtpd is not installed (pip install '.[dev]')")
    openssl = shutil.which("openssl")
    if openssl is None:
        unavailable("openssl is not installed (apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            str(openssl),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[Any] = []
    logins: list[tuple[str, str]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret-smtp")

    controller = smtp_controller(
        Handler(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    port = int(controller.port)
    controller.start()
    try:
        env = {
            "OILNEWS_ALERT_EMAIL_TO": "ops@example.org",
            "OILNEWS_SMTP_HOST": "127.0.0.1",
            "OILNEWS_SMTP_PORT": str(port),
            "OILNEWS_SMTP_STARTTLS": "true",
            "OILNEWS_SMTP_CA_FILE": str(cert),
            "OILNEWS_SMTP_USER": "oilnews",
            "OILNEWS_SMTP_PASSWORD": "s3cret-smtp",
        }
        with ReplicaServer(30) as site:
            site.state.broken_articles = True
            result = crawl(site.url, sqlite_url, tmp=tmp_path, **env)
    finally:
        controller.stop()
    assert result.returncode == 1
    assert logins == [("oilnews", "s3cret-smtp")]
    (mail,) = received
    assert "crawl FAILED" in mail.content.decode() and "s3cret-smtp" not in mail.content.decode()
    assert "s3cret-smtp" not in result.stderr


def test_a_site_down_at_start_is_a_recorded_alerted_failed_run(
    sqlite_url: str, tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    """The failure a scheduled crawler meets most (site down, DNS, TLS, a proxy): runs, status,
    the alert and Prometheus all see it, though no page was ever fetched."""
    from prometheus_client.parser import text_string_to_metric_families

    from oilnews.errors import ExitCode
    from tests.helpers import held_port, run_oilnews, runs

    url, received = webhook
    metrics = tmp_path / "oilnews.prom"
    assert oilnews_main("db", "upgrade", "--db", sqlite_url).returncode == 0
    env = {"OILNEWS_ALERT_WEBHOOK": url, "OILNEWS_METRICS_FILE": str(metrics)}
    with held_port() as port:
        site = f"http://127.0.0.1:{port}"
        result = run_oilnews("crawl", "--site", site, "--db", sqlite_url, env=env)
    assert result.returncode == ExitCode.UNREACHABLE
    assert result.stderr.strip().count("\n") == 0 and f"cannot reach {site}" in result.stderr
    (run,) = runs(sqlite_url)
    assert (run.status, run.finish_reason, run.site_url) == ("failed", "site_unreachable", site)
    assert run.finished_at is not None and f"cannot reach {site}" in run.health["failures"][0]
    (alert,) = received
    assert not alert["healthy"] and "FAILED" in alert["text"] and "cannot reach" in alert["text"]
    gauges = {
        s.name: s.value
        for family in text_string_to_metric_families(metrics.read_text())
        for s in family.samples
    }
    assert gauges["oilnews_last_run_healthy"] == 0 and gauges["oilnews_last_run_articles_new"] == 0
    listed = oilnews_main("runs", "--db", sqlite_url)
    assert "failed" in listed.stdout and "cannot reach" in listed.stdout


def test_a_refused_start_creates_no_database(tmp_path: Path) -> None:
    from tests.helpers import held_port

    with held_port() as port:
        result = oilnews_main(
            "crawl", "--site", f"http://127.0.0.1:{port}", "--db", f"sqlite:///{tmp_path / 'x.db'}"
        )
    assert result.returncode == 2 and not list(tmp_path.iterdir())
