"""Each pod of the devcloud, used directly as a tenant would: servers, volumes, routers, isolation.

These talk to the real services (Keystone, Nova, Neutron, Cinder, Glance,
Placement) through openstacksdk with the devcloud's clouds.yaml.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from openstack import exceptions
from openstack.compute.v2.server import Server
from openstack.connection import Connection

from tests.integration.conftest import PODS

pytestmark = pytest.mark.integration


@dataclass
class Booted:
    pod: str
    conn: Connection
    server: Server


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", params=PODS)
def booted(request: pytest.FixtureRequest, conns: dict[str, Connection]) -> Iterator[Booted]:
    """A server of the demo user on the pod's `private` network, deleted afterwards."""
    pod: str = request.param
    conn = conns[pod]
    image = conn.image.find_image("tiny", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    network = conn.network.find_network("private", ignore_missing=False)
    server = conn.compute.create_server(
        name=unique("it-vm"),
        image_id=image.id,
        flavor_id=flavor.id,
        networks=[{"uuid": network.id}],
    )
    try:
        server = conn.compute.wait_for_server(server, status="ACTIVE", interval=0.5, wait=180)
        yield Booted(pod, conn, server)
    finally:
        conn.compute.delete_server(server, ignore_missing=True)
        conn.compute.wait_for_delete(server, interval=0.5, wait=120)


def test_server_active_on_tenant_network(booted: Booted) -> None:
    conn, server = booted.conn, booted.server
    assert server.status == "ACTIVE"
    assert server.availability_zone == f"az{booted.pod[-1]}"
    subnet = conn.network.find_subnet("private-subnet", ignore_missing=False)
    addresses = [a["addr"] for a in server.addresses["private"]]
    assert len(addresses) == 1
    assert ipaddress.ip_address(addresses[0]) in ipaddress.ip_network(subnet.cidr)
    ports = list(conn.network.ports(device_id=server.id))
    assert [p.status for p in ports] == ["ACTIVE"]


def test_volume_attach_detach_delete(booted: Booted) -> None:
    conn, server = booted.conn, booted.server
    volume = conn.block_storage.create_volume(size=1, name=unique("it-vol"))
    try:
        volume = conn.block_storage.wait_for_status(
            volume, status="available", failures=["error"], interval=0.5, wait=120
        )
        assert volume.availability_zone == f"az{booted.pod[-1]}"
        conn.compute.create_volume_attachment(server, volume=volume.id)
        volume = conn.block_storage.wait_for_status(
            volume, status="in-use", failures=["error"], interval=0.5, wait=120
        )
        assert [a["server_id"] for a in volume.attachments] == [server.id]
        conn.compute.delete_volume_attachment(server, volume.id)
        volume = conn.block_storage.wait_for_status(
            volume, status="available", failures=["error"], interval=0.5, wait=120
        )
        assert volume.attachments == []
    finally:
        conn.block_storage.delete_volume(volume.id, ignore_missing=True)
    conn.block_storage.wait_for_delete(volume, interval=0.5, wait=120)
    assert conn.block_storage.find_volume(volume.id) is None


def test_router_gateway_and_floating_ip(booted: Booted) -> None:
    conn, server = booted.conn, booted.server
    public = conn.network.find_network("public", ignore_missing=False)
    public_subnet = conn.network.find_subnet("public-subnet", ignore_missing=False)
    public_cidr = ipaddress.ip_network(public_subnet.cidr)

    # A new router with an external gateway, joined to a new tenant subnet.
    net = conn.network.create_network(name=unique("it-net"))
    subnet = conn.network.create_subnet(
        network_id=net.id, ip_version=4, cidr="192.168.77.0/24", name=unique("it-sub")
    )
    router = conn.network.create_router(
        name=unique("it-router"), external_gateway_info={"network_id": public.id}
    )
    try:
        gateway_ips = router.external_gateway_info["external_fixed_ips"]
        assert ipaddress.ip_address(gateway_ips[0]["ip_address"]) in public_cidr
        conn.network.add_interface_to_router(router, subnet=subnet.id)
        interfaces = list(conn.network.ports(device_id=router.id, network_id=net.id))
        assert [p.fixed_ips[0]["ip_address"] for p in interfaces] == ["192.168.77.1"]
        conn.network.remove_interface_from_router(router, subnet=subnet.id)
    finally:
        conn.network.delete_router(router)
        conn.network.delete_network(net)

    # A floating IP on the server's port (its network is behind the seeded router1).
    port = next(iter(conn.network.ports(device_id=server.id)))
    fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
    try:
        assert ipaddress.ip_address(fip.floating_ip_address) in public_cidr
        assert fip.fixed_ip_address == port.fixed_ips[0]["ip_address"]
        fetched = conn.network.get_ip(fip.id)
        assert fetched.port_id == port.id
    finally:
        conn.network.delete_ip(fip)


def test_alt_demo_cannot_see_demo_server(booted: Booted, conns: dict[str, Connection]) -> None:
    alt = conns[f"{booted.pod}-alt"]
    with pytest.raises(exceptions.NotFoundException) as caught:
        alt.compute.get_server(booted.server.id)
    assert caught.value.status_code == 404
    assert booted.server.id not in {s.id for s in alt.compute.servers()}
    # ...while the admin does see it, so the 404 is isolation, not a missing server.
    admin = conns[f"{booted.pod}-admin"]
    assert admin.compute.get_server(booted.server.id).id == booted.server.id
