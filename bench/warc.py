"""Issue 30: what keeping every fetch as WARC costs a crawl (pages/s with capture against
without, in alternating pairs, peak RSS, WARC bytes per article), and what a reparse of the
captured store takes (articles/s, the site unreachable)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, crawl, last_run, write_section
from bench.throughput import pages_per_second
from oilnews.replica.server import ReplicaServer

ARTICLES = 1_000
PAIRS = 3


def main() -> None:
    rows, ratios, per_article = [], [], []
    reparse_seconds, reparsed = 0.0, 0
    with tempfile.TemporaryDirectory() as tmp, ReplicaServer(ARTICLES) as site:
        for pair in range(PAIRS):
            results = {}
            for label, warc in (("without capture", ""), ("with capture", str(Path(tmp) / f"warc{pair}"))):
                name = f"on{pair}.db" if warc else f"off{pair}.db"
                db = f"sqlite:///{Path(tmp) / name}"
                spool = ["-s", f"OILNEWS_SPOOL_DIR={Path(tmp) / 'spool'}", "-s", f"OILNEWS_WARC_DIR={warc}"]
                result = crawl(site.url, db, *spool)
                assert result.returncode == 0, f"{label}: crawl failed"
                results[label] = result
                rows.append(
                    f"| {pair + 1} | {label} | {result.stats['response_received_count']:,} | "
                    f"{result.counts['articles_new']:,} | {pages_per_second(result):.1f} | {result.peak_rss_mb:.0f} | "
                    + (f"{result.stats.get('oilnews/warc/bytes', 0) / 1e6:.1f}" if warc else "-")
                    + " |"
                )
            captured = results["with capture"]
            ratios.append(pages_per_second(captured) / pages_per_second(results["without capture"]))
            per_article.append(captured.stats["oilnews/warc/bytes"] / captured.counts["articles_new"])
        db = f"sqlite:///{Path(tmp) / f'on{PAIRS - 1}.db'}"
        site.stop()  # the reparse reads only the last pair's captures
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "oilnews.cli",
                "reparse",
                "--db",
                db,
                "--warc",
                str(Path(tmp) / f"warc{PAIRS - 1}"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        reparse_seconds = time.perf_counter() - started
        assert result.returncode == 0, result.stderr
        stats, counts = last_run(db)
        changed = counts.get("articles_new", 0) + counts.get("articles_updated", 0)
    reparsed = int(stats["oilnews/reparse/captures"])
    lines = [
        f"A {ARTICLES:,}-article replica on 127.0.0.1 crawled from scratch into SQLite, {PAIRS} pairs "
        "alternating capture off (OILNEWS_WARC_DIR empty) and on (the default).",
        "",
        "| pair | run | pages | articles stored | pages/s | peak RSS (MB) | WARC MB |",
        "|---:|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"with / without capture, pages/s: median {statistics.median(ratios):.2f} "
        f"(pairs: {', '.join(f'{r:.2f}' for r in ratios)}); WARC bytes per article stored: median "
        f"{statistics.median(per_article) / 1024:.1f} KiB (gzip per record, every fetch: listings, feed, "
        "sitemaps, robots.txt and the ticker counted in).",
        f"`oilnews reparse` of the last pair's captures, the site stopped: {reparsed:,} article captures "
        f"in {reparse_seconds:.1f} s wall for the whole process ({reparsed / reparse_seconds:.0f} articles/s); "
        f"{counts.get('articles_unchanged', 0):,} articles unchanged, {changed} new or updated.",
    ]
    write_section("warc", "WARC capture and reparse (issue 30)", "python -m bench warc", lines)


if __name__ == "__main__":
    main()
