"""The pods a project made objects of any kind in lately, from the index alone

`routed.newest_pods` asks for the pods with a routing of the project, of any kind,
newer than a time (an object a pod made itself, such as a volume Nova created to
boot a server from, is as new as the routing of what the top asked for there).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_routings_project_created", "routings", ["project_id", "created_at", "pod_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_routings_project_created", "routings")
