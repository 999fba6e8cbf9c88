"""`oilnews show`: one stored article with its aliases, links by kind, authors and, on request,
its earlier versions with what changed between each and the next."""

from __future__ import annotations

import argparse
import difflib
import json
from typing import Any

from sqlalchemy import Connection, select

from oilnews.cli import add_db, reading
from oilnews.dates import json_value
from oilnews.errors import ExitCode, UsageError
from oilnews.logs import for_terminal
from oilnews.pages.mentions import KINDS
from oilnews.storage.models import (
    VERSIONED_FIELDS,
    aliases_table,
    article_authors_table,
    articles_table,
    authors_table,
    links_table,
    versions_table,
)
from oilnews.urls import canonical_url

BODY_DIFF_LINES = 40  # of a changed body, the unified diff shown as text


def _find(conn: Connection, ref: str) -> Any:
    a = articles_table
    if ref.isdigit():
        return conn.execute(select(a).where(a.c.id == int(ref))).first()
    url = canonical_url(ref) or ref
    row = conn.execute(select(a).where(a.c.url == url)).first()
    if row is None:  # another URL of the same story
        alias = aliases_table
        row = conn.execute(
            select(a).join(alias, alias.c.article_id == a.c.id).where(alias.c.url == url)
        ).first()
    return row


def _changes(older: dict[str, Any], newer: dict[str, Any]) -> dict[str, Any]:
    """What differs between two versions' fields: old and new values, a diff for the body."""
    changes: dict[str, Any] = {}
    for name in VERSIONED_FIELDS:
        before, after = older.get(name), newer.get(name)
        if before == after:
            continue
        if name == "body":
            diff = difflib.unified_diff(
                str(before or "").split("\n\n"),
                str(after or "").split("\n\n"),
                "before",
                "after",
                lineterm="",
                n=0,
            )
            changes[name] = {"diff": list(diff)}
        else:
            changes[name] = {"before": before, "after": after}
    return changes


def article_view(conn: Connection, ref: str, versions: bool = False) -> dict[str, Any] | None:
    """The article `ref` (URL, alias URL or id) as a JSON-ready dict, or None."""
    row = _find(conn, ref)
    if row is None:
        return None
    article = {name: json_value(value) for name, value in row._mapping.items()}
    article_id = row.id
    alias, link, au, aa = aliases_table, links_table, authors_table, article_authors_table
    article["aliases"] = [
        u for (u,) in conn.execute(select(alias.c.url).where(alias.c.article_id == article_id))
    ]
    links: dict[str, list[dict[str, str]]] = {}
    for kind, target, anchor in conn.execute(
        select(link.c.kind, link.c.target_url, link.c.anchor_text)
        .where(link.c.article_id == article_id)
        .order_by(link.c.id)
    ):
        links.setdefault(kind, []).append({"url": target, "title": anchor})
    article["links"] = links
    article["author_profiles"] = [
        {"name": name, "profile_url": url, "bio": bio}
        for name, url, bio in conn.execute(
            select(au.c.name, au.c.profile_url, au.c.bio)
            .join(aa, aa.c.author_id == au.c.id)
            .where(aa.c.article_id == article_id)
        )
    ]
    if versions:
        v = versions_table
        history = [
            {"version": number, "seen_at": json_value(seen), "content_hash": digest, "fields": fields}
            for number, seen, digest, fields in conn.execute(
                select(v.c.version, v.c.seen_at, v.c.content_hash, v.c.fields)
                .where(v.c.article_id == article_id)
                .order_by(v.c.version)
            )
        ]
        current = {name: article.get(name) for name in VERSIONED_FIELDS}
        for index, entry in enumerate(history):
            following = history[index + 1]["fields"] if index + 1 < len(history) else current
            entry["changes"] = _changes(entry["fields"], following)
        article["versions"] = history
    return article


def render_text(view: dict[str, Any], links: bool = False, versions: bool = False) -> str:
    lines = [
        view["title"],
        view["url"],
        "",
        f"id {view['id']}, version {view['version']}, section {view.get('section') or '-'}, "
        f"{'premium' if view.get('is_premium') else 'free'}",
        f"published {view.get('published_at') or '-'}, modified {view.get('modified_at') or '-'}",
        f"authors {', '.join(view.get('authors') or []) or '-'} ({view.get('source') or '-'})",
        f"first seen {view['first_seen_at']}, last seen {view['last_seen_at']}, changed {view.get('changed_at')}",
    ]
    for profile in view.get("author_profiles") or []:
        lines.append(
            f"author {profile['name']}: {profile['profile_url']}"
            + (f" ({profile['bio']})" if profile["bio"] else "")
        )
    for url in view.get("aliases") or []:
        lines.append(f"alias {url}")
    if view.get("description"):
        lines.append(f"description {view['description']}")
    lines.append(f"language {view.get('language') or '-'}")
    for kind in KINDS:
        named = view.get(kind) or {}
        if named:
            lines.append(f"{kind} " + ", ".join(f"{name} ({count})" for name, count in named.items()))
    for image in view.get("images") or []:
        text = "; ".join(t for t in (image.get("caption"), image.get("alt")) if t)
        lines.append(f"image {image['url']}" + (f" ({text})" if text else ""))
    kinds = view.get("links") or {}
    lines.append(
        "links " + (", ".join(f"{kind} {len(items)}" for kind, items in sorted(kinds.items())) or "none")
    )
    if links:
        for kind, items in sorted(kinds.items()):
            lines.extend(f"  {kind:15} {item['url']}  {item['title']}" for item in items)
    if view.get("summary"):
        lines += ["", "Key points:", *(f"- {point}" for point in view["summary"])]
    lines += ["", view.get("body") or ""]
    if versions:
        history = view.get("versions") or []
        lines += ["", f"{len(history)} earlier version(s)" if history else "no earlier versions"]
        for entry in history:
            lines.append(
                f"version {entry['version']} (seen until {entry['seen_at']}): changed {', '.join(entry['changes']) or 'nothing'}"
            )
            for name, change in entry["changes"].items():
                if name == "body":
                    diff = change["diff"]
                    lines.extend(f"    {line}" for line in diff[:BODY_DIFF_LINES])
                    if len(diff) > BODY_DIFF_LINES:
                        lines.append(
                            f"    ... {len(diff) - BODY_DIFF_LINES} more diff lines (--json has them all)"
                        )
                else:
                    lines.append(f"    {name}: {change['before']!r} -> {change['after']!r}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("article", metavar="URL|ID", help="the article's URL, an alias URL, or its id")
    add_db(parser)
    parser.add_argument("--versions", action="store_true", help="earlier versions and what changed")
    parser.add_argument("--links", action="store_true", help="every link, not only the counts by kind")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with reading(args) as database:
        view = database.transaction(lambda conn: article_view(conn, args.article, versions=args.versions))
    if view is None:
        raise UsageError(f"no stored article {args.article!r} (give its URL, an alias URL or its id)")
    if args.json:
        print(json.dumps(view, ensure_ascii=False, indent=2))
    else:
        print(for_terminal(render_text(view, links=args.links, versions=args.versions)))
    return ExitCode.OK
