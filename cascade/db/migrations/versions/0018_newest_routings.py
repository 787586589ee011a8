"""The newest routings of a project and kind, from the index alone

A project's first page of servers in the default order (newest first) asks only
the pods that hold its newest servers (`routed.newest_pods`): which ones, and the
creation time of the page's last, come from this index without reading the rows.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_routings_project_kind_created",
        "routings",
        ["project_id", "resource_type", "created_at", "pod_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_routings_project_kind_created", "routings")
