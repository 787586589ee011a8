"""volume types and their access, owned by the top (with Cinder's default type)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    types = op.create_table(
        "volume_types",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("is_public", sa.Boolean, nullable=False),
        sa.Column("extra_specs", sa.JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
    )
    op.create_table(
        "volume_type_access",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "volume_type_id",
            sa.String(36),
            sa.ForeignKey("volume_types.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.UniqueConstraint("volume_type_id", "project_id"),
    )
    # as Cinder's own migration: every deployment has the type `__DEFAULT__`
    op.bulk_insert(
        types,
        [
            {
                "id": str(uuid.uuid4()),
                "name": "__DEFAULT__",
                "description": "Default Volume Type",
                "is_public": True,
                "extra_specs": {},
                "created_at": datetime.now(UTC).replace(tzinfo=None),
                "updated_at": None,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("volume_type_access")
    op.drop_table("volume_types")
