"""Issue 7.3: the store pipeline's batched upserts vs plain SQLAlchemy Core executemany."""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import postgres_database, write_section

ROWS = 5000


def make_items() -> list[Any]:
    from oilnews.items import ArticleItem
    from oilnews.pipelines.clean import clean_article

    base = datetime(2025, 1, 1, tzinfo=UTC)
    items = []
    for i in range(ROWS):
        item = ArticleItem(
            url=f"https://oilprice.com/Energy/Crude-Oil/Article-{i}.html",
            title=f"Article {i}",
            authors=["Irina Slav"],
            source="Oilprice.com",
            published_at=base + timedelta(minutes=i),
            section="Energy/Crude-Oil",
            keywords=["oil", "crude"],
            body="\n\n".join(
                f"Paragraph {p} of article {i}, with some words about crude oil." for p in range(6)
            ),
        )
        items.append(clean_article(item))
    return items


def store_pipeline(url: str, items: list[Any], spool: Path) -> float:
    from scrapy.utils.misc import build_from_crawler
    from scrapy.utils.test import get_crawler

    import oilnews.settings as project
    from oilnews.pipelines.store import StorePipeline

    settings = {k: getattr(project, k) for k in dir(project) if k.isupper()}
    settings.update(OILNEWS_DATABASE_URL=url, OILNEWS_SPOOL_DIR=str(spool))
    crawler = get_crawler(None, settings)

    async def run() -> float:
        store = build_from_crawler(StorePipeline, crawler)
        await store.open_spider()
        started = time.perf_counter()
        for item in items:
            await store.process_item(item)
        await store.close_spider()
        elapsed = time.perf_counter() - started
        store.database.close()
        return elapsed

    elapsed = asyncio.run(run())
    assert crawler.stats.get_value("oilnews/store/articles_new") == ROWS
    return elapsed


def core_executemany(url: str, items: list[Any]) -> float:
    from sqlalchemy import insert

    from oilnews.storage.database import Database
    from oilnews.storage.models import ARTICLE_FIELDS, articles_table

    database = Database(url)
    database.transaction(lambda conn: None)  # schema
    now = datetime.now(UTC)
    rows = [
        {
            **{k: getattr(i, k) for k in ARTICLE_FIELDS},
            "version": 1,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for i in items
    ]
    started = time.perf_counter()
    with database.engine.begin() as conn:
        conn.execute(insert(articles_table), rows)
    elapsed = time.perf_counter() - started
    database.close()
    return elapsed


TRIALS = 9


def main() -> None:
    import statistics

    items = make_items()
    results: list[tuple[str, float, float, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("SQLite", "PostgreSQL"):
            ours: list[float] = []
            core: list[float] = []
            for trial in range(TRIALS):  # interleaved: a slow moment of the machine hits both
                if name == "SQLite":
                    ours.append(store_pipeline(f"sqlite:///{tmp}/a{trial}.db", items, Path(tmp)))
                    core.append(core_executemany(f"sqlite:///{tmp}/b{trial}.db", items))
                else:
                    with postgres_database() as a, postgres_database() as b:
                        ours.append(store_pipeline(a, items, Path(tmp)))
                        core.append(core_executemany(b, items))
            ratios = sorted(c / o for o, c in zip(ours, core, strict=True))
            results.append((name, statistics.median(ours), statistics.median(core), ratios))
    lines = [
        f"{ROWS:,} cleaned articles (6 paragraphs, no links) into an empty database, {TRIALS} trials each,"
        " ours and the baseline interleaved; the medians.",
        "The store pipeline: batches of OILNEWS_DB_BATCH_SIZE (250), each one transaction that reads the",
        "batch's stored rows and same-content rows (one query on PostgreSQL, two on SQLite), upserts",
        "(`ON CONFLICT DO UPDATE`; on PostgreSQL one `unnest()` statement per batch, on SQLite multi-row",
        "statements of 128, 64, ... rows), and keeps versions and aliases; off the event loop.",
        "The baseline: one SQLAlchemy Core `insert(articles)` executemany of the same rows in one transaction",
        "(no upsert, no duplicate or version checks, one commit).",
        "",
        "| database | store pipeline rows/s | Core executemany rows/s | ratio (median) | ratios of the trials |",
        "|---|---:|---:|---:|---|",
        *(
            f"| {db} | {ROWS / o:,.0f} | {ROWS / c:,.0f} | {statistics.median(r):.2f} | {', '.join(f'{x:.2f}' for x in r)} |"
            for db, o, c, r in results
        ),
    ]
    write_section("dbwrite", "Database write throughput (issue 15)", "python -m bench dbwrite", lines)


if __name__ == "__main__":
    main()
