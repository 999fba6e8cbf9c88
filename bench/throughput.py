"""Issue 7.1: crawl throughput with the full pipeline (SQLite, PostgreSQL) vs no pipelines."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import CrawlResult, crawl, postgres_database, write_section
from oilnews.replica.server import ReplicaServer

ARTICLES = 10_000


def pages_per_second(result: CrawlResult) -> float:
    return float(result.stats["response_received_count"]) / float(result.stats["elapsed_time_seconds"])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ReplicaServer(ARTICLES) as site:
        spool = ["-s", f"OILNEWS_SPOOL_DIR={Path(tmp) / 'spool'}"]
        bare = crawl(
            site.url,
            f"sqlite:///{Path(tmp) / 'bare.db'}",
            *spool,
            "-s",
            "ITEM_PIPELINES={}",
            "-s",
            "OILNEWS_HEALTH_ENABLED=false",
        )  # no items by design
        lite = crawl(site.url, f"sqlite:///{Path(tmp) / 'full.db'}", *spool)
        with postgres_database() as pg:
            postgres = crawl(site.url, pg, *spool)
    rows = []
    for label, result in (
        ("no item pipelines", bare),
        ("full pipeline, SQLite", lite),
        ("full pipeline, PostgreSQL", postgres),
    ):
        assert result.returncode == 0, f"{label}: crawl failed"
        rows.append(
            f"| {label} | {result.stats['response_received_count']:,} | {result.counts['articles_new']:,} | "
            f"{result.stats['elapsed_time_seconds']:.1f} | {pages_per_second(result):.1f} | {result.peak_rss_mb:.0f} |"
        )
    base = pages_per_second(bare)
    lines = [
        f"A {ARTICLES:,}-article replica on 127.0.0.1 (served from the benchmark process), crawled from scratch.",
        "",
        "| run | pages | articles stored | crawl seconds | pages/s | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"full pipeline / no pipelines: SQLite {pages_per_second(lite) / base:.2f}, "
        f"PostgreSQL {pages_per_second(postgres) / base:.2f} (target at least 0.8).",
    ]
    write_section("throughput", "Crawl throughput (issue 7.1)", "python -m bench throughput", lines)


if __name__ == "__main__":
    main()
