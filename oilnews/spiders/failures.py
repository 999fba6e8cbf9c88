"""Why a request failed, and where that is counted: one table for every errback.

A failure is one of
- *gone*: 404 or 410 for a page the site linked to (deleted or moved articles are a fact of a
  news site): `oilnews/gone/http_<code>`, listed, never part of the error rate;
- *optional*: a 404 for a page that may not exist (a month's sitemap): `oilnews/optional_missing`;
- *refused*: a request robots.txt or the site scope turned down (counted where it was decided),
  or a redirect chain that was too long (`redirect_limit`);
- *error*: anything else (5xx after retries, 403, timeouts, connection failures):
  `oilnews/request_failed/<reason>`, which the health check's error rate counts.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import IgnoreRequest
from twisted.python.failure import Failure

from oilnews.stats import ERROR_PREFIX, GONE_PREFIX, key, record_skip

logger = logging.getLogger(__name__)

GONE_STATUSES = frozenset({404, 410})


def classify(failure: Failure) -> tuple[str, str]:
    """(kind, reason) of a failed request: kind is gone, optional, refused or error."""
    request = getattr(failure, "request", None)
    response = getattr(failure.value, "response", None)
    if response is not None:
        if response.status == 404 and request is not None and request.meta.get("optional"):
            return "optional", "http_404"
        if response.status in GONE_STATUSES:
            return "gone", f"http_{response.status}"
        return "error", f"http_{response.status}"
    if isinstance(failure.value, IgnoreRequest):
        if "max redirections" in str(failure.value):
            return "refused", "redirect_limit"
        return "refused", ""
    return "error", failure.type.__name__ if failure.type else "error"


def record(stats: Any, failure: Failure) -> None:
    """Count and log a failed request by its kind (see the module docstring)."""
    request = getattr(failure, "request", None)
    url = request.url if request is not None else "?"
    kind, reason = classify(failure)
    if kind == "optional":
        logger.info("no %s on the site (404)", url)
        stats.inc_value(key("optional_missing"))
    elif kind == "gone":
        logger.info("gone: %s (%s)", url, reason)
        stats.inc_value(f"{GONE_PREFIX}/{reason}")
        record_skip(stats, url, f"gone_{reason}")
    elif kind == "refused" and reason:
        logger.error("request failed: %s (too many redirects)", url)
        record_skip(stats, url, reason)
    elif kind == "refused":
        stats.inc_value(key("ignored"))  # robots.txt or the site scope: counted where they decided
    else:
        logger.error("request failed: %s (%s)", url, reason)
        stats.inc_value(f"{ERROR_PREFIX}/{reason}")
        record_skip(stats, url, reason)
