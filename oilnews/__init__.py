"""oilnews: a production Scrapy crawler for oilprice.com, and its archive read from Python.

`oilnews.open(url)` opens a stored archive for reading (oilnews.storage.store.Store: articles,
quotes, runs, search; *_frame for pandas). Importing the package loads nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oilnews.storage.store import Store


def open(url: str | None = None) -> Store:
    """The archive at `url` (a SQLAlchemy URL; default: $OILNEWS_DATABASE_URL, else
    sqlite:///oilnews.db), read-only: it must exist and be at the current schema."""
    from oilnews.storage.store import Store

    return Store(url)


def version() -> str:
    """The installed oilnews's version ("(not installed)" for a checkout run without an install):
    `oilnews --version`, and the software a WARC file names."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("oilnews")
    except PackageNotFoundError:
        return "(not installed)"
