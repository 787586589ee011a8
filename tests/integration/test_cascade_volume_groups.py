"""Cinder's generic volume groups through Cascade, against the real pods of the devcloud.

Group types are the top's, copied into a pod when a group there needs one;
groups and group snapshots live in one pod each and are routed by id, their
lists merged across pods.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.test_cascade_compute import unique
from tests.integration.test_cascade_volume import call, gone, wait

pytestmark = pytest.mark.integration
GROUPS = {"OpenStack-API-Version": "volume 3.20"}


def group_call(conn: Connection, method: str, path: str, **kwargs: Any) -> Any:
    return call(conn, method, path, headers=GROUPS, **kwargs)


def pod_group_types(conns: dict[str, Connection], pod: str) -> dict[str, dict[str, Any]]:
    listed = conns[f"{pod}-admin"].block_storage.get("/group_types?is_public=None", headers=GROUPS)
    return {t["name"]: t for t in listed.json()["group_types"]}


def wait_copy_specs(
    conns: dict[str, Connection], pod: str, name: str, specs: dict[str, str]
) -> None:
    deadline = time.monotonic() + 30  # the group_type.sync job runs in the worker
    while pod_group_types(conns, pod)[name].get("group_specs") != specs:
        assert time.monotonic() < deadline, pod_group_types(conns, pod)[name]
        time.sleep(0.5)


def test_group_types_are_the_tops_and_groups_live_in_their_az_s_pod(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    name = unique("gtype")
    body = {"group_type": {"name": name, "group_specs": {"key1": "v1"}, "is_public": True}}
    made = group_call(admin, "POST", "/group_types", json=body)
    assert made.status_code == 202, made.text
    gtype = made.json()["group_type"]
    assert gtype["group_specs"] == {"key1": "v1"}
    # below 3.11 there are no group types; members may not make them
    old = call(admin, "GET", "/group_types", headers={"OpenStack-API-Version": "volume 3.10"})
    assert old.status_code == 404
    assert group_call(conn, "POST", "/group_types", json=body).status_code == 403
    assert group_call(admin, "POST", "/group_types", json=body).status_code == 409
    shown = group_call(conn, "GET", f"/group_types/{gtype['id']}").json()["group_type"]
    assert shown["name"] == name and "group_specs" not in shown
    groups: list[str] = []
    try:
        for az in ("az1", "az2"):
            group = {
                "group": {
                    "name": f"{name}-{az}",
                    "group_type": name,
                    "volume_types": ["__DEFAULT__"],
                    "availability_zone": az,
                }
            }
            resp = group_call(conn, "POST", "/groups", json=group)
            assert resp.status_code == 202, resp.text
            assert set(resp.json()["group"]) == {"id", "name"}  # Cinder's summary, as it is
            groups.append(resp.json()["group"]["id"])
        for group_id, pod, az in zip(groups, ("pod1", "pod2"), ("az1", "az2"), strict=True):
            shown = wait(conn, f"/groups/{group_id}", "group", "available")
            # the top's AZ and type ids, not the pod's copies'
            assert shown["availability_zone"] == az
            assert shown["group_type"] == gtype["id"]
            in_pod = conns[pod].block_storage.get(f"/groups/{group_id}", headers=GROUPS)
            assert in_pod.status_code == 200
            copy = pod_group_types(conns, pod)[f"cascade-{gtype['id']}"]
            assert in_pod.json()["group"]["group_type"] == copy["id"] != gtype["id"]
        # one list of both pods' groups
        listed = group_call(conn, "GET", "/groups/detail").json()["groups"]
        assert {g["id"] for g in listed} >= set(groups)
        summary = group_call(conn, "GET", "/groups").json()["groups"]
        assert {g["id"]: set(g) for g in summary if g["id"] in groups} == {
            g: {"id", "name"} for g in groups
        }
        # a change of specs follows into every copy
        specs = {"group_specs": {"key2": "v2"}}
        changed = group_call(admin, "POST", f"/group_types/{gtype['id']}/group_specs", json=specs)
        assert changed.status_code == 202 and changed.json() == specs
        for pod in ("pod1", "pod2"):
            wait_copy_specs(conns, pod, f"cascade-{gtype['id']}", {"key1": "v1", "key2": "v2"})
        # a volume in a group goes to the group's pod; a snapshot of the group too
        volume = call(
            conn,
            "POST",
            "/volumes",
            json={"volume": {"size": 1, "group_id": groups[1], "volume_type": "__DEFAULT__"}},
            headers={"OpenStack-API-Version": "volume 3.13"},
        )
        assert volume.status_code == 202, volume.text
        assert volume.json()["volume"]["availability_zone"] == "az2"
        wait(conn, f"/volumes/{volume.json()['volume']['id']}", "volume", "available")
        snap = group_call(
            conn, "POST", "/group_snapshots", json={"group_snapshot": {"group_id": groups[1]}}
        )
        assert snap.status_code == 202, snap.text
        snap_id = snap.json()["group_snapshot"]["id"]
        assert snap.json()["group_snapshot"]["group_type_id"] == gtype["id"]
        wait(conn, f"/group_snapshots/{snap_id}", "group_snapshot", "available")
        assert (
            conns["pod2"]
            .block_storage.get(f"/group_snapshots/{snap_id}", headers=GROUPS)
            .status_code
            == 200
        )
        # a group made from the snapshot is in the same pod
        source = {"create-from-src": {"group_snapshot_id": snap_id, "name": f"{name}-copy"}}
        copied = group_call(conn, "POST", "/groups/action", json=source)
        assert copied.status_code == 202, copied.text
        groups.append(copied.json()["group"]["id"])
        assert wait(conn, f"/groups/{groups[-1]}", "group", "available")["availability_zone"] == (
            "az2"
        )
        # the type is in use in the pods: its delete is refused, and it stays
        busy = group_call(admin, "DELETE", f"/group_types/{gtype['id']}")
        assert busy.status_code == 400, busy.text
        assert group_call(admin, "GET", f"/group_types/{gtype['id']}").status_code == 200
        assert group_call(conn, "DELETE", f"/group_snapshots/{snap_id}").status_code == 202
        gone(conn, f"/group_snapshots/{snap_id}")
    finally:
        for group_id in reversed(groups):
            delete = {"delete": {"delete-volumes": True}}
            group_call(conn, "POST", f"/groups/{group_id}/action", json=delete)
            gone(conn, f"/groups/{group_id}")
    assert group_call(conn, "GET", f"/groups/{groups[0]}").json()["itemNotFound"]["message"] == (
        f"Group {groups[0]} could not be found."
    )
    assert group_call(admin, "DELETE", f"/group_types/{gtype['id']}").status_code == 202
    for pod in ("pod1", "pod2"):
        assert f"cascade-{gtype['id']}" not in pod_group_types(conns, pod)


def test_a_project_s_default_type_is_the_tops(top: dict[str, Connection]) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    project = conn.current_project_id
    v362 = {"OpenStack-API-Version": "volume 3.62"}
    name = unique("default")
    made = call(admin, "POST", "/types", json={"volume_type": {"name": name}})
    assert made.status_code == 200, made.text
    type_id = made.json()["volume_type"]["id"]
    volume_id = None
    try:
        path = f"/default-types/{project}"
        assert call(admin, "GET", path, headers=v362).status_code == 404
        body = {"default_type": {"volume_type": name}}
        set_ = call(admin, "PUT", path, json=body, headers=v362)
        assert set_.status_code == 200, set_.text
        assert set_.json()["default_type"] == {"project_id": project, "volume_type_id": type_id}
        listed = call(admin, "GET", "/default-types", headers=v362).json()["default_types"]
        assert {"project_id": project, "volume_type_id": type_id} in listed
        # members may not; unknown types and projects are Cinder's errors
        assert call(conn, "PUT", path, json=body, headers=v362).status_code == 403
        bad = {"default_type": {"volume_type": "no-such-type"}}
        assert call(admin, "PUT", path, json=bad, headers=v362).status_code == 400
        nobody = call(admin, "PUT", "/default-types/no-such-project", json=body, headers=v362)
        assert nobody.status_code == 404, nobody.text
        # the project's new volumes get it, and it shows as the default
        shown = call(conn, "GET", "/types/default", headers=v362).json()["volume_type"]
        assert shown["id"] == type_id
        volume = call(conn, "POST", "/volumes", json={"volume": {"size": 1}}).json()["volume"]
        volume_id = volume["id"]
        assert wait(conn, f"/volumes/{volume_id}", "volume", "available")["volume_type"] == name
        # a type that is a project's default stays
        assert call(admin, "DELETE", f"/types/{type_id}").status_code == 400
    finally:
        assert call(admin, "DELETE", f"/default-types/{project}", headers=v362).status_code == 204
        if volume_id:
            call(conn, "DELETE", f"/volumes/{volume_id}")
            gone(conn, f"/volumes/{volume_id}")
        assert call(admin, "DELETE", f"/types/{type_id}").status_code == 202
    assert call(admin, "GET", f"/default-types/{project}", headers=v362).status_code == 404
