"""`scrapy crawl` whose exit code carries the health verdict, like `oilnews crawl`."""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from oilnews.stats import key


class Command(ScrapyCrawlCommand):
    def short_desc(self) -> str:
        return "Run a spider; exit 1 when a health check fails"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("run exactly one spider: scrapy crawl news")
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        healthy = crawler.stats is not None and crawler.stats.get_value(key("health", "ok"), True)
        if self.crawler_process.bootstrap_failed or not healthy:
            self.exitcode = 1
