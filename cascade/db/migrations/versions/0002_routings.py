"""routings

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("top_id", sa.String(64), nullable=False, index=True),
        sa.Column("pod_id", sa.String(36), sa.ForeignKey("pods.id"), nullable=False, index=True),
        sa.Column("bottom_id", sa.String(64), nullable=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.UniqueConstraint("resource_type", "top_id", "pod_id"),
    )


def downgrade() -> None:
    op.drop_table("routings")
