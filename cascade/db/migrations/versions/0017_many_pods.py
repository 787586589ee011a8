"""Many pods: each pod's microversion ranges on its row, and the pods of a project

The ranges are written by the health check (which reads the version documents as
its probe) and read by every API process, so the range the top advertises is one
query, not a call to every pod, and a restarted process knows it at once. The
index gives the pods a project has objects of a kind in (what its lists and its
unknown ids ask) from the index alone.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COLUMNS = ("compute_min", "compute_max", "volume_min", "volume_max")


def upgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer, nullable=True))
    op.create_index(
        "ix_routings_project_kind_pod", "routings", ["project_id", "resource_type", "pod_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_routings_project_kind_pod", "routings")
    with op.batch_alter_table("pods") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
