"""pods

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pods",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("region_name", sa.String(255), nullable=False, unique=True),
        sa.Column("az", sa.String(255), nullable=False, index=True),
        sa.Column("pod_az", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("weight", sa.Integer, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("health_state", sa.String(16), nullable=False),
        sa.Column("health_checked_at", TIMESTAMP, nullable=True),
        sa.Column("health_latency_ms", sa.Float, nullable=True),
        sa.Column("health_error", sa.Text, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("pods")
