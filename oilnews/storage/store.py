"""The analyst's API: a stored archive, read from Python (a notebook, a script) without SQL.

    import oilnews
    with oilnews.open("sqlite:///demo.db") as store:
        for article in store.articles(since="2023-02", section="Energy", query="brent OR wti"):
            print(article["published_at"], article["title"])
        frame = store.articles_frame(since="2023-01")   # pandas: pip install 'oilnews[analysis]'

Read-only, as the read commands are: the database must exist and be at the current schema,
nothing is created or migrated, and neither Scrapy nor Twisted is imported. The rows are the
export's (oilnews.storage.tables: the same columns, filters and order), as dicts: timestamps
are timezone-aware UTC datetimes, lists are lists. The filters take what the command line takes
(`since="2023-02"`, an ISO instant, or a datetime) and search's syntax for `query`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any

from oilnews.dates import USER_INSTANT_FORMS, parse_user_instant, utc_from_db
from oilnews.errors import MissingDependency, UsageError
from oilnews.storage.selection import Selection
from oilnews.storage.tables import TABLES

Instant = str | datetime | None
_BATCH = 2_000  # rows fetched at a time: a whole archive is read in constant memory


def _instant(name: str, value: Instant) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return utc_from_db(value)  # a naive datetime is UTC, as on the command line
    try:
        return parse_user_instant(value)
    except ValueError:
        raise UsageError(f"{name}={value!r}: expected {USER_INSTANT_FORMS}") from None


def _pandas() -> Any:
    try:
        import pandas  # type: ignore[import-untyped,unused-ignore]  # typed as Any here
    except ImportError:
        raise MissingDependency("pandas", "pandas", extra="analysis") from None
    return pandas


class Store:
    """One stored archive (`oilnews.open(url)`); close it, or use it as a context manager."""

    def __init__(self, url: str | None = None) -> None:
        import os

        from oilnews.config.environment import setting
        from oilnews.storage.database import open_for_reading

        self._database = open_for_reading(url or setting("OILNEWS_DATABASE_URL", os.environ))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._database.close()

    # --- rows ---------------------------------------------------------------------------------
    def articles(
        self,
        since: Instant = None,
        until: Instant = None,
        section: str | None = None,
        author: str | None = None,
        query: str | None = None,
        changed_since: Instant = None,
        mentions: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The stored articles, oldest id first: the export's fields (`oilnews export`);
        `mentions`: a commodity, country or company (or ticker) the article names."""
        if query is not None:
            from oilnews.storage.search import query_problem

            problem = query_problem(query)
            if problem is not None:
                raise UsageError(f"query={query!r}: {problem}")
        selection = Selection(
            since=_instant("since", since),
            until=_instant("until", until),
            section=section,
            author=author,
            query=query,
            changed_since=_instant("changed_since", changed_since),
            mentions=mentions,
        )
        return self._rows("articles", selection)

    def quotes(self, since: Instant = None, until: Instant = None) -> Iterator[dict[str, Any]]:
        """The ticker's quotes, oldest first: blend, price, change, when observed."""
        return self._rows("quotes", Selection(since=_instant("since", since), until=_instant("until", until)))

    def runs(self) -> Iterator[dict[str, Any]]:
        """Every crawl run: status, counts, health verdict (what `oilnews runs` lists)."""
        return self._rows("runs", Selection())

    def search(self, words: str, limit: int = 20) -> list[dict[str, Any]]:
        """The best `limit` matches of `words` (search's syntax): id, url, title, published_at,
        section, rank and a snippet with the matched words in [...]."""
        from oilnews.storage.search import query_problem, search

        problem = query_problem(words)
        if problem is not None:
            raise UsageError(f"search words {words!r}: {problem}")
        hits = self._database.transaction(lambda conn: search(conn, words, Selection(), limit))
        return [vars(hit) | {"published_at": utc_from_db(hit.published_at)} for hit in hits]

    # --- pandas -------------------------------------------------------------------------------
    def articles_frame(self, **filters: Any) -> Any:
        """`articles(**filters)` as a pandas DataFrame, timestamps as datetime64[ns, UTC]."""
        return self._frame("articles", self.articles(**filters))

    def quotes_frame(self, **filters: Any) -> Any:
        return self._frame("quotes", self.quotes(**filters))

    def runs_frame(self) -> Any:
        return self._frame("runs", self.runs())

    def _frame(self, table: str, rows: Iterator[dict[str, Any]]) -> Any:
        pandas = _pandas()
        spec = TABLES[table]
        frame = pandas.DataFrame.from_records(list(rows), columns=list(spec.columns))
        for name in spec.times:
            frame[name] = pandas.to_datetime(frame[name], utc=True)
        return frame

    def _rows(self, table: str, selection: Selection) -> Iterator[dict[str, Any]]:
        spec = TABLES[table]
        with self._database.engine.connect() as conn:
            statement = spec.statement(conn, selection)
            result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(statement)
            for row in result:
                record = dict(zip(spec.columns, row, strict=True))
                for name in spec.times:
                    record[name] = utc_from_db(record[name])
                for name in spec.lists:
                    record[name] = list(record[name] or [])
                yield record
