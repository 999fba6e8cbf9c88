"""The figures of a run, and the lines that show them: progress, the closing summary, `runs`.

One place for what a person reads about a crawl, so the progress line, the summary on stderr
and `crawl_runs.counts` always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oilnews import health
from oilnews.dates import json_value
from oilnews.stats import key


def _total(stats: dict[str, Any], prefix: str) -> int:
    return sum(int(v) for k, v in stats.items() if k.startswith(prefix) and isinstance(v, int | float))


def run_counts(stats: dict[str, Any]) -> dict[str, Any]:
    """The figures a person reads first, from the crawl stats."""
    return {
        "requests": int(stats.get("downloader/request_count", 0)),
        "responses": int(stats.get("response_received_count", 0)),
        "pages_article": int(stats.get(key("pages", "article"), 0)),
        "pages_listing": int(stats.get(key("pages", "listing"), 0)),
        "articles_parsed": int(stats.get(key("clean", "articles"), 0)),
        "articles_new": int(stats.get(key("store", "articles_new"), 0)),
        "articles_updated": int(stats.get(key("store", "articles_updated"), 0)),
        "articles_unchanged": int(stats.get(key("store", "articles_unchanged"), 0)),
        "articles_churning": int(stats.get(key("store", "articles_churning"), 0)),
        "duplicates": _total(stats, key("dedupe", "url_duplicate"))
        + _total(stats, key("dedupe", "known_alias"))
        + _total(stats, key("store", "content_duplicates")),
        "aliases": int(stats.get(key("store", "aliases"), 0)),
        "links": int(stats.get(key("store", "links"), 0)),
        "skipped_known": int(stats.get(key("skipped", "known"), 0)),
        "refreshed": _total(stats, key("refresh") + "/"),
        "dropped": _total(stats, key("dropped") + "/"),
        "quotes": int(stats.get(key("store", "quotes"), 0)),
        "gone": _total(stats, key("gone") + "/"),
        "errors": health.errors(stats) + int(stats.get(key("errors", "database"), 0)),
        "spooled": int(stats.get(key("store", "spooled_items"), 0)),
        "dropped_by_reason": {
            k.rsplit("/", 1)[1]: int(v) for k, v in stats.items() if k.startswith(key("dropped") + "/")
        },
    }


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:.1f}" if seconds > 0 else "-"


def progress_line(counts: dict[str, Any], seconds: float, queued: int | None) -> str:
    # "parsed" runs ahead of "stored" by at most a batch (OILNEWS_DB_BATCH_SIZE): both are shown.
    return (
        f"[{seconds:7.0f}s] pages {counts['responses']} ({_rate(counts['responses'], seconds)}/s)"
        + (f", queued {queued}" if queued is not None else "")
        + f", articles parsed {counts['articles_parsed']}, stored new {counts['articles_new']} "
        f"updated {counts['articles_updated']} unchanged {counts['articles_unchanged']}, "
        f"duplicates {counts['duplicates']}, "
        f"dropped {counts['dropped']}, gone {counts['gone']}, errors {counts['errors']}"
    )


def summary_line(counts: dict[str, Any], seconds: float, healthy: bool, run_id: Any, where: str) -> str:
    return (
        f"oilnews: {'done' if healthy else 'UNHEALTHY'} in {seconds:.1f}s: "
        f"pages {counts['responses']} ({_rate(counts['responses'], seconds)}/s), "
        f"articles new {counts['articles_new']}, updated {counts['articles_updated']}, "
        f"unchanged {counts['articles_unchanged']}, duplicate {counts['duplicates']}, "
        f"dropped {counts['dropped']}, skipped known {counts['skipped_known']}, "
        f"refreshed {counts['refreshed']}, quotes {counts['quotes']}, gone {counts['gone']}, "
        f"errors {counts['errors']}; run {run_id if run_id is not None else '-'} in {where}"
    )


STATUS_ORDER = (
    health.RUNNING,
    health.FAILED,
    health.ABANDONED,
    health.INTERRUPTED,
    health.FINISHED,
)  # a group shows the worst
WATCH_SPIDER = "watch"  # the watcher's spider name: its crawl_runs rows are judged by heartbeat
REPARSE_SPIDER = "reparse"  # `oilnews reparse`: reads captured pages (WARC), never the site
DEFAULT_HEARTBEAT_SECONDS = 30.0  # the watch spider's OILNEWS_WATCH_HEARTBEAT_SECONDS


def utc_now() -> datetime:
    """The clock by which `runs` and `status` judge a heartbeat's age: one place, so a test
    can move time forward instead of waiting for a watcher to go silent."""
    return datetime.now(UTC)


def stale_after(heartbeat_seconds: float) -> float:
    """Seconds without a heartbeat after which a watcher counts as hung or gone: three missed
    beats, and a few seconds for a beat held up by a slow database write."""
    return 3 * heartbeat_seconds + 5


@dataclass
class RunView:
    """One line of `oilnews runs`: a crawl, or every worker of one distributed run together."""

    ids: list[int]
    started_at: datetime
    finished_at: datetime | None
    status: str
    finish_reason: str | None
    counts: dict[str, Any]
    failures: list[str]
    group: str | None = None
    workers: list[str] = field(default_factory=list)
    spider: str = "news"
    heartbeat_at: datetime | None = None  # a watcher's last sign of life
    heartbeat_seconds: float | None = None  # ... and how often it gives one

    @property
    def label(self) -> str:
        return str(self.ids[0]) if len(self.ids) == 1 else f"{min(self.ids)}+{len(self.ids) - 1}"

    @property
    def seconds(self) -> float | None:
        """How long it ran; for a running watcher, up to its last heartbeat."""
        end = self.finished_at or self.heartbeat_at
        return (end - self.started_at).total_seconds() if end else None

    def silent_for(self, now: datetime) -> float | None:
        """Seconds since a running watcher's last heartbeat (or its start); None otherwise."""
        if self.status != "running" or self.spider != WATCH_SPIDER:
            return None
        return (now - (self.heartbeat_at or self.started_at)).total_seconds()

    def stale(self, now: datetime) -> bool:
        """A running watcher that has missed its heartbeats: hung or killed."""
        silent = self.silent_for(now)
        return silent is not None and silent > stale_after(
            self.heartbeat_seconds or DEFAULT_HEARTBEAT_SECONDS
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": min(self.ids),
            "ids": sorted(self.ids),
            "run_group": self.group,
            "workers": self.workers,
            "started_at": json_value(self.started_at),
            "finished_at": json_value(self.finished_at),
            "seconds": self.seconds,
            "spider": self.spider,
            "heartbeat_at": json_value(self.heartbeat_at),
            "status": self.status,
            "finish_reason": self.finish_reason,
            "counts": self.counts,
            "health_failures": self.failures,
        }


def _merge_counts(all_counts: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for counts in all_counts:
        for name, value in counts.items():
            if isinstance(value, dict):
                target = merged.setdefault(name, {})
                for k, v in value.items():
                    target[k] = target.get(k, 0) + v
            elif isinstance(value, int | float):
                merged[name] = merged.get(name, 0) + value
    return merged


def run_views(rows: list[Any], by_worker: bool = False) -> list[RunView]:
    """crawl_runs rows (newest first) as `oilnews runs` shows them: the workers of one
    distributed run (same run_group) folded into one view, unless `by_worker`."""
    groups: dict[Any, list[Any]] = {}
    for row in rows:
        group = row.run_group if row.run_group and not by_worker else ("row", row.id)
        groups.setdefault(group, []).append(row)
    views = []
    for members in groups.values():
        statuses = {m.status for m in members}
        status = next((s for s in STATUS_ORDER if s in statuses), members[0].status)
        reasons = {m.finish_reason for m in members}
        finished = [m.finished_at for m in members]
        views.append(
            RunView(
                ids=[m.id for m in members],
                started_at=min(m.started_at for m in members),
                finished_at=None if None in finished else max(f for f in finished if f is not None),
                status=status,
                finish_reason=reasons.pop() if len(reasons) == 1 else "mixed",
                counts=_merge_counts([m.counts or {} for m in members]),
                failures=[f for m in members for f in (m.health or {}).get("failures") or []],
                group=members[0].run_group,
                workers=[m.worker for m in members if m.worker],
                spider=members[0].spider,
                heartbeat_at=max((m.heartbeat_at for m in members if m.heartbeat_at), default=None),
                heartbeat_seconds=(members[0].health or {}).get("heartbeat_seconds"),
            )
        )
    return views


RUNS_HEADER = (
    f"{'run':>7} {'kind':7} {'started (UTC)':19} {'duration':>8} {'workers':>7} {'status':9} {'reason':12} "
    f"{'requests':>8} {'new':>6} {'updated':>7} {'unchanged':>9} {'gone':>5} {'dropped':>7} {'errors':>6}  health"
)


def age_words(seconds: float) -> str:
    """A silence or an age as a person says it: 40 s, 12 min, 3.5 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def watcher_state(view: RunView, now: datetime) -> str | None:
    """How a running watcher is, in words; None for anything else."""
    silent = view.silent_for(now)
    if silent is None:
        return None
    if view.stale(now):
        return f"watcher silent for {age_words(silent)}: hung or killed"
    return f"watching, heartbeat {silent:.0f}s ago"


def runs_line(view: RunView, now: datetime | None = None) -> str:
    c = view.counts
    state = watcher_state(view, now) if now is not None else None
    duration = f"{view.seconds:.0f}s" if view.seconds is not None else "-"
    return (
        f"{view.label:>7} {view.spider:7} {view.started_at:%Y-%m-%d %H:%M:%S} {duration:>8} {max(1, len(view.workers)):>7} "
        f"{view.status:9} {(view.finish_reason or '-'):12} {c.get('requests', 0):>8} "
        f"{c.get('articles_new', 0):>6} {c.get('articles_updated', 0):>7} {c.get('articles_unchanged', 0):>9} "
        f"{c.get('gone', 0):>5} {c.get('dropped', 0):>7} {c.get('errors', 0):>6}  "
        + (state or ("; ".join(view.failures) if view.failures else "ok"))
    )
