"""Which signal stopped a run: SIGINT (Ctrl-C) or SIGTERM (systemctl stop, kill, scrapyd's
cancel), recorded in the stats (`oilnews/interrupted_by`) for the run's status (`interrupted`,
not `failed`), its exit code (130 or 143, the shell's convention) and the alerts (none: an
operator's own interruption is not an incident).

Scrapy installs its own handlers (a graceful stop on the first signal, a hard one on the
second) when the crawler process starts; once the engine runs, this extension wraps them: it
notes the signal, then hands it to Scrapy's handler, so the stop itself is Scrapy's.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from oilnews.health import INTERRUPTED_KEY

Handler = Callable[[int, FrameType | None], Any]


class SignalRecorder:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SignalRecorder:
        return cls(crawler)

    def engine_started(self) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(number)
            if callable(previous):
                try:
                    signal.signal(number, self._recording(previous))
                except ValueError:  # not the main thread (an embedded crawler): nothing to wrap
                    return

    def _recording(self, previous: Handler) -> Handler:
        def handler(number: int, frame: FrameType | None) -> Any:
            stats = self.crawler.stats
            if stats is not None and not stats.get_value(INTERRUPTED_KEY):
                stats.set_value(INTERRUPTED_KEY, signal.Signals(number).name)
            return previous(number, frame)

        return handler
