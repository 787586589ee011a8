"""The Networking API's per-object rules: Neutron's names and defaults, the object as the
rule's target, and an operator's policy file changing who sees and changes what."""

from __future__ import annotations

import httpx
import pytest
from oslo_policy import policy as oslo_policy
from starlette.applications import Starlette

from cascade import policy_checks
from tests.unit.test_network_api import ADMIN, MEMBER, OTHER, V2, error, make, net_and_subnet

READER = {"X-Auth-Token": "reader-token"}


def _field(text: str) -> policy_checks.FieldCheck:
    check = oslo_policy.Rules.from_dict({"rule": text})["rule"]
    assert isinstance(check, policy_checks.FieldCheck)  # oslo.policy parsed it as ours
    return check


def test_neutron_s_field_check_reads_the_target() -> None:
    shared = _field("field:networks:shared=True")
    assert shared({"shared": True}, {}, None) is True
    assert shared({"shared": False}, {}, None) is False
    assert shared({}, {}, None) is False  # no such attribute: false
    external = _field("field:networks:router:external=True")
    assert external({"router:external": True}, {}, None) is True
    compute = _field("field:port:device_owner=~^compute:")
    assert compute({"device_owner": "compute:az1"}, {}, None) is True
    assert compute({"device_owner": "network:dhcp"}, {}, None) is False
    assert str(compute) == "field:port:device_owner=~^compute:"


async def test_a_reader_reads_its_project_s_objects_and_changes_none(
    client: httpx.AsyncClient,
) -> None:
    """Neutron's defaults: `get_<kind>` a project's readers, `create_`/`update_`/
    `delete_<kind>` its members (Keystone's implied roles give members both)."""
    net, sub = await net_and_subnet(client)
    router = await make(client, "router", {"name": "r"})
    for kind, made in (("network", net), ("subnet", sub), ("router", router)):
        seen = await client.get(f"{V2}/{kind}s/{made['id']}", headers=READER)
        assert seen.status_code == 200 and seen.json()[kind]["id"] == made["id"]
    listed = await client.get(f"{V2}/networks", headers=READER)
    assert [n["id"] for n in listed.json()["networks"]] == [net["id"]]
    refused = await client.post(f"{V2}/networks", json={"network": {"name": "x"}}, headers=READER)
    assert refused.status_code == 403
    assert error(refused)["message"] == "(rule:create_network) is disallowed by policy"
    url = f"{V2}/networks/{net['id']}"
    renamed = await client.put(url, json={"network": {"name": "y"}}, headers=READER)
    assert error(renamed)["message"] == "(rule:update_network) is disallowed by policy"
    assert (await client.delete(f"{V2}/subnets/{sub['id']}", headers=READER)).status_code == 403
    port = await client.post(
        f"{V2}/ports", json={"port": {"network_id": net["id"]}}, headers=READER
    )
    assert error(port)["message"] == "(rule:create_port) is disallowed by policy"
    interface = await client.put(
        f"{V2}/routers/{router['id']}/add_router_interface",
        json={"subnet_id": sub["id"]},
        headers=READER,
    )
    assert error(interface)["message"] == "(rule:add_router_interface) is disallowed by policy"
    tagged = await client.put(f"{url}/tags/t", headers=READER)
    assert error(tagged)["message"] == "rule:update_network:tags is disallowed by policy"
    assert (await client.get(f"{url}/tags", headers=READER)).json() == {"tags": []}
    # nothing changed
    assert (await client.get(url, headers=MEMBER)).json()["network"]["name"] == "n1"
    assert (await client.get(f"{V2}/ports", headers=MEMBER)).json()["ports"] == []


async def test_an_operator_hands_get_network_to_a_role_of_its_own(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """`get_network: role:netviewer or rule:admin_only` in a policy file: members who lack
    the role see no network (a list without them, a show 404, as Neutron answers a GET
    its policy refuses), though they may still make them; the role's holders see their
    project's and the shared ones; the subnets' own rule is untouched."""
    net, sub = await net_and_subnet(client)
    shared = await make(client, "network", {"name": "s", "shared": True, "project_id": "p2"}, ADMIN)
    policy = app.state.policy
    policy.override({"get_network": "role:netviewer or rule:admin_only"})
    assert (await client.get(f"{V2}/networks", headers=MEMBER)).json()["networks"] == []
    missing = await client.get(f"{V2}/networks/{net['id']}", headers=MEMBER)
    assert missing.status_code == 404 and error(missing)["type"] == "NetworkNotFound"
    assert (await client.get(f"{V2}/subnets/{sub['id']}", headers=MEMBER)).status_code == 200
    listed = await client.get(f"{V2}/networks", headers=ADMIN)
    assert {n["id"] for n in listed.json()["networks"]} >= {net["id"], shared["id"]}
    # `member` holds it now (a generic check on the caller's roles)
    policy.override({"get_network": "role:member and (project_id:%(project_id)s or rule:shared)"})
    seen = await client.get(f"{V2}/networks", headers=MEMBER)
    assert {n["id"] for n in seen.json()["networks"]} == {net["id"], shared["id"]}
    assert (await client.get(f"{V2}/networks", headers=READER)).json()["networks"] == []


async def test_rules_read_the_object_s_attributes_and_its_parent_s_owner(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """The target is the object (its attributes, `shared` as the caller sees it) with its
    network's owner for subnets and ports (`rule:network_owner`): a policy file that
    keeps members from deleting their ports of a network named `locked`, and from
    updating a network whose description says so, with Neutron's own `field:` check."""
    policy = app.state.policy
    policy.override(
        {
            "delete_port": "rule:admin_only or (role:member and project_id:%(project_id)s"
            " and not field:ports:name=locked)",
            "update_network": "rule:admin_only or (role:member and rule:owner"
            " and not field:networks:description=frozen)",
        }
    )
    net = await make(client, "network", {"name": "n", "description": "frozen"})
    locked = await make(client, "port", {"network_id": net["id"], "name": "locked"})
    free = await make(client, "port", {"network_id": net["id"], "name": "free"})
    refused = await client.delete(f"{V2}/ports/{locked['id']}", headers=MEMBER)
    assert refused.status_code == 403
    assert error(refused)["message"] == "(rule:delete_port) is disallowed by policy"
    assert (await client.delete(f"{V2}/ports/{free['id']}", headers=MEMBER)).status_code == 204
    url = f"{V2}/networks/{net['id']}"
    frozen = await client.put(url, json={"network": {"name": "m"}}, headers=MEMBER)
    assert frozen.status_code == 403
    assert (await client.delete(f"{V2}/ports/{locked['id']}", headers=ADMIN)).status_code == 204
    # another project's port on the member's network: the network's owner reads it only
    # through `get_port`'s `rule:network_owner`, which needs the network in the target
    theirs = await make(
        client, "port", {"network_id": net["id"], "project_id": "p2", "name": "x"}, ADMIN
    )
    assert (await client.get(f"{V2}/ports/{theirs['id']}", headers=OTHER)).status_code == 200
    # as in Neutron (its port query hook, `get_port`'s NET_OWNER_READER), the network's
    # owner reads the ports other projects have on it, and may not change them
    listed = (await client.get(f"{V2}/ports", headers=MEMBER)).json()["ports"]
    assert [p["id"] for p in listed] == [theirs["id"]]
    assert (await client.get(f"{V2}/ports/{theirs['id']}", headers=MEMBER)).status_code == 200
    renamed = await client.put(
        f"{V2}/ports/{theirs['id']}", json={"port": {"name": "y"}}, headers=MEMBER
    )
    assert renamed.status_code == 403
    policy.override({"get_port": "rule:admin_only or project_id:%(network:project_id)s"})
    assert (await client.get(f"{V2}/ports/{theirs['id']}", headers=OTHER)).status_code == 404
    listed = (await client.get(f"{V2}/ports", headers=MEMBER)).json()["ports"]
    assert [p["id"] for p in listed] == [theirs["id"]]
    policy.override({"get_port": "rule:admin_only or project_id:%(project_id)s"})
    assert (await client.get(f"{V2}/ports", headers=MEMBER)).json()["ports"] == []
    mine = await client.get(f"{V2}/ports/{theirs['id']}", headers=MEMBER)
    assert mine.status_code == 404 and error(mine)["type"] == "PortNotFound"
    from cascade.services.network import policies

    default = policies.defaults()["delete_port"]  # the file's `delete_port` taken back
    policy.override({"get_port": "rule:admin_only or rule:network_owner", "delete_port": default})
    # and deletes them (`delete_port`'s NET_OWNER_MEMBER), as Neutron's network owner may
    assert (await client.delete(f"{V2}/ports/{theirs['id']}", headers=MEMBER)).status_code == 204
    gone = await client.get(f"{V2}/ports/{theirs['id']}", headers=ADMIN)
    assert gone.status_code == 404


async def test_admin_only_attributes_are_shown_by_their_get_rules(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """`get_network:provider:*`, `get_port:binding:*`, `get_router:distributed|ha`:
    admins' (and, for bindings, services') by default; a policy file shows them to
    others."""
    net = await make(client, "network", {"name": "n"})
    url = f"{V2}/networks/{net['id']}"
    assert "provider:network_type" not in (await client.get(url, headers=MEMBER)).json()["network"]
    assert "provider:network_type" in (await client.get(url, headers=ADMIN)).json()["network"]
    app.state.policy.override({"get_network:provider:network_type": "role:member"})
    shown = (await client.get(url, headers=MEMBER)).json()["network"]
    assert shown["provider:network_type"] == "vlan"
    assert "provider:segmentation_id" not in shown


@pytest.mark.parametrize("kind", ["network", "subnet", "port", "security_group_rule"])
def test_every_object_rule_is_neutron_s_name(kind: str) -> None:
    from cascade.services.network import policies

    rules = policies.defaults()
    for action in ("get", "create", "delete"):
        assert f"{action}_{kind}" in rules
    # each parses in oslo.policy's language (Neutron's `field:` check included)
    parsed = oslo_policy.Rules.from_dict(rules)
    # (oslo.policy makes a rule it cannot parse "!", nobody, which only
    # `context_with_global_access` says on purpose)
    assert all(str(parsed[name]) != "!" for name in rules if rules[name] != "!")


def test_a_checker_keeps_an_answer_for_the_values_its_rule_reads() -> None:
    """`Policy.checker` asks oslo.policy once per distinct value of what the rule reads
    (`project_id`, `network:project_id`, ...), and answers each target by its own."""
    from datetime import UTC, datetime

    from cascade.context import Context
    from cascade.policy import Policy, _reads
    from cascade.services.network import policies

    policy = Policy(defaults=policies.defaults())
    rules = policy._rules()
    assert _reads(rules["get_port"], rules) == ("network:project_id", "project_id")
    assert _reads(rules["get_network"], rules) == ("project_id", "router:external", "shared")
    ctx = Context("t", "u1", "u", "p1", "p", frozenset({"member", "reader"}), datetime.now(UTC))
    allows = policy.checker(ctx)
    mine = {"project_id": "p1", "name": "a"}
    theirs = {"project_id": "p2", "name": "a"}
    for _ in range(2):
        assert allows("get_port", mine) is True
        assert allows("get_port", theirs) is False
        assert allows("get_port", {**theirs, "network:project_id": "p1"}) is True
    shared = {"project_id": "p2", "shared": True, "router:external": False}
    assert allows("get_network", shared) is True
    assert allows("get_network", {**shared, "shared": False}) is False
    assert allows("no_such_rule", mine) is False


async def test_another_project_s_quotas_are_get_quota_s(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """Reading another project's quotas and the list of every project's: `get_quota`
    (Neutron's default: admins, and a project's managers), asked on the caller's own
    project as Neutron asks it; the details of another project stay admins' (Neutron's
    own check)."""
    theirs = await client.get(f"{V2}/quotas/p2", headers=MEMBER)
    assert theirs.status_code == 403
    assert error(theirs)["message"] == "(rule:get_quota) is disallowed by policy"
    assert (await client.get(f"{V2}/quotas", headers=MEMBER)).status_code == 403
    assert (await client.get(f"{V2}/quotas/p1", headers=MEMBER)).status_code == 200
    app.state.policy.override({"get_quota": "role:member"})
    assert (await client.get(f"{V2}/quotas/p2", headers=MEMBER)).status_code == 200
    assert (await client.get(f"{V2}/quotas/p2/default", headers=MEMBER)).status_code == 200
    assert (await client.get(f"{V2}/quotas", headers=MEMBER)).json() == {"quotas": []}
    details = await client.get(f"{V2}/quotas/p2/details", headers=MEMBER)
    assert details.status_code == 403 and error(details)["type"] == "AdminRequired"


@pytest.mark.fake_pods
async def test_a_floating_ip_is_not_associated_with_another_project_s_port(
    client: httpx.AsyncClient, pods: object
) -> None:
    """The network's owner sees another project's port on it, but may not point its
    floating IP at it: Neutron's 400, and no floating IP is held."""
    from tests.unit.test_network_issue12 import external

    ext_id, _ = await external(client)
    net = await make(client, "network", {"name": "n"})
    await make(client, "subnet", {"network_id": net["id"], "cidr": "10.6.0.0/24"})
    theirs = await make(client, "port", {"network_id": net["id"], "project_id": "p2"}, ADMIN)
    body = {"floatingip": {"floating_network_id": ext_id, "port_id": theirs["id"]}}
    refused = await client.post(f"{V2}/floatingips", json=body, headers=MEMBER)
    assert refused.status_code == 400
    assert error(refused)["message"] == (
        f"Bad floatingip request: Cannot process floating IP association with Port "
        f"{theirs['id']}, since that port is owned by a different project"
    )
    assert (await client.get(f"{V2}/floatingips", headers=MEMBER)).json()["floatingips"] == []
    fip = await make(client, "floatingip", {"floating_network_id": ext_id})
    moved = await client.put(
        f"{V2}/floatingips/{fip['id']}",
        json={"floatingip": {"port_id": theirs["id"]}},
        headers=MEMBER,
    )
    assert moved.status_code == 400 and "owned by a different project" in error(moved)["message"]


async def test_context_with_global_access_makes_a_global_reader(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """Neutron's `context_with_global_access` (nobody by default): the queries of a caller
    it allows hold every project's objects, which the `get_` rules then judge; without
    it a rule that reads no project still sees the caller's project's alone."""
    policy = app.state.policy
    theirs = await make(client, "network", {"name": "theirs"}, OTHER)
    await make(client, "network", {"name": "ours"})
    policy.override({"get_network": "role:reader"})

    def names() -> set[str]:
        return {n["name"] for n in listed.json()["networks"]}

    listed = await client.get(f"{V2}/networks", headers=READER)
    assert names() == {"ours"}
    assert (await client.get(f"{V2}/networks/{theirs['id']}", headers=READER)).status_code == 404
    policy.override({"context_with_global_access": "role:reader and not role:member"})
    listed = await client.get(f"{V2}/networks", headers=READER)
    assert names() == {"ours", "theirs"}
    assert (await client.get(f"{V2}/networks/{theirs['id']}", headers=READER)).status_code == 200
    listed = await client.get(f"{V2}/networks", headers=MEMBER)  # the rule leaves members out
    assert names() == {"ours"}
    changed = await client.put(
        f"{V2}/networks/{theirs['id']}", json={"network": {"name": "x"}}, headers=READER
    )
    assert changed.status_code == 403  # reading everything, changing nothing
