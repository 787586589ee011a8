"""Issue 12 at the Networking API: the top answers as the tenant's Neutron where a user
found it did not (subnets, tags, routers' gateways, floating IPs' port details, the
collections the pods serve)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

MEMBER = {"X-Auth-Token": "member-token"}
ADMIN = {"X-Auth-Token": "admin-token"}
V2 = "/networking/v2.0"


async def make(
    client: httpx.AsyncClient, path: str, kind: str, body: dict[str, Any], headers: Any = MEMBER
) -> dict[str, Any]:
    answer = await client.post(f"{V2}/{path}", json={kind: body}, headers=headers)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()[kind]
    return made


def error(answer: httpx.Response) -> dict[str, str]:
    body: dict[str, dict[str, str]] = answer.json()
    return body["NeutronError"]


async def external(client: httpx.AsyncClient, cidr: str = "172.31.0.0/24") -> tuple[str, str]:
    """An external network of pod1 (az1) with one subnet: their ids."""
    net = await make(
        client,
        "networks",
        "network",
        {
            "name": "ext",
            "router:external": True,
            "shared": True,
            "provider:network_type": "flat",
            "provider:physical_network": "external",
            "availability_zone_hints": ["az1"],
        },
        ADMIN,
    )
    sub = await make(
        client,
        "subnets",
        "subnet",
        {"network_id": net["id"], "cidr": cidr, "enable_dhcp": False},
        ADMIN,
    )
    return net["id"], sub["id"]


# --- item 1 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored", "gateway"),
    [
        ("10.99.99.0/16", "10.99.0.0/16", "10.99.0.1"),
        ("2001:db8:0:1::5/64", "2001:db8:0:1::/64", "2001:db8:0:1::1"),
    ],
)
async def test_a_cidr_with_host_bits_is_taken_as_its_network(
    client: httpx.AsyncClient, given: str, stored: str, gateway: str
) -> None:
    net = await make(client, "networks", "network", {"name": "n"})
    version = 6 if ":" in given else 4
    sub = await make(
        client,
        "subnets",
        "subnet",
        {"network_id": net["id"], "cidr": given, "ip_version": version},
    )
    assert sub["cidr"] == stored and sub["gateway_ip"] == gateway
    bare = await client.post(
        f"{V2}/subnets",
        json={"subnet": {"network_id": net["id"], "cidr": "10.98.0.0", "ip_version": 4}},
        headers=MEMBER,
    )
    assert bare.status_code == 400  # no prefix length: not a subnet, as Neutron says


async def test_a_routers_tags_are_replaced_with_put(client: httpx.AsyncClient) -> None:
    router = await make(client, "routers", "router", {"name": "r"})
    url = f"{V2}/routers/{router['id']}/tags"
    put = await client.put(url, json={"tags": ["b", "a"]}, headers=MEMBER)
    assert put.status_code == 200, put.text
    assert sorted(put.json()["tags"]) == ["a", "b"]
    shown = (await client.get(f"{V2}/routers/{router['id']}", headers=MEMBER)).json()["router"]
    assert sorted(shown["tags"]) == ["a", "b"] and shown["revision_number"] == 1
    one = await client.put(f"{url}/c", headers=MEMBER)
    assert one.status_code == 201
    assert (await client.delete(url, headers=MEMBER)).status_code == 204
    missing = await client.put(f"{V2}/routers/nope/tags", json={"tags": []}, headers=MEMBER)
    assert missing.status_code == 404 and error(missing)["type"] == "RouterNotFound"


@pytest.mark.fake_pods
async def test_a_floating_ip_shows_its_ports_details(
    client: httpx.AsyncClient, pods: object
) -> None:
    ext_id, _ = await external(client)
    net = await make(client, "networks", "network", {"name": "n"})
    sub = await make(client, "subnets", "subnet", {"network_id": net["id"], "cidr": "10.5.0.0/24"})
    router = await make(
        client, "routers", "router", {"name": "r", "external_gateway_info": {"network_id": ext_id}}
    )
    added = await client.put(
        f"{V2}/routers/{router['id']}/add_router_interface",
        json={"subnet_id": sub["id"]},
        headers=MEMBER,
    )
    assert added.status_code == 200, added.text
    vm = await make(
        client, "ports", "port", {"network_id": net["id"], "name": "vm", "device_id": "d1"}
    )
    free = await make(client, "floatingips", "floatingip", {"floating_network_id": ext_id})
    assert free["port_details"] is None
    fip = await make(
        client, "floatingips", "floatingip", {"floating_network_id": ext_id, "port_id": vm["id"]}
    )
    details = {
        "name": "vm",
        "network_id": net["id"],
        "mac_address": vm["mac_address"],
        "admin_state_up": True,
        "status": "DOWN",
        "device_id": "d1",
        "device_owner": "",
    }
    assert fip["port_details"] == details
    await client.put(f"{V2}/ports/{vm['id']}", json={"port": {"name": "web"}}, headers=MEMBER)
    listed = (await client.get(f"{V2}/floatingips", headers=MEMBER)).json()["floatingips"]
    by_id = {f["id"]: f for f in listed}
    assert by_id[fip["id"]]["port_details"] == {**details, "name": "web"}
    assert by_id[free["id"]]["port_details"] is None


# --- item 3: a router's gateway leaves nothing behind -------------------------------------


async def _gateway_ports(client: httpx.AsyncClient, network_id: str) -> list[dict[str, Any]]:
    answer = await client.get(
        f"{V2}/ports",
        params={"network_id": network_id, "device_owner": "network:router_gateway"},
        headers=ADMIN,
    )
    assert answer.status_code == 200, answer.text
    ports: list[dict[str, Any]] = answer.json()["ports"]
    return ports


@pytest.mark.fake_pods
async def test_a_routers_gateway_is_a_port_that_goes_with_the_gateway(
    client: httpx.AsyncClient, pods: object
) -> None:
    ext_id, ext_sub = await external(client)
    router = await make(
        client, "routers", "router", {"name": "r", "external_gateway_info": {"network_id": ext_id}}
    )
    url = f"{V2}/routers/{router['id']}"
    address = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    [port] = await _gateway_ports(client, ext_id)
    assert port["device_id"] == router["id"] and port["project_id"] == ""
    assert port["fixed_ips"] == [{"subnet_id": ext_sub, "ip_address": address}]
    # a tenant sees no gateway port (it is no project's), nor may anyone delete it
    mine = (await client.get(f"{V2}/ports", headers=MEMBER)).json()["ports"]
    assert port["id"] not in {p["id"] for p in mine}
    refused = await client.delete(f"{V2}/ports/{port['id']}", headers=ADMIN)
    assert refused.status_code == 409 and error(refused)["type"] == "ServicePortInUse"
    # reset without SNAT: one gateway port still, at the same address
    reset = await client.put(
        url,
        json={"router": {"external_gateway_info": {"network_id": ext_id, "enable_snat": False}}},
        headers=ADMIN,
    )
    assert reset.status_code == 200, reset.text
    assert reset.json()["router"]["external_gateway_info"]["enable_snat"] is False
    [again] = await _gateway_ports(client, ext_id)
    assert again["fixed_ips"][0]["ip_address"] == address
    # the network is in use while the gateway is on it, as in Neutron
    busy = await client.delete(f"{V2}/networks/{ext_id}", headers=ADMIN)
    assert busy.status_code == 409 and error(busy)["type"] == "NetworkInUse"
    # unset: no port, and the address is free again (a router may take it at once)
    unset = await client.put(url, json={"router": {"external_gateway_info": {}}}, headers=MEMBER)
    assert unset.status_code == 200 and unset.json()["router"]["external_gateway_info"] is None
    assert await _gateway_ports(client, ext_id) == []
    fixed = {"network_id": ext_id, "external_fixed_ips": [{"ip_address": address}]}
    other = await make(client, "routers", "router", {"external_gateway_info": fixed}, ADMIN)
    assert other["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == address
    # the router's delete takes its gateway port and address with it
    assert (await client.delete(f"{V2}/routers/{other['id']}", headers=ADMIN)).status_code == 204
    assert await _gateway_ports(client, ext_id) == []
    third = await make(client, "routers", "router", {"external_gateway_info": fixed}, ADMIN)
    assert third["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == address


@pytest.mark.fake_pods
async def test_an_external_networks_delete_takes_its_free_floating_ips(
    client: httpx.AsyncClient, pods: object
) -> None:
    ext_id, sub_id = await external(client)
    fip = await make(client, "floatingips", "floatingip", {"floating_network_id": ext_id}, ADMIN)
    assert (await client.delete(f"{V2}/networks/{ext_id}", headers=ADMIN)).status_code == 204
    listed = (await client.get(f"{V2}/floatingips", headers=ADMIN)).json()["floatingips"]
    assert fip["id"] not in {f["id"] for f in listed}
    gone = await client.get(f"{V2}/subnets/{sub_id}", headers=ADMIN)
    assert gone.status_code == 404
