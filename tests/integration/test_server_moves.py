"""A server moved between the devcloud's pods with Nova's own `migrate` at the top, then
confirmed (it lives in pod2 with its top id, name, metadata, tags, keypair, addresses
and MAC) or reverted (it runs in pod1 again, nothing left in pod2)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.test_cascade_compute import image, networks, unique, wait_gone
from tests.integration.test_cascade_network import eventually
from tests.integration.test_cascade_volume import call, gone, make, wait
from tests.integration.test_crash_safety import frozen, kill, restart

pytestmark = pytest.mark.integration
MV = "2.79"
__all__ = ["image", "networks"]  # fixtures used here


def shown(conn: Connection, server_id: str) -> tuple[dict[str, Any], str]:
    resp = conn.compute.get(f"/servers/{server_id}", microversion=MV)
    assert resp.status_code == 200, resp.text
    return resp.json()["server"], resp.headers.get("X-Cascade-Pod", "")


def until(conn: Connection, server_id: str, status: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        server, _ = shown(conn, server_id)
        if server["status"] == status:
            return server
        assert server["status"] not in ("ERROR",), server
        assert time.monotonic() < deadline, f"{server_id} stayed {server['status']}"
        time.sleep(1)


def action(conn: Connection, server_id: str, body: dict[str, Any]) -> Any:
    return conn.compute.post(
        f"/servers/{server_id}/action", json=body, microversion=MV, raise_exc=False
    )


@pytest.fixture
def server(
    top: dict[str, Connection], networks: dict[str, str], image: str
) -> Iterator[dict[str, Any]]:
    """A server of demo's in pod1 with a keypair, metadata and a tag, on a top network."""
    conn = top["cascade"]
    key = conn.compute.create_keypair(name=unique("move-key"))
    body = {
        "server": {
            "name": unique("move-vm"),
            "imageRef": image,
            "flavorRef": "1",
            "availability_zone": "az1",
            "networks": [{"uuid": networks["az1"]}],
            "key_name": key.name,
            "metadata": {"purpose": "moving"},
            "tags": ["movable"],
        }
    }
    resp = conn.compute.post("/servers", json=body, microversion=MV, raise_exc=False)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    try:
        made = until(conn, server_id, "ACTIVE")
        ports = list(conn.network.ports(device_id=server_id))
        yield {"id": server_id, "shown": made, "key": key.name, "ports": ports}
    finally:
        conn.compute.delete(f"/servers/{server_id}", raise_exc=False)
        wait_gone(conn, server_id, timeout=180)
        conn.compute.delete_keypair(key, ignore_missing=True)


def pod_servers(conns: dict[str, Connection], pod: str) -> list[dict[str, Any]]:
    resp = conns[f"{pod}-admin"].compute.get("/servers/detail?all_tenants=1", microversion=MV)
    found: list[dict[str, Any]] = resp.json()["servers"]
    return found


def test_a_migrate_to_another_pod_confirmed_keeps_the_server_whole(
    top: dict[str, Connection], conns: dict[str, Connection], server: dict[str, Any]
) -> None:
    admin, conn = top["cascade-admin"], top["cascade"]
    server_id, before = server["id"], server["shown"]
    resp = action(admin, server_id, {"migrate": {"host": "pod2"}})
    assert resp.status_code == 202, resp.text
    verify = until(conn, server_id, "VERIFY_RESIZE")
    listed = [s for s in conn.compute.get("/servers/detail", microversion=MV).json()["servers"]]
    assert [s["status"] for s in listed if s["id"] == server_id] == ["VERIFY_RESIZE"]
    assert len([s for s in listed if s["name"] == before["name"]]) == 1  # the target hidden
    assert verify["id"] == server_id
    resp = action(admin, server_id, {"confirmResize": None})
    assert resp.status_code == 204, resp.text
    after = until(conn, server_id, "ACTIVE")
    _, pod = shown(conn, server_id)
    assert pod == "pod2"
    assert after["id"] == server_id and after["name"] == before["name"]
    assert after["metadata"] == {"purpose": "moving"} and after["tags"] == ["movable"]
    assert after["key_name"] == server["key"]
    assert after["addresses"] == before["addresses"]
    assert after["OS-EXT-AZ:availability_zone"] == "az2"
    ports = list(conn.network.ports(device_id=server_id))
    assert [(p.id, p.mac_address) for p in ports] == [
        (p.id, p.mac_address) for p in server["ports"]
    ]
    assert server_id not in {s["id"] for s in pod_servers(conns, "pod1")}
    assert len([s for s in pod_servers(conns, "pod2") if s["name"] == before["name"]]) == 1
    # it goes on working where it is now
    assert action(conn, server_id, {"os-stop": None}).status_code == 202
    until(conn, server_id, "SHUTOFF")


def test_a_migrate_to_another_pod_reverted_leaves_it_where_it_was(
    top: dict[str, Connection], conns: dict[str, Connection], server: dict[str, Any]
) -> None:
    admin, conn = top["cascade-admin"], top["cascade"]
    server_id, before = server["id"], server["shown"]
    assert action(admin, server_id, {"migrate": {"host": "pod2"}}).status_code == 202
    until(conn, server_id, "VERIFY_RESIZE")
    resp = action(admin, server_id, {"revertResize": None})
    assert resp.status_code == 202, resp.text
    after = until(conn, server_id, "ACTIVE")
    _, pod = shown(conn, server_id)
    assert pod == "pod1" and after["addresses"] == before["addresses"]
    assert not [s for s in pod_servers(conns, "pod2") if s["name"] == before["name"]]


def moves_of(admin: Connection, server_id: str) -> list[dict[str, Any]]:
    resp = admin.session.get("http://127.0.0.1:20080/v1/moves", params={"top_id": server_id})
    found: list[dict[str, Any]] = resp.json()["moves"]
    return found


def test_a_worker_killed_in_the_middle_of_a_move_leaves_one_server(
    top: dict[str, Connection], conns: dict[str, Connection], server: dict[str, Any]
) -> None:
    """The worker dies while it boots the target (pod2's nova-api stopped under it): the
    next worker finishes the move, adopting a target the dead one may have made; after
    the confirm there is one server, in pod2, and none in pod1."""
    admin, conn = top["cascade-admin"], top["cascade"]
    server_id, before = server["id"], server["shown"]
    with frozen("pod2-nova-api"):
        assert action(admin, server_id, {"migrate": {"host": "pod2"}}).status_code == 202
        eventually(
            lambda: [m["status"] for m in moves_of(admin, server_id)] == ["booting"],
            "the move to boot its target",
            timeout=180,
        )
        time.sleep(2)
        kill("cascade-worker")
    restart()
    until(conn, server_id, "VERIFY_RESIZE")
    assert action(admin, server_id, {"confirmResize": None}).status_code == 204
    until(conn, server_id, "ACTIVE")
    eventually(
        lambda: [m["status"] for m in moves_of(admin, server_id)] == ["done"],
        "the move to be done",
    )
    assert shown(conn, server_id)[1] == "pod2"
    assert not [s for s in pod_servers(conns, "pod1") if s["name"] == before["name"]]
    assert len([s for s in pod_servers(conns, "pod2") if s["name"] == before["name"]]) == 1


def test_a_server_moves_with_its_volume_and_back(
    top: dict[str, Connection], conns: dict[str, Connection], server: dict[str, Any]
) -> None:
    """A server with a volume attached moves with it: reverted, both are back in pod1,
    attached; confirmed, both are in pod2, attached, with their top ids."""
    admin, conn = top["cascade-admin"], top["cascade"]
    server_id = server["id"]
    volume_id = make(conn, availability_zone="az1", name=unique("move-vol"))["id"]
    attachments = f"/servers/{server_id}/os-volume_attachments"
    try:
        wait(conn, f"/volumes/{volume_id}", "volume", "available")
        body = {"volumeAttachment": {"volumeId": volume_id}}
        made = conn.compute.post(attachments, json=body, microversion=MV, raise_exc=False)
        assert made.status_code == 200, made.text
        wait(conn, f"/volumes/{volume_id}", "volume", "in-use")

        def where(pod: str) -> None:
            """The server and its volume in `pod`, the volume attached to it there."""
            _, server_pod = shown(conn, server_id)
            resp = call(conn, "GET", f"/volumes/{volume_id}")
            volume = resp.json()["volume"]
            assert (server_pod, resp.headers["X-Cascade-Pod"]) == (pod, pod), volume
            assert volume["status"] == "in-use"
            assert [a["server_id"] for a in volume["attachments"]] == [server_id]
            server_now, _ = shown(conn, server_id)
            attached = server_now["os-extended-volumes:volumes_attached"]
            assert [v["id"] for v in attached] == [volume_id]

        assert action(admin, server_id, {"migrate": {"host": "pod2"}}).status_code == 202
        until(conn, server_id, "VERIFY_RESIZE")
        assert action(admin, server_id, {"revertResize": None}).status_code == 202
        until(conn, server_id, "ACTIVE")
        eventually(
            lambda: [m["status"] for m in moves_of(admin, server_id)] == ["reverted"],
            "the move to be reverted",
        )
        where("pod1")
        assert action(admin, server_id, {"migrate": {"host": "pod2"}}).status_code == 202
        until(conn, server_id, "VERIFY_RESIZE")
        assert action(admin, server_id, {"confirmResize": None}).status_code == 204
        until(conn, server_id, "ACTIVE")
        where("pod2")
    finally:
        conn.compute.delete(f"{attachments}/{volume_id}", microversion=MV, raise_exc=False)
        wait(conn, f"/volumes/{volume_id}", "volume", "available", timeout=120)
        call(conn, "DELETE", f"/volumes/{volume_id}")
        gone(conn, f"/volumes/{volume_id}", timeout=120)
