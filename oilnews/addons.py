"""Scrapy add-ons: the set-up that derives settings from other settings.

They run in `ADDONS` order after the spider arguments are written into the settings and
before the settings freeze (Scrapy's `Crawler._apply_settings`), for every way of running:
`oilnews crawl`, `scrapy crawl`, a scrapyd job. They write at "spider" priority, above the
project's defaults in settings.py, so a value given on the command line (`-s`) still wins.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings

from oilnews import config
from oilnews.config import environment
from oilnews.extensions import distributed
from oilnews.logs import install_masking
from oilnews.middlewares import rendering

logger = logging.getLogger(__name__)

# A loopback replica: no reason to wait between requests.
LOOPBACK_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY_JITTER": 0,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
}


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _set_all(settings: BaseSettings, values: dict[str, Any]) -> None:
    for name, value in values.items():
        settings.set(name, value, priority="spider")


def preflight(settings: BaseSettings) -> None:
    """What the add-ons would refuse, checked before a crawl starts: bad settings
    (UsageError) and packages missing for what the settings turn on (MissingDependency)."""
    config.validate(settings)
    rendering.browser_settings(settings)
    distributed.frontier_settings(settings, claim=False)


class SafetyAddon:
    """Secrets masked in every log record from the first one on; settings checked."""

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        install_masking()

    def update_settings(self, settings: BaseSettings) -> None:
        install_masking()
        environment.apply_environment(settings, os.environ)  # `scrapy crawl`, scrapyd jobs
        config.validate(settings)


class PolitenessAddon:
    """OILNEWS_POLITE=auto keeps the polite defaults for a real site and drops the delays
    for a loopback one; false drops them everywhere, true keeps them everywhere."""

    def update_settings(self, settings: BaseSettings) -> None:
        polite = str(settings.get("OILNEWS_POLITE", "auto")).lower()
        if polite == "false" or (polite == "auto" and is_loopback(str(settings.get("OILNEWS_SITE_URL")))):
            _set_all(settings, LOOPBACK_SETTINGS)


class RenderingAddon:
    """The browser download handler, when rendering is on and a Chromium exists."""

    def update_settings(self, settings: BaseSettings) -> None:
        values = rendering.browser_settings(settings)
        if settings.getbool("OILNEWS_RENDER") and not values["OILNEWS_RENDER_AVAILABLE"]:
            logger.warning(
                "browser rendering is on but no Chromium was found (looked at OILNEWS_CHROMIUM_PATH, "
                "/usr/bin/chromium, PATH): install it (apt-get install chromium) or set "
                "OILNEWS_RENDER=false; pages that need a browser will be recorded as skipped"
            )
        _set_all(settings, values)


class DistributedAddon:
    """scrapy-redis's scheduler and dupefilter, when OILNEWS_REDIS_URL is set."""

    def update_settings(self, settings: BaseSettings) -> None:
        _set_all(settings, distributed.frontier_settings(settings))
