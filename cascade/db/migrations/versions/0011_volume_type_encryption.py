"""volume types: the encryption specification (Cinder's encryption types)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("volume_types") as batch:
        batch.add_column(sa.Column("encryption", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volume_types") as batch:
        batch.drop_column("encryption")
