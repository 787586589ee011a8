"""The Networking API at the top: objects in Cascade's database, Neutron's behaviour."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from starlette.applications import Starlette

from cascade.db.models import Pod, Routing
from cascade.jobs.registry import DEFAULT
from cascade.jobs.worker import Worker
from cascade.services.network import jobs as _network_jobs  # noqa: F401  (registers the handlers)
from tests.unit.fakenova import FakeCloud

MEMBER = {"X-Auth-Token": "member-token"}
ADMIN = {"X-Auth-Token": "admin-token"}
OTHER = {"X-Auth-Token": "other-token"}
V2 = "/networking/v2.0"


async def make(
    client: httpx.AsyncClient, kind: str, body: dict[str, Any], headers: dict[str, str] = MEMBER
) -> dict[str, Any]:
    plural = (
        "security-groups"
        if kind == "security_group"
        else ("security-group-rules" if kind == "security_group_rule" else f"{kind}s")
    )
    answer = await client.post(f"{V2}/{plural}", json={kind: body}, headers=headers)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()[kind]
    return made


async def net_and_subnet(
    client: httpx.AsyncClient, cidr: str = "10.20.0.0/24"
) -> tuple[dict[str, Any], dict[str, Any]]:
    net = await make(client, "network", {"name": "n1"})
    sub = await make(client, "subnet", {"network_id": net["id"], "cidr": cidr, "ip_version": 4})
    return net, sub


def error(answer: httpx.Response) -> dict[str, str]:
    body: dict[str, dict[str, str]] = answer.json()
    return body["NeutronError"]


async def test_versions_and_extensions_answer_like_neutron(client: httpx.AsyncClient) -> None:
    root = await client.get("/networking/")
    assert root.status_code == 200 and root.json()["versions"][0]["id"] == "v2.0"
    exts = await client.get(f"{V2}/extensions", headers=MEMBER)
    aliases = {e["alias"] for e in exts.json()["extensions"]}
    assert {"security-group", "provider", "quotas", "standard-attr-tag"} <= aliases
    assert {"dvr", "l3-ha"} <= aliases  # `distributed`, `ha`: top facts (issue 12)
    assert "trunk" not in aliases and "qos" not in aliases  # not served: not listed
    missing = await client.get(f"{V2}/extensions/trunk", headers=MEMBER)
    assert missing.status_code == 404
    unknown = await client.get(f"{V2}/bgpvpns", headers=MEMBER)
    assert unknown.status_code == 404
    assert error(unknown)["type"] == "HTTPNotFound"


async def test_a_network_gets_a_vlan_id_from_the_top_range(client: httpx.AsyncClient) -> None:
    net = await make(client, "network", {"name": "n1"})
    assert net["status"] == "ACTIVE" and net["subnets"] == [] and net["mtu"] == 1500
    assert "provider:segmentation_id" not in net  # provider attributes: admins only
    seen = (await client.get(f"{V2}/networks/{net['id']}", headers=ADMIN)).json()["network"]
    assert seen["provider:network_type"] == "vlan"
    assert seen["provider:physical_network"] == "physnet1"
    assert 2000 <= seen["provider:segmentation_id"] <= 2999
    other = await make(client, "network", {"name": "n2"})
    again = (await client.get(f"{V2}/networks/{other['id']}", headers=ADMIN)).json()["network"]
    assert again["provider:segmentation_id"] != seen["provider:segmentation_id"]


async def test_a_segmentation_id_outside_the_range_is_refused(client: httpx.AsyncClient) -> None:
    for vlan, status in ((150, 400), (5000, 400)):
        body = {
            "network": {
                "name": "x",
                "provider:network_type": "vlan",
                "provider:segmentation_id": vlan,
            }
        }
        answer = await client.post(f"{V2}/networks", json=body, headers=ADMIN)
        assert answer.status_code == status, answer.text
        assert error(answer)["type"] in ("InvalidInput", "HTTPBadRequest")
    body = {
        "network": {"name": "x", "provider:network_type": "vlan", "provider:segmentation_id": 2100}
    }
    assert (await client.post(f"{V2}/networks", json=body, headers=ADMIN)).status_code == 201
    taken = await client.post(f"{V2}/networks", json=body, headers=ADMIN)
    assert taken.status_code == 409 and error(taken)["type"] == "VlanIdInUse"
    flat = {"network": {"name": "x", "provider:network_type": "flat"}}
    assert (await client.post(f"{V2}/networks", json=flat, headers=ADMIN)).status_code == 400
    mine = {"network": {"name": "x", "provider:segmentation_id": 2200}}
    assert (await client.post(f"{V2}/networks", json=mine, headers=MEMBER)).status_code == 403
    listed = (await client.get(f"{V2}/networks", headers=ADMIN)).json()["networks"]
    assert len(listed) == 1  # nothing half-created by the refusals


async def test_overlapping_cidrs_on_one_network_are_refused(client: httpx.AsyncClient) -> None:
    net, sub = await net_and_subnet(client)
    assert sub["gateway_ip"] == "10.20.0.1"
    assert sub["allocation_pools"] == [{"start": "10.20.0.2", "end": "10.20.0.254"}]
    body = {"subnet": {"network_id": net["id"], "cidr": "10.20.0.128/25", "ip_version": 4}}
    answer = await client.post(f"{V2}/subnets", json=body, headers=MEMBER)
    assert answer.status_code == 400
    assert "overlaps with another subnet" in error(answer)["message"]
    # host bits set: Neutron takes the CIDR's network (as the top does, issue 12)
    bits = {"subnet": {"network_id": net["id"], "cidr": "10.30.0.5/24", "ip_version": 4}}
    answer = await client.post(f"{V2}/subnets", json=bits, headers=MEMBER)
    assert answer.status_code == 201 and answer.json()["subnet"]["cidr"] == "10.30.0.0/24"
    shown = (await client.get(f"{V2}/networks/{net['id']}", headers=MEMBER)).json()["network"]
    assert shown["subnets"] == sorted([sub["id"], answer.json()["subnet"]["id"]])


async def test_ports_get_addresses_from_the_top(
    client: httpx.AsyncClient, app: Starlette, pods: FakeCloud
) -> None:
    net, sub = await net_and_subnet(client)
    first = await make(client, "port", {"network_id": net["id"]})
    second = await make(client, "port", {"network_id": net["id"]})
    assert first["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.20.0.2"}]
    assert second["fixed_ips"][0]["ip_address"] == "10.20.0.3"
    assert first["mac_address"].startswith("fa:16:3e:")
    assert first["mac_address"] != second["mac_address"]
    assert first["status"] == "DOWN" and len(first["security_groups"]) == 1
    fixed = await make(
        client, "port", {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.20.0.50"}]}
    )
    assert fixed["fixed_ips"][0]["ip_address"] == "10.20.0.50"
    body = {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.20.0.50"}]}}
    taken = await client.post(f"{V2}/ports", json=body, headers=MEMBER)
    assert taken.status_code == 409 and error(taken)["type"] == "IpAddressAlreadyAllocated"
    body = {
        "port": {
            "network_id": net["id"],
            "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.99.0.5"}],
        }
    }
    outside = await client.post(f"{V2}/ports", json=body, headers=MEMBER)
    assert outside.status_code == 400 and error(outside)["type"] == "InvalidIpForSubnet"
    body = {"port": {"network_id": net["id"], "mac_address": first["mac_address"]}}
    same_mac = await client.post(f"{V2}/ports", json=body, headers=MEMBER)
    assert same_mac.status_code == 409 and error(same_mac)["type"] == "MacAddressInUse"
    # a freed address of a port a pod has a copy of is held until the port's purge job
    # ran (no pod may still have it), then handed out again
    async with app.state.sessions() as db:
        pod_id = await db.scalar(select(Pod.id).where(Pod.name == "pod1"))
        assert pod_id is not None
        now = datetime.now(UTC).replace(tzinfo=None)
        db.add(
            Routing(
                id="r1",
                resource_type="port",
                top_id=first["id"],
                pod_id=pod_id,
                bottom_id="bottom-port",
                project_id=first["project_id"],
                status="active",
                created_at=now,
            )
        )
        await db.commit()
    assert (await client.delete(f"{V2}/ports/{first['id']}", headers=MEMBER)).status_code == 204
    held = await make(client, "port", {"network_id": net["id"]})
    assert held["fixed_ips"][0]["ip_address"] != "10.20.0.2"
    worker = Worker(app.state.sessions, DEFAULT, app.state.conf, pods=app.state.registry)
    while await worker.run_once():  # port.purge fails: this pod has no Networking API
        pass
    still = await make(client, "port", {"network_id": net["id"]})
    assert still["fixed_ips"][0]["ip_address"] != "10.20.0.2"
    async with app.state.sessions() as db:  # the pod's copy is gone: the purge can finish
        await db.execute(delete(Routing).where(Routing.id == "r1"))
        await db.commit()
    jobs = (await client.get("/v1/jobs?type=port.purge&status=queued", headers=ADMIN)).json()
    assert jobs["jobs"], "the failed purge waits for its retry"
    for job in jobs["jobs"]:
        await client.post(f"/v1/jobs/{job['id']}/redo", headers=ADMIN)
    while await worker.run_once():
        pass
    again = await make(client, "port", {"network_id": net["id"]})
    assert again["fixed_ips"][0]["ip_address"] == "10.20.0.2"


async def test_a_network_with_ports_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    net, sub = await net_and_subnet(client)
    port = await make(client, "port", {"network_id": net["id"]})
    busy = await client.delete(f"{V2}/networks/{net['id']}", headers=MEMBER)
    assert busy.status_code == 409 and error(busy)["type"] == "NetworkInUse"
    busy = await client.delete(f"{V2}/subnets/{sub['id']}", headers=MEMBER)
    assert busy.status_code == 409 and error(busy)["type"] == "SubnetInUse"
    await client.delete(f"{V2}/ports/{port['id']}", headers=MEMBER)
    assert (await client.delete(f"{V2}/networks/{net['id']}", headers=MEMBER)).status_code == 204
    gone = await client.get(f"{V2}/subnets/{sub['id']}", headers=MEMBER)
    assert gone.status_code == 404 and error(gone)["type"] == "SubnetNotFound"


async def test_another_project_sees_none_of_it(client: httpx.AsyncClient) -> None:
    net, sub = await net_and_subnet(client)
    for path in (f"networks/{net['id']}", f"subnets/{sub['id']}"):
        answer = await client.get(f"{V2}/{path}", headers=OTHER)
        assert answer.status_code == 404
    assert (await client.get(f"{V2}/networks", headers=OTHER)).json()["networks"] == []
    body = {"port": {"network_id": net["id"]}}
    assert (await client.post(f"{V2}/ports", json=body, headers=OTHER)).status_code == 404
    assert error(await client.get(f"{V2}/networks/{net['id']}", headers=OTHER))["message"] == (
        f"Network {net['id']} could not be found."
    )


async def test_lists_filter_sort_page_and_trim_fields(client: httpx.AsyncClient) -> None:
    for name in ("b", "a", "c"):
        await make(client, "network", {"name": name, "admin_state_up": name != "c"})

    def names(answer: httpx.Response) -> list[str]:
        return [n["name"] for n in answer.json()["networks"]]

    listed = await client.get(f"{V2}/networks?sort_key=name&sort_dir=asc", headers=MEMBER)
    assert names(listed) == ["a", "b", "c"]
    down = await client.get(f"{V2}/networks?admin_state_up=False", headers=MEMBER)
    assert names(down) == ["c"]
    either = await client.get(
        f"{V2}/networks?name=a&name=c&sort_key=name&sort_dir=desc", headers=MEMBER
    )
    assert names(either) == ["c", "a"]
    trimmed = await client.get(f"{V2}/networks?fields=name&fields=id", headers=MEMBER)
    assert all(set(n) == {"name", "id"} for n in trimmed.json()["networks"])
    first = await client.get(f"{V2}/networks?limit=2&sort_key=name&sort_dir=asc", headers=MEMBER)
    assert names(first) == ["a", "b"]
    nxt = next(link for link in first.json()["networks_links"] if link["rel"] == "next")
    assert nxt["href"].startswith("http://cascade.test/networking/v2.0/networks?")
    second = await client.get(nxt["href"], headers=MEMBER)
    assert names(second) == ["c"]
    bad = await client.get(f"{V2}/networks?flavor=x", headers=MEMBER)
    assert bad.status_code == 400 and "invalid attribute for filtering" in error(bad)["message"]


async def test_tags_and_revision_numbers(client: httpx.AsyncClient) -> None:
    net = await make(client, "network", {"name": "n"})
    assert net["revision_number"] == 0
    url = f"{V2}/networks/{net['id']}"
    assert (await client.put(f"{url}/tags/red", headers=MEMBER)).status_code == 201
    put = await client.put(f"{url}/tags", json={"tags": ["blue", "green"]}, headers=MEMBER)
    assert put.json() == {"tags": ["blue", "green"]}
    assert (await client.get(f"{url}/tags/red", headers=MEMBER)).status_code == 404
    tagged = await client.get(f"{V2}/networks?tags=blue", headers=MEMBER)
    assert [n["id"] for n in tagged.json()["networks"]] == [net["id"]]
    assert (await client.get(f"{V2}/networks?not-tags-any=green", headers=MEMBER)).json()[
        "networks"
    ] == []
    renamed = await client.put(url, json={"network": {"name": "m"}}, headers=MEMBER)
    assert renamed.json()["network"]["revision_number"] == 3
    stale = await client.put(
        url, json={"network": {"name": "x"}}, headers={**MEMBER, "If-Match": "revision_number=1"}
    )
    assert stale.status_code == 412
    readonly = await client.put(url, json={"network": {"id": "x"}}, headers=MEMBER)
    assert readonly.status_code == 400


async def test_security_groups_like_neutron(client: httpx.AsyncClient) -> None:
    groups = (await client.get(f"{V2}/security-groups", headers=MEMBER)).json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    assert len(groups[0]["security_group_rules"]) == 4
    web = await make(client, "security_group", {"name": "web"})
    assert {r["direction"] for r in web["security_group_rules"]} == {"egress"}
    rule = {
        "security_group_id": web["id"],
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 80,
        "port_range_max": 80,
        "remote_ip_prefix": "10.0.0.0/8",
    }
    made = await make(client, "security_group_rule", rule)
    assert made["normalized_cidr"] == "10.0.0.0/8" and made["ethertype"] == "IPv4"
    dup = await client.post(
        f"{V2}/security-group-rules", json={"security_group_rule": rule}, headers=MEMBER
    )
    assert dup.status_code == 409 and made["id"] in error(dup)["message"]
    bad = {**rule, "port_range_min": 90, "port_range_max": 80}
    answer = await client.post(
        f"{V2}/security-group-rules", json={"security_group_rule": bad}, headers=MEMBER
    )
    assert answer.status_code == 400
    v6 = {**rule, "remote_ip_prefix": "::/0"}
    answer = await client.post(
        f"{V2}/security-group-rules", json={"security_group_rule": v6}, headers=MEMBER
    )
    assert answer.status_code == 400
    default = groups[0]["id"]
    refused = await client.delete(f"{V2}/security-groups/{default}", headers=MEMBER)
    assert refused.status_code == 409
    assert (
        await client.delete(f"{V2}/security-group-rules/{made['id']}", headers=MEMBER)
    ).status_code == 204
    assert (
        await client.delete(f"{V2}/security-groups/{web['id']}", headers=MEMBER)
    ).status_code == 204


async def test_quotas_are_enforced_at_the_top(client: httpx.AsyncClient) -> None:
    put = await client.put(f"{V2}/quotas/p1", json={"quota": {"network": 1}}, headers=ADMIN)
    assert put.status_code == 200 and put.json()["quota"]["network"] == 1
    await make(client, "network", {"name": "one"})
    over = await client.post(f"{V2}/networks", json={"network": {"name": "two"}}, headers=MEMBER)
    assert over.status_code == 409 and error(over)["type"] == "OverQuota"
    details = (await client.get(f"{V2}/quotas/p1/details", headers=MEMBER)).json()["quota"]
    assert details["network"] == {"limit": 1, "used": 1, "reserved": 0}
    assert (
        await client.put(f"{V2}/quotas/p1", json={"quota": {"network": 5}}, headers=MEMBER)
    ).status_code == 403
    assert (await client.get(f"{V2}/quotas/p2", headers=MEMBER)).status_code == 403
    assert (await client.delete(f"{V2}/quotas/p1", headers=ADMIN)).status_code == 204
    assert (await client.get(f"{V2}/quotas/p1", headers=MEMBER)).json()["quota"]["network"] == 100


@pytest.mark.parametrize("body", [b"{", b'{"network": 3}', b'{"network": {"bogus": 1}}'])
async def test_bad_bodies_get_neutron_400s(client: httpx.AsyncClient, body: bytes) -> None:
    answer = await client.post(f"{V2}/networks", content=body, headers=MEMBER)
    assert answer.status_code == 400
    assert set(error(answer)) == {"type", "message", "detail"}


@pytest.mark.fake_pods
async def test_routers_and_floating_ips_refuse_what_neutron_refuses(
    client: httpx.AsyncClient, pods: object
) -> None:
    net, sub = await net_and_subnet(client)
    router = await make(client, "router", {"name": "r"})
    assert router["external_gateway_info"] is None and router["status"] == "ACTIVE"
    url = f"{V2}/routers/{router['id']}"
    empty = await client.put(f"{url}/add_router_interface", json={}, headers=MEMBER)
    assert empty.status_code == 400
    added = await client.put(
        f"{url}/add_router_interface", json={"subnet_id": sub["id"]}, headers=MEMBER
    )
    assert added.status_code == 200, added.text
    port = (await client.get(f"{V2}/ports/{added.json()['port_id']}", headers=MEMBER)).json()
    assert port["port"]["fixed_ips"][0]["ip_address"] == "10.20.0.1"
    assert port["port"]["device_owner"] == "network:router_interface"
    again = await client.put(
        f"{url}/add_router_interface", json={"subnet_id": sub["id"]}, headers=MEMBER
    )
    assert again.status_code == 400
    busy = await client.delete(url, headers=MEMBER)
    assert busy.status_code == 409 and error(busy)["type"] == "RouterInUse"
    # a floating IP needs an external network, and a router to it from the port's subnet
    internal = await client.post(
        f"{V2}/floatingips", json={"floatingip": {"floating_network_id": net["id"]}}, headers=MEMBER
    )
    assert internal.status_code == 400
    ext = {
        "network": {
            "name": "ext",
            "router:external": True,
            "shared": True,
            "provider:network_type": "flat",
            "provider:physical_network": "external",
            "availability_zone_hints": ["az1"],
        }
    }
    made = await client.post(f"{V2}/networks", json=ext, headers=ADMIN)
    assert made.status_code == 201, made.text
    ext_id = made.json()["network"]["id"]
    body = {"subnet": {"network_id": ext_id, "cidr": "172.31.0.0/24", "enable_dhcp": False}}
    assert (await client.post(f"{V2}/subnets", json=body, headers=ADMIN)).status_code == 201
    vm = await make(client, "port", {"network_id": net["id"]})
    unreachable = await client.post(
        f"{V2}/floatingips",
        json={"floatingip": {"floating_network_id": ext_id, "port_id": vm["id"]}},
        headers=MEMBER,
    )
    assert unreachable.status_code == 404
    assert error(unreachable)["type"] == "ExternalGatewayForFloatingIPNotFound"
    gw = await client.put(
        url, json={"router": {"external_gateway_info": {"network_id": ext_id}}}, headers=MEMBER
    )
    assert gw.status_code == 200, gw.text
    fip = await client.post(
        f"{V2}/floatingips",
        json={"floatingip": {"floating_network_id": ext_id, "port_id": vm["id"]}},
        headers=MEMBER,
    )
    assert fip.status_code == 201, fip.text
    assert fip.json()["floatingip"]["router_id"] == router["id"]
    assert fip.json()["floatingip"]["floating_ip_address"].startswith("172.31.0.")
    flat = {
        "network": {
            "name": "x",
            "provider:network_type": "flat",
            "provider:physical_network": "external",
        }
    }
    assert (await client.post(f"{V2}/networks", json=flat, headers=ADMIN)).status_code == 400


@pytest.mark.fake_pods
async def test_a_router_refuses_overlapping_subnets(
    client: httpx.AsyncClient, pods: object
) -> None:
    _, first = await net_and_subnet(client, "10.50.0.0/24")
    _, second = await net_and_subnet(client, "10.50.0.0/25")
    router = await make(client, "router", {"name": "r"})
    url = f"{V2}/routers/{router['id']}/add_router_interface"
    ok = await client.put(url, json={"subnet_id": first["id"]}, headers=MEMBER)
    assert ok.status_code == 200, ok.text
    overlap = await client.put(url, json={"subnet_id": second["id"]}, headers=MEMBER)
    assert overlap.status_code == 400
    assert "overlaps with cidr 10.50.0.0/24" in error(overlap)["message"]
    ports = (await client.get(f"{V2}/ports?device_id={router['id']}", headers=MEMBER)).json()
    assert len(ports["ports"]) == 1  # the refused interface made no port


@pytest.mark.fake_pods
async def test_deleting_a_port_disassociates_its_floating_ip(
    client: httpx.AsyncClient, pods: object
) -> None:
    net, sub = await net_and_subnet(client)
    ext = {
        "network": {
            "name": "ext",
            "router:external": True,
            "shared": True,
            "provider:network_type": "flat",
            "provider:physical_network": "external",
            "availability_zone_hints": ["az1"],
        }
    }
    ext_id = (await client.post(f"{V2}/networks", json=ext, headers=ADMIN)).json()["network"]["id"]
    body = {"subnet": {"network_id": ext_id, "cidr": "172.31.0.0/24", "enable_dhcp": False}}
    await client.post(f"{V2}/subnets", json=body, headers=ADMIN)
    router = await make(
        client, "router", {"name": "r", "external_gateway_info": {"network_id": ext_id}}
    )
    await client.put(
        f"{V2}/routers/{router['id']}/add_router_interface",
        json={"subnet_id": sub["id"]},
        headers=MEMBER,
    )
    vm = await make(client, "port", {"network_id": net["id"]})
    fip = await make(client, "floatingip", {"floating_network_id": ext_id, "port_id": vm["id"]})
    assert (await client.delete(f"{V2}/ports/{vm['id']}", headers=MEMBER)).status_code == 204
    kept = (await client.get(f"{V2}/floatingips/{fip['id']}", headers=MEMBER)).json()
    assert kept["floatingip"]["port_id"] is None and kept["floatingip"]["router_id"] is None
    await client.put(
        f"{V2}/routers/{router['id']}/remove_router_interface",
        json={"subnet_id": sub["id"]},
        headers=MEMBER,
    )
    assert (await client.delete(f"{V2}/routers/{router['id']}", headers=MEMBER)).status_code == 204


async def test_networking_is_authorised_by_policy_rules_an_operator_can_change(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Neutron's defaults: only admins set an admin-only attribute or see other projects
    shared = {"name": "s", "shared": True}
    refused = await client.post(f"{V2}/networks", json={"network": shared}, headers=MEMBER)
    assert refused.status_code == 403
    assert error(refused)["message"] == "(rule:create_network:shared) is disallowed by policy"
    theirs = await make(client, "network", {"name": "theirs"}, OTHER)
    mine = await client.get(f"{V2}/networks/{theirs['id']}", headers=MEMBER)
    assert mine.status_code == 404
    # an operator's policy file: members may share networks, and `member` counts as a
    # Networking admin (Neutron's `context_is_admin`)
    policy = app.state.policy
    policy.override({"create_network:shared": "role:member"})
    made = await make(client, "network", shared)
    assert made["shared"] is True
    assert (await client.get(f"{V2}/networks/{theirs['id']}", headers=MEMBER)).status_code == 404
    policy.override({"context_is_admin": "role:member"})
    seen = await client.get(f"{V2}/networks/{theirs['id']}", headers=MEMBER)
    assert seen.status_code == 200 and seen.json()["network"]["name"] == "theirs"


async def test_admin_only_actions_are_rules_an_operator_can_hand_out(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """Neutron's admin-only actions (flavors, default security group rules, quotas, IP
    availability) are each a rule of their own, `rule:admin_only` by default: a policy
    file gives one to members without making them admins of anything else."""
    flavor = {"flavor": {"name": "gold", "service_type": "L3_ROUTER_NAT"}}
    refused = await client.post(f"{V2}/flavors", json=flavor, headers=MEMBER)
    assert refused.status_code == 403
    assert error(refused)["message"] == "(rule:create_flavor) is disallowed by policy"
    quota = {"quota": {"network": 7}}
    url = f"{V2}/quotas/p1"  # the member's own project
    assert (await client.put(url, json=quota, headers=MEMBER)).status_code == 403
    assert (await client.get(f"{V2}/network-ip-availabilities", headers=MEMBER)).json() == {
        "network_ip_availabilities": []
    }
    app.state.policy.override({"create_flavor": "role:member", "update_quota": "role:member"})
    assert (await client.post(f"{V2}/flavors", json=flavor, headers=MEMBER)).status_code == 201
    changed = await client.put(url, json=quota, headers=MEMBER)
    assert changed.status_code == 200 and changed.json()["quota"]["network"] == 7
    # still no admin: another project's quota, the delete, other admin-only actions
    assert (await client.delete(url, headers=MEMBER)).status_code == 403
    rule = {"default_security_group_rule": {"direction": "ingress"}}
    denied = await client.post(f"{V2}/default-security-group-rules", json=rule, headers=MEMBER)
    assert denied.status_code == 403


async def test_only_the_owner_changes_what_others_may_see(client: httpx.AsyncClient) -> None:
    theirs = {"name": "s", "shared": True, "project_id": "p2"}
    shared = await make(client, "network", theirs, ADMIN)
    url = f"{V2}/networks/{shared['id']}"
    assert (await client.get(url, headers=MEMBER)).status_code == 200
    renamed = await client.put(url, json={"network": {"name": "x"}}, headers=MEMBER)
    assert renamed.status_code == 403
    assert error(renamed)["type"] == "PolicyNotAuthorized"
    assert error(renamed)["message"] == "(rule:update_network) is disallowed by policy"
    stale = await client.delete(url, headers={**MEMBER, "If-Match": "revision_number=7"})
    assert stale.status_code == 412  # the revision is checked before the owner
    gone = await client.delete(url, headers=MEMBER)
    assert error(gone)["message"] == "(rule:delete_network) is disallowed by policy"
    ok = await client.delete(url, headers={**ADMIN, "If-Match": "revision_number=0"})
    assert ok.status_code == 204


async def test_a_tag_is_added_once_and_removed_once(client: httpx.AsyncClient) -> None:
    net = await make(client, "network", {"name": "n"})
    url = f"{V2}/networks/{net['id']}"
    for _ in range(2):
        assert (await client.put(f"{url}/tags/red", headers=MEMBER)).status_code == 201
    shown = (await client.get(url, headers=MEMBER)).json()["network"]
    assert shown["tags"] == ["red"] and shown["revision_number"] == 1
    assert (await client.get(f"{url}/tags/red", headers=MEMBER)).status_code == 204
    assert (await client.delete(f"{url}/tags/red", headers=MEMBER)).status_code == 204
    again = await client.delete(f"{url}/tags/red", headers=MEMBER)
    assert again.status_code == 404 and error(again)["type"] == "TagNotFound"
    shown = (await client.get(url, headers=MEMBER)).json()["network"]
    assert shown["tags"] == [] and shown["revision_number"] == 2


async def test_an_unknown_security_group_rule_is_neutrons_404(client: httpx.AsyncClient) -> None:
    for method in ("GET", "DELETE"):
        answer = await client.request(method, f"{V2}/security-group-rules/nope", headers=MEMBER)
        assert answer.status_code == 404 and error(answer)["type"] == "SecurityGroupRuleNotFound"
        assert error(answer)["message"] == "Security group rule nope does not exist"
    tags = await client.get(f"{V2}/security-group-rules/nope/tags", headers=MEMBER)
    assert tags.status_code == 404 and error(tags)["type"] == "SecurityGroupRuleNotFound"


async def test_another_project_s_tags_are_neutrons_403(client: httpx.AsyncClient) -> None:
    """Neutron's tags API reads the object whoever asks, then the policy with its owner:
    another project's object is 403 (not 404), its tags unchanged; an unknown id is 404."""
    net, sub = await net_and_subnet(client)
    await client.put(f"{V2}/networks/{net['id']}/tags/red", headers=MEMBER)
    before = (await client.get(f"{V2}/networks/{net['id']}", headers=MEMBER)).json()["network"]
    for kind, url in (("network", f"networks/{net['id']}"), ("subnet", f"subnets/{sub['id']}")):
        for method, path, action in (
            ("GET", "tags", "get"),
            ("GET", "tags/red", "get"),
            ("PUT", "tags/blue", "update"),
            ("DELETE", "tags/red", "delete"),
            ("DELETE", "tags", "delete"),
        ):
            answer = await client.request(method, f"{V2}/{url}/{path}", headers=OTHER)
            assert answer.status_code == 403, (method, path, answer.text)
            assert error(answer) == {
                "type": "PolicyNotAuthorized",
                "message": f"rule:{action}_{kind}:tags is disallowed by policy",
                "detail": "",
            }
        put = await client.put(f"{V2}/{url}/tags", json={"tags": ["x"]}, headers=OTHER)
        assert put.status_code == 403
    shown = (await client.get(f"{V2}/networks/{net['id']}", headers=MEMBER)).json()["network"]
    assert shown["tags"] == ["red"] and shown["revision_number"] == before["revision_number"]
    unknown = await client.get(f"{V2}/networks/nope/tags", headers=OTHER)
    assert unknown.status_code == 404 and error(unknown)["type"] == "NetworkNotFound"


async def test_a_shared_or_external_network_s_tags_are_its_owner_s_to_change(
    client: httpx.AsyncClient,
) -> None:
    """A network another project may see is not one it may tag: before, a member changed
    the tags of admin's external network (Neutron: `update_network:tags`, owner only)."""
    theirs = {"project_id": "p2"}
    shared = await make(client, "network", {"name": "s", "shared": True, **theirs}, ADMIN)
    external = await make(
        client, "network", {"name": "e", "router:external": True, **theirs}, ADMIN
    )
    for net in (shared, external):
        url = f"{V2}/networks/{net['id']}"
        assert (await client.get(url, headers=MEMBER)).status_code == 200
        for method in ("PUT", "DELETE"):
            answer = await client.request(method, f"{url}/tags/mine", headers=MEMBER)
            assert answer.status_code == 403 and error(answer)["type"] == "PolicyNotAuthorized"
        replaced = await client.put(f"{url}/tags", json={"tags": ["x"]}, headers=MEMBER)
        assert replaced.status_code == 403
        assert (await client.get(url, headers=ADMIN)).json()["network"]["tags"] == []
    # reading a shared network's tags is allowed (`rule:shared`); an external one's is not
    assert (await client.get(f"{V2}/networks/{shared['id']}/tags", headers=MEMBER)).json() == {
        "tags": []
    }
    hidden = await client.get(f"{V2}/networks/{external['id']}/tags", headers=MEMBER)
    assert hidden.status_code == 403


async def test_a_create_under_another_project_s_object_is_neutrons_403(
    client: httpx.AsyncClient,
) -> None:
    """A subnet on another project's network, a rule in its security group: Neutron's
    policy reads the parent's owner whoever asks, so 403; nothing is made. An unknown
    parent stays 404; a port on another's network stays 404 (Neutron's too)."""
    net, _ = await net_and_subnet(client)
    group = await make(client, "security_group", {"name": "g"})
    body = {"subnet": {"network_id": net["id"], "cidr": "10.30.0.0/24", "ip_version": 4}}
    subnet = await client.post(f"{V2}/subnets", json=body, headers=OTHER)
    assert subnet.status_code == 403 and error(subnet) == {
        "type": "PolicyNotAuthorized",
        "message": "rule:create_subnet is disallowed by policy",
        "detail": "",
    }
    rule = {"security_group_rule": {"security_group_id": group["id"], "direction": "ingress"}}
    made = await client.post(f"{V2}/security-group-rules", json=rule, headers=OTHER)
    assert made.status_code == 403
    assert error(made)["message"] == "rule:create_security_group_rule is disallowed by policy"
    listed = await client.get(f"{V2}/subnets?network_id={net['id']}", headers=MEMBER)
    assert len(listed.json()["subnets"]) == 1
    rules = await client.get(
        f"{V2}/security-group-rules?security_group_id={group['id']}", headers=MEMBER
    )
    assert len(rules.json()["security_group_rules"]) == 2  # the two egress defaults
    body["subnet"]["network_id"] = "nope"
    unknown = await client.post(f"{V2}/subnets", json=body, headers=OTHER)
    assert unknown.status_code == 404 and error(unknown)["type"] == "NetworkNotFound"


async def test_a_put_on_another_project_s_rule_is_404_not_405(client: httpx.AsyncClient) -> None:
    """Neutron looks the rule up before it refuses the change: another project's rule is
    its 404 (a 405 would say the rule exists); the owner's gets the 405."""
    group = await make(client, "security_group", {"name": "g"})
    rule = await make(
        client, "security_group_rule", {"security_group_id": group["id"], "direction": "ingress"}
    )
    url = f"{V2}/security-group-rules/{rule['id']}"
    body = {"security_group_rule": {"description": "x"}}
    theirs = await client.put(url, json=body, headers=OTHER)
    assert theirs.status_code == 404 and error(theirs)["type"] == "SecurityGroupRuleNotFound"
    mine = await client.put(url, json=body, headers=MEMBER)
    assert mine.status_code == 405


async def test_a_port_naming_a_subnet_it_cannot_see_is_neutrons_404(
    client: httpx.AsyncClient,
) -> None:
    """Neutron finds a fixed IP's subnet for the caller before it checks the subnet's
    network: another project's subnet (or none) is 404 `SubnetNotFound`; the caller's
    own subnet of another network is the 400."""
    _, theirs = await net_and_subnet(client)
    mine = await make(client, "network", {"name": "mine"}, OTHER)
    await make(
        client,
        "subnet",
        {"network_id": mine["id"], "cidr": "10.40.0.0/24", "ip_version": 4},
        OTHER,
    )
    other_net = await make(client, "network", {"name": "other"}, OTHER)
    elsewhere = await make(
        client,
        "subnet",
        {"network_id": other_net["id"], "cidr": "10.41.0.0/24", "ip_version": 4},
        OTHER,
    )
    for subnet_id, status, kind in (
        (theirs["id"], 404, "SubnetNotFound"),
        ("nope", 404, "SubnetNotFound"),
        (elsewhere["id"], 400, "InvalidInput"),
    ):
        body = {"port": {"network_id": mine["id"], "fixed_ips": [{"subnet_id": subnet_id}]}}
        answer = await client.post(f"{V2}/ports", json=body, headers=OTHER)
        assert (answer.status_code, error(answer)["type"]) == (status, kind), answer.text
    assert (await client.get(f"{V2}/ports", headers=OTHER)).json()["ports"] == []


async def test_a_routers_tags_are_replaced_with_put_as_any_objects(
    client: httpx.AsyncClient,
) -> None:
    router = await make(client, "router", {"name": "r1"})
    tags = f"{V2}/routers/{router['id']}/tags"
    answer = await client.put(tags, json={"tags": ["b", "a"]}, headers=MEMBER)
    assert answer.status_code == 200 and answer.json() == {"tags": ["a", "b"]}
    other = await client.put(tags, json={"tags": ["x"]}, headers=OTHER)
    assert other.status_code == 403  # another project's router: the policy's refusal, as Neutron
