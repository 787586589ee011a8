"""A volume moved between the devcloud's pods with Cinder's own `os-migrate_volume` at the
top: it lives in the other pod with its top id, name, description, metadata, type and
size, what is left of it in the first pod is gone, and it is used there by its top id
(a snapshot of it, an attach to a server of that pod). What Cinder would refuse is its
400."""

from __future__ import annotations

import time
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.test_cascade_compute import MV as COMPUTE_MV
from tests.integration.test_cascade_compute import unique, wait_gone, wait_status
from tests.integration.test_cascade_volume import boot, call, gone, make, pod_has, wait

pytestmark = pytest.mark.integration


def moved(conn: Connection, volume_id: str, pod: str, timeout: float = 120) -> dict[str, Any]:
    """The volume once the top routes it to `pod`, its move over."""
    deadline = time.monotonic() + timeout
    while True:
        resp = call(conn, "GET", f"/volumes/{volume_id}")
        assert resp.status_code == 200, resp.text
        volume: dict[str, Any] = resp.json()["volume"]
        if resp.headers.get("X-Cascade-Pod") == pod and volume["migration_status"] == "success":
            return volume
        assert volume["migration_status"] != "error", volume
        assert time.monotonic() < deadline, f"{volume_id} did not move to {pod}: {volume}"
        time.sleep(1)


def migrate(conn: Connection, volume_id: str, host: str) -> Any:
    body = {"os-migrate_volume": {"host": host}}
    return call(conn, "POST", f"/volumes/{volume_id}/action", json=body)


def test_a_volume_moves_to_another_pod_and_keeps_what_it_is(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    name = unique("type")
    made_type = call(admin, "POST", "/types", json={"volume_type": {"name": name}})
    assert made_type.status_code == 200, made_type.text
    vtype = made_type.json()["volume_type"]
    volume = make(
        conn,
        availability_zone="az2",
        name=unique("mover"),
        description="data to keep",
        metadata={"purpose": "moving"},
        volume_type=name,
        size=2,
    )
    volume_id = volume["id"]
    servers: list[str] = []
    try:
        before = wait(conn, f"/volumes/{volume_id}", "volume", "available")
        assert pod_has(conns, "pod2", volume_id)
        # Cinder's refusals, nothing queued: a tenant may not, a host nobody has
        assert migrate(conn, volume_id, "pod1-volume@fake").status_code == 403
        unknown = migrate(admin, volume_id, "nowhere@fake")
        assert unknown.status_code == 400, unknown.text
        # with a snapshot it stays where it is
        snap = call(conn, "POST", "/snapshots", json={"snapshot": {"volume_id": volume_id}})
        assert snap.status_code == 202, snap.text
        snap_id = snap.json()["snapshot"]["id"]
        wait(conn, f"/snapshots/{snap_id}", "snapshot", "available")
        refused = migrate(admin, volume_id, "pod1-volume@fake#fake")
        assert refused.status_code == 400, refused.text
        assert snap_id in refused.json()["badRequest"]["message"]
        assert call(conn, "DELETE", f"/snapshots/{snap_id}").status_code == 202
        gone(conn, f"/snapshots/{snap_id}")

        asked = migrate(admin, volume_id, "pod1-volume@fake#fake")
        assert asked.status_code == 202, asked.text
        # moving (or in pod1 already, where Cinder has no host `pod1`): Cinder's 400
        assert migrate(admin, volume_id, "pod1").status_code == 400
        after = moved(admin, volume_id, "pod1")
        for key in ("id", "name", "description", "metadata", "size", "volume_type", "user_id"):
            assert after[key] == before[key], key
        assert after["created_at"] == before["created_at"]
        assert after["availability_zone"] == "az1"
        assert after["bootable"] == "false" and not after.get("volume_image_metadata")
        assert not pod_has(conns, "pod2", volume_id)
        assert not pod_has(conns, "pod1", volume_id)  # there it has the pod's own id
        listed = call(conn, "GET", "/volumes/detail").json()["volumes"]
        assert [v["id"] for v in listed].count(volume_id) == 1
        mine = [v for v in call(conn, "GET", "/volumes").json()["volumes"] if v["id"] == volume_id]
        assert mine and mine[0]["name"] == before["name"]
        # the pod's copy of the top type holds it
        in_pod1 = call(conns["pod1-admin"], "GET", "/volumes/detail?all_tenants=1").json()
        copies = [v for v in in_pod1["volumes"] if v["name"] == before["name"]]
        assert len(copies) == 1 and copies[0]["volume_type"] == f"cascade-{vtype['id']}"

        # used by its top id: a snapshot, an attach to a server of its new pod
        snap = call(conn, "POST", "/snapshots", json={"snapshot": {"volume_id": volume_id}})
        assert snap.status_code == 202, snap.text
        assert snap.json()["snapshot"]["volume_id"] == volume_id
        snap_id = snap.json()["snapshot"]["id"]
        wait(conn, f"/snapshots/{snap_id}", "snapshot", "available")
        assert call(conn, "DELETE", f"/snapshots/{snap_id}").status_code == 202
        gone(conn, f"/snapshots/{snap_id}")
        started = boot(conn, availability_zone="az1")
        assert started.status_code == 202, started.text
        server = started.json()["server"]["id"]
        servers.append(server)
        wait_status(conn, server, "ACTIVE")
        attachments = f"/servers/{server}/os-volume_attachments"
        body = {"volumeAttachment": {"volumeId": volume_id}}
        attached = conn.compute.post(
            attachments, json=body, microversion=COMPUTE_MV, raise_exc=False
        )
        assert attached.status_code == 200, attached.text
        assert attached.json()["volumeAttachment"]["volumeId"] == volume_id
        in_use = wait(conn, f"/volumes/{volume_id}", "volume", "in-use")
        assert [a["server_id"] for a in in_use["attachments"]] == [server]
        assert in_use["attachments"][0]["volume_id"] == volume_id
        shown = conn.compute.get(f"/servers/{server}", microversion=COMPUTE_MV).json()["server"]
        assert [v["id"] for v in shown["os-extended-volumes:volumes_attached"]] == [volume_id]
        # in use: it moves only with its server
        busy = migrate(admin, volume_id, "pod2")
        assert busy.status_code == 400, busy.text
        detached = conn.compute.delete(
            f"{attachments}/{volume_id}", microversion=COMPUTE_MV, raise_exc=False
        )
        assert detached.status_code == 202, detached.text
        wait(conn, f"/volumes/{volume_id}", "volume", "available")
    finally:
        for server in servers:
            conn.compute.delete(f"/servers/{server}", raise_exc=False)
            wait_gone(conn, server)
        call(conn, "DELETE", f"/volumes/{volume_id}")
        gone(conn, f"/volumes/{volume_id}", timeout=120)
        call(admin, "DELETE", f"/types/{vtype['id']}")
