"""Servers on top networks against fake pods (Nova and Neutron) and the top's own
networking: several NICs, one network twice, fixed IPs, given ports, multiple create,
and the addresses and interfaces they show at the top."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cascade.jobs.registry import DEFAULT
from cascade.jobs.worker import Worker
from cascade.services.compute import server_create
from tests.unit.conftest import FakeKeystone
from tests.unit.fakenova import FakeCloud, FakeNova, register
from tests.unit.test_compute_servers import ADMIN, MEMBER, flavor, routings

pytestmark = pytest.mark.fake_pods

NET = "/networking/v2.0"
SERVERS = "/compute/v2.1/servers"


@pytest.fixture
async def pods(
    app: Starlette, client: httpx.AsyncClient, keystone: FakeKeystone, cloud: FakeCloud
) -> FakeCloud:
    """The two fake pods (pod1 in az1, pod2 in az2) and top flavor 42."""
    await register(client, keystone, cloud)
    async with app.state.sessions() as db:
        db.add(flavor("42", "m1.nano", datetime.now(UTC).replace(tzinfo=None)))
        await db.commit()
    return cloud


async def network(client: httpx.AsyncClient, name: str, cidr: str) -> dict[str, Any]:
    """A top network of the member's project with one IPv4 subnet."""
    made = await client.post(f"{NET}/networks", json={"network": {"name": name}}, headers=MEMBER)
    assert made.status_code == 201, made.text
    net: dict[str, Any] = made.json()["network"]
    body = {"subnet": {"network_id": net["id"], "cidr": cidr, "ip_version": 4}}
    sub = await client.post(f"{NET}/subnets", json=body, headers=MEMBER)
    assert sub.status_code == 201, sub.text
    return net


async def top_ports(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    listed = await client.get(f"{NET}/ports", headers=MEMBER)
    return [p for p in listed.json()["ports"] if not p["device_owner"].startswith("network:")]


def creates(nova: FakeNova) -> list[dict[str, Any]]:
    """The server creates the pod was sent."""
    return [
        json.loads(r.content)["server"]
        for r in nova.requests
        if r.method == "POST" and r.url.path == "/v2.1/servers"
    ]


def addrs(entries: list[dict[str, Any]]) -> list[str]:
    return [e["addr"] for e in entries]


async def test_a_server_on_several_networks_shows_every_address_by_top_network_name(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """[a, b, a]: three top ports, three bottom ports in the pod; the server, its ips
    (whole and by network name), the detailed list and its interfaces show top names
    and ids; a network's top id is no label of it (Nova's 404)."""
    a = await network(client, "net-a", "10.1.0.0/24")
    b = await network(client, "net-b", "10.2.0.0/24")
    networks = [{"uuid": a["id"]}, {"uuid": b["id"]}, {"uuid": a["id"]}]
    body = {"server": {"name": "vm", "flavorRef": "42", "networks": networks}}
    resp = await client.post(SERVERS, json=body, headers=MEMBER)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    ports = await top_ports(client)
    assert len(ports) == 3 and {p["device_id"] for p in ports} == {server_id}
    by_net = {
        net["id"]: [p["fixed_ips"][0]["ip_address"] for p in ports if p["network_id"] == net["id"]]
        for net in (a, b)
    }
    assert len(by_net[a["id"]]) == 2 and len(by_net[b["id"]]) == 1
    sent = creates(pods.pods["n1"])
    assert len(sent) == 1 and [list(n) for n in sent[0]["networks"]] == [["port"]] * 3

    shown = await client.get(f"{SERVERS}/{server_id}", headers=MEMBER)
    assert shown.status_code == 200, shown.text
    addresses = shown.json()["server"]["addresses"]
    assert {k: sorted(addrs(v)) for k, v in addresses.items()} == {
        "net-a": sorted(by_net[a["id"]]),
        "net-b": by_net[b["id"]],
    }
    ips = await client.get(f"{SERVERS}/{server_id}/ips", headers=MEMBER)
    assert ips.status_code == 200 and ips.json() == {"addresses": addresses}
    one = await client.get(f"{SERVERS}/{server_id}/ips/net-a", headers=MEMBER)
    assert one.status_code == 200 and one.json() == {"net-a": addresses["net-a"]}
    for label in (a["id"], "net-c"):
        missing = await client.get(f"{SERVERS}/{server_id}/ips/{label}", headers=MEMBER)
        assert missing.status_code == 404
        message = "Instance is not a member of specified network"
        assert missing.json() == {"itemNotFound": {"code": 404, "message": message}}
    listed = await client.get(f"{SERVERS}/detail", headers=MEMBER)
    assert listed.json()["servers"][0]["addresses"] == addresses

    interfaces = await client.get(f"{SERVERS}/{server_id}/os-interface", headers=MEMBER)
    attached = interfaces.json()["interfaceAttachments"]
    subnets = (await client.get(f"{NET}/subnets", headers=MEMBER)).json()["subnets"]
    assert sorted(i["port_id"] for i in attached) == sorted(p["id"] for p in ports)
    assert sorted(i["net_id"] for i in attached) == sorted([a["id"], a["id"], b["id"]])
    assert {ip["subnet_id"] for i in attached for ip in i["fixed_ips"]} == {
        s["id"] for s in subnets
    }
    port = ports[0]["id"]
    single = await client.get(f"{SERVERS}/{server_id}/os-interface/{port}", headers=MEMBER)
    assert single.status_code == 200, single.text
    assert single.json()["interfaceAttachment"]["port_id"] == port


async def test_a_fixed_ip_and_a_given_port_beside_a_network(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    a = await network(client, "net-a", "10.1.0.0/24")
    b = await network(client, "net-b", "10.2.0.0/24")
    given = await client.post(
        f"{NET}/ports", json={"port": {"network_id": b["id"]}}, headers=MEMBER
    )
    port = given.json()["port"]
    networks = [{"uuid": a["id"], "fixed_ip": "10.1.0.50"}, {"port": port["id"]}]
    body = {"server": {"name": "vm", "flavorRef": "42", "networks": networks}}
    resp = await client.post(SERVERS, json=body, headers=MEMBER)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    shown = (await client.get(f"{SERVERS}/{server_id}", headers=MEMBER)).json()["server"]
    assert {k: addrs(v) for k, v in shown["addresses"].items()} == {
        "net-a": ["10.1.0.50"],
        "net-b": [port["fixed_ips"][0]["ip_address"]],
    }
    mine = await client.get(f"{NET}/ports/{port['id']}", headers=MEMBER)
    assert mine.json()["port"]["device_id"] == server_id


@pytest.mark.parametrize("networks", ["one", "auto", None])
async def test_a_multiple_create_on_a_top_network_makes_each_server_its_own_port(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud, networks: str | None
) -> None:
    """As Nova: three servers named vm-1..3, each on its own port (its own address), one
    admin password; the answer is the first server's; every server routed."""
    a = await network(client, "net-a", "10.1.0.0/24")
    server: dict[str, Any] = {"name": "vm", "flavorRef": "42", "min_count": 3}
    if networks == "one":
        server["networks"] = [{"uuid": a["id"]}]
    headers = MEMBER
    if networks == "auto":  # Nova's "auto" came with 2.37
        server["networks"] = "auto"
        headers = {**MEMBER, "OpenStack-API-Version": "compute 2.37"}
    resp = await client.post(SERVERS, json={"server": server}, headers=headers)
    assert resp.status_code == 202, resp.text
    first = resp.json()["server"]
    nova = pods.pods["n1"]
    sent = creates(nova)
    assert [s["name"] for s in sent] == ["vm-1", "vm-2", "vm-3"]
    assert all("min_count" not in s and "max_count" not in s for s in sent)
    assert {s["adminPass"] for s in sent} == {first["adminPass"]}
    assert len({s["networks"][0]["port"] for s in sent}) == 3
    assert first["id"] == next(s["id"] for s in nova.servers.values() if s["name"] == "vm-1")
    assert sorted(r.top_id for r in await routings(app)) == sorted(nova.servers)
    assert all(r.status == "active" for r in await routings(app))
    ports = await top_ports(client)
    assert sorted(p["device_id"] for p in ports) == sorted(nova.servers)
    assert len({p["fixed_ips"][0]["ip_address"] for p in ports}) == 3
    listed = (await client.get(f"{SERVERS}/detail", headers=MEMBER)).json()["servers"]
    assert sorted(s["name"] for s in listed) == ["vm-1", "vm-2", "vm-3"]
    assert all(list(s["addresses"]) == ["net-a"] for s in listed)


async def test_a_multiple_create_may_return_its_reservation_id(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    a = await network(client, "net-a", "10.1.0.0/24")
    server = {
        "name": "vm",
        "flavorRef": "42",
        "min_count": 1,
        "max_count": 2,
        "return_reservation_id": True,
        "networks": [{"uuid": a["id"]}],
    }
    resp = await client.post(SERVERS, json={"server": server}, headers=MEMBER)
    assert resp.status_code == 202, resp.text
    assert list(resp.json()) == ["reservation_id"]
    assert resp.json()["reservation_id"].startswith("r-")
    assert len(resp.json()["reservation_id"]) == 10
    assert len(pods.pods["n1"].servers) == 2
    assert len(await routings(app)) == 2


async def test_without_a_top_network_the_pod_makes_a_multiple_create_itself(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await network(client, "net-a", "10.1.0.0/24")
    server = {"name": "vm", "flavorRef": "42", "min_count": 2, "networks": "none"}
    resp = await client.post(SERVERS, json={"server": server}, headers=MEMBER)
    assert resp.status_code == 202, resp.text
    sent = creates(pods.pods["n1"])
    assert len(sent) == 1 and sent[0]["min_count"] == 2 and sent[0]["networks"] == "none"
    assert len(await routings(app)) == 2


async def test_a_multiple_create_is_refused_as_nova_refuses_it(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """A port, a fixed IP or volumes with more than one server, min_count above
    max_count: Nova's 400s, nothing made in any pod, the given port still free."""
    a = await network(client, "net-a", "10.1.0.0/24")
    given = await client.post(
        f"{NET}/ports", json={"port": {"network_id": a["id"]}}, headers=MEMBER
    )
    port = given.json()["port"]
    volume = [{"boot_index": 0, "uuid": "v-1", "source_type": "volume"}]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"networks": [{"port": port["id"]}], "max_count": 2}, server_create.PORT_MANY),
        (
            {"networks": [{"uuid": a["id"], "fixed_ip": "10.1.0.9"}], "min_count": 2},
            server_create.FIXED_IP_MANY,
        ),
        ({"min_count": 3, "max_count": 2}, server_create.MIN_OVER_MAX),
        ({"min_count": 2, "block_device_mapping_v2": volume}, server_create.VOLUME_MANY),
    ]
    for extra, message in cases:
        server: dict[str, Any] = {"name": "vm", "flavorRef": "42", **extra}
        resp = await client.post(SERVERS, json={"server": server}, headers=MEMBER)
        assert resp.json() == {"badRequest": {"code": 400, "message": message}}, resp.text
    # one hostname for several servers (2.90+)
    named = {"name": "vm", "flavorRef": "42", "hostname": "h", "min_count": 2}
    at_290 = {**MEMBER, "OpenStack-API-Version": "compute 2.90"}
    resp = await client.post(SERVERS, json={"server": named}, headers=at_290)
    message = server_create.HOSTNAME_MANY
    assert resp.json() == {"badRequest": {"code": 400, "message": message}}, resp.text
    assert all(not creates(p) for p in pods.pods.values())
    assert await routings(app) == []
    ports = await top_ports(client)
    assert [(p["id"], p["device_id"]) for p in ports] == [(port["id"], "")]


async def test_a_refused_server_of_a_multiple_create_takes_the_others_back(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """The pod refuses the second of three: its refusal is the answer, the first is
    deleted again, no port of theirs is left and no routing stays active."""
    a = await network(client, "net-a", "10.1.0.0/24")
    nova = pods.pods["n1"]
    nova.refused_names.add("vm-2")
    server = {"name": "vm", "flavorRef": "42", "min_count": 3, "networks": [{"uuid": a["id"]}]}
    resp = await client.post(SERVERS, json={"server": server}, headers=MEMBER)
    assert resp.status_code == 400, resp.text
    assert "(pod pod1)" in resp.json()["badRequest"]["message"]
    assert [s["name"] for s in creates(nova)] == ["vm-1", "vm-2"]
    assert nova.servers == {}
    assert await top_ports(client) == []
    assert [r for r in await routings(app) if r.status == "active"] == []


async def test_a_multiple_create_counts_every_server_in_the_quota(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    a = await network(client, "net-a", "10.1.0.0/24")
    quota = {"quota_set": {"instances": 2}}
    assert (
        await client.put("/compute/v2.1/os-quota-sets/p1", json=quota, headers=ADMIN)
    ).status_code == 200
    server = {"name": "vm", "flavorRef": "42", "min_count": 3, "networks": [{"uuid": a["id"]}]}
    resp = await client.post(SERVERS, json={"server": server}, headers=MEMBER)
    assert resp.status_code == 403, resp.text
    assert all(not creates(p) for p in pods.pods.values())
    assert await top_ports(client) == []


async def test_a_server_shows_top_objects_in_every_field(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """What the pod shows of its own objects (its flavor copy, its AZ, its links, its
    networks) is the top's in the server, the detailed list and the sub-resources;
    images and volumes keep their ids (one Glance; a volume's id is its pod's)."""
    a = await network(client, "net-a", "10.1.0.0/24")
    server = {
        "name": "vm",
        "flavorRef": "42",
        "imageRef": "img-1",
        "availability_zone": "az1",
        "networks": [{"uuid": a["id"]}],
    }
    resp = await client.post(SERVERS, json={"server": server}, headers=MEMBER)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    top = "http://cascade.test/compute/"

    def at(version: str) -> dict[str, str]:
        return {**MEMBER, "OpenStack-API-Version": f"compute {version}"}

    old = (await client.get(f"{SERVERS}/{server_id}", headers=at("2.46"))).json()["server"]
    assert old["flavor"] == {"id": "42", "links": [{"rel": "bookmark", "href": top + "flavors/42"}]}
    assert old["image"] == {
        "id": "img-1",
        "links": [{"rel": "bookmark", "href": top + "images/img-1"}],
    }
    assert [link["href"] for link in old["links"]] == [
        f"{top}v2.1/servers/{server_id}",
        f"{top}servers/{server_id}",
    ]
    assert old["OS-EXT-AZ:availability_zone"] == "az1"
    assert list(old["addresses"]) == ["net-a"]
    new = (await client.get(f"{SERVERS}/{server_id}", headers=at("2.96"))).json()["server"]
    assert new["flavor"]["original_name"] == "m1.nano" and "id" not in new["flavor"]
    assert new["pinned_availability_zone"] == "az1"
    listed = await client.get(f"{SERVERS}/detail", headers=at("2.96"))
    assert listed.json()["servers"] == [new]

    volumes = [{"id": "v-1", "delete_on_termination": False}]
    extra: dict[str, Any] = {"os-extended-volumes:volumes_attached": volumes}
    booted = pods.pods["n1"].add_server("vol", **extra)
    shown = (await client.get(f"{SERVERS}/{booted['id']}", headers=MEMBER)).json()["server"]
    assert shown["os-extended-volumes:volumes_attached"] == volumes
    attached = await client.get(f"{SERVERS}/{booted['id']}/os-volume_attachments", headers=MEMBER)
    assert [(v["volumeId"], v["serverId"]) for v in attached.json()["volumeAttachments"]] == [
        ("v-1", booted["id"])
    ]


async def run_jobs(app: Starlette) -> None:
    worker = Worker(app.state.sessions, DEFAULT, app.state.conf, pods=app.state.registry)
    while await worker.run_once():
        pass


async def test_add_and_remove_fixed_ip_act_on_the_top_port_and_the_pod_follows(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """addFixedIp (to 2.43): the server's port on the network gets a second top address,
    its copy in the pod follows, and the server shows both; removeFixedIp takes it back.
    Past 2.43 the action is the pod's (Nova's 404 for an action it no longer has)."""
    a = await network(client, "net-a", "10.1.0.0/24")
    old = {**MEMBER, "OpenStack-API-Version": "compute 2.43"}
    body = {"server": {"name": "vm", "flavorRef": "42", "networks": [{"uuid": a["id"]}]}}
    server_id = (await client.post(SERVERS, json=body, headers=old)).json()["server"]["id"]
    await run_jobs(app)
    nova = pods.pods["n1"]
    asked = len(nova.requests)
    add = {"addFixedIp": {"networkId": a["id"]}}
    resp = await client.post(f"{SERVERS}/{server_id}/action", json=add, headers=old)
    assert resp.status_code == 202 and resp.content == b""
    assert not any(r.method == "POST" for r in nova.requests[asked:])
    await run_jobs(app)
    ips = (await client.get(f"{SERVERS}/{server_id}/ips", headers=old)).json()["addresses"]
    added = addrs(ips["net-a"])
    assert len(added) == 2
    [port] = await top_ports(client)
    assert [ip["ip_address"] for ip in port["fixed_ips"]] == added
    remove = {"removeFixedIp": {"address": added[1]}}
    resp = await client.post(f"{SERVERS}/{server_id}/action", json=remove, headers=old)
    assert resp.status_code == 202
    await run_jobs(app)
    ips = (await client.get(f"{SERVERS}/{server_id}/ips", headers=old)).json()["addresses"]
    assert addrs(ips["net-a"]) == added[:1]
    new = {**MEMBER, "OpenStack-API-Version": "compute 2.44"}
    await client.post(f"{SERVERS}/{server_id}/action", json=add, headers=new)
    assert nova.servers[server_id]["actions"] == [add]


async def test_a_server_keeps_showing_its_deleted_flavor(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """Nova embeds the flavor: a server booted from a flavor an admin then deletes
    shows that flavor's top id (and name from 2.47), not the pod copy's; a new flavor
    of the same id is a flavor of its own."""
    from cascade.services.compute.servers import FlavorNames

    server = {"name": "vm", "flavorRef": "42", "availability_zone": "az1", "networks": "none"}
    resp = await client.post(SERVERS, json={"server": server}, headers=MEMBER)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    assert (await client.delete("/compute/v2.1/flavors/42", headers=ADMIN)).status_code == 202
    assert (await client.get("/compute/v2.1/flavors/42", headers=MEMBER)).status_code == 404
    app.state.registry.cache(FlavorNames).forget()  # what another process would read

    def at(version: str) -> dict[str, str]:
        return {**MEMBER, "OpenStack-API-Version": f"compute {version}"}

    old = (await client.get(f"{SERVERS}/{server_id}", headers=at("2.46"))).json()["server"]
    assert old["flavor"]["id"] == "42"
    new = (await client.get(f"{SERVERS}/{server_id}", headers=at("2.47"))).json()["server"]
    assert new["flavor"]["original_name"] == "m1.nano"

    again = {"flavor": {"name": "m1.other", "id": "42", "ram": 64, "vcpus": 1, "disk": 1}}
    made = await client.post("/compute/v2.1/flavors", json=again, headers=ADMIN)
    assert made.status_code == 200, made.text
    app.state.registry.cache(FlavorNames).forget()
    new = (await client.get(f"{SERVERS}/{server_id}", headers=at("2.47"))).json()["server"]
    assert new["flavor"]["original_name"] == "m1.nano"
    # deleting the new one again keeps one retired copy per pod
    assert (await client.delete("/compute/v2.1/flavors/42", headers=ADMIN)).status_code == 202


async def test_a_servers_groups_change_in_its_pod_before_the_answer(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """add/removeSecurityGroup: the pod's copy of the server's port has its new groups
    when the 202 comes (no job run meanwhile), as Nova's Neutron has them when Nova
    answers: the server's view, which is its pod's, shows them at once."""
    a = await network(client, "net-a", "10.1.0.0/24")
    body = {"server": {"name": "vm", "flavorRef": "42", "networks": [{"uuid": a["id"]}]}}
    made = await client.post(SERVERS, json=body, headers=MEMBER)
    assert made.status_code == 202, made.text
    server_id = made.json()["server"]["id"]
    nova = next(n for n in pods.pods.values() if server_id in n.servers)
    (bottom,) = nova.neutron.ports_of(server_id)
    assert len(bottom["security_groups"]) == 1  # the copy of the project's default group
    url = f"{SERVERS}/{server_id}/action"
    removed = await client.post(
        url, json={"removeSecurityGroup": {"name": "default"}}, headers=MEMBER
    )
    assert removed.status_code == 202, removed.text
    assert nova.neutron.ports_of(server_id)[0]["security_groups"] == []
    made_group = await client.post(
        f"{NET}/security-groups", json={"security_group": {"name": "web"}}, headers=MEMBER
    )
    web = made_group.json()["security_group"]
    added = await client.post(url, json={"addSecurityGroup": {"name": "web"}}, headers=MEMBER)
    assert added.status_code == 202, added.text
    (copy,) = nova.neutron.ports_of(server_id)[0]["security_groups"]
    # the pod's copy of `web`, named after its top id, made for the port there and then
    assert nova.neutron.objects["security-groups"][copy]["name"] == web["id"]
