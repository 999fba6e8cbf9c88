"""Issue 16: freshness (publication to stored) and cost, `oilnews watch` against cron every 30 min.

Both at the real site's polite settings. The watcher runs on a clock sped up SPEEDUP times:
every interval of its policy (the defaults in settings.py), the download delay, the flush and
heartbeat, the refresh window and the replica's publishing rate (one article every 17 minutes,
as the replica's archive is dated) are divided by SPEEDUP, and the delays measured are
multiplied back. Cron is measured unscaled: one real polite `oilnews crawl` of the same replica
with nothing new (its requests) and one with new articles (when each was stored, counted from
the crawl's start); its freshness is then the wait for the next 30-minute tick, uniform over
the half hour, plus that time into the run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import ROOT, crawl, write_section
from oilnews import settings as defaults
from oilnews.replica.server import ReplicaServer
from tests.helpers import query

SPEEDUP = 60.0
PUBLISH_EVERY = 17 * 60.0  # seconds of site time between two articles
PUBLISHING_HOURS = 8.0  # site time with the site publishing ...
QUIET_HOURS = 6.0  # ... then with nothing published (one whole refresh period at the defaults)
CRON_MINUTES = 30.0
ARCHIVE = 300


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def scaled_settings(s: float = SPEEDUP) -> dict[str, Any]:
    """The polite defaults, every duration divided by `s`."""
    return {
        "OILNEWS_POLITE": "true",
        "DOWNLOAD_DELAY": defaults.DOWNLOAD_DELAY / s,
        "AUTOTHROTTLE_START_DELAY": defaults.AUTOTHROTTLE_START_DELAY / s,
        "AUTOTHROTTLE_MAX_DELAY": defaults.AUTOTHROTTLE_MAX_DELAY / s,
        "OILNEWS_WATCH_MIN_SECONDS": defaults.OILNEWS_WATCH_MIN_SECONDS / s,
        "OILNEWS_WATCH_MAX_SECONDS": defaults.OILNEWS_WATCH_MAX_SECONDS / s,
        "OILNEWS_WATCH_LISTING_MAX_SECONDS": defaults.OILNEWS_WATCH_LISTING_MAX_SECONDS / s,
        "OILNEWS_WATCH_SITEMAP_MINUTES": defaults.OILNEWS_WATCH_SITEMAP_MINUTES / s,
        "OILNEWS_WATCH_TICKER_MINUTES": defaults.OILNEWS_WATCH_TICKER_MINUTES / s,
        "OILNEWS_WATCH_REFRESH_MINUTES": defaults.OILNEWS_WATCH_REFRESH_MINUTES / s,
        "OILNEWS_REFRESH_WINDOW_HOURS": defaults.OILNEWS_REFRESH_WINDOW_HOURS / s,
        "OILNEWS_DB_FLUSH_SECONDS": 2.0 / s,
        "OILNEWS_WATCH_HEARTBEAT_SECONDS": 30.0 / s,
        "OILNEWS_RENDER": "false",
    }


def _stored_at(db: str) -> dict[str, datetime]:
    """Article path -> when it was first stored."""
    return {
        urlsplit(row.url).path: datetime.fromisoformat(str(row.first_seen_at)).replace(tzinfo=UTC)
        for row in query(db, "select url, first_seen_at from articles")
    }


def _freshness(db: str, site: ReplicaServer, first: int) -> list[float]:
    """Seconds from publication to stored of articles `first`..., on the replica's clock."""
    cat = site.state.catalogue
    stored = _stored_at(db)
    return [
        (stored[cat.path(i)] - cat.published(i)).total_seconds()
        for i in range(first, cat.size)
        if cat.path(i) in stored
    ]


def watch_run(tmp: Path) -> dict[str, Any]:
    db = f"sqlite:///{tmp / 'watch.db'}"
    step = timedelta(seconds=PUBLISH_EVERY / SPEEDUP)
    epoch = datetime.now(UTC) - (ARCHIVE - 1) * step  # the archive one (sped-up) step apart
    with ReplicaServer(ARCHIVE, epoch=epoch, step=step) as site:
        filled = crawl(site.url, db, "-s", f"OILNEWS_SPOOL_DIR={tmp / 'spool'}")  # the archive, fast
        assert filled.returncode == 0, "the archive crawl failed"
        publishing = PUBLISHING_HOURS * 3600 / SPEEDUP
        quiet = QUIET_HOURS * 3600 / SPEEDUP
        started = time.time()
        site.publish_every(step.total_seconds(), until=started + publishing, redate=False)
        first_new = site.state.catalogue.size
        options = [a for k, v in scaled_settings().items() for a in ("-s", f"{k}={v}")]
        command = [
            sys.executable, "-m", "oilnews.cli", "watch", "--site", site.url, "--db", db, "--quiet",
            "-s", f"OILNEWS_SPOOL_DIR={tmp / 'spool'}", "--max-minutes", str((publishing + quiet) / 60), *options,
        ]  # fmt: skip
        watcher = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        time.sleep(max(0.0, started + publishing + 300 / SPEEDUP - time.time()))  # + 5 min for the last
        quiet_from = sum(site.hits.values())
        quiet_started = time.monotonic()
        _, stderr = watcher.communicate(timeout=publishing + quiet + 600)
        quiet_seconds = time.monotonic() - quiet_started
        quiet_requests = sum(site.hits.values()) - quiet_from
        delays = [d * SPEEDUP for d in _freshness(db, site, first_new)]
        published = site.state.catalogue.size - first_new
    assert watcher.returncode == 0, stderr[-2000:]
    return {
        "published": published,
        "stored": len(delays),
        "p50": _percentile(delays, 0.5),
        "p95": _percentile(delays, 0.95),
        "max": max(delays),
        "quiet_per_minute": quiet_requests / (quiet_seconds * SPEEDUP / 60),
    }


def cron_run(tmp: Path) -> dict[str, Any]:
    """One polite cron run with nothing new, one with new articles, unscaled."""
    db = f"sqlite:///{tmp / 'cron.db'}"
    spool = ["-s", f"OILNEWS_SPOOL_DIR={tmp / 'spool-cron'}", "-s", "OILNEWS_RENDER=false"]
    epoch = datetime.now(UTC).replace(microsecond=0) - (ARCHIVE - 1) * timedelta(seconds=PUBLISH_EVERY)
    with ReplicaServer(ARCHIVE, epoch=epoch, step=timedelta(seconds=PUBLISH_EVERY)) as site:
        assert crawl(site.url, db, *spool).returncode == 0  # the archive, fast
        before = sum(site.hits.values())
        quiet = crawl(site.url, db, *spool, "-s", "OILNEWS_POLITE=true")
        quiet_requests = sum(site.hits.values()) - before
        site.publish(ARCHIVE + 3)
        started = datetime.now(UTC)
        fresh = crawl(site.url, db, *spool, "-s", "OILNEWS_POLITE=true")
        cat = site.state.catalogue
        stored = _stored_at(db)
        into_run = [(stored[cat.path(i)] - started).total_seconds() for i in range(ARCHIVE, ARCHIVE + 3)]
    assert quiet.returncode == 0 and fresh.returncode == 0, "a polite cron crawl failed"
    period = CRON_MINUTES * 60
    # Published uniformly over the half hour: waits until the next tick, then into the run.
    waits = [period * (k + 0.5) / 1000 for k in range(1000)]
    delays = [w + d for w in waits for d in into_run]
    return {
        "quiet_requests": quiet_requests,
        "quiet_seconds": quiet.seconds,
        "fresh_seconds": fresh.seconds,
        "into_run": into_run,
        "p50": _percentile(delays, 0.5),
        "p95": _percentile(delays, 0.95),
        "quiet_per_minute": quiet_requests / CRON_MINUTES,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        w = watch_run(Path(tmp))
        c = cron_run(Path(tmp))
    lines = [
        "| schedule | freshness p50 | freshness p95 | requests a minute while nothing is published |",
        "|---|---:|---:|---:|",
        f"| `oilnews watch` (defaults) | {w['p50'] / 60:.1f} min | {w['p95'] / 60:.1f} min | {w['quiet_per_minute']:.2f} |",
        f"| cron every {CRON_MINUTES:.0f} min | {c['p50'] / 60:.1f} min | {c['p95'] / 60:.1f} min | {c['quiet_per_minute']:.2f} |",
        "",
        "Targets for watch: p50 at most 2 min, p95 at most 5, at most 3 requests a minute while nothing is"
        f" published: {'met' if w['p50'] <= 120 and w['p95'] <= 300 and w['quiet_per_minute'] <= 3 else 'NOT met'}.",
        "",
        f"Watch: a {ARCHIVE}-article replica publishing one article every {PUBLISH_EVERY / 60:.0f} min for"
        f" {PUBLISHING_HOURS:.0f} h of site time ({w['published']} articles, {w['stored']} stored, the slowest"
        f" {w['max'] / 60:.1f} min), then {QUIET_HOURS:.0f} h with nothing published (one whole"
        f" `OILNEWS_WATCH_REFRESH_MINUTES` period: its re-fetch of the refresh window is in the count), on a clock"
        f" {SPEEDUP:.0f} times faster: every interval, delay and window of the defaults divided by {SPEEDUP:.0f},"
        " the delays multiplied back.",
        f"Cron: real polite `oilnews crawl` runs (1 request/s, AutoThrottle) of the same replica, unscaled: with"
        f" nothing new {c['quiet_requests']} requests in {c['quiet_seconds']:.0f} s (the feed, the listings, two"
        " sitemaps and the re-fetch of the refresh window); with 3 new articles they were stored"
        f" {', '.join(f'{d:.0f}' for d in c['into_run'])} s after the run started ({c['fresh_seconds']:.0f} s in"
        f" all). Freshness = the wait for the next {CRON_MINUTES:.0f}-minute tick (uniform) + that time into the run.",
    ]
    write_section("watch", "Watch mode against cron (issue 16)", "python -m bench watch", lines)


if __name__ == "__main__":
    main()
