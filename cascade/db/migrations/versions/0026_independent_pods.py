"""Independent pods: a pod with its own Keystone, and the top projects mapped into it

`identity` is `shared` (a region of the top's Keystone: the user's token is forwarded)
or `independent` (its own Keystone at `auth_url`, where Cascade signs in with
`credentials`, never shown by the admin API). `pod_projects` maps a top project to the
independent pod's project that stands for it.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        batch.add_column(
            sa.Column("identity", sa.String(16), nullable=False, server_default="shared")
        )
        batch.add_column(sa.Column("auth_url", sa.String(255), nullable=True))
        batch.add_column(sa.Column("credentials", sa.JSON, nullable=True))
    op.create_table(
        "pod_projects",
        sa.Column(
            "pod_id",
            sa.String(36),
            sa.ForeignKey("pods.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("pod_project_id", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("pod_id", "pod_project_id"),
    )


def downgrade() -> None:
    op.drop_table("pod_projects")
    with op.batch_alter_table("pods") as batch:
        batch.drop_column("credentials")
        batch.drop_column("auth_url")
        batch.drop_column("identity")
