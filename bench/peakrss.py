"""Issue 31: the peak RSS of a 1,000-article crawl, the crawler's own (its stats) beside the
largest process of its tree (what /usr/bin/time reports: Chromium when the chart is rendered),
with the chart rendered (a first run: it is due) and without (OILNEWS_CHART_PATH empty)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import crawl, write_section
from oilnews.replica.server import ReplicaServer

ARTICLES = 1_000
RUNS = 3


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, ReplicaServer(ARTICLES) as site:
        for run in range(RUNS):
            for label, chart in (("chart rendered", "/oil-price-charts/"), ("no page rendered", "")):
                db = f"sqlite:///{Path(tmp) / f'{run}-{bool(chart)}.db'}"
                result = crawl(
                    site.url,
                    db,
                    "-s",
                    f"OILNEWS_SPOOL_DIR={Path(tmp) / 'spool'}",
                    "-s",
                    f"OILNEWS_WARC_DIR={Path(tmp) / f'warc{run}{bool(chart)}'}",
                    "-s",
                    f"OILNEWS_CHART_PATH={chart}",
                )
                assert result.returncode == 0 and result.counts["articles_new"] == ARTICLES, label
                rows.append(
                    f"| {run + 1} | {label} | {result.counts['articles_new']:,} | {result.peak_rss_mb:.0f} | "
                    f"{result.tree_peak_rss_mb:.0f} |"
                )
    lines = [
        f"A {ARTICLES:,}-article replica crawled from scratch into SQLite (WARC capture on, the "
        "default), the chart page rendered by Chromium as a first run does, or no page rendered.",
        "",
        "| run | pages rendered | articles stored | crawler peak RSS (MB) | largest process of the tree (MB) |",
        "|---:|---|---:|---:|---:|",
        *rows,
        "",
        "The crawler's own peak is its process's ru_maxrss at the end of the run "
        "(`oilnews/peak_rss_bytes` in crawl_runs.stats). The 210 MB quoted before for a 1,000-article "
        "crawl was /usr/bin/time's figure, which is the largest process it waited for: Chromium's, "
        "for the one chart page, not the crawler's.",
    ]
    write_section("peakrss", "Peak RSS of a 1,000-article crawl (issue 31)", "python -m bench peakrss", lines)


if __name__ == "__main__":
    main()
