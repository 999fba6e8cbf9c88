"""KnownIndex, the incremental-crawl memory, as a component on a real SQLite database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from oilnews.extensions.known import KnownIndex
from oilnews.storage.database import Database
from oilnews.storage.models import aliases_table, articles_table, runs_table
from tests.helpers import make_crawler

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=30)
SITE = "http://127.0.0.1:8900/Energy/Coal/"


URLS = [SITE + "Old.html", SITE + "Old-Twin.html", SITE + "Fresh.html", SITE + "New.html"]


def loaded(sqlite_url: str, everything: bool = False, **settings: object) -> KnownIndex:
    """The index over two stored articles and an alias, `URLS` looked up (or `everything`)."""
    crawler = make_crawler(OILNEWS_DATABASE_URL=sqlite_url, **settings)
    database = Database.of(crawler)

    def fill(conn):  # type: ignore[no-untyped-def]
        row = {"authors": [], "keywords": [], "summary": [], "body": "b", "is_premium": False, "version": 1}
        conn.execute(
            insert(articles_table),
            [
                {
                    **row,
                    "id": 1,
                    "url": SITE + "Old.html",
                    "title": "old",
                    "content_hash": "h1",
                    "published_at": OLD,
                    "first_seen_at": OLD,
                    "last_seen_at": OLD,
                },
                {
                    **row,
                    "id": 2,
                    "url": SITE + "Fresh.html",
                    "title": "fresh",
                    "content_hash": "h2",
                    "published_at": NOW - timedelta(hours=2),
                    "first_seen_at": NOW,
                    "last_seen_at": NOW,
                },
            ],
        )
        conn.execute(
            insert(aliases_table), [{"article_id": 1, "url": SITE + "Old-Twin.html", "first_seen_at": OLD}]
        )
        conn.execute(
            insert(runs_table),
            [
                {
                    "spider": "news",
                    "site_url": SITE,
                    "started_at": OLD,
                    "finished_at": OLD + timedelta(minutes=1),
                    "status": "finished",
                    "finish_reason": "finished",
                    "counts": {},
                    "health": {},
                    "stats": {},
                }
            ],
        )

    database.transaction(fill)
    index = KnownIndex.of(crawler)

    async def start() -> None:
        await index.load(everything)
        await index.look_up(URLS)
        await index.look_up(URLS)  # asked again: answered from memory

    asyncio.run(start())
    database.close()
    return index


def test_stored_articles_outside_the_refresh_window_are_skipped(sqlite_url: str) -> None:
    index = loaded(sqlite_url)
    assert index.stats.get_value("oilnews/known/articles") == 3  # two articles and an alias
    assert index.stats.get_value("oilnews/known/lookups") == 1  # one query, each URL once
    assert not index.should_fetch(SITE + "Old.html")
    assert not index.should_fetch(SITE + "Old-Twin.html")  # an alias is known too
    assert index.should_fetch(SITE + "Fresh.html")  # younger than 48 h: edits are caught
    assert index.should_fetch(SITE + "New.html")
    assert index.should_fetch(SITE + "Old.html", modified_at=NOW)  # the sitemap says it changed
    assert index.stats.get_value("oilnews/skipped/known") == 2
    assert index.stats.get_value("oilnews/refresh/window") == 1
    assert index.stats.get_value("oilnews/refresh/modified") == 1


def test_full_fetches_everything(sqlite_url: str) -> None:
    assert loaded(sqlite_url, OILNEWS_FULL=True).should_fetch(SITE + "Old.html")


def test_listing_is_exhausted_only_by_known_articles_at_or_below_the_watermark(sqlite_url: str) -> None:
    index = loaded(sqlite_url)
    assert index.watermark == OLD  # the newest article stored by the last complete run
    assert index.listing_exhausted([(SITE + "Old.html", OLD)])
    assert not index.listing_exhausted([(SITE + "Old.html", OLD), (SITE + "New.html", OLD)])
    assert not index.listing_exhausted([(SITE + "Fresh.html", NOW)])
    assert not index.listing_exhausted([])


def test_the_watcher_loads_every_stored_url_and_looks_nothing_up(sqlite_url: str) -> None:
    index = loaded(sqlite_url, everything=True)
    assert set(index.articles) == set(URLS[:3])
    assert index.articles[SITE + "Old-Twin.html"].alias_of == SITE + "Old.html"
    assert index.stats.get_value("oilnews/known/lookups") is None


def test_into_an_empty_database_nothing_is_looked_up(sqlite_url: str) -> None:
    crawler = make_crawler(OILNEWS_DATABASE_URL=sqlite_url)
    index = KnownIndex.of(crawler)

    async def start() -> None:
        await index.load()
        await index.look_up(URLS)

    asyncio.run(start())
    Database.of(crawler).close()
    assert index.articles == {} and index.stats.get_value("oilnews/known/lookups") is None
    assert index.should_fetch(SITE + "Old.html")


def test_a_url_in_a_lookup_still_in_flight_is_not_taken_for_unknown(sqlite_url: str) -> None:
    index = loaded(sqlite_url)
    index._looked_up = type(index._looked_up)()  # forget: both callbacks ask afresh
    index.articles.clear()
    answers: list[bool] = []

    async def callback(urls: list[str]) -> None:
        await index.look_up(urls)
        answers.append(SITE + "Old.html" in index.articles)

    async def both() -> None:  # a listing and a sitemap naming one article, at once
        await asyncio.gather(callback(URLS), callback([SITE + "Old.html"]))

    database = Database.of(index.crawler)
    asyncio.run(both())
    database.close()
    assert answers == [True, True]
