"""Default security group rules at the top (Neutron's `security-groups-default-rules`):
seeded with Neutron's four, admin-managed, and what new groups' rules are made from."""

from __future__ import annotations

from typing import Any

import httpx

MEMBER = {"X-Auth-Token": "member-token"}
ADMIN = {"X-Auth-Token": "admin-token"}
V2 = "/networking/v2.0"
RULES = f"{V2}/default-security-group-rules"


def shape(rule: dict[str, Any]) -> tuple[Any, ...]:
    return (rule["direction"], rule["ethertype"], rule["remote_group_id"], rule["protocol"])


async def groups_rules(client: httpx.AsyncClient, name: str | None) -> list[tuple[Any, ...]]:
    """The rules of the member's default group (name None) or of a new group `name`."""
    if name is None:
        listed = await client.get(f"{V2}/security-groups?name=default", headers=MEMBER)
        group = listed.json()["security_groups"][0]
    else:
        made = await client.post(
            f"{V2}/security-groups", json={"security_group": {"name": name}}, headers=MEMBER
        )
        assert made.status_code == 201, made.text
        group = made.json()["security_group"]
    own = group["id"]
    return sorted(
        (
            r["direction"],
            r["ethertype"],
            "self" if r["remote_group_id"] == own else None,
            (r["protocol"], r["port_range_min"]),
        )
        for r in group["security_group_rules"]
    )


async def test_the_seeded_rules_are_neutrons_and_every_user_reads_them(
    client: httpx.AsyncClient,
) -> None:
    listed = await client.get(RULES, headers=MEMBER)
    assert listed.status_code == 200, listed.text
    rules = listed.json()["default_security_group_rules"]
    assert sorted(shape(r) for r in rules) == [
        ("egress", "IPv4", None, None),
        ("egress", "IPv6", None, None),
        ("ingress", "IPv4", "PARENT", None),
        ("ingress", "IPv6", "PARENT", None),
    ]
    ingress = next(r for r in rules if r["direction"] == "ingress")
    assert (ingress["used_in_default_sg"], ingress["used_in_non_default_sg"]) == (True, False)
    assert ingress["description"] == "Legacy default SG rule for ingress traffic"
    # Neutron shows no project, tags or timestamps of a default rule
    assert "project_id" not in ingress and "tags" not in ingress
    shown = await client.get(f"{RULES}/{ingress['id']}", headers=MEMBER)
    assert shown.json()["default_security_group_rule"] == ingress
    missing = await client.get(f"{RULES}/nope", headers=MEMBER)
    assert missing.status_code == 404
    assert missing.json()["NeutronError"]["type"] == "DefaultSecurityGroupRuleNotFound"
    filtered = await client.get(f"{RULES}?direction=egress", headers=MEMBER)
    assert {r["direction"] for r in filtered.json()["default_security_group_rules"]} == {"egress"}
    extensions = (await client.get(f"{V2}/extensions", headers=MEMBER)).json()["extensions"]
    aliases = {e["alias"] for e in extensions}
    assert "security-groups-default-rules" in aliases


async def test_new_groups_get_the_rules_of_the_default_rules(client: httpx.AsyncClient) -> None:
    """As in Neutron: a default rule changes the groups made after it, by whether it is
    used in default groups, in others, or both."""
    body = {
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "used_in_default_sg": False,
        "used_in_non_default_sg": True,
    }
    made = await client.post(RULES, json={"default_security_group_rule": body}, headers=ADMIN)
    assert made.status_code == 201, made.text
    ssh = made.json()["default_security_group_rule"]
    assert (ssh["protocol"], ssh["ethertype"], ssh["remote_ip_prefix"]) == ("tcp", "IPv4", None)

    assert await groups_rules(client, "web") == [
        ("egress", "IPv4", None, (None, None)),
        ("egress", "IPv6", None, (None, None)),
        ("ingress", "IPv4", None, ("tcp", 22)),
    ]
    # the default group does not use it
    assert await groups_rules(client, None) == [
        ("egress", "IPv4", None, (None, None)),
        ("egress", "IPv6", None, (None, None)),
        ("ingress", "IPv4", "self", (None, None)),
        ("ingress", "IPv6", "self", (None, None)),
    ]
    again = await client.post(RULES, json={"default_security_group_rule": body}, headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["NeutronError"]["type"] == "DefaultSecurityGroupRuleExists"
    assert ssh["id"] in again.json()["NeutronError"]["message"]

    assert (await client.delete(f"{RULES}/{ssh['id']}", headers=ADMIN)).status_code == 204
    assert [r[0] for r in await groups_rules(client, "db")] == ["egress", "egress"]


async def test_only_admins_change_them_and_bad_rules_are_neutrons_400(
    client: httpx.AsyncClient,
) -> None:
    ok = {"direction": "egress", "used_in_default_sg": True, "used_in_non_default_sg": True}
    denied = await client.post(RULES, json={"default_security_group_rule": ok}, headers=MEMBER)
    assert denied.status_code == 403, denied.text
    first = (await client.get(RULES, headers=MEMBER)).json()["default_security_group_rules"][0]
    gone = await client.delete(f"{RULES}/{first['id']}", headers=MEMBER)
    assert gone.status_code == 403
    for bad, kind in (
        ({"direction": "egress"}, "HTTPBadRequest"),
        ({**ok, "direction": "sideways"}, "HTTPBadRequest"),
        ({**ok, "used_in_default_sg": "maybe"}, "HTTPBadRequest"),
        ({**ok, "protocol": "tcp", "port_range_min": 90, "port_range_max": 80}, None),
        ({**ok, "ethertype": "IPv5"}, "SecurityGroupRuleInvalidEtherType"),
        ({**ok, "remote_group_id": "8f5a3bd4-2f4c-4a4e-8a3d-4d8a2f0c9c11"}, "InvalidInput"),
    ):
        answer = await client.post(RULES, json={"default_security_group_rule": bad}, headers=ADMIN)
        assert answer.status_code == 400, (bad, answer.text)
        if kind is not None:
            assert answer.json()["NeutronError"]["type"] == kind, answer.text
    # nothing was made by the refused ones
    assert len((await client.get(RULES, headers=ADMIN)).json()["default_security_group_rules"]) == 4
    # no update in Neutron
    put = await client.put(
        f"{RULES}/{first['id']}",
        json={"default_security_group_rule": {"description": "x"}},
        headers=ADMIN,
    )
    assert put.status_code == 400, put.text
    assert put.json()["NeutronError"]["message"] == "Cannot update read-only attribute description"
