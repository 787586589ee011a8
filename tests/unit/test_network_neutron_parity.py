"""The top's Networking API behaves as Neutron does where tempest found it did not:
the same status, error type and message for the same request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cascade.db.models import NetSegment
from cascade.services.network import ipam, segments
from tests.unit.fakenova import FakeCloud

MEMBER = {"X-Auth-Token": "member-token"}
ADMIN = {"X-Auth-Token": "admin-token"}
V2 = "/networking/v2.0"
RULES = f"{V2}/security-group-rules"


async def make(
    client: httpx.AsyncClient, path: str, kind: str, body: dict[str, Any], headers: Any = MEMBER
) -> dict[str, Any]:
    """The object made by a POST of `body` to `path` (201)."""
    answer = await client.post(f"{V2}/{path}", json={kind: body}, headers=headers)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()[kind]
    return made


def error(answer: httpx.Response) -> dict[str, str]:
    body: dict[str, dict[str, str]] = answer.json()
    return body["NeutronError"]


async def group(client: httpx.AsyncClient, name: str = "web") -> dict[str, Any]:
    return await make(client, "security-groups", "security_group", {"name": name})


async def rule(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body.setdefault("direction", "ingress")
    return await client.post(RULES, json={"security_group_rule": body}, headers=MEMBER)


# --- security groups (tempest test_security_groups_negative) ---------------------------


@pytest.mark.parametrize(
    ("low", "high", "type_name", "message"),
    [
        (-16, 80, "SecurityGroupInvalidPortValue", "Invalid value for port -16"),
        (
            80,
            79,
            "SecurityGroupInvalidPortRange",
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
        ),
        (80, 65536, "SecurityGroupInvalidPortValue", "Invalid value for port 65536"),
        (
            None,
            6,
            "SecurityGroupInvalidPortRange",
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
        ),
        (6, None, "SecurityGroupInvalidPortRange", None),
        (0, 80, "SecurityGroupInvalidPortValue", "Invalid value for port 0"),
    ],
)
async def test_tcp_port_ranges_are_checked_as_neutron_does(
    client: httpx.AsyncClient, low: int | None, high: int | None, type_name: str, message: str
) -> None:
    web = await group(client)
    answer = await rule(
        client,
        security_group_id=web["id"],
        protocol="tcp",
        port_range_min=low,
        port_range_max=high,
    )
    assert answer.status_code == 400, answer.text
    assert error(answer)["type"] == type_name
    if message is not None:
        assert error(answer)["message"] == message
    rules = (await client.get(f"{RULES}?security_group_id={web['id']}", headers=MEMBER)).json()
    assert len(rules["security_group_rules"]) == 2  # only the two egress rules


@pytest.mark.parametrize(
    ("low", "high", "type_name", "message"),
    [
        (
            1,
            256,
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP code (port_range_max) 256. It must be 0 to 255.",
        ),
        (-1, 25, "SecurityGroupInvalidPortValue", "Invalid value for port -1"),
        (
            None,
            6,
            "SecurityGroupMissingIcmpType",
            "ICMP code (port-range-max) 6 is provided but ICMP type (port-range-min) is missing.",
        ),
        (
            300,
            1,
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255.",
        ),
    ],
)
async def test_icmp_type_and_code_are_checked_as_neutron_does(
    client: httpx.AsyncClient, low: int | None, high: int | None, type_name: str, message: str
) -> None:
    web = await group(client)
    for ethertype in ("IPv4", "IPv6"):
        answer = await rule(
            client,
            security_group_id=web["id"],
            protocol="icmp",
            ethertype=ethertype,
            port_range_min=low,
            port_range_max=high,
        )
        assert answer.status_code == 400, answer.text
        assert error(answer) == {"type": type_name, "message": message, "detail": ""}


async def test_rules_are_made_canonical_as_neutron_makes_them(client: httpx.AsyncClient) -> None:
    web = await group(client)
    whole = await rule(
        client, security_group_id=web["id"], protocol="TCP", port_range_min=1, port_range_max=65535
    )
    made = whole.json()["security_group_rule"]
    assert (made["protocol"], made["port_range_min"], made["port_range_max"]) == (
        "tcp",
        None,
        None,
    )
    legacy = await rule(client, security_group_id=web["id"], protocol="icmp", ethertype="ipv6")
    assert legacy.json()["security_group_rule"]["protocol"] == "ipv6-icmp"
    assert legacy.json()["security_group_rule"]["ethertype"] == "IPv6"
    host = await rule(client, security_group_id=web["id"], remote_ip_prefix="10.0.0.5")
    shown = host.json()["security_group_rule"]
    assert (shown["remote_ip_prefix"], shown["normalized_cidr"]) == ("10.0.0.5/32", "10.0.0.5/32")
    wide = await rule(client, security_group_id=web["id"], remote_ip_prefix="10.1.2.3/8")
    shown = wide.json()["security_group_rule"]
    assert (shown["remote_ip_prefix"], shown["normalized_cidr"]) == ("10.1.2.3/8", "10.0.0.0/8")
    # a protocol by number is the same rule as by name
    first = await rule(
        client, security_group_id=web["id"], protocol="udp", port_range_min=53, port_range_max=53
    )
    assert first.status_code == 201
    again = await rule(
        client, security_group_id=web["id"], protocol="17", port_range_min=53, port_range_max=53
    )
    assert again.status_code == 409 and error(again)["type"] == "SecurityGroupRuleExists"


@pytest.mark.parametrize(
    ("body", "status", "type_name", "message"),
    [
        (
            {"protocol": "tcp", "port_range_min": 80},
            400,
            "SecurityGroupInvalidPortRange",
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
        ),
        (
            {"port_range_min": 80, "port_range_max": 80},
            400,
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given.",
        ),
        (
            {"protocol": "gre", "port_range_min": 80, "port_range_max": 80},
            400,
            "SecurityGroupInvalidProtocolForPort",
            "Ports cannot be specified for protocol 47. Ports are only supported for "
            "DCCP, SCTP, TCP, UDP, UDPLITE.",
        ),
        (
            {"protocol": "ipv6-icmp", "ethertype": "IPv4"},
            400,
            "SecurityGroupEthertypeConflictWithProtocol",
            "Invalid ethertype IPv4 for protocol ipv6-icmp.",
        ),
        (
            {"ethertype": "IPv5"},
            400,
            "SecurityGroupRuleInvalidEtherType",
            "Security group rule for ethertype 'IPv5' not supported. Allowed values are "
            "['IPv4', 'IPv6'].",
        ),
        (
            {"remote_ip_prefix": "10.0.0.0/33"},
            400,
            "InvalidCIDR",
            "Invalid CIDR 10.0.0.0/33 given as IP prefix.",
        ),
        (
            {"remote_ip_prefix": "::/0"},
            400,
            "SecurityGroupRuleParameterConflict",
            "Conflicting value ethertype IPv4 for CIDR ::/0",
        ),
        (
            {"direction": "sideways"},
            400,
            "HTTPBadRequest",
            "Invalid input for direction. Reason: sideways is not in valid_values.",
        ),
    ],
)
async def test_bad_rules_get_neutrons_error(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, type_name: str, message: str
) -> None:
    web = await group(client)
    answer = await rule(client, security_group_id=web["id"], **body)
    assert answer.status_code == status, answer.text
    assert error(answer) == {"type": type_name, "message": message, "detail": ""}


async def test_no_group_may_be_named_default(client: httpx.AsyncClient) -> None:
    web = await group(client)
    url = f"{V2}/security-groups/{web['id']}"
    for name in ("default", "Default"):
        renamed = await client.put(url, json={"security_group": {"name": name}}, headers=MEMBER)
        assert renamed.status_code == 409, renamed.text
        assert error(renamed) == {
            "type": "SecurityGroupDefaultAlreadyExists",
            "message": "Default security group already exists.",
            "detail": "",
        }
        made = await client.post(
            f"{V2}/security-groups", json={"security_group": {"name": name}}, headers=MEMBER
        )
        assert made.status_code == 409
        assert error(made)["type"] == "SecurityGroupDefaultAlreadyExists"
    shown = (await client.get(url, headers=MEMBER)).json()["security_group"]
    assert shown["name"] == "web" and shown["revision_number"] == web["revision_number"]
    groups = (await client.get(f"{V2}/security-groups", headers=MEMBER)).json()
    default = next(g for g in groups["security_groups"] if g["name"] == "default")
    renamed = await client.put(
        f"{V2}/security-groups/{default['id']}",
        json={"security_group": {"name": "other"}},
        headers=MEMBER,
    )
    assert renamed.status_code == 409
    assert error(renamed)["type"] == "SecurityGroupCannotUpdateDefault"
    described = await client.put(
        f"{V2}/security-groups/{default['id']}",
        json={"security_group": {"description": "mine"}},
        headers=MEMBER,
    )
    assert described.status_code == 200


async def test_a_missing_group_is_named_as_neutron_names_it(client: httpx.AsyncClient) -> None:
    missing = "6f1ac4a3-1f5c-4ec6-a3a1-4d7bb0ad2a55"
    answer = await client.get(f"{V2}/security-groups/{missing}", headers=MEMBER)
    assert answer.status_code == 404
    assert error(answer) == {
        "type": "SecurityGroupNotFound",
        "message": f"Security group {missing} does not exist",
        "detail": "",
    }


# --- subnets: IPv6 address modes (tempest test_dhcp_ipv6, test_networks) -----------------


async def subnet(client: httpx.AsyncClient, network_id: str, **body: Any) -> httpx.Response:
    payload = {"network_id": network_id, "ip_version": 6, "cidr": "2001:db8::/64", **body}
    return await client.post(f"{V2}/subnets", json={"subnet": payload}, headers=MEMBER)


@pytest.mark.parametrize(
    ("ra_mode", "address_mode"),
    [
        ("dhcpv6-stateless", "dhcpv6-stateful"),
        ("dhcpv6-stateless", "slaac"),
        ("slaac", "dhcpv6-stateful"),
        ("dhcpv6-stateful", "dhcpv6-stateless"),
        ("dhcpv6-stateful", "slaac"),
        ("slaac", "dhcpv6-stateless"),
    ],
)
async def test_different_ipv6_modes_are_refused(
    client: httpx.AsyncClient, ra_mode: str, address_mode: str
) -> None:
    net = await make(client, "networks", "network", {"name": "v6"})
    answer = await subnet(client, net["id"], ipv6_ra_mode=ra_mode, ipv6_address_mode=address_mode)
    assert answer.status_code == 400
    assert error(answer) == {
        "type": "InvalidInput",
        "message": (
            f"Invalid input for operation: ipv6_ra_mode set to '{ra_mode}' with "
            f"ipv6_address_mode set to '{address_mode}' is not valid. If both attributes "
            "are set, they must be the same value."
        ),
        "detail": "",
    }
    listed = await client.get(f"{V2}/subnets?network_id={net['id']}", headers=MEMBER)
    assert listed.json()["subnets"] == []


async def test_other_ipv6_mode_rules_of_neutron(client: httpx.AsyncClient) -> None:
    net = await make(client, "networks", "network", {"name": "v6"})
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"ipv6_address_mode": "slaac", "cidr": "2001:db8::/80"},
            "Invalid CIDR 2001:db8::/80 for IPv6 address mode. OpenStack uses the EUI-64 "
            "address format, which requires the prefix to be /64",
        ),
        (
            {"ipv6_ra_mode": "slaac", "enable_dhcp": False},
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False",
        ),
        (
            {"ip_version": 4, "cidr": "10.0.0.0/24", "ipv6_address_mode": "slaac"},
            "ipv6_address_mode is not valid when ip_version is 4",
        ),
        (
            {"ip_version": 4, "cidr": "10.0.0.0/24", "ipv6_ra_mode": "slaac"},
            "ipv6_ra_mode is not valid when ip_version is 4",
        ),
    ]
    for body, message in cases:
        answer = await subnet(client, net["id"], **body)
        assert answer.status_code == 400, body
        assert error(answer)["message"] == f"Invalid input for operation: {message}."
    bogus = await subnet(client, net["id"], ipv6_ra_mode="radvd")
    assert bogus.status_code == 400
    assert error(bogus)["message"] == (
        "Invalid input for ipv6_ra_mode. Reason: radvd is not in valid_values."
    )
    stateful = await subnet(client, net["id"], ipv6_address_mode="dhcpv6-stateful")
    assert stateful.status_code == 201
    made = await subnet(
        client, net["id"], cidr="2001:db8:1::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac"
    )
    assert made.status_code == 201
    url = f"{V2}/subnets/{made.json()['subnet']['id']}"
    off = await client.put(url, json={"subnet": {"enable_dhcp": False}}, headers=MEMBER)
    assert off.status_code == 400
    assert error(off)["message"] == (
        "Invalid input for operation: Cannot disable enable_dhcp with ipv6 attributes set."
    )


async def test_a_small_subnet_needs_dhcp_off(client: httpx.AsyncClient) -> None:
    net = await make(client, "networks", "network", {"name": "tiny"})
    body = {"network_id": net["id"], "ip_version": 4, "cidr": "10.9.0.0/31"}
    refused = await client.post(f"{V2}/subnets", json={"subnet": body}, headers=MEMBER)
    assert refused.status_code == 400
    assert error(refused)["message"] == (
        "Invalid input for operation: Subnet has a prefix length that is incompatible with "
        "DHCP service enabled."
    )
    body["enable_dhcp"] = False
    made = await client.post(f"{V2}/subnets", json={"subnet": body}, headers=MEMBER)
    assert made.status_code == 201, made.text


@pytest.mark.parametrize("mode", ["slaac", "dhcpv6-stateless"])
async def test_an_automatic_ipv6_subnet_goes_with_its_ports_addresses(
    client: httpx.AsyncClient, mode: str
) -> None:
    net = await make(client, "networks", "network", {"name": "auto"})
    made = await subnet(client, net["id"], ipv6_ra_mode=mode, ipv6_address_mode=mode)
    sub = made.json()["subnet"]
    port = await make(client, "ports", "port", {"network_id": net["id"]})
    assert [ip["subnet_id"] for ip in port["fixed_ips"]] == [sub["id"]]
    gone = await client.delete(f"{V2}/subnets/{sub['id']}", headers=MEMBER)
    assert gone.status_code == 204, gone.text
    listed = (await client.get(f"{V2}/subnets", headers=MEMBER)).json()["subnets"]
    assert sub["id"] not in [s["id"] for s in listed]
    shown = (await client.get(f"{V2}/ports/{port['id']}", headers=MEMBER)).json()["port"]
    assert shown["fixed_ips"] == []
    assert shown["revision_number"] > port["revision_number"]
    busy = await client.delete(f"{V2}/networks/{net['id']}", headers=MEMBER)
    assert busy.status_code == 409
    assert "There are one or more ports still in use on the network" in error(busy)["message"]
    # the address is free again: a new subnet with the same prefix hands it out
    again = await subnet(client, net["id"])
    assert again.status_code == 201


async def test_a_stateful_subnet_with_a_port_stays(client: httpx.AsyncClient) -> None:
    net = await make(client, "networks", "network", {"name": "stateful"})
    made = await subnet(client, net["id"], ipv6_address_mode="dhcpv6-stateful")
    sub = made.json()["subnet"]
    await make(client, "ports", "port", {"network_id": net["id"]})
    busy = await client.delete(f"{V2}/subnets/{sub['id']}", headers=MEMBER)
    assert busy.status_code == 409 and error(busy)["type"] == "SubnetInUse"


async def test_a_router_interface_keeps_an_automatic_subnet(client: httpx.AsyncClient) -> None:
    net = await make(client, "networks", "network", {"name": "routed"})
    made = await subnet(client, net["id"], ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    sub = made.json()["subnet"]
    await make(
        client,
        "ports",
        "port",
        {
            "network_id": net["id"],
            "device_owner": "network:router_interface",
            "fixed_ips": [{"subnet_id": sub["id"]}],
        },
    )
    busy = await client.delete(f"{V2}/subnets/{sub['id']}", headers=MEMBER)
    assert busy.status_code == 409 and error(busy)["type"] == "SubnetInUse"


# --- IPAM: EUI-64 addresses as Neutron computes them ------------------------------------


def test_eui64_addresses_match_oslo() -> None:
    # oslo_utils.netutils.get_ipv6_addr_by_EUI64('2001:db8::/64', 'fa:16:3e:12:34:56')
    assert ipam.eui64("2001:db8::/64", "fa:16:3e:12:34:56") == "2001:db8::f816:3eff:fe12:3456"
    assert ipam.eui64("2001:db8:0:1::/64", "00:00:5e:00:53:01") == "2001:db8:0:1:200:5eff:fe00:5301"
    with pytest.raises(ValueError):
        ipam.eui64("10.0.0.0/24", "fa:16:3e:12:34:56")
    assert ipam.is_auto_address({"ipv6_ra_mode": "slaac", "ipv6_address_mode": None})
    assert ipam.is_auto_address({"ipv6_address_mode": "dhcpv6-stateless"})
    assert not ipam.is_auto_address({"ipv6_address_mode": "dhcpv6-stateful"})


async def test_ipam_gives_an_automatic_subnet_the_macs_eui64_address(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    net = await make(client, "networks", "network", {"name": "eui"})
    slaac = await subnet(client, net["id"], ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    stateful = await subnet(
        client, net["id"], cidr="2001:db8:1::/64", ipv6_address_mode="dhcpv6-stateful"
    )
    mac = "fa:16:3e:12:34:56"
    async with app.state.sessions() as db:
        auto = await ipam.allocate(db, net["id"], slaac.json()["subnet"], "port-a", mac=mac)
        pooled = await ipam.allocate(db, net["id"], stateful.json()["subnet"], "port-a", mac=mac)
        await db.commit()
    assert auto == "2001:db8::f816:3eff:fe12:3456"
    assert pooled == "2001:db8:1::2"  # a stateful subnet hands out its pools in order


@pytest.mark.parametrize("auto_first", [True, False])
async def test_a_port_gets_its_eui64_address_on_every_automatic_subnet(
    client: httpx.AsyncClient, auto_first: bool
) -> None:
    # tempest test_dhcp_ipv6 test_dhcpv6_two_subnets / test_dhcpv6_64_subnets
    net = await make(client, "networks", "network", {"name": "two"})
    auto_kw = {"cidr": "2001:db8::/64", "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}
    stateful_kw = {"cidr": "2001:db8:1::/64", "ipv6_address_mode": "dhcpv6-stateful"}
    order = [auto_kw, stateful_kw] if auto_first else [stateful_kw, auto_kw]
    made = [(await subnet(client, net["id"], **kw)).json()["subnet"] for kw in order]
    v4 = (await subnet(client, net["id"], cidr="10.9.0.0/24", ip_version=4)).json()["subnet"]
    auto, stateful = made if auto_first else made[::-1]
    mac = "fa:16:3e:12:34:56"
    port = await make(client, "ports", "port", {"network_id": net["id"], "mac_address": mac})
    ips = {ip["subnet_id"]: ip["ip_address"] for ip in port["fixed_ips"]}
    assert ips == {
        auto["id"]: "2001:db8::f816:3eff:fe12:3456",
        stateful["id"]: "2001:db8:1::2",
        v4["id"]: "10.9.0.2",
    }
    # a router interface gets no automatic address
    router_port = await make(
        client,
        "ports",
        "port",
        {"network_id": net["id"], "device_owner": "network:router_interface"},
    )
    assert auto["id"] not in {ip["subnet_id"] for ip in router_port["fixed_ips"]}


async def test_an_automatic_subnet_takes_only_the_eui64_address(
    client: httpx.AsyncClient,
) -> None:
    net = await make(client, "networks", "network", {"name": "fixed"})
    auto = await subnet(client, net["id"], ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    auto_id = auto.json()["subnet"]["id"]
    v4 = (await subnet(client, net["id"], cidr="10.9.0.0/24", ip_version=4)).json()["subnet"]
    mac = "fa:16:3e:12:34:56"
    other = {"subnet_id": auto_id, "ip_address": "2001:db8::5"}
    refused = await client.post(
        f"{V2}/ports",
        json={"port": {"network_id": net["id"], "mac_address": mac, "fixed_ips": [other]}},
        headers=MEMBER,
    )
    assert refused.status_code == 400, refused.text
    assert error(refused)["type"] == "AllocationOnAutoAddressSubnet"
    assert error(refused)["message"] == (
        f"IPv6 address 2001:db8::5 cannot be directly assigned to a port on subnet "
        f"{auto_id} as the subnet is configured for automatic addresses"
    )
    # asking for an IPv4 subnet alone still brings the automatic address
    port = await make(
        client,
        "ports",
        "port",
        {"network_id": net["id"], "mac_address": mac, "fixed_ips": [{"subnet_id": v4["id"]}]},
    )
    assert {ip["ip_address"] for ip in port["fixed_ips"]} == {
        "10.9.0.2",
        "2001:db8::f816:3eff:fe12:3456",
    }


async def test_a_deleted_ports_mac_and_address_are_free_at_once(
    client: httpx.AsyncClient,
) -> None:
    # tempest test_ports test_create_show_delete_port_user_defined_mac: no pod ever had
    # the port, so nothing waits for a pod before its MAC and address are handed out again
    net = await make(client, "networks", "network", {"name": "again"})
    await subnet(client, net["id"], cidr="10.8.0.0/24", ip_version=4)
    old = await make(client, "ports", "port", {"network_id": net["id"]})
    gone = await client.delete(f"{V2}/ports/{old['id']}", headers=MEMBER)
    assert gone.status_code == 204
    body = {
        "network_id": net["id"],
        "mac_address": old["mac_address"],
        "fixed_ips": old["fixed_ips"],
    }
    new = await make(client, "ports", "port", body)
    assert new["mac_address"] == old["mac_address"]
    assert new["fixed_ips"] == old["fixed_ips"]


# --- routers: extension dvr (tempest test_routers_negative.DvrRoutersNegativeTest) ------


async def test_only_admins_set_and_see_distributed_and_ha(client: httpx.AsyncClient) -> None:
    # issue 12: the pods list dvr and l3-ha, so the top serves both attributes as Neutron
    # does for an admin (a top fact; the pods' routers stay centralised)
    routers = f"{V2}/routers"
    tenant = await client.post(
        routers, json={"router": {"name": "r", "distributed": True}}, headers=MEMBER
    )
    assert tenant.status_code == 403, tenant.text
    assert error(tenant)["type"] == "PolicyNotAuthorized"
    made = await client.post(
        routers, json={"router": {"name": "r", "distributed": True}}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    assert made.json()["router"]["distributed"] is True and made.json()["router"]["ha"] is False
    down = await client.post(
        routers,
        json={
            "router": {
                "name": "d",
                "distributed": False,
                "ha": False,
                "admin_state_up": False,
                "project_id": "p1",
            }
        },
        headers=ADMIN,
    )
    assert down.status_code == 201, down.text
    router = down.json()["router"]
    url = f"{routers}/{router['id']}"
    migrated = await client.put(url, json={"router": {"distributed": True}}, headers=ADMIN)
    assert migrated.status_code == 200 and migrated.json()["router"]["distributed"] is True
    assert (await client.get(url, headers=ADMIN)).json()["router"]["distributed"] is True
    mine = (await client.get(url, headers=MEMBER)).json()["router"]
    assert "distributed" not in mine and "ha" not in mine  # get_router:distributed: admins
    await client.put(url, json={"router": {"admin_state_up": True}}, headers=ADMIN)
    active = await client.put(url, json={"router": {"distributed": False}}, headers=ADMIN)
    assert active.status_code == 400, active.text
    assert "admin_state_up to False" in error(active)["message"]
    listed = (await client.get(routers, headers=ADMIN)).json()["routers"]
    assert sorted(r["name"] for r in listed) == ["d", "r"]


# --- routers: extension extraroute (tempest test_routers test_update_delete_extra_route)


async def test_extra_routes_need_a_connected_nexthop(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    router = await make(client, "routers", "router", {"name": "r"})
    url = f"{V2}/routers/{router['id']}"
    net = await make(client, "networks", "network", {"name": "n"})
    sub = (await subnet(client, net["id"], cidr="10.7.0.0/24", ip_version=4)).json()["subnet"]
    added = await client.put(
        f"{url}/add_router_interface", json={"subnet_id": sub["id"]}, headers=MEMBER
    )
    assert added.status_code == 200, added.text
    routes = [{"destination": "10.50.0.0/24", "nexthop": "10.7.0.5"}]
    done = await client.put(url, json={"router": {"routes": routes}}, headers=MEMBER)
    assert done.status_code == 200, done.text
    assert done.json()["router"]["routes"] == routes
    shown = (await client.get(url, headers=MEMBER)).json()["router"]
    assert shown["routes"] == routes
    far = [{"destination": "10.50.0.0/24", "nexthop": "10.9.0.5"}]
    refused = await client.put(url, json={"router": {"routes": far}}, headers=MEMBER)
    assert refused.status_code == 400 and error(refused)["type"] == "InvalidRoutes"
    assert "the nexthop is not connected with router" in error(refused)["message"]
    own = [{"destination": "10.50.0.0/24", "nexthop": "10.7.0.1"}]
    refused = await client.put(url, json={"router": {"routes": own}}, headers=MEMBER)
    assert "the nexthop is used by router" in error(refused)["message"]
    bad = await client.put(url, json={"router": {"routes": [{"nexthop": "x"}]}}, headers=MEMBER)
    assert bad.status_code == 400
    # the interface the route needs stays while the route does
    busy = await client.put(
        f"{url}/remove_router_interface", json={"subnet_id": sub["id"]}, headers=MEMBER
    )
    assert busy.status_code == 409 and error(busy)["type"] == "RouterInterfaceInUseByRoute"
    cleared = await client.put(url, json={"router": {"routes": []}}, headers=MEMBER)
    assert cleared.json()["router"]["routes"] == []
    gone = await client.put(
        f"{url}/remove_router_interface", json={"subnet_id": sub["id"]}, headers=MEMBER
    )
    assert gone.status_code == 200, gone.text
    on_post = await client.post(
        f"{V2}/routers", json={"router": {"routes": routes}}, headers=MEMBER
    )
    assert on_post.status_code == 400


# --- subnets of external networks (extension subnet-external-network) -------------------


async def test_a_subnet_shows_its_networks_router_external_as_it_is_now(
    client: httpx.AsyncClient,
) -> None:
    exts = (await client.get(f"{V2}/extensions", headers=MEMBER)).json()["extensions"]
    assert "subnet-external-network" in {e["alias"] for e in exts}
    answer = await client.post(
        f"{V2}/networks", json={"network": {"name": "public"}}, headers=ADMIN
    )
    net = answer.json()["network"]
    body = {"network_id": net["id"], "ip_version": 4, "cidr": "172.24.4.0/24"}
    made = await client.post(f"{V2}/subnets", json={"subnet": body}, headers=ADMIN)
    sub = made.json()["subnet"]
    assert sub["router:external"] is False
    other = {"X-Auth-Token": "other-token"}
    hidden = await client.get(f"{V2}/subnets/{sub['id']}", headers=other)
    assert hidden.status_code == 404
    await client.put(
        f"{V2}/networks/{net['id']}", json={"network": {"router:external": True}}, headers=ADMIN
    )
    shown = await client.get(f"{V2}/subnets/{sub['id']}", headers=other)
    assert shown.status_code == 200 and shown.json()["subnet"]["router:external"] is True
    listed = await client.get(f"{V2}/subnets?router:external=True", headers=other)
    assert [s["id"] for s in listed.json()["subnets"]] == [sub["id"]]
    assert (await client.get(f"{V2}/subnets?router:external=False", headers=other)).json()[
        "subnets"
    ] == []


async def test_an_admins_list_makes_the_listed_projects_default_group(
    client: httpx.AsyncClient,
) -> None:
    # tempest's project clean-up: GET ?project_id=<project>&name=default, then DELETE
    url = f"{V2}/security-groups?project_id=p2&name=default"
    nosy = await client.get(url, headers=MEMBER)
    assert nosy.status_code == 200 and nosy.json()["security_groups"] == []
    listed = (await client.get(url, headers=ADMIN)).json()["security_groups"]
    assert [(g["name"], g["project_id"]) for g in listed] == [("default", "p2")]
    assert len(listed[0]["security_group_rules"]) == 4
    again = (await client.get(url, headers=ADMIN)).json()["security_groups"]
    assert [g["id"] for g in again] == [listed[0]["id"]]  # made once
    gone = await client.delete(f"{V2}/security-groups/{listed[0]['id']}", headers=ADMIN)
    assert gone.status_code == 204
    mine = (await client.get(f"{V2}/security-groups", headers=MEMBER)).json()
    assert [(g["name"], g["project_id"]) for g in mine["security_groups"]] == [("default", "p1")]


# --- networks: a VLAN id lost to a concurrent create is not the client's error ---------


async def test_a_create_that_loses_its_vlan_to_a_concurrent_one_takes_the_next(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = segments.allocate
    raced: list[int] = []

    async def racing(db: Any, conf: Any, network_id: str, wanted: int | None) -> int:
        choice = await real(db, conf, network_id, wanted)
        if not raced:  # another API replica commits the same VLAN id first
            raced.append(choice)
            async with app.state.sessions() as other:
                other.add(
                    NetSegment(
                        physical_network=conf.physical_network,
                        segmentation_id=choice,
                        network_id="6a0f7e4e-0000-4000-8000-000000000001",
                    )
                )
                await other.commit()
        return choice

    monkeypatch.setattr(segments, "allocate", racing)
    made = await client.post(f"{V2}/networks", json={"network": {"name": "n"}}, headers=ADMIN)
    assert made.status_code == 201, made.text
    vlan = made.json()["network"]["provider:segmentation_id"]
    assert raced and vlan != raced[0]
    listed = (await client.get(f"{V2}/networks", headers=ADMIN)).json()["networks"]
    assert [n["id"] for n in listed] == [made.json()["network"]["id"]]
