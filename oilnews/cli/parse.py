"""`oilnews parse`: the item the page parsers extract from a saved page, as JSON (no crawl)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from oilnews.errors import ExitCode, UsageError
from oilnews.settings import OILNEWS_REQUIRED_FIELDS  # what the validate pipeline requires


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Print the item the page parsers extract from a saved page, as JSON. Exit 1 (with the item "
        "still printed) when the page is not of that kind: an article without a required field, a "
        "listing without entries."
    )
    parser.add_argument("file", help="a saved HTML page")
    parser.add_argument("--url", required=True, help="the URL the page was served under (required)")
    parser.add_argument(
        "--kind", choices=("article", "listing"), default="article", help="(default: article)"
    )
    parser.add_argument("--encoding", default="utf-8", help="(default: utf-8)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scrapy.http import HtmlResponse

    from oilnews.dates import json_value
    from oilnews.pages.article import parse_article
    from oilnews.pages.listing import parse_listing
    from oilnews.pipelines.clean import clean_article

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no file {path}")
    response = HtmlResponse(url=args.url, body=path.read_bytes(), encoding=args.encoding)
    missing: list[str] = []
    if args.kind == "listing":
        page = parse_listing(response)
        output: dict[str, Any] = {
            "next_url": page.next_url,
            "total_pages": page.total_pages,
            "entries": [
                {"url": e.url, "title": e.title, "author": e.author, "listed_at": json_value(e.listed_at)}
                for e in page.entries
            ],
        }
        missing = [] if page.entries else ["entries"]
    else:
        output = clean_article(parse_article(response)).to_json()
        missing = [name for name in OILNEWS_REQUIRED_FIELDS if not output.get(name)]
    json.dump(output, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    if missing:
        other = "listing" if args.kind == "article" else "article"
        print(
            f"oilnews: {path} is not {'an' if args.kind == 'article' else 'a'} {args.kind} page: no "
            f"{', '.join(missing)} found (a crawl would drop it; --kind {other} for the other kind)",
            file=sys.stderr,
        )
        return ExitCode.UNHEALTHY
    return ExitCode.OK
