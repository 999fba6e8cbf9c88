"""The Scrapy components oilnews leaves out of the base lists, so they are not imported."""

from __future__ import annotations

import subprocess
import sys

import scrapy.settings.default_settings as scrapy_defaults

from oilnews import settings


def test_only_the_named_components_leave_the_base_lists() -> None:
    for name in ("EXTENSIONS_BASE", "DOWNLOADER_MIDDLEWARES_BASE"):
        ours, scrapys = getattr(settings, name), getattr(scrapy_defaults, name)
        assert set(scrapys) - set(ours) <= settings._not_loaded  # nothing else removed
        assert {k: scrapys[k] for k in ours} == ours  # the rest as Scrapy orders them
    assert "scrapy.extensions.remote_control.RemoteControl" in settings._not_loaded


def test_a_crawler_does_not_import_them() -> None:
    code = (
        "import sys\n"
        "from tests.helpers import make_crawler\n"
        "from oilnews.spiders.news import NewsSpider\n"
        "from scrapy.core.downloader.middleware import DownloaderMiddlewareManager\n"
        "from scrapy.extension import ExtensionManager\n"
        "crawler = make_crawler(NewsSpider, OILNEWS_RENDER=False)\n"
        "ExtensionManager.from_crawler(crawler)\n"
        "DownloaderMiddlewareManager.from_crawler(crawler)\n"
        "print(sorted(m for m in ('aiohttp', 'tldextract') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
