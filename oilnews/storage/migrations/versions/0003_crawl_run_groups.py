"""crawl_runs: the distributed run a worker belonged to

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("run_group", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("worker", sa.String(length=255), nullable=True))
        batch.create_index("ix_crawl_runs_run_group", ["run_group"])


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_index("ix_crawl_runs_run_group")
        batch.drop_column("worker")
        batch.drop_column("run_group")
