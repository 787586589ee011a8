"""Health checked by the worker: which of a pod's services failed its last check

The periodic health check runs in cascade-worker (one process for every API
replica); the API processes follow its findings from the pods' rows (their
circuit breakers open for the services the check found failing), so they need
to know which services failed, not only the pod's overall state.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        batch.add_column(sa.Column("health_failing", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        batch.drop_column("health_failing")
