"""Routers across pods at the top: what the API accepts and refuses (the pods' side is
tested on the devcloud, tests/integration/test_cross_pod_routers.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cascade.services.network import bridges, store
from tests.unit.fakenova import FakeCloud
from tests.unit.test_network_api import ADMIN, MEMBER, V2, error, make

pytestmark = pytest.mark.fake_pods


async def _local(
    app: Starlette, client: httpx.AsyncClient, home: str, cidr: str, version: int = 4
) -> dict[str, Any]:
    """A local network homed in pod `home` (as its first server would home it), a subnet."""
    net = await make(
        client,
        "network",
        {"name": f"l-{home}", "provider:network_type": "local", "project_id": "p1"},
        ADMIN,
    )
    pods = (await client.get("/v1/pods", headers=ADMIN)).json()["pods"]
    pod_id = next(p["id"] for p in pods if p["name"] == home)
    async with app.state.sessions() as db:
        row = await store.get(db, store.NETWORK, net["id"])
        assert row is not None
        store.change(row, {"_home_pod": pod_id})
        await db.commit()
    body = {"network_id": net["id"], "cidr": cidr, "ip_version": version}
    return await make(client, "subnet", body)


async def test_a_router_joins_local_networks_of_two_pods(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    first = await _local(app, client, "pod1", "10.1.0.0/24")
    second = await _local(app, client, "pod2", "10.2.0.0/24")
    router = await make(client, "router", {"name": "r"})
    for sub in (first, second):
        answer = await client.put(
            f"{V2}/routers/{router['id']}/add_router_interface",
            json={"subnet_id": sub["id"]},
            headers=MEMBER,
        )
        assert answer.status_code == 200, answer.text
    ports = (await client.get(f"{V2}/ports?device_id={router['id']}", headers=MEMBER)).json()
    assert sorted(p["fixed_ips"][0]["ip_address"] for p in ports["ports"]) == [
        "10.1.0.1",
        "10.2.0.1",
    ]


async def test_an_ipv6_subnet_of_another_pods_local_network_is_refused(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """The bridges between a router's pods route IPv4 only: an IPv6 subnet anchored away
    from the router's home is Neutron's 400, and the router keeps what it had."""
    first = await _local(app, client, "pod1", "10.1.0.0/24")
    v6 = await _local(app, client, "pod2", "2001:db8:1::/64", version=6)
    router = await make(client, "router", {"name": "r"})
    url = f"{V2}/routers/{router['id']}"
    ok = await client.put(
        f"{url}/add_router_interface", json={"subnet_id": first["id"]}, headers=MEMBER
    )
    assert ok.status_code == 200, ok.text
    refused = await client.put(
        f"{url}/add_router_interface", json={"subnet_id": v6["id"]}, headers=MEMBER
    )
    assert refused.status_code == 400, refused.text
    assert error(refused)["type"] == "BadRequest"
    assert "only IPv4 is routed between pods" in error(refused)["message"]
    ports = (await client.get(f"{V2}/ports?device_id={router['id']}", headers=MEMBER)).json()
    assert len(ports["ports"]) == 1  # nothing half-made


async def test_a_gateway_floating_ips_need_stays(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """As Neutron: the gateway's network does not change (or go) while floating IPs of the
    router need it (409 RouterExternalGatewayInUseByFloatingIp)."""
    external = await make(
        client,
        "network",
        {
            "name": "ext",
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "external",
            "availability_zone_hints": ["az1"],
        },
        ADMIN,
    )
    await make(
        client,
        "subnet",
        {"network_id": external["id"], "cidr": "203.0.113.0/24", "ip_version": 4},
        ADMIN,
    )
    inner = await _local(app, client, "pod1", "10.1.0.0/24")
    router = await make(
        client, "router", {"name": "r", "external_gateway_info": {"network_id": external["id"]}}
    )
    url = f"{V2}/routers/{router['id']}"
    await client.put(f"{url}/add_router_interface", json={"subnet_id": inner["id"]}, headers=MEMBER)
    port = await make(client, "port", {"network_id": inner["network_id"]})
    await make(client, "floatingip", {"floating_network_id": external["id"], "port_id": port["id"]})
    cleared = await client.put(url, json={"router": {"external_gateway_info": {}}}, headers=MEMBER)
    assert cleared.status_code == 409, cleared.text
    assert error(cleared)["type"] == "RouterExternalGatewayInUseByFloatingIp"
    kept = (await client.get(url, headers=MEMBER)).json()["router"]
    assert kept["external_gateway_info"]["network_id"] == external["id"]


async def test_a_subnet_overlapping_the_routers_bridge_is_refused(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    """A router spanning pods holds its bridge's subnet in each pod: a tenant subnet that
    overlaps it cannot join (400 naming the bridge), the router keeps what it had."""
    first = await _local(app, client, "pod1", "10.1.0.0/24")
    router = await make(client, "router", {"name": "r"})
    url = f"{V2}/routers/{router['id']}"
    await client.put(f"{url}/add_router_interface", json={"subnet_id": first["id"]}, headers=MEMBER)
    async with app.state.sessions() as db:  # as the router's build makes it
        body = {"subnet_id": "s", "cidr": "100.64.0.0/24", "vlan": 2999}
        store.add(db, bridges.KIND, "p1", body, router["id"])
        await db.commit()
    clash = await _local(app, client, "pod2", "100.64.0.0/16")
    refused = await client.put(
        f"{url}/add_router_interface", json={"subnet_id": clash["id"]}, headers=MEMBER
    )
    assert refused.status_code == 400, refused.text
    assert "bridge" in error(refused)["message"]
    ports = (await client.get(f"{V2}/ports?device_id={router['id']}", headers=MEMBER)).json()
    assert len(ports["ports"]) == 1
