"""Nova's network proxy APIs at the top and a server's security groups, against the fake
pods (fake Nova) and the top's in-process Networking."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cascade.db.models import NetResource
from cascade.services.compute import server_create
from cascade.services.network import server_ports
from tests.unit.fakenova import FakeCloud
from tests.unit.test_compute_servers import flavor

pytestmark = pytest.mark.fake_pods

MEMBER = {"X-Auth-Token": "member-token"}
ADMIN = {"X-Auth-Token": "admin-token"}
OTHER = {"X-Auth-Token": "other-token"}
V21 = "/compute/v2.1"
NET = "/networking/v2.0"
AT_2_36 = {"OpenStack-API-Version": "compute 2.36"}
NO_SUCH = "8a8d7e66-0d4b-4b43-9a2f-1c3c35b0c0de"


async def neutron(
    client: httpx.AsyncClient, plural: str, body: dict[str, Any], headers: dict[str, str] = MEMBER
) -> dict[str, Any]:
    """An object made through the top's Networking API."""
    kind = plural.replace("-", "_")[:-1]
    answer = await client.post(f"{NET}/{plural}", json={kind: body}, headers=headers)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()[kind]
    return made


def fault(answer: httpx.Response) -> tuple[int, str]:
    """A Nova error: its status and message (and the body's code agrees)."""
    (body,) = answer.json().values()
    assert body["code"] == answer.status_code
    return answer.status_code, str(body["message"])


async def server_on_top_port(
    client: httpx.AsyncClient, pods: FakeCloud, groups: list[str]
) -> tuple[str, dict[str, Any]]:
    """A server of p1 in pod1 whose one top port has `groups`; its pod copy lists the
    groups as Nova would (by the pods' copies' names: the top ids)."""
    server = pods.pods["n1"].add_server("vm")
    server["security_groups"] = [{"name": g} for g in groups]
    net = await neutron(client, "networks", {"name": "net"})
    await neutron(
        client, "subnets", {"network_id": net["id"], "cidr": "10.9.0.0/24", "ip_version": 4}
    )
    port = await neutron(
        client,
        "ports",
        {"network_id": net["id"], "device_id": server["id"], "security_groups": groups},
    )
    return server["id"], port


# --- server views --------------------------------------------------------------------


async def test_server_views_name_the_top_groups(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    web = await neutron(client, "security-groups", {"name": "web"})
    server = pods.pods["n1"].add_server("vm")
    # the pod lists its copy of `web` (named by the top id) and a group of its own
    server["security_groups"] = [{"name": web["id"]}, {"name": "pods-own"}, {"name": web["id"]}]
    shown = await client.get(f"{V21}/servers/{server['id']}", headers=MEMBER)
    assert shown.status_code == 200, shown.text
    names = [{"name": "web"}, {"name": "pods-own"}, {"name": "web"}]
    assert shown.json()["server"]["security_groups"] == names
    listed = await client.get(f"{V21}/servers/detail", headers=MEMBER)
    (item,) = [s for s in listed.json()["servers"] if s["id"] == server["id"]]
    assert item["security_groups"] == names


async def test_a_servers_groups_are_the_top_groups(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    web = await neutron(client, "security-groups", {"name": "web"})
    rule = {"security_group_id": web["id"], "direction": "ingress", "protocol": "tcp"}
    await neutron(
        client, "security-group-rules", {**rule, "port_range_min": 22, "port_range_max": 22}
    )
    await neutron(client, "security-group-rules", {**rule, "remote_group_id": web["id"]})
    server_id, _ = await server_on_top_port(client, pods, [web["id"]])
    answer = await client.get(f"{V21}/servers/{server_id}/os-security-groups", headers=MEMBER)
    assert answer.status_code == 200, answer.text
    (group,) = answer.json()["security_groups"]
    assert {k: group[k] for k in ("id", "name", "tenant_id", "description")} == {
        "id": web["id"], "name": "web", "tenant_id": "p1", "description": ""
    }  # fmt: skip
    ssh = next(r for r in group["rules"] if r["from_port"] == 22)
    assert ssh == {
        "id": ssh["id"],
        "parent_group_id": web["id"],
        "ip_protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "group": {},
        "ip_range": {"cidr": "0.0.0.0/0"},
    }
    members = next(r for r in group["rules"] if r["group"])
    assert members["group"] == {"name": "web", "tenant_id": "p1"}
    assert (members["from_port"], members["to_port"], members["ip_range"]) == (1, 65535, {})
    assert len(group["rules"]) == 2  # the egress rules are not Nova's
    asked = [r.url.path for r in pods.pods["n1"].requests]
    assert not any(p.endswith("/os-security-groups") for p in asked)


async def test_a_server_on_no_top_port_asks_its_pod(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    server = pods.pods["n1"].add_server("vm")
    answer = await client.get(f"{V21}/servers/{server['id']}/os-security-groups", headers=MEMBER)
    assert answer.status_code == 200
    asked = [r.url.path for r in pods.pods["n1"].requests]
    assert f"/v2.1/servers/{server['id']}/os-security-groups" in asked
    missing = await client.get(f"{V21}/servers/{NO_SUCH}/os-security-groups", headers=MEMBER)
    assert fault(missing) == (404, f"Instance {NO_SUCH} could not be found.")


async def test_add_and_remove_a_security_group_by_name(
    app: Any, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    web = await neutron(client, "security-groups", {"name": "web"})
    db_group = await neutron(client, "security-groups", {"name": "db"})
    server_id, port = await server_on_top_port(client, pods, [web["id"]])
    url = f"{V21}/servers/{server_id}/action"

    async def port_groups() -> list[Any]:
        async with app.state.sessions() as db:
            row = await db.scalar(select(NetResource).where(NetResource.id == port["id"]))
            return list(row.body["security_groups"])

    added = await client.post(url, json={"addSecurityGroup": {"name": "db"}}, headers=MEMBER)
    assert added.status_code == 202, added.text
    assert await port_groups() == sorted([web["id"], db_group["id"]])
    shown = await client.get(f"{V21}/servers/{server_id}/os-security-groups", headers=MEMBER)
    assert sorted(g["name"] for g in shown.json()["security_groups"]) == ["db", "web"]
    removed = await client.post(url, json={"removeSecurityGroup": {"name": "web"}}, headers=MEMBER)
    assert removed.status_code == 202
    assert await port_groups() == [db_group["id"]]
    again = await client.post(url, json={"removeSecurityGroup": {"name": "web"}}, headers=MEMBER)
    assert fault(again) == (
        404, f"Security group web not associated with the instance {server_id}"
    )  # fmt: skip
    unknown = await client.post(url, json={"addSecurityGroup": {"name": "nope"}}, headers=MEMBER)
    assert fault(unknown) == (404, "Security group nope is not found for project p1")
    await neutron(client, "security-groups", {"name": "db"})
    twice = await client.post(url, json={"addSecurityGroup": {"name": "db"}}, headers=MEMBER)
    assert twice.status_code == 409
    empty = await client.post(url, json={"addSecurityGroup": {"name": " "}}, headers=MEMBER)
    assert fault(empty) == (400, "Security group name cannot be empty")
    unnamed = await client.post(url, json={"addSecurityGroup": {}}, headers=MEMBER)
    assert fault(unnamed) == (
        400,
        "Invalid input for field/attribute addSecurityGroup. Value: {}. 'name' is a required "
        "property",
    )
    # none of these reached the pod
    assert not [r for r in pods.pods["n1"].requests if r.url.path.endswith("/action")]


# --- /os-security-groups and /os-security-group-rules ---------------------------------


async def test_security_groups_crud_as_nova(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    url = f"{V21}/os-security-groups"
    listed = await client.get(url, headers=MEMBER)
    assert listed.status_code == 200, listed.text
    (default,) = listed.json()["security_groups"]
    assert default["name"] == "default" and default["tenant_id"] == "p1"
    # Neutron's default group: its two ingress rules from members, the egress ones not shown
    assert [r["group"] for r in default["rules"]] == [{"name": "default", "tenant_id": "p1"}] * 2
    body = {"security_group": {"name": "web", "description": "the web"}}
    made = await client.post(url, json=body, headers=MEMBER)
    assert made.status_code == 200, made.text
    group = made.json()["security_group"]
    assert group == {
        "id": group["id"], "name": "web", "description": "the web", "tenant_id": "p1", "rules": []
    }  # fmt: skip
    top = await client.get(f"{NET}/security-groups/{group['id']}", headers=MEMBER)
    assert top.json()["security_group"]["name"] == "web"  # one group: the top's
    shown = await client.get(f"{url}/{group['id']}", headers=MEMBER)
    assert shown.json()["security_group"] == group
    body = {"security_group": {"name": "www", "description": "d"}}
    changed = await client.put(f"{url}/{group['id']}", json=body, headers=MEMBER)
    assert changed.status_code == 200 and changed.json()["security_group"]["name"] == "www"
    names = [g["name"] for g in (await client.get(url, headers=MEMBER)).json()["security_groups"]]
    assert names == ["default", "www"]  # by owner and name
    limited = await client.get(f"{url}?limit=1&offset=1", headers=MEMBER)
    assert len(limited.json()["security_groups"]) == 1
    assert (await client.delete(f"{url}/{group['id']}", headers=MEMBER)).status_code == 202
    gone = await client.get(f"{url}/{group['id']}", headers=MEMBER)
    assert gone.status_code == 404
    assert fault(await client.get(f"{url}/nope", headers=MEMBER)) == (
        400, "Security group id should be uuid"
    )  # fmt: skip
    assert (await client.delete(f"{url}/{NO_SUCH}", headers=MEMBER)).status_code == 404
    assert (await client.put(f"{url}/{NO_SUCH}", json=body, headers=MEMBER)).status_code == 404
    assert (await client.delete(f"{url}/{default['id']}", headers=MEMBER)).status_code == 400
    bad = {"security_group": {"name": "x" * 256, "description": ""}}
    assert (await client.post(url, json=bad, headers=MEMBER)).status_code == 400
    missing = {"security_group": {"name": "x"}}
    assert (await client.post(url, json=missing, headers=MEMBER)).status_code == 400
    # another project's group is not there for p2
    mine = await client.post(url, json=body, headers=MEMBER)
    theirs = await client.get(f"{url}/{mine.json()['security_group']['id']}", headers=OTHER)
    assert theirs.status_code == 404
    assert (await client.get(url, headers=OTHER)).status_code == 200  # p2's default group
    every = await client.get(f"{url}?all_tenants=1", headers=ADMIN)
    assert {g["tenant_id"] for g in every.json()["security_groups"]} >= {"p1", "p2"}


async def test_a_group_in_use_cannot_be_deleted(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    web = await neutron(client, "security-groups", {"name": "web"})
    await server_on_top_port(client, pods, [web["id"]])
    answer = await client.delete(f"{V21}/os-security-groups/{web['id']}", headers=MEMBER)
    assert answer.status_code == 400
    assert "in use" in fault(answer)[1]


async def test_security_group_rules_as_nova(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    web = await neutron(client, "security-groups", {"name": "web"})
    peer = await neutron(client, "security-groups", {"name": "peer"})
    url = f"{V21}/os-security-group-rules"

    async def post(**rule: Any) -> httpx.Response:
        body = {"security_group_rule": {"parent_group_id": web["id"], **rule}}
        return await client.post(url, json=body, headers=MEMBER)

    made = await post(ip_protocol="tcp", from_port=22, to_port=22, cidr="10.0.0.0/8")
    assert made.status_code == 200, made.text
    rule = made.json()["security_group_rule"]
    assert rule == {
        "id": rule["id"],
        "parent_group_id": web["id"],
        "ip_protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "group": {},
        "ip_range": {"cidr": "10.0.0.0/8"},
    }
    top = (await client.get(f"{NET}/security-group-rules/{rule['id']}", headers=MEMBER)).json()
    assert top["security_group_rule"]["direction"] == "ingress"
    assert top["security_group_rule"]["port_range_min"] == 22
    grouped = await post(ip_protocol="icmp", group_id=peer["id"])
    assert grouped.status_code == 200, grouped.text
    shown = grouped.json()["security_group_rule"]
    assert shown["group"] == {"name": "peer", "tenant_id": "p1"}
    assert (shown["from_port"], shown["to_port"], shown["ip_range"]) == (-1, -1, {})
    duplicate = await post(ip_protocol="tcp", from_port=22, to_port=22, cidr="10.0.0.0/8")
    assert fault(duplicate) == (400, f"This rule already exists in group {web['id']}")
    for bad in (
        {"ip_protocol": "foo", "from_port": 1, "to_port": 2},
        {"ip_protocol": "tcp", "from_port": 65536, "to_port": 65536},
        {"ip_protocol": "tcp", "from_port": 22, "to_port": 21},
        {"ip_protocol": "tcp", "from_port": "x", "to_port": 2},
        {"ip_protocol": "tcp"},  # no ports for a CIDR rule
        {"ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "10.0.0.1/0"},
    ):
        assert (await post(**bad)).status_code == 400, bad
    body = {"security_group_rule": {"parent_group_id": NO_SUCH, "ip_protocol": "tcp"}}
    assert (await client.post(url, json=body, headers=MEMBER)).status_code == 404
    body = {"security_group_rule": {"parent_group_id": "nope"}}
    assert (await client.post(url, json=body, headers=MEMBER)).status_code == 400
    assert (await client.delete(f"{url}/{rule['id']}", headers=MEMBER)).status_code == 202
    assert (await client.delete(f"{url}/{rule['id']}", headers=MEMBER)).status_code == 404
    assert (await client.delete(f"{url}/nope", headers=MEMBER)).status_code == 400


# --- floating IPs --------------------------------------------------------------------


async def test_floating_ips_as_nova(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    public = await neutron(
        client, "networks", {"name": "public", "router:external": True}, headers=ADMIN
    )
    await neutron(
        client,
        "subnets",
        {"network_id": public["id"], "cidr": "172.24.4.0/24", "ip_version": 4},
        headers=ADMIN,
    )
    pools = await client.get(f"{V21}/os-floating-ip-pools", headers=MEMBER)
    assert pools.json() == {"floating_ip_pools": [{"name": "public"}]}
    url = f"{V21}/os-floating-ips"
    made = await client.post(url, json={"pool": "public"}, headers=MEMBER)
    assert made.status_code == 200, made.text
    fip = made.json()["floating_ip"]
    assert fip == {
        "id": fip["id"], "ip": fip["ip"], "fixed_ip": None, "instance_id": None, "pool": "public"
    }  # fmt: skip
    assert fip["ip"].startswith("172.24.4.")
    top = await client.get(f"{NET}/floatingips/{fip['id']}", headers=MEMBER)
    assert top.json()["floatingip"]["floating_ip_address"] == fip["ip"]
    assert (await client.get(url, headers=MEMBER)).json() == {"floating_ips": [fip]}
    assert (await client.get(url, headers=OTHER)).json() == {"floating_ips": []}
    assert (await client.get(f"{url}/{fip['id']}", headers=MEMBER)).json()["floating_ip"] == fip
    nowhere = await client.post(url, json={"pool": "nowhere"}, headers=MEMBER)
    assert fault(nowhere) == (404, "Floating IP pool not found.")
    assert (await client.delete(f"{url}/{fip['id']}", headers=MEMBER)).status_code == 202
    assert fault(await client.get(f"{url}/{fip['id']}", headers=MEMBER)) == (
        404, f"Floating IP not found for ID {fip['id']}"
    )  # fmt: skip
    # no pool named: Nova's default_floating_pool (`nova`), which is not there
    assert fault(await client.post(url, headers=MEMBER)) == (404, "Floating IP pool not found.")
    by_id = await client.post(url, json={"pool": public["id"]}, headers=MEMBER)
    assert by_id.status_code == 200 and by_id.json()["floating_ip"]["pool"] == "public"


async def test_the_proxies_are_gone_at_2_36(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    for method, path in (
        ("GET", "/os-security-groups"),
        ("POST", "/os-security-groups"),
        ("GET", f"/os-security-groups/{NO_SUCH}"),
        ("DELETE", f"/os-security-group-rules/{NO_SUCH}"),
        ("POST", "/os-security-group-rules"),
        ("GET", "/os-floating-ip-pools"),
        ("GET", "/os-floating-ips"),
        ("GET", f"/os-floating-ips/{NO_SUCH}"),
    ):
        answer = await client.request(method, V21 + path, headers={**MEMBER, **AT_2_36})
        assert fault(answer) == (404, "The resource could not be found."), path
        assert answer.headers["openstack-api-version"] == "compute 2.36"
    for path in ("/os-security-groups/", "/os-floating-ips/", "/os-security-group-rules/"):
        blank = await client.delete(V21 + path, headers=MEMBER)
        assert fault(blank) == (404, "The resource could not be found."), path
    below = await client.get(
        f"{V21}/os-security-groups", headers={**MEMBER, "OpenStack-API-Version": "compute 2.35"}
    )
    assert below.status_code == 200


async def test_add_and_remove_a_floating_ip_below_2_44(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    public = await neutron(
        client, "networks", {"name": "public", "router:external": True}, headers=ADMIN
    )
    await neutron(
        client,
        "subnets",
        {"network_id": public["id"], "cidr": "172.24.4.0/24", "ip_version": 4},
        headers=ADMIN,
    )
    server_id, port = await server_on_top_port(client, pods, [])
    fixed = port["fixed_ips"][0]["ip_address"]
    router = await neutron(
        client, "routers", {"name": "r", "external_gateway_info": {"network_id": public["id"]}}
    )
    subnet = {"subnet_id": port["fixed_ips"][0]["subnet_id"]}
    wired = await client.put(
        f"{NET}/routers/{router['id']}/add_router_interface", json=subnet, headers=MEMBER
    )
    assert wired.status_code == 200, wired.text
    made = await client.post(f"{V21}/os-floating-ips", json={"pool": "public"}, headers=MEMBER)
    fip = made.json()["floating_ip"]
    url = f"{V21}/servers/{server_id}/action"
    added = await client.post(url, json={"addFloatingIp": {"address": fip["ip"]}}, headers=MEMBER)
    assert added.status_code == 202, added.text
    top = (await client.get(f"{NET}/floatingips/{fip['id']}", headers=MEMBER)).json()
    assert (top["floatingip"]["port_id"], top["floatingip"]["fixed_ip_address"]) == (
        port["id"], fixed
    )  # fmt: skip
    shown = (await client.get(f"{V21}/os-floating-ips/{fip['id']}", headers=MEMBER)).json()
    assert (shown["floating_ip"]["instance_id"], shown["floating_ip"]["fixed_ip"]) == (
        server_id, fixed
    )  # fmt: skip
    wrong = {"addFloatingIp": {"address": fip["ip"], "fixed_address": "10.1.1.1"}}
    assert fault(await client.post(url, json=wrong, headers=MEMBER)) == (
        400, "Specified fixed address not assigned to instance"
    )  # fmt: skip
    unknown = {"addFloatingIp": {"address": "172.24.4.250"}}
    assert fault(await client.post(url, json=unknown, headers=MEMBER)) == (
        404, "floating IP not found"
    )  # fmt: skip
    bad = {"addFloatingIp": {"address": "not-an-ip"}}
    assert (await client.post(url, json=bad, headers=MEMBER)).status_code == 400
    removed = await client.post(
        url, json={"removeFloatingIp": {"address": fip["ip"]}}, headers=MEMBER
    )
    assert removed.status_code == 202
    top = (await client.get(f"{NET}/floatingips/{fip['id']}", headers=MEMBER)).json()
    assert top["floatingip"]["port_id"] is None
    again = await client.post(
        url, json={"removeFloatingIp": {"address": fip["ip"]}}, headers=MEMBER
    )
    assert fault(again) == (
        409, f"Floating IP {fip['ip']} is not associated with instance {server_id}."
    )  # fmt: skip
    # at 2.44 the action is the pod's (Nova's 404 there)
    late = await client.post(
        url,
        json={"addFloatingIp": {"address": fip["ip"]}},
        headers={**MEMBER, "OpenStack-API-Version": "compute 2.44"},
    )
    assert late.status_code == 202  # the fake pod takes any action
    assert [r for r in pods.pods["n1"].requests if r.url.path.endswith("/action")]


async def test_networks_as_nova(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    mine = await neutron(client, "networks", {"name": "mine"})
    theirs = await neutron(client, "networks", {"name": "theirs"}, headers=OTHER)
    listed = await client.get(f"{V21}/os-networks", headers=MEMBER)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["networks"]
    assert (item["id"], item["label"], item["cidr"]) == (mine["id"], "mine", None)
    assert len(item) == 11  # Nova's eleven fields for a non-admin
    every = await client.get(f"{V21}/os-networks", headers=ADMIN)
    assert {n["id"] for n in every.json()["networks"]} == {mine["id"], theirs["id"]}
    assert len(every.json()["networks"][0]) == 32  # with the admin fields
    shown = await client.get(f"{V21}/os-networks/{mine['id']}", headers=MEMBER)
    assert shown.json()["network"] == item
    hidden = await client.get(f"{V21}/os-networks/{theirs['id']}", headers=MEMBER)
    assert fault(hidden) == (404, "Network not found")
    tenant = await client.get(f"{V21}/os-tenant-networks", headers=MEMBER)
    assert tenant.json() == {"networks": [{"id": mine["id"], "cidr": "None", "label": "mine"}]}
    one = await client.get(f"{V21}/os-tenant-networks/{mine['id']}", headers=MEMBER)
    assert one.json() == {"network": {"id": mine["id"], "cidr": "None", "label": "mine"}}
    assert (
        await client.get(f"{V21}/os-tenant-networks/{NO_SUCH}", headers=MEMBER)
    ).status_code == 404
    for method, path in (
        ("POST", "/os-networks"),
        ("POST", "/os-networks/add"),
        ("DELETE", f"/os-networks/{mine['id']}"),
        ("POST", f"/os-networks/{mine['id']}/action"),
        ("POST", "/os-tenant-networks"),
        ("DELETE", f"/os-tenant-networks/{mine['id']}"),
        ("GET", "/os-security-group-default-rules"),
        ("DELETE", "/os-security-group-default-rules/1"),
        ("GET", "/os-floating-ip-dns"),
        ("GET", "/os-floating-ip-dns/d/entries/e"),
        ("POST", "/os-floating-ips-bulk"),
        ("PUT", "/os-floating-ips-bulk/1"),
    ):
        gone = await client.request(method, V21 + path, json={}, headers=MEMBER)
        assert gone.status_code == 410, path
    for path in ("/os-networks", "/os-tenant-networks", f"/os-networks/{mine['id']}"):
        late = await client.get(V21 + path, headers={**MEMBER, **AT_2_36})
        assert late.status_code == 404, path


# --- images --------------------------------------------------------------------------


async def test_the_image_proxy_asks_a_pods_nova(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    image = {"id": NO_SUCH, "name": "tiny", "status": "ACTIVE", "metadata": {"a": "b"}}
    for nova in pods.pods.values():  # one image service behind every pod
        nova.images[NO_SUCH] = dict(image)
    listed = await client.get(f"{V21}/images?name=tiny", headers=MEMBER)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["images"]
    assert item["id"] == NO_SUCH and item["name"] == "tiny"
    assert item["links"][0]["href"] == f"http://cascade.test/compute/v2.1/images/{NO_SUCH}"
    asked = [r for r in pods.pods["n1"].requests if r.url.path == "/v2.1/images"]
    assert asked and asked[0].url.params["name"] == "tiny"
    assert asked[0].headers["x-auth-token"] == "member-token"
    detail = await client.get(f"{V21}/images/detail", headers=MEMBER)
    assert detail.json()["images"][0]["status"] == "ACTIVE"
    shown = await client.get(f"{V21}/images/{NO_SUCH}", headers=MEMBER)
    assert shown.json()["image"]["metadata"] == {"a": "b"}
    meta = await client.get(f"{V21}/images/{NO_SUCH}/metadata", headers=MEMBER)
    assert meta.json() == {"metadata": {"a": "b"}}
    missing = await client.get(f"{V21}/images/nope", headers=MEMBER)
    assert fault(missing) == (404, "Image not found.")  # Nova's own, as the pod said it
    # a pod that cannot be reached: another reads the same images
    pods.pods["n1"].down = True
    again = await client.get(f"{V21}/images/{NO_SUCH}", headers=MEMBER)
    assert again.status_code == 200 and again.headers["x-cascade-pod"] == "pod2"
    assert (await client.delete(f"{V21}/images/{NO_SUCH}", headers=MEMBER)).status_code == 204
    pods.pods["n2"].down = True
    nobody = await client.get(f"{V21}/images", headers=MEMBER)
    assert nobody.status_code == 503
    late = await client.get(f"{V21}/images", headers={**MEMBER, **AT_2_36})
    assert fault(late) == (404, "The resource could not be found.")


async def test_a_create_shows_the_groups_asked_for(
    app: Any, client: httpx.AsyncClient, pods: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The groups go on the server's top ports and the pod is asked for none (it answers
    `default`): the answer shows what was asked, as Nova's does."""

    async def on_top_ports(env: Any, ask: Any, pod: Any, server: dict[str, Any]) -> Any:
        server.pop("security_groups", None)  # as `server_ports.translate` does
        return server_ports.Translated()

    monkeypatch.setattr(server_create, "_networks", on_top_ports)
    async with app.state.sessions() as db:
        db.add(flavor("1", "m1.tiny", datetime.now(UTC).replace(tzinfo=None)))
        await db.commit()
    await neutron(client, "security-groups", {"name": "web"})
    body = {"server": {"name": "vm", "flavorRef": "1", "security_groups": [{"name": "web"}]}}
    made = await client.post(f"{V21}/servers", json=body, headers=MEMBER)
    assert made.status_code == 202, made.text
    assert made.json()["server"]["security_groups"] == [{"name": "web"}]
    sent = [r for r in pods.pods["n1"].requests if r.url.path == "/v2.1/servers"]
    assert "security_groups" not in sent[-1].read().decode()
