"""DigestSet and DigestDupeFilter: a crawl's per-URL memory at 8 bytes an entry (issue 15)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from scrapy import Request
from scrapy.utils.misc import build_from_crawler

from oilnews import seen
from oilnews.seen import DigestDupeFilter, DigestSet
from tests.helpers import make_crawler


def test_membership_across_merges() -> None:
    keys = [f"https://oilprice.com/Energy/Coal/A-{i}.html" for i in range(3 * seen.RECENT_LIMIT + 7)]
    s = DigestSet()
    assert all(s.add(k) for k in keys)  # each new once
    assert not any(s.add(k) for k in keys)  # ... and known after, merged or still recent
    assert len(s) == len(keys)
    assert all(k in s for k in keys)
    assert "https://oilprice.com/Energy/Coal/B.html" not in s and 42 not in s
    s |= ["https://oilprice.com/Energy/Coal/B.html"]
    assert "https://oilprice.com/Energy/Coal/B.html" in s


def test_a_hundred_thousand_urls_take_about_a_megabyte() -> None:
    urls = [
        f"https://oilprice.com/Energy/Crude-Oil/Story-Number-{i}-Of-The-Archive.html" for i in range(100_000)
    ]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    s = DigestSet(urls)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(s) == 100_000
    assert held < 1.5 * 2**20, held  # a set of those strings: about 14 MB


def test_the_dupefilter_is_on_and_drops_a_repeated_request(tmp_path: Path) -> None:
    crawler = make_crawler()
    assert crawler.settings["DUPEFILTER_CLASS"] == "oilnews.seen.DigestDupeFilter"
    dupefilter = build_from_crawler(DigestDupeFilter, crawler)
    assert not dupefilter.request_seen(Request("http://127.0.0.1:8900/Energy/Coal/A.html"))
    assert dupefilter.request_seen(Request("http://127.0.0.1:8900/Energy/Coal/A.html"))
    assert not dupefilter.request_seen(Request("http://127.0.0.1:8900/Energy/Coal/B.html"))
    # With a JOBDIR, Scrapy's own file of fingerprints is written and read back.
    persisted = DigestDupeFilter(str(tmp_path), fingerprinter=crawler.request_fingerprinter)
    assert not persisted.request_seen(Request("http://127.0.0.1:8900/Energy/Coal/A.html"))
    persisted.close("finished")
    again = DigestDupeFilter(str(tmp_path), fingerprinter=crawler.request_fingerprinter)
    assert again.request_seen(Request("http://127.0.0.1:8900/Energy/Coal/A.html"))
    again.close("finished")
