"""Independent pods: the region of their services in their own Keystone's catalog

`region_name` names a pod uniquely at the top; an independent pod's services may be in
a region of any name in its own catalog (`RegionOne` in many clouds): `catalog_region`
(None: `region_name`).

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        batch.add_column(sa.Column("catalog_region", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        batch.drop_column("catalog_region")
