"""`scrapy crawl` (and scrapyd's jobs, which run it) with oilnews' checks and exit codes.

Spider arguments and settings are checked before the crawl starts, and the exit code comes
after it, from the same two functions `oilnews crawl` calls (oilnews.cli.crawl:
start_checked, finished_code): a mistake is refused with the same code either way.
"""

from __future__ import annotations

import argparse
import os
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError as ScrapyUsageError

from oilnews.errors import OilnewsError


class Command(ScrapyCrawlCommand):
    def short_desc(self) -> str:
        return "Run a spider; the exit code says how it went (see README.md)"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        from oilnews.cli.crawl import finished_code, start_checked
        from oilnews.config import apply_spider_arguments
        from oilnews.config.environment import apply_environment

        if len(args) != 1:
            raise ScrapyUsageError("run exactly one spider: scrapy crawl news")
        assert self.crawler_process
        crawler = self.crawler_process.create_crawler(args[0])
        try:
            apply_environment(crawler.settings, os.environ)
            apply_spider_arguments(crawler.settings, opts.spargs)
            start_checked(crawler.settings, args[0])
            self.crawler_process.crawl(crawler, **opts.spargs)
            self.crawler_process.start()
            stats = crawler.stats.get_stats() if crawler.stats else {}
            self.exitcode = int(finished_code(stats, crawler.settings, self.crawler_process.bootstrap_failed))
        except OilnewsError as error:
            print(f"oilnews: error: {error}", file=sys.stderr)
            self.exitcode = int(error.exit_code)
