"""Audits: what the top records compared with what the pods have, and the findings

An audit run reports differences (an object in a pod with no routing, a routing whose
object is gone, a copy unlike the top's, a routing stuck in a state); an operator asks
for a finding's repair, which a job carries out and records on the finding.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "audits",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("pod_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("pods_audited", sa.Integer, nullable=False),
        sa.Column("pods_unavailable", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False, index=True),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
    )
    op.create_table(
        "audit_findings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "audit_id",
            sa.String(36),
            sa.ForeignKey("audits.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("pod_id", sa.String(36), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("top_id", sa.String(64), nullable=True),
        sa.Column("bottom_id", sa.String(64), nullable=True),
        sa.Column("project_id", sa.String(64), nullable=True),
        sa.Column("routing_id", sa.String(36), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("differences", sa.JSON, nullable=True),
        sa.Column("repairs", sa.JSON, nullable=False),
        sa.Column("repair_action", sa.String(16), nullable=True),
        sa.Column("repair_status", sa.String(16), nullable=True),
        sa.Column("repair_job_id", sa.String(36), nullable=True),
        sa.Column("repair_result", sa.Text, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
    )
    op.create_index(
        "ix_audit_findings_audit_created", "audit_findings", ["audit_id", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_table("audit_findings")
    op.drop_table("audits")
