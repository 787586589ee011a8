"""Drains: a pod emptied by moving what it hosts to other pods

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "drains",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("pod_id", sa.String(36), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("azs", sa.JSON, nullable=False),
        sa.Column("state_before", sa.String(16), nullable=False),
        sa.Column("left", sa.JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
    )
    with op.batch_alter_table("moves") as batch:
        batch.add_column(sa.Column("drain_id", sa.String(36), nullable=True))
        batch.create_index("ix_moves_drain_id", ["drain_id"])


def downgrade() -> None:
    with op.batch_alter_table("moves") as batch:
        batch.drop_index("ix_moves_drain_id")
        batch.drop_column("drain_id")
    op.drop_table("drains")
