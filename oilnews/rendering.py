"""Browser rendering with scrapy-playwright, only where a page needs it.

The spider asks for a browser per request (`meta["playwright"]`): for pages configured as
needing one (the price chart), and as a fallback when a plain response is a JavaScript
challenge or parses to an article without a body. OILNEWS_RENDER=false turns all of it off
and nothing of Playwright is loaded. Debian's Chromium is launched headless, off the
network's background services, with bounded contexts, pages and timeouts; images, fonts and
media are never downloaded.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

HANDLER = "oilnews.playwright_handler.LazyPlaywrightDownloadHandler"
# Chromium reaches out to Google services at start; this network refuses, many at a time.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--mute-audio",
]
BLOCKED_RESOURCES = frozenset({"image", "font", "media"})
_CHALLENGE = re.compile(
    r"document\.cookie\s*=|just a moment|checking your browser|enable javascript and cookies|cf-chl", re.I
)


def chromium_path(settings: BaseSettings) -> str | None:
    configured = settings.get("OILNEWS_CHROMIUM_PATH") or ""
    # An explicit path is the only one tried: a wrong setting must show, not be papered over.
    candidates = (
        [configured]
        if configured
        else ["/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""]
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def configure(settings: BaseSettings) -> None:
    """Install the Playwright download handler when rendering is on and a browser exists.

    OILNEWS_RENDER_AVAILABLE tells the spider whether it may ask for rendering at all.
    """
    settings.set("OILNEWS_RENDER_AVAILABLE", False, priority="spider")
    if not settings.getbool("OILNEWS_RENDER"):
        return
    executable = chromium_path(settings)
    if executable is None:
        logger.error(
            "browser rendering is on but no Chromium was found (looked at OILNEWS_CHROMIUM_PATH, "
            "/usr/bin/chromium, PATH): install it (apt-get install chromium) or set OILNEWS_RENDER=false; "
            "pages that need a browser will be recorded as skipped"
        )
        return
    args = list(CHROMIUM_ARGS)
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
    for name, value in (
        ("DOWNLOAD_HANDLERS", {"http": HANDLER, "https": HANDLER}),
        ("PLAYWRIGHT_BROWSER_TYPE", "chromium"),
        (
            "PLAYWRIGHT_LAUNCH_OPTIONS",
            {"executable_path": executable, "headless": True, "args": args, "timeout": 30_000},
        ),
        ("PLAYWRIGHT_MAX_CONTEXTS", settings.getint("OILNEWS_RENDER_MAX_CONTEXTS")),
        ("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", settings.getint("OILNEWS_RENDER_MAX_PAGES")),
        ("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", settings.getint("OILNEWS_RENDER_TIMEOUT_MS")),
        ("PLAYWRIGHT_ABORT_REQUEST", "oilnews.rendering.should_abort"),
        ("OILNEWS_RENDER_AVAILABLE", True),
    ):
        settings.set(name, value, priority="spider")


def should_abort(request: Any) -> bool:
    """Images, fonts and media never help extraction: the browser does not fetch them."""
    return str(request.resource_type) in BLOCKED_RESOURCES


def is_challenge(response: Any) -> bool:
    """A JavaScript check in place of the page: small, scripted, no article markup."""
    body = getattr(response, "text", "")
    if not body or len(body) > 50_000 or "singleArticle" in body or "categoryArticle" in body:
        return False
    return bool(_CHALLENGE.search(body))


def render_meta(wait_for: str | None = None, idle: bool = False) -> dict[str, Any]:
    """Request meta for a rendered fetch; `wait_for` is a CSS selector the page must show,
    `idle` waits for the network to go quiet instead (a page that may legitimately stay empty)."""
    from scrapy_playwright.page import PageMethod

    meta: dict[str, Any] = {"playwright": True, "oilnews_rendered": True}
    if wait_for:
        meta["playwright_page_methods"] = [PageMethod("wait_for_selector", wait_for, timeout=15_000)]
    elif idle:
        meta["playwright_page_methods"] = [PageMethod("wait_for_load_state", "networkidle", timeout=15_000)]
    return meta
