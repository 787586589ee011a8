"""Networking through Cascade, against the real pods of the devcloud.

A tenant makes a VLAN network at the top and boots servers on it in both AZs;
the pods' admin APIs are used only to check what Cascade built there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.conftest import PODS
from tests.integration.test_cascade_compute import MV, unique, wait_gone, wait_status

pytestmark = pytest.mark.integration
SERVERS = 20


@pytest.fixture(scope="module")
def image(top: dict[str, Connection]) -> str:
    return str(top["cascade"].image.find_image("tiny", ignore_missing=False).id)


def boot(conn: Connection, az: str, image: str, **server: Any) -> tuple[int, dict[str, Any]]:
    body = {
        "server": {
            "name": unique("net-vm"),
            "imageRef": image,
            "flavorRef": "1",
            "availability_zone": az,
            **server,
        }
    }
    resp = conn.compute.post("/servers", json=body, microversion=MV, raise_exc=False)
    return resp.status_code, resp.json()


def eventually(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def bottom_network(pod_admin: Connection, top_id: str) -> Any:
    found = list(pod_admin.network.networks(name=top_id))
    return found[0] if found else None


def rule_present(pod_admin: Connection, group_id: str, rule: tuple[Any, ...]) -> Callable[[], bool]:
    return lambda: rule in bottom_rules(pod_admin, group_id)


def rule_absent(pod_admin: Connection, group_id: str, rule: tuple[Any, ...]) -> Callable[[], bool]:
    return lambda: rule not in bottom_rules(pod_admin, group_id)


def no_ports(conn: Connection, network_id: str) -> Callable[[], bool]:
    return lambda: not list(conn.network.ports(network_id=network_id))


def no_fip(pod_admin: Connection, fip_id: str) -> Callable[[], bool]:
    return lambda: not list(pod_admin.network.ips(description=fip_id))


def network_gone(pod_admin: Connection, top_id: str) -> Callable[[], bool]:
    return lambda: bottom_network(pod_admin, top_id) is None


def bottom_rules(pod_admin: Connection, group_id: str) -> set[tuple[Any, ...]]:
    groups = list(pod_admin.network.security_groups(name=group_id))
    if not groups:
        return set()
    rules = pod_admin.network.security_group_rules(security_group_id=groups[0].id)
    return {(r.direction, r.protocol, r.port_range_min, r.remote_ip_prefix) for r in rules}


def test_servers_in_both_azs_share_one_vlan_network(
    top: dict[str, Connection], conns: dict[str, Connection], image: str
) -> None:
    conn, admin, alt = top["cascade"], top["cascade-admin"], top["cascade-alt"]
    network = conn.network.create_network(name=unique("span"))
    subnet = conn.network.create_subnet(
        network_id=network.id, cidr="10.140.0.0/24", ip_version=4, name="span-sub"
    )
    servers: list[str] = []
    try:

        def one(n: int) -> str:
            status, body = boot(conn, f"az{n % 2 + 1}", image, networks=[{"uuid": network.id}])
            assert status == 202, body
            return str(body["server"]["id"])

        with ThreadPoolExecutor(4) as pool:
            servers = list(pool.map(one, range(SERVERS)))
        shown = [wait_status(conn, s, "ACTIVE") for s in servers]
        assert {s["OS-EXT-AZ:availability_zone"] for s in shown} == {"az1", "az2"}
        # addresses are labelled with the top network's name
        assert all(set(s["addresses"]) == {network.name} for s in shown)

        # one VLAN id, the top's, in both pods
        vlan = admin.network.get_network(network.id).provider_segmentation_id
        for pod in PODS:
            bottom = bottom_network(conns[f"{pod}-admin"], network.id)
            assert bottom is not None and bottom.provider_network_type == "vlan"
            assert bottom.provider_segmentation_id == vlan
            assert bottom.provider_physical_network == "physnet1"

        # every top port is in its pod with the top's IP and MAC; nothing repeats
        top_ports = {p.id: p for p in conn.network.ports(network_id=network.id)}
        assert len(top_ports) == SERVERS
        addresses: list[str] = []
        macs: list[str] = []
        for pod in PODS:
            pod_admin = conns[f"{pod}-admin"]
            bottom = bottom_network(pod_admin, network.id)
            for port in pod_admin.network.ports(network_id=bottom.id):
                addresses += [ip["ip_address"] for ip in port.fixed_ips]
                macs.append(port.mac_address)
                if port.name in top_ports:
                    mine = top_ports[port.name]
                    assert port.mac_address == mine.mac_address
                    assert [ip["ip_address"] for ip in port.fixed_ips] == [
                        ip["ip_address"] for ip in mine.fixed_ips
                    ]
                else:
                    assert port.device_owner == "network:dhcp"  # the pod's reserved port
        assert len(addresses) == len(set(addresses)) == SERVERS + 2
        assert len(macs) == len(set(macs)) == SERVERS + 2
        assert {p.status for p in conn.network.ports(network_id=network.id)} <= {"ACTIVE", "DOWN"}
        eventually(
            lambda: {p.status for p in conn.network.ports(network_id=network.id)} == {"ACTIVE"},
            "top ports to follow their bound bottom ports",
        )

        # a rule added at the top reaches both pods, and goes again
        default = next(conn.network.security_groups(name="default", project_id=network.project_id))
        rule = conn.network.create_security_group_rule(
            security_group_id=default.id,
            direction="ingress",
            protocol="tcp",
            port_range_min=2222,
            port_range_max=2222,
            remote_ip_prefix="192.0.2.0/24",
        )
        wanted = ("ingress", "tcp", 2222, "192.0.2.0/24")
        for pod in PODS:
            pod_admin = conns[f"{pod}-admin"]
            eventually(rule_present(pod_admin, default.id, wanted), f"the rule in {pod}")
        conn.network.delete_security_group_rule(rule.id)
        for pod in PODS:
            pod_admin = conns[f"{pod}-admin"]
            eventually(rule_absent(pod_admin, default.id, wanted), f"the rule gone from {pod}")
        # the default group's remote-group rule became one rule per member address
        member_rules = {
            r
            for r in bottom_rules(conns["pod1-admin"], default.id)
            if r[0] == "ingress" and r[3] and r[3].endswith("/32")
        }
        assert len(member_rules) >= SERVERS

        # the alt_demo user sees none of it
        assert alt.network.find_network(network.id) is None
        assert list(alt.network.ports(network_id=network.id)) == []
        seen = {s["id"] for s in alt.compute.get("/servers", microversion=MV).json()["servers"]}
        assert not seen & set(servers)
    finally:
        for server_id in servers:
            conn.compute.delete(f"/servers/{server_id}", microversion=MV, raise_exc=False)
        for server_id in servers:
            wait_gone(conn, server_id)
        eventually(lambda: not list(conn.network.ports(network_id=network.id)), "top ports")
        conn.network.delete_network(network.id)
    # nothing is left in the pods
    for pod in PODS:
        pod_admin = conns[f"{pod}-admin"]
        eventually(network_gone(pod_admin, network.id), f"the network gone from {pod}")
        assert list(pod_admin.network.subnets(name=subnet.id)) == []
        assert list(pod_admin.network.ports(name=f"dhcp-{subnet.id}")) == []


def test_bad_networks_in_a_server_create_change_nothing(
    top: dict[str, Connection], conns: dict[str, Connection], image: str
) -> None:
    conn = top["cascade"]
    network = conn.network.create_network(name=unique("bad"))
    conn.network.create_subnet(network_id=network.id, cidr="10.141.0.0/24", ip_version=4)
    try:
        before = {pod: len(list(conns[f"{pod}-admin"].network.ports())) for pod in PODS}
        cases = [
            ({"networks": [{"uuid": "8a0a2bd4-1d6a-4d3b-9d63-000000000000"}]}, 400, "could not"),
            ({"networks": [{"port": "8a0a2bd4-1d6a-4d3b-9d63-000000000000"}]}, 400, "could not"),
            (
                {"networks": [{"uuid": network.id}], "security_groups": [{"name": "nope"}]},
                400,
                "nope",
            ),
            ({"networks": [{"uuid": network.id, "fixed_ip": "10.99.0.5"}]}, 400, "10.99.0.5"),
        ]
        for extra, status, text in cases:
            got, body = boot(conn, "az1", image, **extra)
            assert got == status, body
            assert text in str(body)
        assert list(conn.network.ports(network_id=network.id)) == []
        after = {pod: len(list(conns[f"{pod}-admin"].network.ports())) for pod in PODS}
        assert after == before
        assert bottom_network(conns["pod1-admin"], network.id) is None
        # a VLAN id outside the top's range (here: inside the pods' own) is refused
        nets = {pod: len(list(conns[f"{pod}-admin"].network.networks())) for pod in PODS}
        vlan = {
            "network": {
                "name": unique("vlan150"),
                "provider:network_type": "vlan",
                "provider:segmentation_id": 150,
            }
        }
        refused = top["cascade-admin"].network.post("/networks", json=vlan, raise_exc=False)
        assert refused.status_code == 400, refused.text
        assert "outside the VLAN ranges" in refused.json()["NeutronError"]["message"]
        assert {p: len(list(conns[f"{p}-admin"].network.networks())) for p in PODS} == nets
    finally:
        conn.network.delete_network(network.id)


def test_a_local_network_lives_in_one_pod(
    top: dict[str, Connection], conns: dict[str, Connection], image: str
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    project = conn.current_project_id
    network = admin.network.create_network(
        name=unique("local"), project_id=project, provider_network_type="local"
    )
    conn.network.create_subnet(network_id=network.id, cidr="10.142.0.0/24", ip_version=4)
    server = None
    try:
        status, body = boot(conn, "az1", image, networks=[{"uuid": network.id}])
        assert status == 202, body
        server = body["server"]["id"]
        wait_status(conn, server, "ACTIVE")
        status, body = boot(conn, "az2", image, networks=[{"uuid": network.id}])
        assert status == 409, body
        assert "pod1" in body["conflictingRequest"]["message"]
        assert bottom_network(conns["pod2-admin"], network.id) is None
    finally:
        if server:
            conn.compute.delete(f"/servers/{server}", microversion=MV, raise_exc=False)
            wait_gone(conn, server)
        eventually(lambda: not list(conn.network.ports(network_id=network.id)), "top ports")
        conn.network.delete_network(network.id)


def test_a_router_of_one_pod_and_floating_ips_for_both(
    top: dict[str, Connection], conns: dict[str, Connection], image: str
) -> None:
    conn = top["cascade"]
    pod1 = conns["pod1-admin"]
    # the devcloud's top external network `public` is pod1's own, adopted
    external = conn.network.find_network("public", ignore_missing=False)
    assert external.is_router_external
    network = conn.network.create_network(name=unique("routed"))
    subnet = conn.network.create_subnet(network_id=network.id, cidr="10.143.0.0/24", ip_version=4)
    router = conn.network.create_router(
        name=unique("r"), external_gateway_info={"network_id": external.id}
    )
    servers: list[str] = []
    try:
        conn.network.add_interface_to_router(router, subnet=subnet.id)
        gateway = router.external_gateway_info["external_fixed_ips"][0]["ip_address"]
        for az in ("az1", "az2"):
            status, body = boot(conn, az, image, networks=[{"uuid": network.id}])
            assert status == 202, body
            servers.append(body["server"]["id"])
        for server_id in servers:
            wait_status(conn, server_id, "ACTIVE")
        port_a = next(conn.network.ports(device_id=servers[0]))
        port_b = next(conn.network.ports(device_id=servers[1]))
        fip = conn.network.create_ip(floating_network_id=external.id, port_id=port_a.id)
        assert fip.router_id == router.id
        assert fip.fixed_ip_address == port_a.fixed_ips[0]["ip_address"]
        # a server of pod2 on the VLAN: its floating IP is held in pod1 (a shadow port)
        fip_b = conn.network.create_ip(floating_network_id=external.id, port_id=port_b.id)
        assert fip_b.router_id == router.id

        # pod1 has the router (gateway at the top's address, the interface at the subnet's
        # gateway) and the floating IP on the server's bottom port
        def built() -> bool:
            found = list(pod1.network.routers(name=router.id))
            if not found:
                return False
            info = found[0].external_gateway_info or {}
            ips = [f["ip_address"] for f in info.get("external_fixed_ips", [])]
            ifaces = list(
                pod1.network.ports(device_id=found[0].id, device_owner="network:router_interface")
            )
            return ips == [gateway] and [p.fixed_ips[0]["ip_address"] for p in ifaces] == [
                "10.143.0.1"
            ]

        eventually(built, "the router in pod1")
        eventually(
            lambda: (
                [f.floating_ip_address for f in pod1.network.ips(description=fip.id)]
                == [fip.floating_ip_address]
            ),
            "the floating IP in pod1",
        )
        eventually(
            lambda: (
                [f.floating_ip_address for f in pod1.network.ips(description=fip_b.id)]
                == [fip_b.floating_ip_address]
            ),
            "pod2's server's floating IP in pod1",
        )
        assert list(conns["pod2-admin"].network.routers(name=router.id)) == []
        assert not list(conns["pod2-admin"].network.ips(description=fip_b.id))
        for made in (fip, fip_b):
            conn.network.delete_ip(made.id)
            eventually(no_fip(pod1, made.id), "the floating IP gone from pod1")
        eventually(
            lambda: not list(pod1.network.ports(name=f"shadow-{fip_b.id}")), "the shadow port gone"
        )
    finally:
        for server_id in servers:
            conn.compute.delete(f"/servers/{server_id}", microversion=MV, raise_exc=False)
        for server_id in servers:
            wait_gone(conn, server_id)
        conn.network.remove_interface_from_router(router, subnet=subnet.id)
        conn.network.delete_router(router.id)
        eventually(lambda: not list(conn.network.ports(network_id=network.id)), "top ports")
        conn.network.delete_network(network.id)
    eventually(lambda: not list(pod1.network.routers(name=router.id)), "the router gone")
    # the pod's own external network is adopted, never deleted
    assert pod1.network.find_network("public") is not None


def test_interfaces_attach_and_detach_with_top_ids(
    top: dict[str, Connection], conns: dict[str, Connection], image: str
) -> None:
    conn = top["cascade"]
    first = conn.network.create_network(name=unique("if-a"))
    conn.network.create_subnet(network_id=first.id, cidr="10.146.0.0/24", ip_version=4)
    second = conn.network.create_network(name=unique("if-b"))
    sub2 = conn.network.create_subnet(network_id=second.id, cidr="10.147.0.0/24", ip_version=4)
    server = None
    try:
        status, body = boot(conn, "az2", image, networks=[{"uuid": first.id}])
        assert status == 202, body
        server = body["server"]["id"]
        wait_status(conn, server, "ACTIVE")
        url = f"/servers/{server}/os-interface"
        listed = conn.compute.get(url, microversion=MV).json()["interfaceAttachments"]
        top_port = next(conn.network.ports(device_id=server))
        assert [(a["port_id"], a["net_id"]) for a in listed] == [(top_port.id, first.id)]
        attached = conn.compute.post(
            url,
            json={"interfaceAttachment": {"net_id": second.id}},
            microversion=MV,
            raise_exc=False,
        )
        assert attached.status_code == 200, attached.text
        att = attached.json()["interfaceAttachment"]
        assert att["net_id"] == second.id
        assert att["fixed_ips"][0]["subnet_id"] == sub2.id
        new_port = conn.network.get_port(att["port_id"])  # a top port, on the server
        assert new_port.device_id == server
        gone = conn.compute.delete(f"{url}/{new_port.id}", microversion=MV, raise_exc=False)
        assert gone.status_code == 202, gone.text
        eventually(lambda: conn.network.find_port(new_port.id) is None, "the detached port")
        bottom = bottom_network(conns["pod2-admin"], second.id)
        eventually(
            lambda: (
                not list(
                    conns["pod2-admin"].network.ports(
                        network_id=bottom.id, device_owner="compute:nova"
                    )
                )
            ),
            "the pod's port",
        )
    finally:
        if server:
            conn.compute.delete(f"/servers/{server}", microversion=MV, raise_exc=False)
            wait_gone(conn, server)
        for net in (first, second):
            eventually(no_ports(conn, net.id), "ports")
            conn.network.delete_network(net.id)
