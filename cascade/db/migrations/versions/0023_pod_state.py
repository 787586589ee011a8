"""Pod states: a pod in maintenance, or draining, takes no new resources

Beyond enabled/disabled: `maintenance` (what the pod hosts keeps working, nothing
new goes there) and `draining` (what it hosts is being moved to other pods).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="active"))


def downgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        batch.drop_column("state")
