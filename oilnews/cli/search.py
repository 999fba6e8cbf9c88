"""`oilnews search`: full-text search of the stored articles, best first (oilnews.storage.search)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from oilnews.cli import add_db, add_filters, bounded_int, reading, selection_of
from oilnews.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="words the article must contain")
    add_db(parser)
    add_filters(parser)
    parser.add_argument(
        "--limit", type=bounded_int(1, 1000), default=20, help="hits, 1 to 1000 (default: 20)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per hit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oilnews.logs import for_terminal
    from oilnews.storage.search import search

    selection = selection_of(args)
    words, selection = selection.query, dataclasses.replace(selection, query=None)
    with reading(args) as database:
        hits = database.transaction(lambda conn: search(conn, words or "", selection, args.limit))
    for hit in hits:
        if args.json:
            print(json.dumps(hit.to_json(), ensure_ascii=False))
        else:
            date = f"{hit.published_at:%Y-%m-%d}" if hit.published_at else "----------"
            print(for_terminal(f"{date}  {hit.title}\n            {hit.url}\n            {hit.snippet}\n"))
    if not hits:
        if not args.json:
            print(f"no article matches {for_terminal(repr(words))}", file=sys.stderr)
        return ExitCode.UNHEALTHY  # 1, as grep says "nothing found"
    return ExitCode.OK
