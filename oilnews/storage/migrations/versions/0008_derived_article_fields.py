"""What is derived from an article's page beside its content: the meta description, the
language, the body as Markdown, the images, the commodities, countries and companies it
mentions, and the hash of them all (`oilnews reparse` fills them for articles stored before)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
COLUMNS = (
    ("description", sa.Text()),
    ("language", sa.String(16)),
    ("body_markdown", sa.Text()),
    ("images", JSON),
    ("commodities", JSON),
    ("countries", JSON),
    ("companies", JSON),
    ("derived_hash", sa.String(64)),
)


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: nullable, no default, so neither rebuilds the table
    # (SQLite's batch mode would, and with it the search index's triggers).
    for name, type_ in COLUMNS:
        op.add_column("articles", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for name, _type in reversed(COLUMNS):
        op.drop_column("articles", name)
