"""Pipelines as components, built from a crawler (Scrapy's own test style), on real databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.misc import build_from_crawler

from oilnews.extensions.known import KnownIndex
from oilnews.items import ArticleItem, ArticleLink, PriceQuoteItem
from oilnews.pipelines import AliasItem, CleanPipeline, DedupePipeline, StorePipeline, ValidatePipeline
from oilnews.storage.database import Database
from tests.helpers import make_crawler, query

PUBLISHED = datetime(2025, 8, 1, 7, 15, tzinfo=UTC)
NOW = datetime(2025, 8, 2, 12, 0, tzinfo=UTC)  # the validate pipeline's clock in the date tests


def article(
    url: str = "https://oilprice.com/Energy/Coal/A.html", body: str = "One.\n\nTwo.", **fields: Any
) -> ArticleItem:
    defaults: dict[str, Any] = {
        "title": "A title",
        "authors": ["Irina Slav"],
        "published_at": PUBLISHED,
        "section": "Energy/Coal",
    }
    defaults.update(fields)
    return ArticleItem(url=url, body=body, **defaults)


def test_clean_pipeline_normalises_everything() -> None:
    crawler = make_crawler()
    pipeline = build_from_crawler(CleanPipeline, crawler)
    item = article(
        url="http://www.oilprice.com/Energy/Coal/A.amp.html?utm_source=x#top",
        title="  Africa\u00e2\u20ac\u2122s\u00a0gas ",
        body="First &amp; foremost.\n\n\n\nMore Top Reads From Oilprice.com\n\nRelated: other\n\n Last.  ",
        authors=["Irina Slav", " Irina  Slav "],
        published_at=datetime(2025, 8, 1, 2, 15),  # naive: the site's local time
        links=[
            ArticleLink(url="https://oilprice.com/Energy/Coal/B.html?utm_medium=y", kind="related"),
            ArticleLink(url="https://oilprice.com/Energy/Coal/B.html", kind="related"),
        ],
    )
    pipeline.process_item(item)
    assert item.url == "https://oilprice.com/Energy/Coal/A.html"
    assert item.title == "Africa\u2019s gas"
    assert item.body == "First & foremost.\n\nLast."
    assert item.authors == ["Irina Slav"]
    assert item.published_at == PUBLISHED
    assert [link.url for link in item.links] == ["https://oilprice.com/Energy/Coal/B.html"]
    assert item.content_hash and len(item.content_hash) == 64
    assert crawler.stats.get_value("oilnews/clean/articles") == 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": ""}, "missing_title"),
        ({"body": ""}, "missing_body"),
        ({"published_at": None}, "missing_published_at"),
    ],
)
def test_validate_drops_with_reason(fields: dict[str, Any], reason: str) -> None:
    crawler = make_crawler()
    pipeline = build_from_crawler(ValidatePipeline, crawler)
    with pytest.raises(DropItem):
        pipeline.process_item(article(**fields))
    assert crawler.stats.get_value(f"oilnews/dropped/{reason}") == 1
    assert crawler.stats.get_value("oilnews/skipped_urls") == [
        {"url": "https://oilprice.com/Energy/Coal/A.html", "reason": reason}
    ]
    assert pipeline.process_item(article()) is not None
    assert crawler.stats.get_value("oilnews/valid/articles") == 1


def _through(crawler: Any, *items: Any) -> list[Any]:
    clean = build_from_crawler(CleanPipeline, crawler)
    dedupe = build_from_crawler(DedupePipeline, crawler)
    out: list[Any] = []
    for item in items:
        try:
            out.append(dedupe.process_item(clean.process_item(item)))
        except DropItem:
            out.append(None)
    return out


@pytest.mark.parametrize("batch_size", [1, 10])  # the twin in a later batch, and in the same one
def test_dedupe_within_run(sqlite_url: str, tmp_path: Path, batch_size: int) -> None:
    crawler = make_crawler(
        OILNEWS_DATABASE_URL=sqlite_url, OILNEWS_DB_BATCH_SIZE=batch_size, OILNEWS_SPOOL_DIR=str(tmp_path)
    )
    twin_url = "https://oilprice.com/Company-News/A-Company-Update.html"
    first, again, twin, other = _through(
        crawler,
        article(),
        article(),
        article(url=twin_url),
        article(url="https://oilprice.com/Energy/Coal/C.html", body="Different."),
    )
    assert again is None and crawler.stats.get_value("oilnews/dedupe/url_duplicate") == 1
    _store(crawler, first, twin, other)
    # The same content under a second URL is folded where the rows are written: an alias.
    assert crawler.stats.get_value("oilnews/store/content_duplicates") == 1
    assert query(sqlite_url, "select url from articles order by url") == [
        ("https://oilprice.com/Energy/Coal/A.html",),
        ("https://oilprice.com/Energy/Coal/C.html",),
    ]
    assert query(
        sqlite_url, "select a.url, t.url from article_aliases a join articles t on t.id = a.article_id"
    ) == [(twin_url, "https://oilprice.com/Energy/Coal/A.html")]


def _store(crawler: Any, *items: Any) -> None:
    async def run() -> None:
        store = build_from_crawler(StorePipeline, crawler)
        await store.open_spider()
        for item in items:
            await store.process_item(item)
        await store.close_spider()
        store.database.close()

    asyncio.run(run())


def _cleaned(*items: ArticleItem) -> list[ArticleItem]:
    clean = build_from_crawler(CleanPipeline, make_crawler())
    return [clean.process_item(i) for i in items]


def test_store_batches_upserts_versions_aliases(database_url: str, tmp_path: Path) -> None:
    settings = {
        "OILNEWS_DATABASE_URL": database_url,
        "OILNEWS_DB_BATCH_SIZE": 2,
        "OILNEWS_SPOOL_DIR": str(tmp_path),
    }
    a, b = _cleaned(
        article(links=[ArticleLink("https://oilprice.com/Energy/Coal/B.html", "related", "B")]),
        article(url="https://oilprice.com/Energy/Coal/B.html", body="Other."),
    )
    quote = PriceQuoteItem(
        blend_id=45, name="WTI Crude", price=63.97, change=0.09, change_percent=0.14, observed_at=PUBLISHED
    )
    crawler = make_crawler(**settings)
    _store(
        crawler, a, b, quote, quote, AliasItem(url=a.url, alias="https://oilprice.com/Company-News/A.html")
    )
    stats = crawler.stats
    assert stats.get_value("oilnews/store/articles_new") == 2
    assert stats.get_value("oilnews/store/batches") == 3  # 2 + 2 + 1 items
    assert query(database_url, "select count(*) from price_quotes")[0][0] == 1  # same blend + instant once

    # Across runs: the unchanged article only moves last_seen_at, the edited one gets version 2.
    (edited,) = _cleaned(article(url=b.url, body="Other, revised."))
    (same,) = _cleaned(
        article(links=[ArticleLink("https://oilprice.com/Energy/Coal/B.html", "related", "B")])
    )
    crawler = make_crawler(**settings)
    _store(crawler, same, edited)
    assert crawler.stats.get_value("oilnews/store/articles_unchanged") == 1
    assert crawler.stats.get_value("oilnews/store/articles_updated") == 1

    rows = query(
        database_url,
        "select url, version, body, published_at, first_seen_at, last_seen_at from articles order by url",
    )
    assert [(r.url, r.version, r.body) for r in rows] == [
        (a.url, 1, "One.\n\nTwo."),
        (b.url, 2, "Other, revised."),
    ]
    versions = query(database_url, "select version, content_hash from article_versions")
    assert [(v.version, v.content_hash) for v in versions] == [(1, b.content_hash)]
    assert (
        query(database_url, "select url from article_aliases")[0][0]
        == "https://oilprice.com/Company-News/A.html"
    )
    links = query(database_url, "select target_url, kind, anchor_text from article_links")
    assert [tuple(r) for r in links] == [("https://oilprice.com/Energy/Coal/B.html", "related", "B")]


def test_store_timestamps_are_utc_aware(database_url: str) -> None:
    from oilnews.storage.database import Database
    from oilnews.storage.models import Article

    (item,) = _cleaned(article())
    _store(make_crawler(OILNEWS_DATABASE_URL=database_url), item)
    database = Database(database_url)
    from sqlalchemy import select

    row = database.transaction(lambda conn: conn.execute(select(Article.__table__)).one())
    database.close()
    assert row.published_at == PUBLISHED and row.published_at.tzinfo is not None
    assert row.first_seen_at.utcoffset().total_seconds() == 0


def test_failed_batch_is_spooled_then_replayed(database_url: str, tmp_path: Path) -> None:
    """A batch the database refuses is kept in the spool, counted, and written by the next run."""
    from sqlalchemy import text

    spool = tmp_path / "spool"
    settings = {
        "OILNEWS_DATABASE_URL": database_url,
        "OILNEWS_SPOOL_DIR": str(spool),
        "OILNEWS_DB_RETRIES": 2,
        "OILNEWS_DB_RETRY_BACKOFF": 0.01,
    }
    crawler = make_crawler(**settings)
    (item,) = _cleaned(article())

    async def run_with_table_gone() -> None:
        store = build_from_crawler(StorePipeline, crawler)
        await store.open_spider()
        store.database.transaction(
            lambda conn: conn.execute(text("ALTER TABLE articles RENAME TO articles_away"))
        )
        await store.process_item(item)
        await store.close_spider()
        store.database.transaction(
            lambda conn: conn.execute(text("ALTER TABLE articles_away RENAME TO articles"))
        )
        store.database.close()

    asyncio.run(run_with_table_gone())
    assert crawler.stats.get_value("oilnews/store/spooled_items") == 1
    assert crawler.stats.get_value("oilnews/errors/database") == 1
    assert query(database_url, "select count(*) from articles")[0][0] == 0
    assert len(list(spool.glob("batch-*.jsonl"))) == 1

    crawler = make_crawler(**settings)
    _store(crawler)
    assert crawler.stats.get_value("oilnews/store/replayed_items") == 1
    assert [r.url for r in query(database_url, "select url from articles")] == [item.url]
    assert not list(spool.iterdir())


def test_a_stored_alias_stays_an_alias(sqlite_url: str, tmp_path: Path) -> None:
    settings = {"OILNEWS_DATABASE_URL": sqlite_url, "OILNEWS_SPOOL_DIR": str(tmp_path)}
    (a,) = _cleaned(article())
    alias = "https://oilprice.com/Company-News/A.html"
    _store(make_crawler(**settings), a, AliasItem(url=a.url, alias=alias))
    crawler = make_crawler(**settings)
    index = KnownIndex.of(crawler)

    async def meet() -> None:  # as the spider does before it requests the page
        await index.load()
        await index.look_up([alias])

    asyncio.run(meet())
    Database.of(crawler).close()
    (out,) = _through(crawler, article(url=alias, body="Served with another text today."))
    assert out == AliasItem(url=a.url, alias=alias)
    assert crawler.stats.get_value("oilnews/dedupe/known_alias") == 1


def test_batches_of_every_length_run_the_same_statements(sqlite_url: str) -> None:
    """sqlite3 prepares and keeps (up to 128 per connection) one statement per SQL text: a
    text that varied with a batch's length grew a long crawl by tens of MB (issue 15). Batches
    of 3, 5, 6, 7 and 9 to 15 articles, new and then stored, with links, authors, aliases and
    quotes, must run no statement that batches of 1, 2, 4, 8 and 16 did not."""
    from sqlalchemy import event

    from oilnews.items import AuthorProfile
    from oilnews.storage.batch import Batch

    database = Database(sqlite_url)
    database.transaction(lambda conn: None)  # migrations, before statements are counted

    def batch(size: int, start: int, body: str) -> Batch:
        made = Batch()
        for number in range(start, start + size):
            url = f"https://oilprice.com/Energy/Coal/N{number}.html"
            (item,) = _cleaned(
                article(
                    url=url,
                    body=f"{body} {number}.",
                    links=[
                        ArticleLink(f"https://oilprice.com/Energy/Coal/L{number}-{k}.html", "related")
                        for k in range(number % 4 + 1)
                    ],
                    author_profiles=[
                        AuthorProfile(f"https://oilprice.com/contributors/A{number % 3}", f"A{number % 3}")
                    ],
                )
            )
            made.add(item)
            made.add(AliasItem(url=url, alias=url.replace(".html", "-twin.html")))
            made.add(PriceQuoteItem(blend_id=number, name="WTI", price=60.0, observed_at=PUBLISHED))
        return made

    def statements(sizes: list[int], start: int) -> set[str]:
        seen: set[str] = set()

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.add(statement)

        event.listen(database.engine, "before_cursor_execute", record)
        try:
            for size in sizes:
                for body in ("First", "Edited"):  # new rows, then stored ones with a version
                    database.transaction(batch(size, start, body).write)
                start += size
        finally:
            event.remove(database.engine, "before_cursor_execute", record)
        return seen

    try:
        reference = statements([1, 2, 4, 8, 16], 0)
        varied = statements([3, 5, 6, 7, *range(9, 16)], 100)
    finally:
        database.close()
    assert varied <= reference
    assert query(sqlite_url, "select count(*) from articles")[0][0] == 31 + 3 + 5 + 6 + 7 + sum(range(9, 16))


@pytest.mark.parametrize(
    ("published", "modified", "kinds"),
    [
        (PUBLISHED, None, []),
        (PUBLISHED, PUBLISHED + timedelta(hours=2), []),
        (NOW + timedelta(hours=20), None, []),  # within the skew: a clock or zone a little off
        (NOW + timedelta(days=3), None, ["future"]),
        (PUBLISHED, PUBLISHED - timedelta(hours=2), []),  # a scheduled post: the site's normal
        (PUBLISHED, PUBLISHED - timedelta(days=30), ["modified_before_published"]),
        (NOW + timedelta(days=400), NOW, ["future", "modified_before_published"]),
    ],
)
def test_dates_that_cannot_be_right_are_kept_counted_and_logged_once(
    published: datetime, modified: datetime | None, kinds: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    crawler = make_crawler()
    pipeline = ValidatePipeline(["url"], [], crawler.stats, clock=lambda: NOW)
    for n in range(3):
        item = article(
            url=f"https://oilprice.com/Energy/Coal/A{n}.html", published_at=published, modified_at=modified
        )
        assert pipeline.process_item(item) is item  # kept as the page says
    for kind in ("future", "modified_before_published"):
        assert crawler.stats.get_value(f"oilnews/dates/suspicious/{kind}") == (3 if kind in kinds else None)
    assert crawler.stats.get_value("oilnews/dates/suspicious") == (3 if kinds else None)
    assert len([r for r in caplog.records if "kept as the page says" in r.message]) == len(kinds)  # once each


def test_the_date_sources_and_links_the_parser_left_out_are_counted() -> None:
    crawler = make_crawler()
    pipeline = build_from_crawler(CleanPipeline, crawler)
    pipeline.process_item(article(dates_rejected=["json_ld_published", "json_ld_modified"], links_too_long=2))
    assert crawler.stats.get_value("oilnews/dates/rejected/json_ld_published") == 1
    assert crawler.stats.get_value("oilnews/dates/rejected/json_ld_modified") == 1
    assert crawler.stats.get_value("oilnews/links/too_long") == 2
