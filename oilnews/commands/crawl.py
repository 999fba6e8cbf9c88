"""`scrapy crawl` (and scrapyd's jobs, which run it) with oilnews' checks and exit codes.

Spider arguments and settings are checked before the crawl starts, as `oilnews crawl` does,
and the exit code comes from the same function (oilnews.health.exit_code).
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError as ScrapyUsageError

from oilnews.errors import OilnewsError


class Command(ScrapyCrawlCommand):
    def short_desc(self) -> str:
        return "Run a spider; the exit code says how it went (see README.md)"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        from oilnews.addons import preflight
        from oilnews.config import apply_spider_arguments
        from oilnews.health import exit_code

        if len(args) != 1:
            raise ScrapyUsageError("run exactly one spider: scrapy crawl news")
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
        try:
            apply_spider_arguments(crawler.settings, opts.spargs)
            preflight(crawler.settings)
        except OilnewsError as error:
            print(f"oilnews: error: {error}", file=sys.stderr)
            self.exitcode = int(error.exit_code)
            return
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        stats = crawler.stats.get_stats() if crawler.stats else {}
        self.exitcode = int(exit_code(stats, crawler.settings))
        if self.crawler_process.bootstrap_failed and not self.exitcode:
            self.exitcode = 70
