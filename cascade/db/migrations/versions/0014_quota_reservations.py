"""Quota reservations: what a create's routing intent holds, and per-project lock rows

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("routings", sa.Column("reserved", sa.JSON, nullable=True))
    op.create_table(
        "project_locks",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("taken", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("project_locks")
    with op.batch_alter_table("routings") as batch:
        batch.drop_column("reserved")
