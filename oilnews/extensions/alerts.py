"""Alerts: one message when a run fails, one when the next is healthy again.

The extension acts when the spider closes, after the health verdict exists. It cannot fail a
crawl: an alert that cannot be delivered is logged and counted (`oilnews/alerts/failed`), and
every delivery is bounded by OILNEWS_ALERT_TIMEOUT seconds, run off the reactor thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import smtplib
import socket
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from sqlalchemy import select

from oilnews.errors import ExitCode
from oilnews.health import (
    ABANDONED,
    FAILED,
    HEALTH_FAILURES_KEY,
    HEALTH_OK_KEY,
    INTERRUPTED,
    RUNNING,
    exit_code,
    interrupted_by,
)
from oilnews.logs import first_line, mask_secrets
from oilnews.stats import key
from oilnews.storage.database import Database
from oilnews.storage.models import runs_table
from oilnews.summary import run_counts

logger = logging.getLogger(__name__)


ALERT_FAILED_KEY = key("alerts", "failed")


ALERT_SENT_KEY = key("alerts", "sent")


@dataclass(frozen=True)
class Verdict:
    """How a finished run went, as the alert and the metrics tell it."""

    healthy: bool
    failures: list[str]
    finish_reason: str
    counts: dict[str, Any]
    run_id: Any
    site: str


def verdict(crawler: Crawler, reason: str) -> Verdict:
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    # Healthy is what the exit code says (one decision for both commands, oilnews.health).
    code = exit_code({**stats, "finish_reason": reason}, crawler.settings)
    # Interrupted, the run is judged by its health checks alone (its exit code is the signal's).
    ok = bool(stats.get(HEALTH_OK_KEY, True)) if interrupted_by(stats) else code == ExitCode.OK
    failures = list(stats.get(HEALTH_FAILURES_KEY) or [])
    if not ok and not failures:
        failures = [
            f"finish reason {reason!r}" if reason != "finished" else f"exit code {int(code)} ({code.name})"
        ]
    return Verdict(
        ok,
        failures,
        reason,
        run_counts(stats),
        stats.get(key("run_id")),
        crawler.settings.get("OILNEWS_SITE_URL"),
    )


def _previous_run_failed(database: Database, run_id: Any) -> bool:
    """Whether the last run before this one that ran to an end (not one still running, not one
    a person interrupted) failed: then a healthy run is news."""
    r = runs_table

    def read(conn: Any) -> Any:
        query = select(r.c.status).where(r.c.status.notin_((RUNNING, INTERRUPTED)))
        query = query.order_by(r.c.id.desc()).limit(1)
        if run_id is not None:
            query = query.where(r.c.id < run_id)
        return conn.execute(query).scalar()

    return database.transaction(read) in (FAILED, ABANDONED)


def message(v: Verdict, log_place: str) -> str:
    c = v.counts
    figures = (
        f"articles new {c.get('articles_new', 0)}, updated {c.get('articles_updated', 0)}, "
        f"dropped {c.get('dropped', 0)}, errors {c.get('errors', 0)}, pages {c.get('responses', 0)}"
    )
    head = f"oilnews run {v.run_id if v.run_id is not None else '-'} on {v.site}"
    if v.healthy:
        return mask_secrets(f"{head}: healthy again ({figures}). Log: {log_place}")
    return mask_secrets(
        f"{head} FAILED: {'; '.join(v.failures) or v.finish_reason} ({figures}). Log: {log_place}"
    )


class AlertChannels:
    """Where alerts go, from the settings: OILNEWS_ALERT_WEBHOOK (Slack-compatible JSON) and/or
    e-mail to OILNEWS_ALERT_EMAIL_TO (SMTP from the OILNEWS_SMTP_* environment). Each delivery
    is bounded by OILNEWS_ALERT_TIMEOUT; none raises (what failed is returned)."""

    def __init__(self, settings: Any) -> None:
        self.webhook = settings.get("OILNEWS_ALERT_WEBHOOK") or ""
        self.email_to = [
            a.strip() for a in str(settings.get("OILNEWS_ALERT_EMAIL_TO") or "").split(",") if a.strip()
        ]
        self.timeout = settings.getfloat("OILNEWS_ALERT_TIMEOUT")
        self.log_place = str(
            settings.get("LOG_FILE") or os.environ.get("OILNEWS_LOG_DIR") or "the crawl's stderr"
        )

    def __bool__(self) -> bool:
        return bool(self.webhook or self.email_to)

    def channels(self) -> list[tuple[str, Callable[[str, Verdict], None]]]:
        found: list[tuple[str, Callable[[str, Verdict], None]]] = []
        if self.webhook:
            found.append(("webhook", self._webhook))
        if self.email_to:
            found.append(("email", self._email))
        return found

    def deliver(self, v: Verdict) -> list[tuple[str, BaseException | None]]:
        """`v` on every channel, in this thread: (channel, the error or None) for each."""
        text = message(v, self.log_place)
        outcomes: list[tuple[str, BaseException | None]] = []
        for channel, send in self.channels():
            try:
                send(text, v)
                outcomes.append((channel, None))
            except Exception as error:
                log_undelivered(channel, error)
                outcomes.append((channel, error))
        return outcomes

    def _webhook(self, text: str, v: Verdict) -> None:
        payload = {
            "text": text,
            "healthy": v.healthy,
            "run_id": v.run_id,
            "failures": v.failures,
            "counts": v.counts,
        }
        request = urllib.request.Request(
            self.webhook,
            data=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()

    def _email(self, text: str, v: Verdict) -> None:
        host = os.environ.get("OILNEWS_SMTP_HOST", "localhost")
        port = int(os.environ.get("OILNEWS_SMTP_PORT", "25"))
        user, password = os.environ.get("OILNEWS_SMTP_USER"), os.environ.get("OILNEWS_SMTP_PASSWORD")
        mail = EmailMessage()
        mail["Subject"] = (
            "oilnews: healthy again" if v.healthy else "oilnews: crawl FAILED"
        ) + f" ({v.site})"
        mail["From"] = os.environ.get("OILNEWS_ALERT_EMAIL_FROM", f"oilnews@{socket.getfqdn()}")
        mail["To"] = ", ".join(self.email_to)
        mail.set_content(text + "\n")
        with smtplib.SMTP(host, port, timeout=self.timeout) as smtp:
            if os.environ.get("OILNEWS_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"):
                # The system's trust store, or OILNEWS_SMTP_CA_FILE for a relay with its own CA.
                cafile = os.environ.get("OILNEWS_SMTP_CA_FILE") or None
                smtp.starttls(context=ssl.create_default_context(cafile=cafile))
            if user:
                smtp.login(user, password or "")
            smtp.send_message(mail)


def log_undelivered(channel: str, error: BaseException) -> None:
    # An undelivered alert must not become a failed crawl; it is said (and counted by the caller).
    logger.error("alert by %s not delivered: %s", channel, first_line(error) or type(error).__name__)


class Alerter:
    """Sends an alert (AlertChannels) when a run fails, and once when the next run is healthy
    again."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.alerts = AlertChannels(crawler.settings)
        # Set when this run's alerts are out (or given up): the run recorder waits for it, so
        # what was delivered is in crawl_runs.stats.
        self.finished = asyncio.Event()
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Alerter:
        if not AlertChannels(crawler.settings):
            raise NotConfigured
        return cls(crawler)

    async def spider_closed(self, spider: Any, reason: str) -> None:
        try:
            await self._alert(reason)
        finally:
            self.finished.set()

    async def _alert(self, reason: str) -> None:
        assert self.crawler.stats is not None
        if interrupted_by(self.crawler.stats.get_stats()):
            return  # an operator's own Ctrl-C or systemctl stop is not an incident
        v = verdict(self.crawler, reason)
        if v.healthy:
            try:
                recovered = await asyncio.to_thread(_previous_run_failed, Database.of(self.crawler), v.run_id)
            except Exception as error:  # no database, no history: no recovery message to send
                logger.info("alerts: could not read the previous run (%s)", first_line(error))
                return
            if not recovered:
                return
        await self.send(v)

    async def send(self, v: Verdict) -> None:
        """Deliver `v` on every configured channel; never raises (counted, logged)."""
        text = message(v, self.alerts.log_place)
        for channel, send in self.alerts.channels():
            try:
                await asyncio.wait_for(asyncio.to_thread(send, text, v), timeout=self.alerts.timeout + 1)
                self.crawler.stats.inc_value(ALERT_SENT_KEY)
            except Exception as error:
                log_undelivered(channel, error)
                self.crawler.stats.inc_value(f"{ALERT_FAILED_KEY}/{channel}")
