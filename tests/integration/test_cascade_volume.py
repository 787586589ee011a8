"""Block Storage through Cascade, against the real pods of the devcloud.

Volumes are made at the top in both AZs; the pods' own APIs (the same user's,
or admin) are used only to check where Cascade put them.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.conftest import devcloud
from tests.integration.test_cascade_compute import MV as COMPUTE_MV
from tests.integration.test_cascade_compute import pids, unique, wait_gone, wait_status

pytestmark = pytest.mark.integration
MV = "3.60"
LATEST = {"OpenStack-API-Version": f"volume {MV}"}


def call(conn: Connection, method: str, path: str, **kwargs: Any) -> Any:
    return conn.block_storage.request(
        path, method, headers={**LATEST, **kwargs.pop("headers", {})}, raise_exc=False, **kwargs
    )


def make(conn: Connection, **volume: Any) -> dict[str, Any]:
    resp = call(conn, "POST", "/volumes", json={"volume": {"size": 1, **volume}})
    assert resp.status_code == 202, resp.text
    made: dict[str, Any] = resp.json()["volume"]
    return made


def wait(conn: Connection, path: str, key: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = call(conn, "GET", path).json()[key]
        if found["status"] == status:
            return found
        assert found["status"] != "error", found
        assert time.monotonic() < deadline, f"{path} stayed {found['status']}"
        time.sleep(0.5)


def gone(conn: Connection, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while call(conn, "GET", path).status_code != 404:
        assert time.monotonic() < deadline, f"{path} not deleted"
        time.sleep(0.5)


def pod_has(conns: dict[str, Connection], pod: str, volume_id: str) -> bool:
    resp = conns[pod].block_storage.get(f"/volumes/{volume_id}", raise_exc=False)
    return bool(resp.status_code == 200)


def test_volume_versions_answer_like_cinder(top: dict[str, Connection]) -> None:
    conn = top["cascade"]
    root = str(conn.block_storage.get_endpoint()).split("/v3")[0]
    versions = conn.session.get(root + "/", authenticated=False, raise_exc=False)
    assert versions.status_code == 300
    doc = versions.json()["versions"][0]
    assert doc["id"] == "v3.0" and doc["min_version"] == "3.0" and doc["version"] == "3.71"
    too_new = call(conn, "GET", "/volumes", headers={"OpenStack-API-Version": "volume 3.99"})
    assert too_new.status_code == 406
    assert too_new.json()["computeFault"]["message"] == (
        "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
    )
    listed = call(conn, "GET", "/volumes")
    assert listed.headers["OpenStack-API-Version"] == f"volume {MV}"


def test_volumes_snapshots_and_lists_across_pods(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, alt = top["cascade"], top["cascade-alt"]
    tag = unique("vol")
    made: list[str] = []
    snapshot_id = None
    try:
        for n, az in enumerate(("az1", "az2", "az1", "az2")):
            volume = make(conn, name=f"{tag}-{n}", availability_zone=az)
            made.append(volume["id"])
            assert volume["availability_zone"] == az
        for volume_id in made:
            wait(conn, f"/volumes/{volume_id}", "volume", "available")
        # each volume is in its AZ's pod, and only there
        for volume_id, pod in zip(made, ("pod1", "pod2", "pod1", "pod2"), strict=True):
            other = "pod2" if pod == "pod1" else "pod1"
            assert pod_has(conns, pod, volume_id) and not pod_has(conns, other, volume_id)
        # a snapshot goes to its volume's pod, a volume from it too; another AZ is a 400
        snap = call(conn, "POST", "/snapshots", json={"snapshot": {"volume_id": made[1]}})
        assert snap.status_code == 202, snap.text
        snapshot_id = snap.json()["snapshot"]["id"]
        wait(conn, f"/snapshots/{snapshot_id}", "snapshot", "available")
        assert conns["pod2"].block_storage.get(f"/snapshots/{snapshot_id}").status_code == 200
        wrong = call(
            conn,
            "POST",
            "/volumes",
            json={"volume": {"size": 1, "snapshot_id": snapshot_id, "availability_zone": "az1"}},
        )
        assert wrong.status_code == 400 and "pod2" in wrong.json()["badRequest"]["message"]
        copy = make(conn, name=f"{tag}-copy", snapshot_id=snapshot_id)
        made.append(copy["id"])
        assert copy["availability_zone"] == "az2"
        wait(conn, f"/volumes/{copy['id']}", "volume", "available")
        assert pod_has(conns, "pod2", copy["id"])
        # a paged, sorted list is the sorted union of the pods' lists
        in_pods = [
            v
            for pod in ("pod1", "pod2")
            for v in conns[pod].block_storage.get("/volumes/detail").json()["volumes"]
        ]
        union = sorted(
            in_pods, key=lambda v: ((v["name"] or "").casefold(), v["created_at"], v["id"])
        )
        paged: list[str] = []
        marker = None
        while True:
            query = "/volumes/detail?limit=2&sort=name:asc"
            page = call(conn, "GET", query + (f"&marker={marker}" if marker else ""))
            assert page.status_code == 200, page.text
            body = page.json()
            paged += [v["id"] for v in body["volumes"]]
            if "volumes_links" not in body:
                break
            marker = body["volumes"][-1]["id"]
        # (a volume moved between pods has its top id at the top, another in its pod)
        both = set(paged) & {v["id"] for v in union}
        assert [i for i in paged if i in both] == [v["id"] for v in union if v["id"] in both]
        assert len(both) >= len(union) - len(set(paged) - both)
        assert len([v for v in union if (v["name"] or "").startswith(tag)]) == 5
        counted = call(
            conn,
            "GET",
            "/volumes?with_count=true&limit=1",
            headers={"OpenStack-API-Version": "volume 3.45"},
        )
        assert counted.json()["count"] == len(in_pods)
        # the other project sees and touches none of it
        alt_list = call(alt, "GET", "/volumes/detail").json()["volumes"]
        assert not {v["id"] for v in alt_list} & set(made)
        assert call(alt, "GET", f"/volumes/{made[0]}").status_code == 404
        assert call(alt, "DELETE", f"/volumes/{made[0]}").status_code == 404
        renamed = call(conn, "PUT", f"/volumes/{made[0]}", json={"volume": {"name": "x"}})
        assert renamed.status_code == 200 and renamed.json()["volume"]["name"] == "x"
    finally:
        if snapshot_id:
            call(conn, "DELETE", f"/volumes/{made[-1]}")
            gone(conn, f"/volumes/{made[-1]}")
            call(conn, "DELETE", f"/snapshots/{snapshot_id}")
            gone(conn, f"/snapshots/{snapshot_id}")
        for volume_id in made:
            call(conn, "DELETE", f"/volumes/{volume_id}")
        for volume_id in made:
            gone(conn, f"/volumes/{volume_id}")


def test_bad_volume_requests_get_cinders_errors(top: dict[str, Connection]) -> None:
    conn = top["cascade"]
    missing = call(conn, "GET", "/volumes/0b3a5e5e-1b1b-4c4c-8d8d-000000000000")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == (
        "Volume 0b3a5e5e-1b1b-4c4c-8d8d-000000000000 could not be found."
    )
    bad_az = call(
        conn, "POST", "/volumes", json={"volume": {"size": 1, "availability_zone": "nope"}}
    )
    assert bad_az.status_code == 400
    assert bad_az.json()["badRequest"]["message"] == "Availability zone 'nope' is invalid."
    no_body = call(conn, "POST", "/volumes", json={"size": 1})
    assert no_body.status_code == 400
    zones = call(conn, "GET", "/os-availability-zone").json()["availabilityZoneInfo"]
    assert {z["zoneName"] for z in zones} == {"az1", "az2"}


def test_a_top_volume_type_is_copied_into_each_pod_that_needs_it(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, admin, alt = top["cascade"], top["cascade-admin"], top["cascade-alt"]
    name = unique("type")
    body = {
        "volume_type": {
            "name": name,
            "extra_specs": {"custom:tier": "gold"},
            "os-volume-type-access:is_public": False,
        }
    }
    made = call(admin, "POST", "/types", json=body)
    assert made.status_code == 200, made.text
    vtype = made.json()["volume_type"]
    volumes: list[str] = []
    try:
        project = conn.current_project_id
        grant = {"addProjectAccess": {"project": project}}
        assert call(admin, "POST", f"/types/{vtype['id']}/action", json=grant).status_code == 202
        assert call(alt, "GET", f"/types/{vtype['id']}").status_code == 404
        refused = call(alt, "POST", "/volumes", json={"volume": {"size": 1, "volume_type": name}})
        assert refused.status_code == 404
        for az in ("az1", "az2"):
            volume = make(conn, availability_zone=az, volume_type=name)
            volumes.append(volume["id"])
        for volume_id in volumes:
            shown = wait(conn, f"/volumes/{volume_id}", "volume", "available")
            assert shown["volume_type"] == name
        shown = call(
            conn, "GET", f"/volumes/{volumes[0]}", headers={"OpenStack-API-Version": "volume 3.63"}
        ).json()["volume"]
        assert shown["volume_type_id"] == vtype["id"]
        # each pod has one copy, named after the top id, with the top's specs
        for pod in ("pod1", "pod2"):
            copies = [
                t
                for t in conns[f"{pod}-admin"]
                .block_storage.get("/types?is_public=None")
                .json()["volume_types"]
                if t["name"] == f"cascade-{vtype['id']}"
            ]
            assert len(copies) == 1, copies
            assert copies[0]["extra_specs"] == {"custom:tier": "gold"}
            assert copies[0]["is_public"] is False
        # the pods refuse changes to a type their volumes use: so does the top
        busy = call(
            admin,
            "POST",
            f"/types/{vtype['id']}/extra_specs",
            json={"extra_specs": {"custom:x": "1"}},
        )
        assert busy.status_code == 400 and "in use" in busy.json()["badRequest"]["message"]
        specs = call(admin, "GET", f"/types/{vtype['id']}/extra_specs").json()["extra_specs"]
        assert specs == {"custom:tier": "gold"}
        # a type whose pod tag no pod has: no pod can take its volumes
        tagged = call(
            admin,
            "POST",
            "/types",
            json={"volume_type": {"name": f"{name}-t", "extra_specs": {"cascade:pod_tag": "none"}}},
        ).json()["volume_type"]
        nowhere = call(
            conn, "POST", "/volumes", json={"volume": {"size": 1, "volume_type": tagged["id"]}}
        )
        assert nowhere.status_code == 409, nowhere.text
        assert call(admin, "DELETE", f"/types/{tagged['id']}").status_code == 202
    finally:
        for volume_id in volumes:
            call(conn, "DELETE", f"/volumes/{volume_id}")
        for volume_id in volumes:
            gone(conn, f"/volumes/{volume_id}")
        assert call(admin, "DELETE", f"/types/{vtype['id']}").status_code == 202
    for pod in ("pod1", "pod2"):
        listed = conns[f"{pod}-admin"].block_storage.get("/types?is_public=None").json()
        assert f"cascade-{vtype['id']}" not in {t["name"] for t in listed["volume_types"]}


def boot(conn: Connection, **server: Any) -> Any:
    image = str(conn.image.find_image("tiny", ignore_missing=False).id)
    body = {"server": {"name": unique("vol-vm"), "flavorRef": "1", "networks": "none", **server}}
    body["server"].setdefault("imageRef", image)
    return conn.compute.post("/servers", json=body, microversion=COMPUTE_MV, raise_exc=False)


def test_attach_in_one_pod_only_and_boot_from_volume_goes_to_its_pod(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn = top["cascade"]
    here = make(conn, availability_zone="az1", name=unique("att"))
    there = make(conn, availability_zone="az2", name=unique("att"))
    servers: list[str] = []
    try:
        made = boot(conn, availability_zone="az1")
        assert made.status_code == 202, made.text
        server = made.json()["server"]["id"]
        servers.append(server)
        wait_status(conn, server, "ACTIVE")
        for volume in (here, there):
            wait(conn, f"/volumes/{volume['id']}", "volume", "available")
        attachments = f"/servers/{server}/os-volume_attachments"
        across = conn.compute.post(
            attachments,
            json={"volumeAttachment": {"volumeId": there["id"]}},
            microversion=COMPUTE_MV,
            raise_exc=False,
        )
        assert across.status_code == 409, across.text
        message = across.json()["conflictingRequest"]["message"]
        assert "pod pod2" in message and "pod pod1" in message
        assert call(conn, "GET", f"/volumes/{there['id']}").json()["volume"]["attachments"] == []
        attached = conn.compute.post(
            attachments,
            json={"volumeAttachment": {"volumeId": here["id"]}},
            microversion=COMPUTE_MV,
            raise_exc=False,
        )
        assert attached.status_code == 200, attached.text
        shown = wait(conn, f"/volumes/{here['id']}", "volume", "in-use")
        assert [a["server_id"] for a in shown["attachments"]] == [server]
        detached = conn.compute.delete(
            f"{attachments}/{here['id']}", microversion=COMPUTE_MV, raise_exc=False
        )
        assert detached.status_code == 202, detached.text
        wait(conn, f"/volumes/{here['id']}", "volume", "available")
        # Cinder's attachments API: the same in one pod, refused across pods
        new_attach = {"OpenStack-API-Version": "volume 3.44"}
        for volume, status in ((there, 409), (here, 200)):
            body = {"attachment": {"volume_uuid": volume["id"], "instance_uuid": server}}
            answer = call(conn, "POST", "/attachments", json=body, headers=new_attach)
            assert answer.status_code == status, answer.text
        reserved = answer.json()["attachment"]["id"]
        listed = call(conn, "GET", "/attachments", headers=new_attach).json()["attachments"]
        assert reserved in [a["id"] for a in listed]
        removed = call(conn, "DELETE", f"/attachments/{reserved}", headers=new_attach)
        assert removed.status_code == 200, removed.text
        wait(conn, f"/volumes/{here['id']}", "volume", "available")
        # booting from the az2 volume lands in pod2; asking for az1 as well is a 400
        bootable = {"os-set_bootable": {"bootable": True}}
        assert (
            call(conn, "POST", f"/volumes/{there['id']}/action", json=bootable).status_code == 200
        )
        mapping = {
            "uuid": there["id"],
            "source_type": "volume",
            "destination_type": "volume",
            "boot_index": 0,
        }
        wrong = boot(conn, imageRef="", block_device_mapping_v2=[mapping], availability_zone="az1")
        assert wrong.status_code == 400 and "pod2" in wrong.json()["badRequest"]["message"]
        from_volume = boot(conn, imageRef="", block_device_mapping_v2=[mapping])
        assert from_volume.status_code == 202, from_volume.text
        servers.append(from_volume.json()["server"]["id"])
        booted = wait_status(conn, servers[-1], "ACTIVE")
        assert booted["OS-EXT-AZ:availability_zone"] == "az2"
        assert conns["pod2"].compute.get(f"/servers/{servers[-1]}").status_code == 200
    finally:
        for server_id in servers:
            conn.compute.delete(f"/servers/{server_id}", microversion=COMPUTE_MV, raise_exc=False)
        for server_id in servers:
            wait_gone(conn, server_id)
        for volume in (here, there):
            wait_settled(conn, volume["id"])
            call(conn, "DELETE", f"/volumes/{volume['id']}")
        for volume in (here, there):
            gone(conn, f"/volumes/{volume['id']}")


def wait_settled(conn: Connection, volume_id: str, timeout: float = 60) -> None:
    """Until the volume is no longer attached or being detached."""
    deadline = time.monotonic() + timeout
    while call(conn, "GET", f"/volumes/{volume_id}").json()["volume"]["status"] in (
        "in-use", "detaching", "attaching", "reserved",
    ):  # fmt: skip
        assert time.monotonic() < deadline, f"{volume_id} stayed attached"
        time.sleep(0.5)


def test_quota_is_the_tops_and_counts_every_pod(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    project = conn.current_project_id
    in_pods = sum(
        len(conns[pod].block_storage.get("/volumes").json()["volumes"]) for pod in ("pod1", "pod2")
    )
    shown = call(conn, "GET", f"/os-quota-sets/{project}?usage=True").json()["quota_set"]
    assert shown["volumes"]["in_use"] == in_pods and shown["id"] == project
    limits = call(conn, "GET", "/limits").json()["limits"]["absolute"]
    assert limits["totalVolumesUsed"] == in_pods
    other = call(conn, "GET", f"/os-quota-sets/{top['cascade-alt'].current_project_id}")
    assert other.status_code == 403
    below = call(admin, "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"volumes": 0}})
    assert below.status_code == 400 if in_pods else below.status_code == 200
    full = call(admin, "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"volumes": in_pods}})
    try:
        assert full.status_code == 200, full.text
        refused = call(conn, "POST", "/volumes", json={"volume": {"size": 1, "name": unique("q")}})
        assert refused.status_code == 413, refused.text
        assert refused.json()["overLimit"]["message"] == (
            f"VolumeLimitExceeded: Maximum number of volumes allowed ({in_pods}) exceeded "
            "for quota 'volumes'."
        )
        after = sum(
            len(conns[pod].block_storage.get("/volumes").json()["volumes"])
            for pod in ("pod1", "pod2")
        )
        assert after == in_pods  # no pod was asked
    finally:
        assert call(admin, "DELETE", f"/os-quota-sets/{project}").status_code == 200
    # a type's own limit: none of that type allowed, the top says so before any pod
    name = unique("quota")
    vtype = call(admin, "POST", "/types", json={"volume_type": {"name": name}}).json()[
        "volume_type"
    ]
    try:
        zero = {"quota_set": {f"volumes_{name}": 0}}
        assert call(admin, "PUT", f"/os-quota-sets/{project}", json=zero).status_code == 200
        typed = call(conn, "POST", "/volumes", json={"volume": {"size": 1, "volume_type": name}})
        assert typed.status_code == 413, typed.text
        assert f"for quota 'volumes_{name}'" in typed.json()["overLimit"]["message"]
    finally:
        assert call(admin, "DELETE", f"/os-quota-sets/{project}").status_code == 200
        assert call(admin, "DELETE", f"/types/{vtype['id']}").status_code == 202


def test_answers_put_together_from_every_pod(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    summary = call(conn, "GET", "/volumes/summary").json()["volume-summary"]
    in_pods = [
        conns[pod].block_storage.get("/volumes/summary", microversion="3.12").json()
        for pod in ("pod1", "pod2")
    ]
    assert summary["total_count"] == sum(p["volume-summary"]["total_count"] for p in in_pods)
    pools = call(admin, "GET", "/scheduler-stats/get_pools").json()["pools"]
    assert {p["name"] for p in pools} == {"pod1-volume@fake#fake", "pod2-volume@fake#fake"}
    assert call(conn, "GET", "/scheduler-stats/get_pools").status_code == 403
    filters = call(conn, "GET", "/resource_filters").json()["resource_filters"]
    assert "name" in next(f["filters"] for f in filters if f["resource"] == "volume")


def test_a_transferred_volume_belongs_to_the_accepting_project(
    top: dict[str, Connection],
) -> None:
    conn, alt = top["cascade"], top["cascade-alt"]
    volume = make(conn, availability_zone="az2", name=unique("moving"))
    owner = conn
    try:
        wait(conn, f"/volumes/{volume['id']}", "volume", "available")
        made = call(
            conn, "POST", "/os-volume-transfer", json={"transfer": {"volume_id": volume["id"]}}
        )
        assert made.status_code == 202, made.text
        transfer = made.json()["transfer"]
        listed = call(conn, "GET", "/os-volume-transfer").json()["transfers"]
        assert transfer["id"] in [t["id"] for t in listed]
        assert call(alt, "GET", f"/os-volume-transfer/{transfer['id']}").status_code == 404
        accept = {"accept": {"auth_key": transfer["auth_key"]}}
        taken = call(alt, "POST", f"/os-volume-transfer/{transfer['id']}/accept", json=accept)
        assert taken.status_code == 202, taken.text
        owner = alt
        wait(alt, f"/volumes/{volume['id']}", "volume", "available")
        assert call(conn, "GET", f"/volumes/{volume['id']}").status_code == 404
        alt_ids = [v["id"] for v in call(alt, "GET", "/volumes").json()["volumes"]]
        assert volume["id"] in alt_ids
    finally:
        call(owner, "DELETE", f"/volumes/{volume['id']}")
        gone(owner, f"/volumes/{volume['id']}")


def test_with_a_pod_s_cinder_api_stopped_lists_still_answer(
    top: dict[str, Connection],
) -> None:
    conn = top["cascade"]
    kept = make(conn, availability_zone="az1", name=unique("kept"))
    wait(conn, f"/volumes/{kept['id']}", "volume", "available")
    os.killpg(pids()["pod2-cinder-api"], signal.SIGKILL)
    try:
        listed = call(conn, "GET", "/volumes/detail")
        assert listed.status_code == 200, listed.text
        assert listed.headers["X-Cascade-Unavailable-Pods"] == "pod2"
        assert kept["id"] in {v["id"] for v in listed.json()["volumes"]}
        down = call(
            conn, "POST", "/volumes", json={"volume": {"size": 1, "availability_zone": "az2"}}
        )
        assert down.status_code == 503 and "pod2" in down.json()["serviceUnavailable"]["message"]
    finally:
        result = devcloud("up")
        assert result.returncode == 0, result.stderr
        call(conn, "DELETE", f"/volumes/{kept['id']}")
        gone(conn, f"/volumes/{kept['id']}")
        # Cascade's circuit breaker lets pod2 back in after its reset time: wait for it,
        # so that the tests after this one find both pods
        deadline = time.monotonic() + 120
        while "X-Cascade-Unavailable-Pods" in call(conn, "GET", "/volumes").headers:
            assert time.monotonic() < deadline, "pod2's Cinder did not come back"
            time.sleep(1)


def test_qos_specs_follow_their_type_into_the_pod(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    name = unique("qos")
    qos = call(
        admin, "POST", "/qos-specs", json={"qos_specs": {"name": name, "total_iops_sec": "500"}}
    ).json()["qos_specs"]
    vtype = call(admin, "POST", "/types", json={"volume_type": {"name": name}}).json()[
        "volume_type"
    ]
    volume = None
    try:
        linked = call(admin, "GET", f"/qos-specs/{qos['id']}/associate?vol_type_id={vtype['id']}")
        assert linked.status_code == 202
        volume = make(conn, availability_zone="az1", volume_type=name)
        wait(conn, f"/volumes/{volume['id']}", "volume", "available")
        pod = conns["pod1-admin"].block_storage
        copies = [
            q
            for q in pod.get("/qos-specs").json()["qos_specs"]
            if q["name"] == f"cascade-{qos['id']}"
        ]
        assert len(copies) == 1 and copies[0]["specs"] == {"total_iops_sec": "500"}
        bottom_type = next(
            t
            for t in pod.get("/types?is_public=None").json()["volume_types"]
            if t["name"] == f"cascade-{vtype['id']}"
        )
        assert bottom_type["qos_specs_id"] == copies[0]["id"]
        # a change of the specs reaches the copy (by a job)
        call(admin, "PUT", f"/qos-specs/{qos['id']}", json={"qos_specs": {"total_iops_sec": "900"}})
        deadline = time.monotonic() + 30
        while pod.get(f"/qos-specs/{copies[0]['id']}").json()["qos_specs"]["specs"] != {
            "total_iops_sec": "900"
        }:
            assert time.monotonic() < deadline, "the QoS change did not reach pod1"
            time.sleep(0.5)
    finally:
        if volume:
            call(conn, "DELETE", f"/volumes/{volume['id']}")
            gone(conn, f"/volumes/{volume['id']}")
        call(admin, "GET", f"/qos-specs/{qos['id']}/disassociate_all")
        call(admin, "DELETE", f"/types/{vtype['id']}")
        assert call(admin, "DELETE", f"/qos-specs/{qos['id']}?force=true").status_code == 202


def test_a_retype_names_a_top_type(top: dict[str, Connection]) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    names = [unique("rt"), unique("rt")]
    made = [
        call(admin, "POST", "/types", json={"volume_type": {"name": n}}).json()["volume_type"]
        for n in names
    ]
    volume = None
    try:
        volume = make(conn, availability_zone="az1", volume_type=names[0])
        wait(conn, f"/volumes/{volume['id']}", "volume", "available")
        retype = {"os-retype": {"new_type": names[1], "migration_policy": "never"}}
        answer = call(conn, "POST", f"/volumes/{volume['id']}/action", json=retype)
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 60
        while (
            call(conn, "GET", f"/volumes/{volume['id']}").json()["volume"]["volume_type"]
            != names[1]
        ):
            assert time.monotonic() < deadline, "the retype did not happen"
            time.sleep(0.5)
        unknown = {"os-retype": {"new_type": "no-such-type"}}
        refused = call(conn, "POST", f"/volumes/{volume['id']}/action", json=unknown)
        assert refused.status_code == 404
    finally:
        if volume:
            wait(conn, f"/volumes/{volume['id']}", "volume", "available")
            call(conn, "DELETE", f"/volumes/{volume['id']}")
            gone(conn, f"/volumes/{volume['id']}")
        for vtype in made:
            call(admin, "DELETE", f"/types/{vtype['id']}")


def test_a_server_s_new_volume_gets_the_pods_copy_of_its_top_type(
    top: dict[str, Connection], conns: dict[str, Connection]
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    name = unique("bdm")
    vtype = call(admin, "POST", "/types", json={"volume_type": {"name": name}}).json()[
        "volume_type"
    ]
    image = str(conn.image.find_image("tiny", ignore_missing=False).id)
    server = None
    try:
        blank = {
            "boot_index": -1,
            "source_type": "blank",
            "destination_type": "volume",
            "volume_size": 1,
            "volume_type": name,
            "delete_on_termination": True,
        }
        local = {
            "boot_index": 0,
            "uuid": image,
            "source_type": "image",
            "destination_type": "local",
        }
        made = boot(conn, availability_zone="az2", block_device_mapping_v2=[local, blank])
        assert made.status_code == 202, made.text
        server = made.json()["server"]["id"]
        wait_status(conn, server, "ACTIVE")
        volumes = [
            v
            for v in conns["pod2-admin"]
            .block_storage.get("/volumes/detail?all_tenants=1")
            .json()["volumes"]
            if v["name"] == f"{server}-blank-vol"
        ]
        assert [v["volume_type"] for v in volumes] == [f"cascade-{vtype['id']}"]
        shown = call(conn, "GET", f"/volumes/{volumes[0]['id']}").json()["volume"]
        assert shown["volume_type"] == name  # the top's name through the top
    finally:
        if server:
            conn.compute.delete(f"/servers/{server}", microversion=COMPUTE_MV, raise_exc=False)
            wait_gone(conn, server)
        deadline = time.monotonic() + 60
        while call(admin, "DELETE", f"/types/{vtype['id']}").status_code != 202:
            assert time.monotonic() < deadline, "the type stayed in use"
            time.sleep(1)
