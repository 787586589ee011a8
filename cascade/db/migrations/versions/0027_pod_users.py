"""Independent pods: the users Cascade makes there for top users

A top user calling into an independent pod acts there as a user of that pod's Keystone
that stands for them (so what they make is theirs there too: keypairs, `user_id`).

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "pod_users",
        sa.Column(
            "pod_id",
            sa.String(36),
            sa.ForeignKey("pods.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("pod_user_id", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("pod_id", "pod_user_id"),
    )


def downgrade() -> None:
    op.drop_table("pod_users")
