"""One tenant router across pods, against the real pods of the devcloud.

A router at the top joins a local network of pod1, a local network of pod2 and
a VLAN network with servers in both; floating IPs of either pod's external
network go to servers of the other. The pods' admin APIs are read to check the
bottom objects against sets this test computes from the design in
docs/network.md (per-pod routers joined by the router's bridge; VLAN interfaces
and the gateway in the gateway's pod; shadow ports for floating IPs of ports in
other pods), and that nothing is left after each removal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.test_cascade_compute import MV, unique, wait_gone, wait_status
from tests.integration.test_cascade_network import boot, eventually, no_ports

pytestmark = pytest.mark.integration
INTERFACE = "network:router_interface"
PODS = ("pod1", "pod2")


@pytest.fixture(scope="module")
def image(top: dict[str, Connection]) -> str:
    return str(top["cascade"].image.find_image("tiny", ignore_missing=False).id)


@dataclass
class World:
    """What the test made at the top (deleted at the end, whatever happened)."""

    conn: Connection
    admin: Connection
    networks: list[str] = field(default_factory=list)
    routers: list[str] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)
    fips: list[str] = field(default_factory=list)

    def network(self, cidr: str, local_pod: str | None = None) -> tuple[Any, Any]:
        conn = self.conn
        if local_pod:  # provider attributes are an admin's
            net = self.admin.network.create_network(
                name=unique("xr-local"),
                project_id=conn.current_project_id,
                provider_network_type="local",
            )
        else:
            net = conn.network.create_network(name=unique("xr-vlan"))
        self.networks.append(net.id)
        subnet = conn.network.create_subnet(network_id=net.id, cidr=cidr, ip_version=4)
        return net, subnet

    def server(self, az: str, image: str, network_id: str) -> tuple[str, Any]:
        status, body = boot(self.conn, az, image, networks=[{"uuid": network_id}])
        assert status == 202, body
        server_id = body["server"]["id"]
        self.servers.append(server_id)
        wait_status(self.conn, server_id, "ACTIVE")
        return server_id, next(self.conn.network.ports(device_id=server_id))

    def cleanup(self) -> None:
        conn = self.conn
        for fip in self.fips:
            conn.network.delete_ip(fip, ignore_missing=True)
        for server_id in self.servers:
            conn.compute.delete(f"/servers/{server_id}", microversion=MV, raise_exc=False)
        for server_id in self.servers:
            wait_gone(conn, server_id)
        for router_id in self.routers:
            for port in list(conn.network.ports(device_id=router_id, device_owner=INTERFACE)):
                conn.network.remove_interface_from_router(router_id, port=port.id)
            conn.network.delete_router(router_id, ignore_missing=True)
        for net_id in self.networks:
            eventually(no_ports(conn, net_id), "ports")
            conn.network.delete_network(net_id, ignore_missing=True)


@pytest.fixture
def world(top: dict[str, Connection]) -> Iterator[World]:
    made = World(top["cascade"], top["cascade-admin"])
    try:
        yield made
    finally:
        made.cleanup()


@dataclass(frozen=True)
class Bottom:
    """A pod's bottom router as its admin API shows it."""

    gateway: tuple[str, ...]  # gateway addresses
    interfaces: frozenset[tuple[str, str]]  # (address, subnet cidr)
    routes: frozenset[tuple[str, str]]  # (destination, nexthop)


def bottom(pod: Connection, router_id: str) -> Bottom | None:
    found = list(pod.network.routers(name=router_id))
    if not found:
        return None
    assert len(found) == 1, f"{len(found)} bottom routers named {router_id}"
    router = found[0]
    info = router.external_gateway_info or {}
    cidrs = {s.id: s.cidr for s in pod.network.subnets()}
    ifaces = frozenset(
        (ip["ip_address"], cidrs[ip["subnet_id"]])
        for port in pod.network.ports(device_id=router.id, device_owner=INTERFACE)
        for ip in port.fixed_ips
    )
    return Bottom(
        tuple(sorted(f["ip_address"] for f in info.get("external_fixed_ips") or [])),
        ifaces,
        frozenset((r["destination"], r["nexthop"]) for r in router.routes or []),
    )


def bridge_ip(pod: Connection, router_id: str) -> str | None:
    found = list(pod.network.ports(name=f"bridge-{router_id}"))
    return found[0].fixed_ips[0]["ip_address"] if found else None


def nothing_left(pod: Connection, router_id: str) -> Callable[[], bool]:
    return lambda: leftovers(pod, router_id) == []


def halves(cidr: str) -> set[str]:
    return {str(n) for n in ipaddress.ip_network(cidr).subnets(prefixlen_diff=1)}


def leftovers(pod: Connection, router_id: str) -> list[str]:
    """What a pod still holds of a router after it is gone at the top."""
    names = [f"bridge-{router_id}"]
    out = [f"router {r.id}" for r in pod.network.routers(name=router_id)]
    out += [f"network {n.name}" for n in pod.network.networks() if n.name in names]
    out += [
        f"port {p.name}"
        for p in pod.network.ports()
        if p.name in names or (p.name or "").startswith("shadow-")
    ]
    return out


def test_one_router_joins_subnets_of_both_pods(
    world: World, conns: dict[str, Connection], image: str
) -> None:
    conn = world.conn
    pod1, pod2 = conns["pod1-admin"], conns["pod2-admin"]
    public = conn.network.find_network("public", ignore_missing=False)
    vlan, vlan_sub = world.network("10.151.0.0/24")
    local1, local1_sub = world.network("10.152.0.0/24", "pod1")
    local2, local2_sub = world.network("10.153.0.0/24", "pod2")
    s1, port1 = world.server("az1", image, local1.id)
    s2, port2 = world.server("az2", image, local2.id)
    sv1, _ = world.server("az1", image, vlan.id)
    sv2, portv2 = world.server("az2", image, vlan.id)
    router = conn.network.create_router(
        name=unique("xr"), external_gateway_info={"network_id": public.id}
    )
    world.routers.append(router.id)
    for sub in (vlan_sub, local1_sub, local2_sub):
        conn.network.add_interface_to_router(router, subnet=sub.id)
    gateway = router.external_gateway_info["external_fixed_ips"][0]["ip_address"]

    eventually(lambda: bool(bridge_ip(pod1, router.id) and bridge_ip(pod2, router.id)), "bridges")
    b1, b2 = bridge_ip(pod1, router.id), bridge_ip(pod2, router.id)
    assert b1 != b2
    bridge_cidr = str(ipaddress.ip_interface(f"{b1}/24").network)

    def expect(pod1_routes: set[tuple[str, str]], shadow: set[tuple[str, str]]) -> None:
        want1 = Bottom(
            (gateway,),
            frozenset(
                {
                    ("10.151.0.1", "10.151.0.0/24"),
                    ("10.152.0.1", "10.152.0.0/24"),
                    (str(b1), bridge_cidr),
                }
                | shadow
            ),
            frozenset(pod1_routes),
        )
        want2 = Bottom(
            (),
            frozenset({("10.153.0.1", "10.153.0.0/24"), (str(b2), bridge_cidr)}),
            frozenset(
                {
                    ("10.151.0.0/24", str(b1)),
                    ("10.152.0.0/24", str(b1)),
                    ("0.0.0.0/0", str(b1)),
                }
            ),
        )
        eventually(lambda: bottom(pod1, router.id) == want1, f"pod1's router: {want1}")
        eventually(lambda: bottom(pod2, router.id) == want2, f"pod2's router: {want2}")

    expect({("10.153.0.0/24", str(b2))}, set())
    # the VLAN's gateway is one port, in the gateway's pod: pod2 holds no interface on it
    assert not [
        p
        for p in pod2.network.ports(device_owner=INTERFACE)
        if any(ip["ip_address"] == "10.151.0.1" for ip in p.fixed_ips)
    ]

    # a floating IP of pod1's external network for a server of pod2 (local network): a
    # shadow copy of the subnet in pod1, the router's interface on it, a shadow port with
    # the server's address (its own MAC), the floating IP on it; routes in halves
    fip = conn.network.create_ip(floating_network_id=public.id, port_id=port2.id)
    world.fips.append(fip.id)
    assert fip.router_id == router.id

    def shadow_port() -> Any:
        found = list(pod1.network.ports(name=f"shadow-{fip.id}"))
        return found[0] if found else None

    eventually(lambda: shadow_port() is not None, "the shadow port in pod1")
    shadow = shadow_port()
    assert [ip["ip_address"] for ip in shadow.fixed_ips] == [port2.fixed_ips[0]["ip_address"]]
    assert shadow.mac_address != port2.mac_address
    assert not shadow.binding_host_id
    expect(
        {(h, str(b2)) for h in halves("10.153.0.0/24")},
        {(ip, "10.153.0.0/24") for ip in _shadow_interface(pod1, router.id)},
    )
    eventually(
        lambda: (
            [(f.floating_ip_address, f.port_id) for f in pod1.network.ips(description=fip.id)]
            == [(fip.floating_ip_address, shadow_port().id)]
        ),
        "the floating IP on the shadow port",
    )
    eventually(lambda: conn.network.get_ip(fip.id).status == "ACTIVE", "the floating IP ACTIVE")
    assert not list(pod2.network.ips(description=fip.id))
    # Nova's addresses show it, as in one cloud
    eventually(lambda: fip.floating_ip_address in _floating(conn, s2), "the server's addresses")

    # moved to a server of pod1: on its own port there; every shadow goes
    conn.network.update_ip(fip.id, port_id=port1.id)
    eventually(
        lambda: (
            [p.name for p in pod1.network.ports() if (p.name or "").startswith("shadow-")] == []
        ),
        "no shadow left in pod1",
    )
    expect({("10.153.0.0/24", str(b2))}, set())
    b_port1 = next(pod1.network.ports(name=port1.id))
    eventually(
        lambda: [f.port_id for f in pod1.network.ips(description=fip.id)] == [b_port1.id],
        "the floating IP on the server's own port",
    )
    eventually(lambda: fip.floating_ip_address in _floating(conn, s1), "pod1 server's addresses")
    eventually(lambda: fip.floating_ip_address not in _floating(conn, s2), "pod2 server's")

    # a server of pod2 on the VLAN: its shadow port is on the VLAN's copy in pod1
    conn.network.update_ip(fip.id, port_id=portv2.id)
    eventually(lambda: shadow_port() is not None, "the VLAN server's shadow port")
    vlan_copy = next(pod1.network.networks(name=vlan.id))
    assert shadow_port().network_id == vlan_copy.id
    expect({("10.153.0.0/24", str(b2))}, set())

    # disassociated: nothing of it in pod1 but the floating IP's absence
    conn.network.update_ip(fip.id, port_id=None)
    eventually(lambda: not list(pod1.network.ips(description=fip.id)), "no floating IP in pod1")
    eventually(lambda: shadow_port() is None, "no shadow port")

    # associated with pod2's server again, and the server deleted: its port goes, the
    # floating IP is disassociated (as Neutron does), the shadows go from pod1
    conn.network.update_ip(fip.id, port_id=port2.id)
    eventually(lambda: shadow_port() is not None, "the shadow port again")
    conn.compute.delete(f"/servers/{s2}", microversion=MV, raise_exc=False)
    wait_gone(conn, s2)
    eventually(lambda: shadow_port() is None, "no shadow port after the server's delete")
    eventually(lambda: not list(pod1.network.ips(description=fip.id)), "no floating IP in pod1")
    expect({("10.153.0.0/24", str(b2))}, set())
    assert conn.network.get_ip(fip.id).port_id is None

    # the local subnet of pod2 leaves: pod2 has no interface left but its bridge... and
    # then no router at all, as no subnet anchors there and the gateway is in pod1
    conn.network.remove_interface_from_router(router, subnet=local2_sub.id)
    eventually(lambda: bottom(pod2, router.id) is None, "pod2's router gone")
    eventually(
        lambda: (
            bottom(pod1, router.id)
            == Bottom(
                (gateway,),
                frozenset({("10.151.0.1", "10.151.0.0/24"), ("10.152.0.1", "10.152.0.0/24")}),
                frozenset(),
            )
        ),
        "pod1's router without bridge or routes",
    )
    assert leftovers(pod2, router.id) == []
    assert not list(pod1.network.ports(name=f"bridge-{router.id}"))

    # gateway cleared: pod1's router keeps its interfaces, without gateway
    conn.network.update_router(router, external_gateway_info=None)
    eventually(
        lambda: getattr(bottom(pod1, router.id), "gateway", None) == (), "the gateway cleared"
    )
    # deleting the servers and everything at the top leaves nothing in either pod
    for server_id in (s1, s2, sv1, sv2):
        conn.compute.delete(f"/servers/{server_id}", microversion=MV, raise_exc=False)
    for sub in (vlan_sub, local1_sub):
        conn.network.remove_interface_from_router(router, subnet=sub.id)
    conn.network.delete_router(router.id)
    world.routers.remove(router.id)
    for pod in (pod1, pod2):
        eventually(nothing_left(pod, router.id), "nothing left of the router")


def _shadow_interface(pod: Connection, router_id: str) -> list[str]:
    """The addresses of the router's interfaces on shadow networks in the pod."""
    found = list(pod.network.routers(name=router_id))
    if not found:
        return []
    return [
        ip["ip_address"]
        for p in pod.network.ports(device_id=found[0].id, device_owner=INTERFACE)
        if (p.name or "").startswith("shadow-")
        for ip in p.fixed_ips
    ]


def _floating(conn: Connection, server_id: str) -> list[str]:
    body = conn.compute.get(f"/servers/{server_id}", microversion=MV).json()["server"]
    return [
        a["addr"]
        for entries in body["addresses"].values()
        for a in entries
        if a.get("OS-EXT-IPS:type") == "floating"
    ]


def test_a_pod1_server_gets_a_floating_ip_of_pod2(
    world: World, conns: dict[str, Connection], image: str
) -> None:
    conn = world.conn
    pod1, pod2 = conns["pod1-admin"], conns["pod2-admin"]
    public2 = conn.network.find_network("public-az2", ignore_missing=False)
    local1, local1_sub = world.network("10.154.0.0/24", "pod1")
    server, port = world.server("az1", image, local1.id)
    router = conn.network.create_router(
        name=unique("xr2"), external_gateway_info={"network_id": public2.id}
    )
    world.routers.append(router.id)
    conn.network.add_interface_to_router(router, subnet=local1_sub.id)
    fip = conn.network.create_ip(floating_network_id=public2.id, port_id=port.id)
    world.fips.append(fip.id)
    eventually(
        lambda: (
            [f.floating_ip_address for f in pod2.network.ips(description=fip.id)]
            == [fip.floating_ip_address]
        ),
        "the floating IP in pod2",
    )
    b1, b2 = bridge_ip(pod1, router.id), bridge_ip(pod2, router.id)
    assert b1 and b2
    found2 = bottom(pod2, router.id)
    assert found2 is not None
    assert {(d, n) for d, n in found2.routes} == {(h, b1) for h in halves("10.154.0.0/24")}
    assert bottom(pod1, router.id).routes == frozenset({("0.0.0.0/0", b2)})  # type: ignore[union-attr]
    eventually(lambda: fip.floating_ip_address in _floating(conn, server), "the addresses")
    assert not list(pod1.network.ips(description=fip.id))
    # everything deleted at the top: nothing of it in either pod
    world.cleanup()
    world.fips, world.servers, world.routers = [], [], []
    for pod in (pod1, pod2):
        eventually(nothing_left(pod, router.id), "nothing left of the router")
    world.networks = []


def _error(resp: Any) -> tuple[int, str]:
    return resp.status_code, resp.json()["NeutronError"]["type"]


def _add_subnet(conn: Connection, router_id: str, subnet_id: str) -> tuple[int, str]:
    resp = conn.network.put(
        f"/routers/{router_id}/add_router_interface", json={"subnet_id": subnet_id}, raise_exc=False
    )
    return _error(resp)


def _refusals(conn: Connection, external_id: str, nets: list[Any]) -> list[tuple[int, str]]:
    """Four refusals on one cloud: a gateway on a network that is not external, a subnet
    already on another router, overlapping subnets on one router, a floating IP for a
    port no router reaches. `nets`: three (network, subnet) pairs, the last two
    overlapping; the first subnet is on a router made here."""
    (net_a, sub_a), (_, sub_b), (net_c, sub_c) = nets
    out = []
    resp = conn.network.post(
        "/routers",
        json={"router": {"name": unique("bad"), "external_gateway_info": {"network_id": net_a.id}}},
        raise_exc=False,
    )
    out.append(_error(resp))
    first = conn.network.create_router(name=unique("bad-a"))
    second = conn.network.create_router(name=unique("bad-b"))
    try:
        conn.network.add_interface_to_router(first, subnet=sub_a.id)
        out.append(_add_subnet(conn, second.id, sub_a.id))
        conn.network.add_interface_to_router(second, subnet=sub_b.id)
        out.append(_add_subnet(conn, second.id, sub_c.id))
        port = conn.network.create_port(network_id=net_c.id)
        resp = conn.network.post(
            "/floatingips",
            json={"floatingip": {"floating_network_id": external_id, "port_id": port.id}},
            raise_exc=False,
        )
        out.append(_error(resp))
        conn.network.delete_port(port.id)
    finally:
        conn.network.remove_interface_from_router(first, subnet=sub_a.id)
        conn.network.remove_interface_from_router(second, subnet=sub_b.id)
        conn.network.delete_router(first.id)
        conn.network.delete_router(second.id)
    return out


def test_bad_router_input_gets_neutrons_errors_and_builds_nothing(
    world: World, conns: dict[str, Connection]
) -> None:
    direct = conns["pod1"]
    made: list[str] = []
    try:
        nets = []
        for cidr in ("10.161.0.0/24", "10.162.0.0/24", "10.162.0.0/25"):
            net = direct.network.create_network(name=unique("bad-direct"))
            made.append(net.id)
            nets.append(
                (net, direct.network.create_subnet(network_id=net.id, cidr=cidr, ip_version=4))
            )
        public = direct.network.find_network("public", ignore_missing=False)
        expected = _refusals(direct, public.id, nets)
    finally:
        for net_id in made:
            direct.network.delete_network(net_id)
    # at the top: the subnets in different pods (a local network of each, a VLAN one)
    top_nets = [
        world.network("10.161.0.0/24", "pod1"),
        world.network("10.162.0.0/24", "pod2"),
        world.network("10.162.0.0/25"),
    ]
    public2 = world.conn.network.find_network("public-az2", ignore_missing=False)
    assert _refusals(world.conn, public2.id, top_nets) == expected
    assert [e[0] for e in expected] == [400, 409, 400, 404], expected
    # nothing was built for the refused requests: the routers made are gone, and no pod
    # holds a bottom router, bridge or shadow of them
    for pod in PODS:
        admin = conns[f"{pod}-admin"]
        eventually(no_bad_routers(admin), f"nothing left in {pod}")


def no_bad_routers(pod: Connection) -> Callable[[], bool]:
    """No bottom router of the refusal test's routers (their top names start "bad")."""
    return lambda: not [r for r in pod.network.routers() if (r.description or "").startswith("bad")]


def test_router_operations_follow_across_pods(world: World, conns: dict[str, Connection]) -> None:
    """A gateway moved to another pod's external network (the VLAN interface follows it),
    an interface by port, the tenant's routes, admin state, a refused delete, and the top
    ports' status from the pods."""
    conn = world.conn
    pod1, pod2 = conns["pod1-admin"], conns["pod2-admin"]
    public = conn.network.find_network("public", ignore_missing=False)
    public2 = conn.network.find_network("public-az2", ignore_missing=False)
    _, vlan_sub = world.network("10.181.0.0/24")
    _, local1_sub = world.network("10.182.0.0/24", "pod1")
    local2, local2_sub = world.network("10.183.0.0/24", "pod2")
    router = conn.network.create_router(
        name=unique("xr-ops"), external_gateway_info={"network_id": public.id}
    )
    world.routers.append(router.id)
    for sub in (vlan_sub, local1_sub):
        conn.network.add_interface_to_router(router, subnet=sub.id)
    one_pod = Bottom(
        (router.external_gateway_info["external_fixed_ips"][0]["ip_address"],),
        frozenset({("10.181.0.1", "10.181.0.0/24"), ("10.182.0.1", "10.182.0.0/24")}),
        frozenset(),
    )
    eventually(lambda: bottom(pod1, router.id) == one_pod, "the router in pod1 only")
    assert bottom(pod2, router.id) is None

    # the gateway moves to pod2's external network: the router's home is pod2 now, the VLAN
    # interface moves there, the local network of pod1 stays in pod1
    router = conn.network.update_router(router, external_gateway_info={"network_id": public2.id})
    gateway2 = router.external_gateway_info["external_fixed_ips"][0]["ip_address"]
    eventually(lambda: bool(bridge_ip(pod1, router.id) and bridge_ip(pod2, router.id)), "bridges")
    b1, b2 = str(bridge_ip(pod1, router.id)), str(bridge_ip(pod2, router.id))
    bridge_cidr = str(ipaddress.ip_interface(f"{b1}/24").network)

    def expected(
        extra2: set[tuple[str, str]], routes1: set[tuple[str, str]], routes2: set[tuple[str, str]]
    ) -> tuple[Bottom, Bottom]:
        return (
            Bottom(
                (),
                frozenset({("10.182.0.1", "10.182.0.0/24"), (b1, bridge_cidr)}),
                frozenset({("10.181.0.0/24", b2), ("0.0.0.0/0", b2)} | routes1),
            ),
            Bottom(
                (gateway2,),
                frozenset({("10.181.0.1", "10.181.0.0/24"), (b2, bridge_cidr)} | extra2),
                frozenset({("10.182.0.0/24", b1)} | routes2),
            ),
        )

    def now_is(want: tuple[Bottom, Bottom]) -> Callable[[], bool]:
        return lambda: (bottom(pod1, router.id), bottom(pod2, router.id)) == want

    eventually(now_is(expected(set(), set(), set())), "the gateway's move")

    # an interface by port (not the subnet's gateway address) on a local network with no
    # server yet: anchored in the router's home, pod2
    port = conn.network.create_port(
        network_id=local2.id, fixed_ips=[{"subnet_id": local2_sub.id, "ip_address": "10.183.0.10"}]
    )
    conn.network.add_interface_to_router(router, port=port.id)
    with_port = expected({("10.183.0.10", "10.183.0.0/24")}, {("10.183.0.0/24", b2)}, set())
    eventually(now_is(with_port), "the interface by port in pod2")

    # the tenant's route: as given where its nexthop is, via the bridge elsewhere
    route = {"destination": "192.168.50.0/24", "nexthop": "10.183.0.20"}
    conn.network.update_router(router, routes=[route])
    eventually(
        now_is(
            expected(
                {("10.183.0.10", "10.183.0.0/24")},
                {("10.183.0.0/24", b2), ("192.168.50.0/24", b2)},
                {("192.168.50.0/24", "10.183.0.20")},
            )
        ),
        "the tenant's route in both pods",
    )
    conn.network.update_router(router, routes=[])
    eventually(now_is(with_port), "the tenant's route gone from both pods")

    # admin state reaches every bottom router
    conn.network.update_router(router, is_admin_state_up=False)
    eventually(
        lambda: (
            [next(p.network.routers(name=router.id)).is_admin_state_up for p in (pod1, pod2)]
            == [False, False]
        ),
        "both bottom routers down",
    )
    conn.network.update_router(router, is_admin_state_up=True)

    # Neutron refuses to delete a router with interfaces: so does the top, across pods
    refused = conn.network.delete(f"/routers/{router.id}", raise_exc=False)
    assert refused.status_code == 409, refused.text
    assert refused.json()["NeutronError"]["type"] == "RouterInUse"

    # the top's interface ports show their bottom ports' status (the devcloud's pods run
    # no L3 agent: DOWN there, DOWN at the top)
    def statuses_follow() -> bool:
        found = list(conn.network.ports(device_id=router.id, device_owner=INTERFACE))
        pods = [next(iter(p.network.ports(name=t.id)), None) for t in found for p in (pod1, pod2)]
        bottoms = {b.name: b.status for b in pods if b is not None}
        return len(found) == len(bottoms) == 3 and all(t.status == bottoms[t.id] for t in found)

    eventually(statuses_follow, "the interface ports' status at the top")

    # the port leaves: pod2 keeps the VLAN interface and the gateway
    conn.network.remove_interface_from_router(router, port=port.id)
    eventually(now_is(expected(set(), set(), set())), "the port's interface gone")
    world.cleanup()
    world.routers = []
    for pod in (pod1, pod2):
        eventually(nothing_left(pod, router.id), "nothing left of the router")
    world.networks = []
