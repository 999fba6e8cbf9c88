"""Issue 5: pages per second through the browser vs plain HTTP, on the same replica pages."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import crawl, write_section
from oilnews.replica.server import ReplicaServer

ARTICLES = 300


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp, ReplicaServer(ARTICLES) as site:
        for label, extra in (
            ("plain HTTP", ["-s", "OILNEWS_RENDER=false"]),
            ("rendered by Chromium", ["-s", "OILNEWS_RENDER_ALWAYS=true"]),
        ):
            db = f"sqlite:///{Path(tmp) / (label.split()[0] + '.db')}"
            result = crawl(
                site.url,
                db,
                *extra,
                "-s",
                "OILNEWS_CHART_PATH=",
                "-s",
                f"OILNEWS_SPOOL_DIR={Path(tmp) / 'spool'}",
            )
            assert result.returncode == 0 and result.counts["articles_new"] == ARTICLES, label
            results[label] = result
    rates = {
        label: r.counts["pages_article"] / float(r.stats["elapsed_time_seconds"])
        for label, r in results.items()
    }
    lines = [
        f"The same {ARTICLES}-article replica crawled twice into SQLite: once over plain HTTP, once with every",
        "article page rendered by headless Chromium through scrapy-playwright (4 pages at a time, images,",
        "fonts and media blocked). Article pages per second of crawl time.",
        "",
        "| mode | article pages | crawl seconds | article pages/s | peak RSS (MB): the crawler / the largest process, Chromium when rendering |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {label} | {r.counts['pages_article']} | {float(r.stats['elapsed_time_seconds']):.1f} | "
            f"{rates[label]:.1f} | {r.peak_rss_mb:.0f} / {r.tree_peak_rss_mb:.0f} |"
            for label, r in results.items()
        ),
        "",
        f"Rendering costs {rates['plain HTTP'] / rates['rendered by Chromium']:.0f}x: it is used only where a page"
        " needs it (JavaScript challenge, script-built body, the price chart).",
    ]
    write_section("render", "Rendered vs plain (issue 5)", "python -m bench render", lines)


if __name__ == "__main__":
    main()
