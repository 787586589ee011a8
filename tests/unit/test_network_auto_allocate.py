"""Neutron's auto-allocated topology at the top (extension auto-allocated-topology):
networks' `is_default`, GET and DELETE `/auto-allocated-topology/{project_id}` built
from the top's own networks, subnet pools and routers (failures leave nothing behind),
the extension listed, and Nova's `networks: "auto"` using it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cascade.services.network import auto_allocate, routers, store
from cascade.services.network.access import Caller
from cascade.services.network.errors import BadRequest
from tests.unit.conftest import FakeKeystone
from tests.unit.fakenova import FakeCloud, FakeNova, register
from tests.unit.test_compute_servers import flavor
from tests.unit.test_network_neutron_parity import error

MEMBER = {"X-Auth-Token": "member-token"}
ADMIN = {"X-Auth-Token": "admin-token"}
OTHER = {"X-Auth-Token": "other-token"}
V2 = "/networking/v2.0"
TOPOLOGY = f"{V2}/auto-allocated-topology"
SERVERS = "/compute/v2.1/servers"
V2_37 = {**MEMBER, "OpenStack-API-Version": "compute 2.37"}


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


async def make(
    client: httpx.AsyncClient, path: str, kind: str, body: dict[str, Any], headers: Any = ADMIN
) -> dict[str, Any]:
    answer = await client.post(f"{V2}/{path}", json={kind: body}, headers=headers)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()[kind]
    return made


async def external(
    client: httpx.AsyncClient, default: bool = True, subnet: bool = True, name: str = "ext"
) -> str:
    """A flat external network of pod1 (az1), shared, with one subnet: its id."""
    body: dict[str, Any] = {
        "name": name,
        "router:external": True,
        "shared": True,
        "provider:network_type": "flat",
        "provider:physical_network": "external",
        "availability_zone_hints": ["az1"],
    }
    if default:
        body["is_default"] = True
    net = await make(client, "networks", "network", body)
    if subnet:
        sub = {"network_id": net["id"], "cidr": "172.31.0.0/24", "enable_dhcp": False}
        await make(client, "subnets", "subnet", sub)
    return str(net["id"])


async def default_pool(
    client: httpx.AsyncClient, version: int = 4, prefix: str = "", prefixlen: int = 0
) -> str:
    """A shared default subnet pool of `version`: its id."""
    prefix = prefix or ("10.200.0.0/16" if version == 4 else "2001:db8:100::/48")
    body = {
        "name": f"default-v{version}",
        "prefixes": [prefix],
        "default_prefixlen": prefixlen or (24 if version == 4 else 64),
        "is_default": True,
        "shared": True,
    }
    return str((await make(client, "subnetpools", "subnetpool", body))["id"])


async def listed(client: httpx.AsyncClient, path: str, headers: Any = ADMIN) -> list[Any]:
    answer = await client.get(f"{V2}/{path}", headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[Any] = answer.json()[path.split("?")[0].replace("-", "_")]
    return items


async def project_objects(client: httpx.AsyncClient, project: str = "p1") -> dict[str, list[Any]]:
    """What a topology of the project is made of, as an admin lists it: its network,
    subnets and router (by Neutron's names), and every router port (interfaces and
    gateways, of any project)."""
    names = {
        "networks": "auto_allocated_network",
        "subnets": "auto_allocated_subnet_v",
        "routers": "auto_allocated_router",
    }
    out = {
        path: [
            o
            for o in await listed(client, path)
            if o["project_id"] == project and o["name"].startswith(name)
        ]
        for path, name in names.items()
    }
    ports = await listed(client, "ports")
    out["ports"] = [p for p in ports if p["device_owner"].startswith("network:router")]
    return out


NOTHING: dict[str, list[Any]] = {"networks": [], "subnets": [], "routers": [], "ports": []}


# --- item 1: is_default ---------------------------------------------------------------


@pytest.mark.fake_pods
async def test_is_default_is_shown_on_external_networks_and_set_by_admins(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    ext = await external(client, default=False)
    shown = (await client.get(f"{V2}/networks/{ext}", headers=MEMBER)).json()["network"]
    assert shown["is_default"] is False
    internal = await make(client, "networks", "network", {"name": "n"}, MEMBER)
    assert "is_default" not in internal
    # a member's `is_default: false` is the default (not asked of the policy); true is
    refused = await client.post(
        f"{V2}/networks", json={"network": {"name": "m", "is_default": True}}, headers=MEMBER
    )
    assert refused.status_code == 403
    assert error(refused) == {
        "type": "PolicyNotAuthorized",
        "message": "(rule:create_network:is_default) is disallowed by policy",
        "detail": "",
    }
    quiet = await make(client, "networks", "network", {"name": "m", "is_default": False}, MEMBER)
    assert "is_default" not in quiet
    put = await client.put(
        f"{V2}/networks/{ext}", json={"network": {"is_default": True}}, headers=MEMBER
    )
    assert put.status_code in (403, 404)  # another project's network: never changed
    put = await client.put(
        f"{V2}/networks/{ext}", json={"network": {"is_default": True}}, headers=ADMIN
    )
    assert put.status_code == 200, put.text
    assert put.json()["network"]["is_default"] is True
    shown = (await client.get(f"{V2}/networks/{ext}", headers=MEMBER)).json()["network"]
    assert shown["is_default"] is True
    # a filter Neutron accepts and ignores (no column of its networks' table)
    every = await client.get(f"{V2}/networks?is_default=true", headers=ADMIN)
    assert every.status_code == 200
    assert {n["id"] for n in every.json()["networks"]} == {ext, internal["id"], quiet["id"]}


@pytest.mark.fake_pods
async def test_only_one_default_external_network(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    first = await external(client)
    body = {
        "name": "ext2",
        "router:external": True,
        "provider:network_type": "flat",
        "provider:physical_network": "external",
        "availability_zone_hints": ["az1"],
        "is_default": True,
    }
    second = await client.post(f"{V2}/networks", json={"network": body}, headers=ADMIN)
    assert second.status_code == 409
    assert error(second) == {
        "type": "DefaultExternalNetworkExists",
        "message": f"A default external network already exists: {first}.",
        "detail": "",
    }
    other = await external(client, default=False, subnet=False, name="ext2")
    put = await client.put(
        f"{V2}/networks/{other}", json={"network": {"is_default": True}}, headers=ADMIN
    )
    assert put.status_code == 409 and error(put)["type"] == "DefaultExternalNetworkExists"
    # the default itself may be told again; once not default, another may be
    again = await client.put(
        f"{V2}/networks/{first}", json={"network": {"is_default": True}}, headers=ADMIN
    )
    assert again.status_code == 200, again.text
    off = await client.put(
        f"{V2}/networks/{first}", json={"network": {"is_default": False}}, headers=ADMIN
    )
    assert off.status_code == 200 and off.json()["network"]["is_default"] is False
    put = await client.put(
        f"{V2}/networks/{other}", json={"network": {"is_default": True}}, headers=ADMIN
    )
    assert put.status_code == 200 and put.json()["network"]["is_default"] is True


async def test_is_default_lives_as_long_as_the_network_is_external(
    client: httpx.AsyncClient,
) -> None:
    """A network no longer external loses `is_default` (Neutron's externalnetworks row
    goes); made external again it is not the default; a network not external ignores it."""
    net = await make(client, "networks", "network", {"name": "n", "router:external": True})
    assert net["is_default"] is False
    put = await client.put(
        f"{V2}/networks/{net['id']}", json={"network": {"is_default": True}}, headers=ADMIN
    )
    assert put.json()["network"]["is_default"] is True
    off = await client.put(
        f"{V2}/networks/{net['id']}", json={"network": {"router:external": False}}, headers=ADMIN
    )
    assert off.status_code == 200, off.text
    assert "is_default" not in off.json()["network"]
    on = await client.put(
        f"{V2}/networks/{net['id']}", json={"network": {"router:external": True}}, headers=ADMIN
    )
    assert on.json()["network"]["is_default"] is False
    internal = await make(client, "networks", "network", {"name": "i", "is_default": True})
    assert "is_default" not in internal
    put = await client.put(
        f"{V2}/networks/{internal['id']}", json={"network": {"is_default": True}}, headers=ADMIN
    )
    assert put.status_code == 200 and "is_default" not in put.json()["network"]
    # and it is not taken for the default: another external network may be
    other = await make(
        client, "networks", "network", {"name": "x", "router:external": True, "is_default": True}
    )
    assert other["is_default"] is True


async def test_the_default_external_network_stays_shared_to_everyone(
    client: httpx.AsyncClient,
) -> None:
    net = await make(
        client, "networks", "network", {"name": "n", "router:external": True, "is_default": True}
    )
    policies = await listed(client, f"rbac-policies?object_id={net['id']}")
    wildcard = next(p for p in policies if p["action"] == "access_as_external")
    refused = await client.delete(f"{V2}/rbac-policies/{wildcard['id']}", headers=ADMIN)
    assert refused.status_code == 409
    assert error(refused) == {
        "type": "RbacPolicyInUse",
        "message": f"RBAC policy on object {net['id']} cannot be removed because other "
        "objects depend on it.\nDetails: Default external networks must be shared to "
        "everyone.",
        "detail": "",
    }
    await client.put(
        f"{V2}/networks/{net['id']}", json={"network": {"is_default": False}}, headers=ADMIN
    )
    gone = await client.delete(f"{V2}/rbac-policies/{wildcard['id']}", headers=ADMIN)
    assert gone.status_code == 204, gone.text


# --- item 4: the extension --------------------------------------------------------------


async def test_the_extension_is_listed_with_neutrons_name(client: httpx.AsyncClient) -> None:
    listed_ = (await client.get(f"{V2}/extensions", headers=MEMBER)).json()["extensions"]
    assert "auto-allocated-topology" in {e["alias"] for e in listed_}
    one = await client.get(f"{V2}/extensions/auto-allocated-topology", headers=MEMBER)
    assert one.status_code == 200
    shown = one.json()["extension"]
    assert shown["name"] == "Auto Allocated Topology Services"
    assert shown["description"] == "Auto Allocated Topology Services."


# --- item 2: GET ------------------------------------------------------------------------


@pytest.mark.fake_pods
async def test_dry_run_checks_the_requirements(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    dry = f"{TOPOLOGY}/None?fields=dry-run"
    no_ext = await client.get(dry, headers=MEMBER)
    assert no_ext.status_code == 409
    assert error(no_ext) == {
        "type": "AutoAllocationFailure",
        "message": "Deployment error: No default router:external network.",
        "detail": "",
    }
    await external(client)
    no_pool = await client.get(dry, headers=MEMBER)
    assert no_pool.status_code == 409
    assert error(no_pool)["message"] == "Deployment error: No default subnetpools defined."
    await default_pool(client)
    ok = await client.get(dry, headers=MEMBER)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"auto_allocated_topology": {"id": "dry-run=pass", "project_id": "p1"}}
    mine = await client.get(f"{TOPOLOGY}/p1?fields=dry-run", headers=MEMBER)
    assert mine.json() == ok.json()
    assert await project_objects(client) == NOTHING  # a dry run builds nothing
    bad = await client.get(f"{TOPOLOGY}/p1?fields=id", headers=MEMBER)
    assert bad.status_code == 400
    assert error(bad) == {
        "type": "BadRequest",
        "message": "Bad auto_allocate request: Unrecognized field.",
        "detail": "",
    }


@pytest.mark.fake_pods
async def test_another_projects_topology_is_for_admins(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await external(client)
    await default_pool(client)
    for method in ("GET", "DELETE"):
        refused = await client.request(method, f"{TOPOLOGY}/p2", headers=MEMBER)
        assert refused.status_code == 403
        assert error(refused) == {
            "type": "NotAuthorized",
            "message": "Not authorized.",
            "detail": "",
        }
    admin = await client.get(f"{TOPOLOGY}/p2?fields=dry-run", headers=ADMIN)
    assert admin.json() == {"auto_allocated_topology": {"id": "dry-run=pass", "project_id": "p2"}}
    built = await client.get(f"{TOPOLOGY}/p2", headers=ADMIN)
    assert built.status_code == 200, built.text
    network_id = built.json()["auto_allocated_topology"]["id"]
    made = await project_objects(client, "p2")
    assert [n["id"] for n in made["networks"]] == [network_id]
    # p2's own user gets the same one
    theirs = await client.get(f"{TOPOLOGY}/None", headers=OTHER)
    assert theirs.json() == {"auto_allocated_topology": {"id": network_id, "project_id": "p2"}}


@pytest.mark.fake_pods
async def test_get_builds_the_topology_once(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    ext = await external(client)
    v4 = await default_pool(client, 4)
    v6 = await default_pool(client, 6)
    first = await client.get(f"{TOPOLOGY}/None", headers=MEMBER)
    assert first.status_code == 200, first.text
    body = first.json()["auto_allocated_topology"]
    assert set(body) == {"id", "project_id"} and body["project_id"] == "p1"
    network_id = body["id"]
    made = await project_objects(client)
    assert [n["id"] for n in made["networks"]] == [network_id]
    network = made["networks"][0]
    assert network["name"] == "auto_allocated_network"
    assert network["admin_state_up"] is True and network["shared"] is False
    subnets = {s["name"]: s for s in made["subnets"]}
    assert sorted(subnets) == ["auto_allocated_subnet_v4", "auto_allocated_subnet_v6"]
    assert subnets["auto_allocated_subnet_v4"]["subnetpool_id"] == v4
    assert subnets["auto_allocated_subnet_v6"]["subnetpool_id"] == v6
    assert subnets["auto_allocated_subnet_v4"]["cidr"].endswith("/24")
    assert all(s["network_id"] == network_id for s in subnets.values())
    [router] = made["routers"]
    assert router["name"] == "auto_allocated_router" and router["admin_state_up"] is True
    assert router["external_gateway_info"]["network_id"] == ext
    interfaces = [p for p in made["ports"] if p["device_owner"] == "network:router_interface"]
    assert {p["device_id"] for p in interfaces} == {router["id"]}
    assert sorted(ip["subnet_id"] for p in interfaces for ip in p["fixed_ips"]) == sorted(
        s["id"] for s in subnets.values()
    )
    # the member sees it as its own
    mine = (await client.get(f"{V2}/networks/{network_id}", headers=MEMBER)).json()["network"]
    assert mine["project_id"] == "p1"
    again = await client.get(f"{TOPOLOGY}/p1", headers=MEMBER)
    assert again.json() == first.json()
    assert await project_objects(client) == made


@pytest.mark.fake_pods
async def test_no_default_external_network_fails_before_anything_is_made(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await default_pool(client)
    await external(client, default=False)
    answer = await client.get(f"{TOPOLOGY}/None", headers=MEMBER)
    assert answer.status_code == 409
    assert error(answer)["message"] == "Deployment error: No default router:external network."
    assert await project_objects(client) == NOTHING


@pytest.mark.fake_pods
@pytest.mark.parametrize("pools", ["none", "exhausted"])
async def test_no_private_network_leaves_nothing(
    client: httpx.AsyncClient, pods: FakeCloud, pools: str
) -> None:
    """No default pool, or one with no prefix left: 409 'Unable to provide project
    private network', the network made first gone again."""
    await external(client)
    if pools == "exhausted":
        pool = await default_pool(client, prefix="10.201.0.0/24", prefixlen=24)
        holder = await make(client, "networks", "network", {"name": "h"}, ADMIN)
        await make(
            client,
            "subnets",
            "subnet",
            {"network_id": holder["id"], "subnetpool_id": pool, "ip_version": 4},
        )
    answer = await client.get(f"{TOPOLOGY}/None", headers=MEMBER)
    assert answer.status_code == 409, answer.text
    assert error(answer) == {
        "type": "AutoAllocationFailure",
        "message": "Deployment error: Unable to provide project private network.",
        "detail": "",
    }
    assert await project_objects(client) == NOTHING


@pytest.mark.fake_pods
async def test_no_external_connectivity_leaves_nothing(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """The default external network has no subnet for the router's gateway: 409 'Unable
    to provide external connectivity', the network, subnets and router gone again."""
    await external(client, subnet=False)
    await default_pool(client, 4)
    await default_pool(client, 6)
    answer = await client.get(f"{TOPOLOGY}/None", headers=MEMBER)
    assert answer.status_code == 409, answer.text
    assert error(answer)["message"] == (
        "Deployment error: Unable to provide external connectivity."
    )
    assert await project_objects(client) == NOTHING
    addresses = await client.get(f"{V2}/ports", headers=ADMIN)
    assert addresses.json()["ports"] == []


@pytest.mark.fake_pods
async def test_an_interface_that_fails_removes_the_router_too(
    client: httpx.AsyncClient, pods: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router is made and its first interface added, then the second is refused (a
    400): 409 'Unable to provide external connectivity', and the interface, the router,
    the network and its subnets all go."""
    await external(client)
    await default_pool(client, 4)
    await default_pool(client, 6)
    real = routers.add_interface
    calls: list[str] = []

    async def second_refused(who: Caller, router_id: str, body: Any) -> dict[str, Any]:
        calls.append(body["subnet_id"])
        if len(calls) == 2:
            raise BadRequest("Bad router request: refused.")
        return await real(who, router_id, body)

    monkeypatch.setattr(routers, "add_interface", second_refused)
    answer = await client.get(f"{TOPOLOGY}/None", headers=MEMBER)
    assert answer.status_code == 409, answer.text
    assert error(answer)["message"] == (
        "Deployment error: Unable to provide external connectivity."
    )
    assert len(calls) == 2
    assert await project_objects(client) == NOTHING
    assert await listed(client, "ports") == []  # the gateway's port too


@pytest.mark.fake_pods
async def test_over_quota_is_answered_as_it_is_and_leaves_nothing(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """Neutron re-raises what is not a 400/404 (here the router's OverQuota) after the
    cleanup."""
    await external(client)
    await default_pool(client)
    quota = await client.put(f"{V2}/quotas/p1", json={"quota": {"router": 0}}, headers=ADMIN)
    assert quota.status_code == 200, quota.text
    answer = await client.get(f"{TOPOLOGY}/None", headers=MEMBER)
    assert answer.status_code == 409
    assert error(answer)["type"] == "OverQuota"
    assert await project_objects(client) == NOTHING


@pytest.mark.fake_pods
async def test_a_concurrent_build_keeps_the_first_topology(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """Two builds for one project: the one recorded second removes its own topology and
    answers the first one's network (Neutron's duplicate entry)."""
    await external(client)
    await default_pool(client)
    first = (await client.get(f"{TOPOLOGY}/None", headers=MEMBER)).json()
    kept = first["auto_allocated_topology"]["id"]
    conf = app.state.conf.network
    async with app.state.sessions() as db:
        who = Caller(db, conf, "p1", False)
        # a build that found no topology when it started: its own network and router
        made = await auto_allocate._private_network(who, "p1")
        network_id = made[0].parent_id or ""
        ext = await auto_allocate._external(who)
        router_id = await auto_allocate._connectivity(who, ext, made, "p1")
        answer = await auto_allocate._save(who, "p1", network_id, router_id, [made[0].id])
    assert answer == kept
    objects = await project_objects(client)
    assert [n["id"] for n in objects["networks"]] == [kept]
    assert len(objects["routers"]) == 1


@pytest.mark.fake_pods
async def test_a_topology_whose_network_is_gone_is_built_again(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await external(client)
    await default_pool(client)
    first = (await client.get(f"{TOPOLOGY}/None", headers=MEMBER)).json()
    made = await project_objects(client)
    router = made["routers"][0]["id"]
    subnet = made["subnets"][0]["id"]
    removed = await client.put(
        f"{V2}/routers/{router}/remove_router_interface", json={"subnet_id": subnet}, headers=MEMBER
    )
    assert removed.status_code == 200, removed.text
    assert (await client.delete(f"{V2}/routers/{router}", headers=MEMBER)).status_code == 204
    network = first["auto_allocated_topology"]["id"]
    assert (await client.delete(f"{V2}/networks/{network}", headers=MEMBER)).status_code == 204
    second = await client.get(f"{TOPOLOGY}/None", headers=MEMBER)
    assert second.status_code == 200, second.text
    assert second.json()["auto_allocated_topology"]["id"] != network
    async with app.state.sessions() as db:
        record = await store.get(db, auto_allocate.KIND, auto_allocate.record_id("p1"))
        assert record is not None
        assert record.body["network_id"] == second.json()["auto_allocated_topology"]["id"]


# --- item 3: DELETE ---------------------------------------------------------------------


@pytest.mark.fake_pods
async def test_delete_removes_the_topology(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await external(client)
    await default_pool(client, 4)
    await default_pool(client, 6)
    first = (await client.get(f"{TOPOLOGY}/None", headers=MEMBER)).json()
    gone = await client.delete(f"{TOPOLOGY}/p1", headers=MEMBER)
    assert gone.status_code == 204, gone.text
    assert gone.content == b""
    assert await project_objects(client) == NOTHING
    async with app.state.sessions() as db:
        assert await store.get(db, auto_allocate.KIND, auto_allocate.record_id("p1")) is None
    # a new one is built next time
    second = (await client.get(f"{TOPOLOGY}/None", headers=MEMBER)).json()
    assert second["auto_allocated_topology"]["id"] != first["auto_allocated_topology"]["id"]
    # an admin deletes another project's
    assert (await client.delete(f"{TOPOLOGY}/p1", headers=ADMIN)).status_code == 204
    assert await project_objects(client) == NOTHING


@pytest.mark.fake_pods
async def test_delete_without_a_topology(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    """Neutron's DELETE looks the topology up with its GET first: without a default
    external network that is the GET's 409; else 204 with nothing left made."""
    refused = await client.delete(f"{TOPOLOGY}/None", headers=MEMBER)
    assert refused.status_code == 409
    assert error(refused)["message"] == "Deployment error: No default router:external network."
    await external(client)
    no_pool = await client.delete(f"{TOPOLOGY}/None", headers=MEMBER)
    assert no_pool.status_code == 409
    assert error(no_pool)["message"] == (
        "Deployment error: Unable to provide project private network."
    )
    await default_pool(client)
    gone = await client.delete(f"{TOPOLOGY}/None", headers=MEMBER)
    assert gone.status_code == 204, gone.text
    assert await project_objects(client) == NOTHING


# --- item 5: Nova's networks "auto" ------------------------------------------------------


def creates(nova: FakeNova) -> list[dict[str, Any]]:
    return [
        json.loads(r.content)["server"]
        for r in nova.requests
        if r.method == "POST" and r.url.path == "/v2.1/servers"
    ]


def all_creates(cloud: FakeCloud) -> list[dict[str, Any]]:
    return [c for nova in cloud.pods.values() for c in creates(nova)]


@pytest.mark.fake_pods
async def test_auto_without_a_network_uses_the_auto_allocated_one(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await external(client)
    await default_pool(client)
    body = {"server": {"name": "vm", "flavorRef": "42", "networks": "auto"}}
    resp = await client.post(SERVERS, json=body, headers=V2_37)
    assert resp.status_code == 202, resp.text
    topology = (await client.get(f"{TOPOLOGY}/None", headers=MEMBER)).json()
    network_id = topology["auto_allocated_topology"]["id"]
    [sent] = all_creates(pods)
    assert [list(n) for n in sent["networks"]] == [["port"]]  # the pod allocates nothing
    servers = [p for p in await listed(client, "ports") if p["device_owner"].startswith("compute:")]
    assert [p["network_id"] for p in servers] == [network_id]


@pytest.mark.fake_pods
async def test_auto_for_several_servers_puts_them_on_one_network(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """tempest's test_server_multi_create_auto_allocate: three servers, one network."""
    await external(client)
    await default_pool(client)
    body = {"server": {"name": "vm", "flavorRef": "42", "networks": "auto", "min_count": 3}}
    resp = await client.post(SERVERS, json=body, headers=V2_37)
    assert resp.status_code == 202, resp.text
    servers = [p for p in await listed(client, "ports") if p["device_owner"].startswith("compute:")]
    assert len(servers) == 3 and len({p["network_id"] for p in servers}) == 1
    up = await listed(client, "networks?admin_state_up=True&shared=False", MEMBER)
    assert [n["id"] for n in up] == [servers[0]["network_id"]]
    assert len(all_creates(pods)) == 3


@pytest.mark.fake_pods
async def test_auto_with_a_network_uses_it_and_builds_nothing(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await external(client)
    await default_pool(client)
    own = await make(client, "networks", "network", {"name": "own"}, MEMBER)
    await make(
        client, "subnets", "subnet", {"network_id": own["id"], "cidr": "10.5.0.0/24"}, MEMBER
    )
    body = {"server": {"name": "vm", "flavorRef": "42", "networks": "auto"}}
    resp = await client.post(SERVERS, json=body, headers=V2_37)
    assert resp.status_code == 202, resp.text
    assert await project_objects(client) == NOTHING  # no topology built
    # a second network makes "auto" ambiguous, as Nova's 409
    await make(client, "networks", "network", {"name": "two"}, MEMBER)
    resp = await client.post(SERVERS, json=body, headers=V2_37)
    assert resp.status_code == 409
    assert "Multiple possible networks found" in resp.text


@pytest.mark.fake_pods
async def test_auto_that_cannot_allocate_is_novas_400(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    body = {"server": {"name": "vm", "flavorRef": "42", "networks": "auto"}}
    resp = await client.post(SERVERS, json=body, headers=V2_37)
    assert resp.status_code == 400
    assert resp.json() == {
        "badRequest": {
            "code": 400,
            "message": "Unable to automatically allocate a network for project p1",
        }
    }
    assert all_creates(pods) == []  # no pod's Nova allocates one of its own
    await external(client, subnet=False)
    await default_pool(client)
    resp = await client.post(SERVERS, json=body, headers=V2_37)
    assert resp.status_code == 400
    assert all_creates(pods) == [] and await project_objects(client) == NOTHING


@pytest.mark.fake_pods
async def test_no_networks_named_still_lets_the_pod_choose(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """Before 2.37 `networks` may be left out: without a top network the pod chooses, and
    no topology is built for it."""
    await external(client)
    await default_pool(client)
    body = {"server": {"name": "vm", "flavorRef": "42"}}
    resp = await client.post(SERVERS, json=body, headers=MEMBER)
    assert resp.status_code == 202, resp.text
    [sent] = all_creates(pods)
    assert "networks" not in sent
    assert await project_objects(client) == NOTHING
