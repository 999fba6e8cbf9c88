"""The figures of a run, and the lines that show them: progress, the closing summary, `runs`.

One place for what a person reads about a crawl, so the progress line, the summary on stderr
and `crawl_runs.counts` always say the same thing.
"""

from __future__ import annotations

from typing import Any

from oilnews import health
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
        "articles_new": int(stats.get(key("store", "articles_new"), 0)),
        "articles_updated": int(stats.get(key("store", "articles_updated"), 0)),
        "articles_unchanged": int(stats.get(key("store", "articles_unchanged"), 0)),
        "duplicates": _total(stats, key("dedupe", "url_duplicate"))
        + _total(stats, key("dedupe", "content_duplicate"))
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
    return (
        f"[{seconds:7.0f}s] pages {counts['responses']} ({_rate(counts['responses'], seconds)}/s)"
        + (f", queued {queued}" if queued is not None else "")
        + f", articles new {counts['articles_new']} updated {counts['articles_updated']} "
        f"unchanged {counts['articles_unchanged']}, duplicates {counts['duplicates']}, "
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
