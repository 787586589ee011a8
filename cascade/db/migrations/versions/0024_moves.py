"""Moves: a server on its way to another pod

A cross-pod cold migration: the server is made again in the target pod from an image
of it; the source goes only once an admin confirms the move (or the target goes when
the admin reverts it).

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "moves",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("top_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("source_pod_id", sa.String(36), nullable=False),
        sa.Column("source_bottom_id", sa.String(64), nullable=False),
        sa.Column("target_pod_id", sa.String(36), nullable=False, index=True),
        sa.Column("target_bottom_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("image_id", sa.String(64), nullable=True),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_moves_kind_top", "moves", ["resource_type", "top_id"])


def downgrade() -> None:
    op.drop_table("moves")
