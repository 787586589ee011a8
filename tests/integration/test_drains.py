"""A drain of pod2 on the real devcloud: its servers (on a network spanning the pods, one
with a floating IP, both in a security group) move to pod1 keeping their top ids,
addresses, security group, floating IP and the volume attached to one of them, and so
does its available volume (top id, name, metadata); pod2 ends with none of them, nor
the copies made there for them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.test_cascade_compute import image, unique, wait_gone
from tests.integration.test_cascade_network import boot, eventually
from tests.integration.test_cascade_volume import call, make, wait
from tests.integration.test_server_moves import pod_servers, shown, until

pytestmark = pytest.mark.integration
ADMIN_API = "http://127.0.0.1:20080/v1"
__all__ = ["image"]  # a fixture used here


def admin_api(admin: Connection, method: str, path: str, **kwargs: Any) -> Any:
    return admin.session.request(ADMIN_API + path, method, raise_exc=False, **kwargs)


def test_a_drain_of_pod2_moves_its_servers_to_pod1(
    top: dict[str, Connection], conns: dict[str, Connection], image: str
) -> None:
    conn, admin, pod1 = top["cascade"], top["cascade-admin"], conns["pod1-admin"]
    pods = {p["name"]: p for p in admin_api(admin, "GET", "/pods").json()["pods"]}
    external = conn.network.find_network("public", ignore_missing=False)
    network = conn.network.create_network(name=unique("drain"))
    subnet = conn.network.create_subnet(network_id=network.id, cidr="10.151.0.0/24", ip_version=4)
    router = conn.network.create_router(
        name=unique("drain-r"), external_gateway_info={"network_id": external.id}
    )
    group = conn.network.create_security_group(name=unique("drain-sg"))
    conn.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="tcp",
        port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0",
    )  # fmt: skip
    servers: list[str] = []
    fip = None
    volume = data = None
    try:
        conn.network.add_interface_to_router(router, subnet=subnet.id)
        for _ in range(2):
            status, body = boot(
                conn, "az2", image,
                networks=[{"uuid": network.id}], security_groups=[{"name": group.name}],
            )  # fmt: skip
            assert status == 202, body
            servers.append(body["server"]["id"])
        before = {s: until(conn, s, "ACTIVE") for s in servers}
        port = next(conn.network.ports(device_id=servers[0]))
        fip = conn.network.create_ip(floating_network_id=external.id, port_id=port.id)
        volume = make(conn, availability_zone="az2", name=unique("drain-vol"), metadata={"k": "v"})
        wait(conn, f"/volumes/{volume['id']}", "volume", "available")
        data = make(conn, availability_zone="az2", name=unique("drain-data"))
        wait(conn, f"/volumes/{data['id']}", "volume", "available")
        attach = {"volumeAttachment": {"volumeId": data["id"]}}
        attached = conn.compute.post(
            f"/servers/{servers[1]}/os-volume_attachments", json=attach, microversion="2.79"
        )
        assert attached.status_code == 200, attached.text
        wait(conn, f"/volumes/{data['id']}", "volume", "in-use")

        body = {"drain": {"azs": ["az1"]}}
        made = admin_api(admin, "POST", f"/pods/{pods['pod2']['id']}/drain", json=body)
        assert made.status_code == 202, made.text
        drain_id = made.json()["drain"]["id"]
        deadline = time.monotonic() + 600
        while True:
            drain = admin_api(admin, "GET", f"/drains/{drain_id}").json()["drain"]
            if drain["status"] in ("done", "incomplete"):
                break
            assert time.monotonic() < deadline, drain
            time.sleep(2)
        mine = {*servers, volume["id"], data["id"]}
        ours = {m["top_id"]: m for m in drain["moves"] if m["top_id"] in mine}
        assert set(ours) == mine and {m["status"] for m in ours.values()} == {"done"}, drain
        assert not [e for e in drain["left"] if e.get("top_id") in mine], drain["left"]
        resp = call(conn, "GET", f"/volumes/{volume['id']}")
        assert resp.headers["X-Cascade-Pod"] == "pod1", resp.text
        moved = resp.json()["volume"]
        assert (moved["name"], moved["metadata"]) == (volume["name"], {"k": "v"})
        # the one attached moved with its server, attached to it in pod1
        carried = call(conn, "GET", f"/volumes/{data['id']}")
        assert carried.headers["X-Cascade-Pod"] == "pod1", carried.text
        assert [a["server_id"] for a in carried.json()["volume"]["attachments"]] == [servers[1]]
        in_pod2 = call(conns["pod2-admin"], "GET", "/volumes/detail?all_tenants=1").json()
        assert not [v for v in in_pod2["volumes"] if v["name"] == volume["name"]]
        # nor the copies made for them: the network, its subnet and DHCP port, the group
        pod2 = conns["pod2-admin"].network
        assert not list(pod2.networks(name=network.id))
        assert not list(pod2.subnets(name=subnet.id))
        assert not [p for p in pod2.ports() if network.id in (p.name or "")]
        assert not list(pod2.security_groups(name=group.id))
        stays = [e for e in drain["left"] if e.get("top_id") in (network.id, subnet.id, group.id)]
        assert not stays, drain["left"]

        for server_id in servers:
            after, pod = shown(conn, server_id)
            assert pod == "pod1" and after["status"] == "ACTIVE"
            fixed = {
                net: [a for a in addrs if a["OS-EXT-IPS:type"] == "fixed"]
                for net, addrs in after["addresses"].items()
            }
            assert fixed == before[server_id]["addresses"]
            assert [g["name"] for g in after["security_groups"]] == [group.name]
        names = {before[s]["name"] for s in servers}
        assert not [s for s in pod_servers(conns, "pod2") if s["name"] in names]
        # the floating IP is still the server's, and pod1 holds it on the server's port now
        assert conn.network.get_ip(fip.id).port_id == port.id

        def held() -> bool:
            bottom = list(pod1.network.ips(description=fip.id))
            copies = list(pod1.network.ports(name=port.id))
            return bool(bottom and copies and bottom[0].port_id == copies[0].id)

        eventually(held, "pod1 to hold the floating IP on the moved server's port")
    finally:
        admin_api(admin, "PATCH", f"/pods/{pods['pod2']['id']}", json={"pod": {"state": "active"}})
        if fip is not None:
            conn.network.delete_ip(fip, ignore_missing=True)
        for server_id in servers:
            conn.compute.delete(f"/servers/{server_id}", raise_exc=False)
        for server_id in servers:
            wait_gone(conn, server_id, timeout=180)
        for made in (volume, data):
            if made is not None:
                wait(conn, f"/volumes/{made['id']}", "volume", "available", timeout=120)
                call(conn, "DELETE", f"/volumes/{made['id']}")
        conn.network.remove_interface_from_router(router, subnet=subnet.id)
        conn.network.delete_router(router, ignore_missing=True)
        eventually(lambda: not list(conn.network.ports(network_id=network.id)), "ports gone")
        conn.network.delete_network(network.id, ignore_missing=True)
        conn.network.delete_security_group(group, ignore_missing=True)
