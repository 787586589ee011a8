"""networking: top-owned Neutron objects, fixed IPs, MACs and VLAN segments

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "net_resources",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.String(36), nullable=True),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("revision_number", sa.Integer, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_net_resources_kind_project", "net_resources", ["kind", "project_id"])
    op.create_index("ix_net_resources_kind_parent", "net_resources", ["kind", "parent_id"])
    op.create_table(
        "net_addresses",
        sa.Column("network_id", sa.String(36), primary_key=True),
        sa.Column("ip_address", sa.String(64), primary_key=True),
        sa.Column("subnet_id", sa.String(36), nullable=False, index=True),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
    )
    op.create_table(
        "net_macs",
        sa.Column("mac_address", sa.String(17), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
    )
    op.create_table(
        "net_segments",
        sa.Column("physical_network", sa.String(64), primary_key=True),
        sa.Column("segmentation_id", sa.Integer, primary_key=True),
        sa.Column("network_id", sa.String(36), nullable=False, unique=True),
    )


def downgrade() -> None:
    op.drop_table("net_segments")
    op.drop_table("net_macs")
    op.drop_table("net_addresses")
    op.drop_table("net_resources")
