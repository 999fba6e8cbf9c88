"""Full-text search over the stored articles: SQLite FTS5 (bm25) or PostgreSQL tsvector (ts_rank).

The index lives in the database and is kept by the database in the same transaction as the
article writes: on SQLite an external-content FTS5 table maintained by triggers on `articles`,
on PostgreSQL a generated `search_vector` column with a GIN index. A new, updated or versioned
article is searchable the moment its batch commits, and migration 0004 builds the index for
articles stored before it existed. Titles weigh more than bodies on both: a title hit ranks
above a body hit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal_column, select, text
from sqlalchemy.sql.elements import ColumnClause

from oilnews.dates import json_value
from oilnews.storage import search_query
from oilnews.storage.models import articles_table
from oilnews.storage.selection import Selection

# Marks around the matched words in a snippet: plain text, fine on a terminal and in JSON.
MARK_START, MARK_END = "[", "]"
SNIPPET_WORDS = 24

# The columns the full-text index covers, with their weights (SQLite's bm25 weights, PostgreSQL's
# setweight labels): the title counts most, then the meta description, then the body. A
# migration that changes them drops the index and builds it again (0009); an older migration
# names the columns of its own time (0004: title and body).
INDEXED = (("title", 10.0, "A"), ("description", 2.0, "B"), ("body", 1.0, "C"))
INDEXED_COLUMNS = tuple(name for name, _weight, _label in INDEXED)
LEGACY_LABELS = {"title": "A", "body": "B"}


def sqlite_ddl(columns: tuple[str, ...]) -> tuple[str, ...]:
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return (
        # porter: "prices" finds "price", as PostgreSQL's english configuration does.
        "CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5("
        f"{names}, content='articles', content_rowid='id', tokenize='porter unicode61')",
        "CREATE TRIGGER IF NOT EXISTS articles_fts_insert AFTER INSERT ON articles BEGIN "
        f"INSERT INTO articles_fts(rowid, {names}) VALUES (new.id, {new}); END",
        "CREATE TRIGGER IF NOT EXISTS articles_fts_delete AFTER DELETE ON articles BEGIN "
        f"INSERT INTO articles_fts(articles_fts, rowid, {names}) VALUES ('delete', old.id, {old}); END",
        f"CREATE TRIGGER IF NOT EXISTS articles_fts_update AFTER UPDATE OF {names} ON articles BEGIN "
        f"INSERT INTO articles_fts(articles_fts, rowid, {names}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO articles_fts(rowid, {names}) VALUES (new.id, {new}); END",
        "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
    )


def postgres_ddl(columns: tuple[str, ...]) -> tuple[str, ...]:
    # Today's labels; the title-and-body index of 0004 weighed the body B.
    labels = {name: label for name, _weight, label in INDEXED} if "description" in columns else LEGACY_LABELS
    vector = " || ".join(
        f"setweight(to_tsvector('english', coalesce({c}, '')), '{labels[c]}')" for c in columns
    )
    return (
        f"ALTER TABLE articles ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS ({vector}) STORED",
        "CREATE INDEX IF NOT EXISTS ix_articles_search_vector ON articles USING gin (search_vector)",
    )


SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS articles_fts_insert",
    "DROP TRIGGER IF EXISTS articles_fts_delete",
    "DROP TRIGGER IF EXISTS articles_fts_update",
    "DROP TABLE IF EXISTS articles_fts",
)
POSTGRES_DROP = (
    "DROP INDEX IF EXISTS ix_articles_search_vector",
    "ALTER TABLE articles DROP COLUMN IF EXISTS search_vector",
)
# What the schema comparison must not mistake for drift: the index is not an ORM model.
INDEX_OBJECTS = frozenset({"articles_fts", "search_vector", "ix_articles_search_vector"})
INDEX_TABLE_PREFIX = "articles_fts"


def create_index(conn: Connection, columns: tuple[str, ...] = INDEXED_COLUMNS) -> None:
    """The full-text index over `columns` (today's INDEXED unless a migration names its own)."""
    for statement in sqlite_ddl(columns) if conn.dialect.name == "sqlite" else postgres_ddl(columns):
        conn.execute(text(statement))


def drop_index(conn: Connection) -> None:
    for statement in SQLITE_DROP if conn.dialect.name == "sqlite" else POSTGRES_DROP:
        conn.execute(text(statement))


def is_index_object(name: str | None) -> bool:
    return bool(name) and (name in INDEX_OBJECTS or str(name).startswith(INDEX_TABLE_PREFIX))


# A query's bounds: the snippet and headline functions grow with the square of its words.
MAX_QUERY_CHARS = 500
MAX_QUERY_TERMS = 16


def query_problem(query: str) -> str | None:
    """Why a person's search words cannot be searched, or None."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        return "they are not valid UTF-8 text"
    if len(query) > MAX_QUERY_CHARS:
        return f"{len(query)} characters, at most {MAX_QUERY_CHARS}"
    try:
        terms = search_query.parse(query).words()
    except search_query.SearchSyntaxError as error:
        return str(error)
    if len(terms) > MAX_QUERY_TERMS:
        return f"{len(terms)} different words, at most {MAX_QUERY_TERMS}"
    return None


def fts5_query(query: str) -> str:
    """A person's query (oilnews.storage.search_query's syntax) as an FTS5 query."""
    return search_query.to_fts5(search_query.parse(query))


def postgres_match(query: str) -> tuple[Any, Any]:
    """(the stored tsvector, the user's words as a tsquery) on PostgreSQL: `vector @@ tsquery`
    is the match, for `search` and for the --query filter of oilnews.storage.selection."""
    return literal_column("articles.search_vector"), func.to_tsquery(
        _english(), bindparam("query", search_query.to_tsquery(search_query.parse(query)))
    )


def _english() -> ColumnClause[Any]:
    """The text search configuration the generated column is built with (POSTGRES_DDL)."""
    return literal_column("'english'::regconfig")


def sqlite_match(query: str) -> Any:
    """The FTS5 MATCH condition on the articles_fts table, for the same two callers."""
    return literal_column("articles_fts").op("MATCH")(bindparam("match", fts5_query(query)))


@dataclass
class Hit:
    id: int
    url: str
    title: str
    published_at: datetime | None
    section: str | None
    rank: float
    snippet: str

    def to_json(self) -> dict[str, Any]:
        return {name: json_value(value) for name, value in asdict(self).items()}


def search(conn: Connection, query: str, selection: Selection, limit: int = 20) -> list[Hit]:
    """The stored articles matching `query` (search_query's syntax; query_problem first), best first."""
    a = articles_table
    columns = (a.c.id, a.c.url, a.c.title, a.c.published_at, a.c.section)
    if conn.dialect.name == "sqlite":
        weights = ", ".join(str(weight) for _name, weight, _label in INDEXED)
        rank: ColumnClause[Any] = literal_column(f"bm25(articles_fts, {weights})")  # lower is better
        snippet: ColumnClause[Any] = literal_column(
            f"snippet(articles_fts, -1, '{MARK_START}', '{MARK_END}', '...', {SNIPPET_WORDS})"
        )
        statement = (
            select(*columns, (-rank).label("rank"), snippet.label("snippet"))
            .select_from(a.join(text("articles_fts"), literal_column("articles_fts.rowid") == a.c.id))
            .where(sqlite_match(query), *selection.clauses(conn))
            .order_by(rank)
            .limit(limit)
        )
        return [_hit(row) for row in conn.execute(statement)]
    vector, tsquery = postgres_match(query)
    ranked = (
        select(*columns, func.ts_rank(vector, tsquery).label("rank"), a.c.description, a.c.body)
        .where(vector.op("@@")(tsquery), *selection.clauses(conn))
        .order_by(literal_column("rank").desc())
        .limit(limit)
        .subquery()
    )
    options = (
        f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, MinWords=8, MaxFragments=2"
    )
    # The headline is worked out for the hits only, after the ranking and the limit.
    described = ranked.c.title + ". " + func.coalesce(ranked.c.description + ". ", "") + ranked.c.body
    headline = func.ts_headline(_english(), described, tsquery, options)
    statement = select(
        ranked.c.id,
        ranked.c.url,
        ranked.c.title,
        ranked.c.published_at,
        ranked.c.section,
        ranked.c.rank,
        headline,
    ).order_by(ranked.c.rank.desc())
    return [_hit(row) for row in conn.execute(statement)]


def _hit(row: Any) -> Hit:
    article_id, url, title, published_at, section, rank, snippet = row
    return Hit(
        article_id, url, title, published_at, section, float(rank), " ".join(str(snippet or "").split())
    )
