"""What the pods get for a security group: rules with remote groups expanded."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from cascade.services.network import store
from cascade.services.network.materialise import desired_rules


def rule(group: str, **body: Any) -> dict[str, Any]:
    base = {
        "security_group_id": group,
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
    }
    return {**base, **body}


async def test_remote_groups_become_member_addresses(app: Starlette) -> None:
    async with app.state.sessions() as db:
        web = store.add(db, store.SECURITY_GROUP, "p1", {"name": "web"})
        db_group = store.add(db, store.SECURITY_GROUP, "p1", {"name": "db"})
        await db.flush()
        for body in (
            rule(
                db_group.id,
                protocol="tcp",
                port_range_min=5432,
                port_range_max=5432,
                remote_group_id=web.id,
            ),
            rule(db_group.id, ethertype="IPv6", remote_group_id=web.id),
            rule(db_group.id, direction="egress"),
        ):
            store.add(db, store.SECURITY_GROUP_RULE, "p1", body, parent_id=db_group.id)
        for addresses in (["10.0.0.5", "fd00::5"], ["10.0.1.7"]):
            ips = [{"subnet_id": "s", "ip_address": a} for a in addresses]
            store.add(db, store.PORT, "p1", {"security_groups": [web.id], "fixed_ips": ips})
        store.add(
            db,
            store.PORT,
            "p1",
            {
                "security_groups": [db_group.id],
                "fixed_ips": [{"subnet_id": "s", "ip_address": "10.9.9.9"}],
            },
        )
        await db.commit()
        got = await desired_rules(db, db_group)
    keys = sorted(
        (r["direction"], r["ethertype"], r["protocol"], r["remote_ip_prefix"]) for r in got
    )
    assert keys == [
        ("egress", "IPv4", None, None),
        ("ingress", "IPv4", "tcp", "10.0.0.5/32"),
        ("ingress", "IPv4", "tcp", "10.0.1.7/32"),
        ("ingress", "IPv6", None, "fd00::5/128"),
    ]
    assert all("remote_group_id" not in r for r in got)  # pods never see top group ids


async def test_a_remote_group_without_members_allows_nothing(app: Starlette) -> None:
    async with app.state.sessions() as db:
        lonely = store.add(db, store.SECURITY_GROUP, "p1", {"name": "lonely"})
        await db.flush()
        store.add(
            db,
            store.SECURITY_GROUP_RULE,
            "p1",
            rule(lonely.id, remote_group_id=lonely.id),
            parent_id=lonely.id,
        )
        await db.commit()
        assert await desired_rules(db, lonely) == []
