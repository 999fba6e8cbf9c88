"""Page text unbounded on PostgreSQL: an article's source and section, an author's name, a
price quote's blend name (varchar(255) refused a 318-character author name, and the batch
with it)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = (("articles", "source"), ("articles", "section"), ("authors", "name"), ("price_quotes", "name"))


def upgrade() -> None:
    # SQLite never enforces a VARCHAR's length: nothing to change there (and a change would
    # rebuild the articles table and its search triggers).
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE text")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar(255) USING left({column}, 255)")
