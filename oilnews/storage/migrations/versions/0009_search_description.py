"""The full-text index covers the meta description too (title, description, body)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

from oilnews.storage.search import create_index, drop_index

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Built again whole: an FTS5 table's columns and a generated column's expression cannot be
    # altered in place. PostgreSQL rewrites the table to add the generated column.
    drop_index(op.get_bind())
    create_index(op.get_bind())


def downgrade() -> None:
    drop_index(op.get_bind())
    create_index(op.get_bind(), columns=("title", "body"))
