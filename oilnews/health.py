"""Health checks over the final crawl stats (spidermon's habit, without the dependency).

A site redesign that yields empty articles must fail the run loudly: the result goes into
`crawl_runs.health`, the log, and the exit code of `oilnews crawl`.
"""

from __future__ import annotations

from typing import Any

from oilnews.stats import key


def evaluate(stats: dict[str, Any], finish_reason: str, settings: Any) -> dict[str, Any]:
    failures: list[str] = []
    if not settings.getbool("OILNEWS_HEALTH_ENABLED", True):
        return {"ok": True, "failures": [], "checked": False}
    if finish_reason != "finished":
        failures.append(f"finish reason is {finish_reason!r}, not 'finished'")
    listings = int(stats.get(key("pages", "listing"), 0)) + int(stats.get(key("pages", "feed"), 0))
    articles = int(stats.get(key("clean", "articles"), 0))
    known = int(stats.get(key("skipped", "known"), 0))
    if listings and not articles and not known:
        failures.append(f"no articles parsed although {listings} listing/feed pages were read")
    threshold = settings.getfloat("OILNEWS_HEALTH_MAX_MISSING_SHARE", 0.1)
    if articles:
        for field in settings.getlist("OILNEWS_HEALTH_FIELDS", ["title", "body", "published_at", "authors"]):
            missing = int(stats.get(key("fields_missing", field), 0))
            if missing / articles > threshold:
                failures.append(f"{field} missing in {missing}/{articles} articles (over {threshold:.0%})")
        fallback = int(stats.get(key("body_source", "json_ld"), 0))
        if fallback / articles > threshold:
            failures.append(
                f"article body container not found in {fallback}/{articles} articles "
                "(body taken from JSON-LD): the page layout has changed"
            )
    requests = int(stats.get("downloader/request_count", 0))
    errors = sum(
        int(v)
        for k, v in stats.items()
        if k.startswith((key("request_failed") + "/", key("pages", "parse_error")))
    )
    max_error_rate = settings.getfloat("OILNEWS_HEALTH_MAX_ERROR_RATE", 0.05)
    if requests and errors / requests > max_error_rate:
        failures.append(f"error rate {errors}/{requests} over {max_error_rate:.0%}")
    if stats.get(key("store", "spooled_items")):
        failures.append(f"{stats[key('store', 'spooled_items')]} items spooled: database writes failed")
    if requests == 0 and finish_reason == "finished":
        failures.append("no request was made")
    return {
        "ok": not failures,
        "failures": failures,
        "checked": True,
        "articles": articles,
        "requests": requests,
        "errors": errors,
    }
