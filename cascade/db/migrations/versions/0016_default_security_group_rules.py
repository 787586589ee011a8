"""Default security group rules: seeded with Neutron's four legacy rules

Neutron seeds its `securitygroupdefaultrules` table the same way (its migration
`c33da356b165`), so the top's groups get the rules a pod's would.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

KIND = "default_security_group_rule"
# the rows are written out here, not made by the services' code: a migration stays what
# it was when it ran first, whatever the code becomes


def _rule(direction: str, ethertype: str) -> dict[str, object]:
    ingress = direction == "ingress"
    return {
        "direction": direction,
        "ethertype": ethertype,
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": "PARENT" if ingress else None,
        "remote_address_group_id": None,
        "description": f"Legacy default SG rule for {direction} traffic",
        "used_in_default_sg": True,
        "used_in_non_default_sg": not ingress,
    }


def upgrade() -> None:
    table = sa.table(
        "net_resources",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("project_id", sa.String),
        sa.column("parent_id", sa.String),
        sa.column("body", sa.JSON),
        sa.column("tags", sa.JSON),
        sa.column("revision_number", sa.Integer),
        sa.column("created_at", sa.DateTime),
        sa.column("updated_at", sa.DateTime),
    )
    moment = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    rows: list[dict[str, object]] = [
        {
            "id": str(uuid.uuid4()),
            "kind": KIND,
            "project_id": "",
            "parent_id": None,
            "body": _rule(direction, ethertype),
            "tags": [],
            "revision_number": 0,
            "created_at": moment,
            "updated_at": moment,
        }
        for direction in ("egress", "ingress")
        for ethertype in ("IPv4", "IPv6")
    ]
    op.bulk_insert(table, rows)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM net_resources WHERE kind = :kind").bindparams(kind=KIND))
