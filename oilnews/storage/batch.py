"""A batch: items on their way to one transaction, as the writer's rows, and as one JSON line
when it has to wait on disk (the spool)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from oilnews.dates import json_value
from oilnews.items import AliasItem, ArticleItem, PriceQuoteItem, derived_row
from oilnews.storage.models import ARTICLE_FIELDS
from oilnews.storage.writer import BatchResult, write_batch

_DATETIME_FIELDS = ("published_at", "modified_at", "observed_at", "seen_at")


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return json_value(value)
    raise TypeError(f"cannot spool {type(value).__name__}")


def _from_json(row: dict[str, Any]) -> dict[str, Any]:
    for name in _DATETIME_FIELDS:
        if isinstance(row.get(name), str):
            row[name] = datetime.fromisoformat(row[name])
    return row


class Batch:
    """Items on their way to one transaction: articles (with their links and authors), price
    quotes and alias URLs, as the writer's rows."""

    def __init__(self) -> None:
        self.articles: list[dict[str, Any]] = []
        self.quotes: list[dict[str, Any]] = []
        self.aliases: list[dict[str, str]] = []

    def __len__(self) -> int:
        return len(self.articles) + len(self.quotes) + len(self.aliases)

    def add(self, item: Any) -> bool:
        if isinstance(item, ArticleItem):
            # Field by field rather than ItemAdapter.asdict(): its recursive copy of ~25 links
            # per article cost more than the database write in a profile of a 3,000-page crawl.
            row: dict[str, Any] = {name: getattr(item, name) for name in ARTICLE_FIELDS}
            row.update(derived_row(item))
            row["seen_at"] = item.seen_at
            row["links"] = [{"url": link.url, "kind": link.kind, "title": link.title} for link in item.links]
            row["author_profiles"] = [
                {"profile_url": p.profile_url, "name": p.name, "bio": p.bio, "avatar_url": p.avatar_url}
                for p in item.author_profiles
            ]
            self.articles.append(row)
        elif isinstance(item, PriceQuoteItem):
            self.quotes.append(dataclasses.asdict(item))  # flat: no links to copy
        elif isinstance(item, AliasItem):
            self.aliases.append({"url": item.url, "alias": item.alias})
        else:
            return False
        return True

    def write(self, conn: Connection, max_versions_per_day: int = 0) -> BatchResult:
        return write_batch(conn, self.articles, self.quotes, self.aliases, max_versions_per_day)

    def units(self) -> list[Batch]:
        """One batch a row, articles first (an alias needs its article stored before it)."""
        units = []
        for name in ("articles", "quotes", "aliases"):
            for row in getattr(self, name):
                unit = Batch()
                getattr(unit, name).append(row)
                units.append(unit)
        return units

    @classmethod
    def joined(cls, parts: list[Batch]) -> Batch:
        batch = cls()
        for part in parts:
            batch.articles += part.articles
            batch.quotes += part.quotes
            batch.aliases += part.aliases
        return batch

    def urls(self) -> list[str]:
        return [a["url"] for a in self.articles] + [a["alias"] for a in self.aliases]

    def dump(self, **extra: Any) -> str:
        data = {**extra, "articles": self.articles, "quotes": self.quotes, "aliases": self.aliases}
        return json.dumps(data, default=_to_json, ensure_ascii=False)

    @classmethod
    def load(cls, line: str) -> Batch:
        data = json.loads(line)
        batch = cls()
        batch.articles = [_from_json(a) for a in data.get("articles", [])]
        batch.quotes = [_from_json(q) for q in data.get("quotes", [])]
        batch.aliases = data.get("aliases", [])
        return batch
