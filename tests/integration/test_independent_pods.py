"""A pod that shares nothing with the top: the devcloud's pod3 with a Keystone and a
Glance of its own (`devcloud up --pods 3 --independent 1`), registered as an independent
pod. Through the top, the demo user's objects there live in a project of pod3 that stands
for demo's (made on first use), alt_demo can neither see nor touch them, and pod3's
Keystone away is a 503 naming the pod while the other pods serve on.

The module adds pod3 to the devcloud when it has none, and removes it again at the end
(the other modules expect the default two shared pods)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from devcloud.layout import Layout
from tests.integration.conftest import DEVCLOUD_DIR, connect, devcloud
from tests.integration.test_cascade_compute import MV, create, unique, wait_gone, wait_status
from tests.integration.test_cascade_volume import call, gone, make, wait
from tests.integration.test_crash_safety import frozen

pytestmark = pytest.mark.integration
SECRET = "secret"  # the devcloud's password, which pod3's credentials hold


@pytest.fixture(scope="module")
def pod3(clouds_yaml: Path) -> Iterator[Connection]:
    """pod3, independent, in the devcloud; its own admin (its own Keystone)."""
    state = json.loads((DEVCLOUD_DIR / "devcloud.json").read_text())
    added = 3 not in state.get("independent", [])
    if added:
        result = devcloud("up", "--pods", "3", "--independent", "1")
        assert result.returncode == 0, result.stdout + result.stderr
    admin = connect("pod3-admin")
    yield admin
    admin.close()
    if added:
        result = devcloud("up", "--pods", "2")
        assert result.returncode == 0, result.stdout + result.stderr


def admin_api(top: dict[str, Connection], method: str, path: str, **kwargs: Any) -> Any:
    """Cascade's admin API as the top's admin."""
    conn = top["cascade-admin"]
    headers = {"X-Auth-Token": str(conn.auth_token)}
    base = Layout(DEVCLOUD_DIR).url("cascade")
    return httpx.request(method, base + path, headers=headers, timeout=60, **kwargs)


def pod_named(top: dict[str, Connection], name: str) -> dict[str, Any]:
    pods = admin_api(top, "GET", "/v1/pods").json()["pods"]
    found: dict[str, Any] = next(p for p in pods if p["name"] == name)
    return found


def standing_for(pod3: Connection, project_id: str) -> dict[str, Any]:
    """pod3's project that stands for top project `project_id`."""
    projects = pod3.identity.get("/projects").json()["projects"]
    found = [p for p in projects if p["description"] == f"Cascade: top project {project_id}"]
    assert len(found) == 1, [p["name"] for p in projects]
    return dict(found[0])


def test_the_demo_users_volume_lives_in_the_project_standing_for_demo(
    top: dict[str, Connection], pod3: Connection
) -> None:
    conn, alt = top["cascade"], top["cascade-alt"]
    demo_project = str(conn.current_project_id)
    volume = make(conn, availability_zone="az3", name=unique("ind"))
    try:
        shown = wait(conn, f"/volumes/{volume['id']}", "volume", "available")
        # the top's project and AZ, as for any pod
        assert shown["os-vol-tenant-attr:tenant_id"] == demo_project
        assert shown["availability_zone"] == "az3"
        listed = call(conn, "GET", "/volumes/detail").json()["volumes"]
        assert volume["id"] in [v["id"] for v in listed]
        # in pod3, in the project standing for demo (named after it), nowhere else
        mine = standing_for(pod3, demo_project)
        assert mine["name"] == "demo"
        there = pod3.block_storage.get(
            f"/volumes/{volume['id']}", microversion="3.0", raise_exc=False
        ).json()["volume"]
        assert there["os-vol-tenant-attr:tenant_id"] == mine["id"]
        others = pod3.block_storage.get("/volumes/detail?all_tenants=1", microversion="3.0").json()[
            "volumes"
        ]
        assert {v["os-vol-tenant-attr:tenant_id"] for v in others if v["id"] == volume["id"]} == {
            mine["id"]
        }
        # alt_demo neither sees nor touches it
        assert call(alt, "GET", f"/volumes/{volume['id']}").status_code == 404
        assert call(alt, "DELETE", f"/volumes/{volume['id']}").status_code == 404
        assert volume["id"] not in [
            v["id"] for v in call(alt, "GET", "/volumes/detail").json()["volumes"]
        ]
        # the mapping at the top; the pod's secret never shown
        pod = pod_named(top, "pod3")
        assert pod["identity"] == "independent" and "password" not in pod["credentials"]
        shown_pod = admin_api(top, "GET", f"/v1/pods/{pod['id']}")
        assert SECRET not in shown_pod.text
        mapped = admin_api(top, "GET", f"/v1/pods/{pod['id']}/projects").json()["projects"]
        assert {"project_id": demo_project, "pod_project_id": mine["id"]}.items() <= next(
            m for m in mapped if m["project_id"] == demo_project
        ).items()
    finally:
        call(conn, "DELETE", f"/volumes/{volume['id']}")
        gone(conn, f"/volumes/{volume['id']}")


def test_with_pod3s_keystone_away_a_new_project_gets_a_503_naming_it(
    top: dict[str, Connection], pod3: Connection
) -> None:
    alt = top["cascade-alt"]
    alt_project = str(alt.current_project_id)
    pod = pod_named(top, "pod3")
    # alt_demo not mapped into pod3 yet (a fresh devcloud), or mapped again from scratch
    for volume in call(alt, "GET", "/volumes/detail").json()["volumes"]:
        if volume["availability_zone"] == "az3":
            call(alt, "DELETE", f"/volumes/{volume['id']}")
            gone(alt, f"/volumes/{volume['id']}")
    unmapped = admin_api(top, "DELETE", f"/v1/pods/{pod['id']}/projects/{alt_project}")
    assert unmapped.status_code in (204, 404), unmapped.text
    made: list[tuple[Connection, str]] = []
    try:
        with frozen("pod3-keystone"):
            started = time.monotonic()
            refused = call(
                alt, "POST", "/volumes", json={"volume": {"size": 1, "availability_zone": "az3"}}
            )
            assert refused.status_code == 503, refused.text
            assert "pod3" in refused.text and SECRET not in refused.text
            assert time.monotonic() - started < 60
            # the other pods serve on, pod3's mapped projects too (tokens kept)
            elsewhere = make(alt, availability_zone="az1", name=unique("ind"))
            made.append((alt, elsewhere["id"]))
            wait(alt, f"/volumes/{elsewhere['id']}", "volume", "available")
        # Keystone back: once a health round sees pod3 up again (every [pods]
        # health_interval), the project is made (or found again) and the volume too
        deadline = time.monotonic() + 60
        while pod_health(top, pod["id"]) != "up":
            assert time.monotonic() < deadline, "pod3 not up again within 60 s"
            time.sleep(1)
        back = make(alt, availability_zone="az3", name=unique("ind"))
        made.append((alt, back["id"]))
        wait(alt, f"/volumes/{back['id']}", "volume", "available")
        assert standing_for(pod3, alt_project)["name"] == "alt_demo"
    finally:
        for who, volume_id in made:
            call(who, "DELETE", f"/volumes/{volume_id}")
            gone(who, f"/volumes/{volume_id}")


def pod_health(top: dict[str, Connection], pod_id: str) -> str:
    state: str = admin_api(top, "GET", f"/v1/pods/{pod_id}").json()["pod"]["health"]["state"]
    return state


def admin_jobs(top: dict[str, Connection], job_type: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = admin_api(
        top, "GET", "/v1/jobs", params={"type": job_type}
    ).json()["jobs"]
    return found


def pod3_server(pod3: Connection, server_id: str) -> dict[str, Any]:
    found: dict[str, Any] = pod3.compute.get(
        f"/servers/{server_id}", microversion=MV, raise_exc=False
    ).json()["server"]
    return found


def test_servers_in_pod3_boot_a_top_image_copied_once_and_span_a_network_with_pod1(
    top: dict[str, Connection], pod3: Connection
) -> None:
    """Three servers booted at once in az3 from a new 100 MB top image: one copy, its
    checksum the top's; one more in az1 on the same top network; a keypair and a volume
    attached in pod3; what pod3's admin sees is in the project standing for demo."""
    conn, alt = top["cascade"], top["cascade-alt"]
    data = os.urandom(100 * 1024 * 1024)
    made = conn.image.create_image(
        name=unique("big"), disk_format="raw", container_format="bare", data=data
    )
    image_id = str(made.id)
    top_image = conn.image.get_image(image_id)
    network = conn.network.create_network(name=unique("span"))
    conn.network.create_subnet(network_id=network.id, cidr="10.124.0.0/24", ip_version=4)
    nets = {"az1": network.id, "az3": network.id}
    key = conn.compute.create_keypair(name=unique("key"))
    servers: list[str] = []
    volume_id = None
    try:
        with ThreadPoolExecutor(3) as pool:
            booted = list(
                pool.map(
                    lambda _: create(conn, "az3", nets, image_id, "1", key_name=key.name),
                    range(3),
                )
            )
        servers += [s["id"] for s in booted]
        servers.append(create(conn, "az1", nets, image_id, "1")["id"])
        shown = [wait_status(conn, s, "ACTIVE") for s in servers]
        assert [s["OS-EXT-AZ:availability_zone"] for s in shown] == ["az3"] * 3 + ["az1"]
        assert all(s["image"]["id"] == image_id for s in shown)  # the top image's id
        assert {s["key_name"] for s in shown[:3]} == {key.name}
        me = str(conn.current_user_id)
        assert {s["user_id"] for s in shown} == {me}  # the top user's, not pod3's
        assert {s["tenant_id"] for s in shown} == {str(conn.current_project_id)}
        # one copy in pod3, the top's checksum, made by one job
        copy = pod3.image.get_image(image_id)
        assert copy.checksum == top_image.checksum and copy.size == len(data)
        jobs = [j for j in admin_jobs(top, "image.copy") if j["resource_id"].startswith(image_id)]
        assert len([j for j in jobs if j["status"] == "done"]) == 1, jobs
        # all four on one network: pod3's addresses and pod1's in one subnet
        addresses = [a["addr"] for s in shown for a in s["addresses"][network.name]]
        assert len(set(addresses)) == 4 and all(a.startswith("10.124.0.") for a in addresses)
        # pod3's own view: in the project standing for demo, by demo's user there
        mine = standing_for(pod3, str(conn.current_project_id))
        there = pod3_server(pod3, servers[0])
        assert there["tenant_id"] == mine["id"] and there["user_id"] != me
        # a volume made in az3 attached to a server there, by the top ids
        volume = make(conn, availability_zone="az3", name=unique("att"))
        volume_id = volume["id"]
        wait(conn, f"/volumes/{volume_id}", "volume", "available")
        attach = {"volumeAttachment": {"volumeId": volume_id}}
        attached = conn.compute.post(
            f"/servers/{servers[0]}/os-volume_attachments", json=attach, microversion=MV
        )
        assert attached.status_code == 200, attached.text
        wait(conn, f"/volumes/{volume_id}", "volume", "in-use")
        # alt_demo sees none of it
        for server_id in servers:
            assert alt.compute.get(f"/servers/{server_id}", raise_exc=False).status_code == 404
    finally:
        for server_id in servers:
            conn.compute.delete(f"/servers/{server_id}", raise_exc=False)
        for server_id in servers:
            wait_gone(conn, server_id)
        if volume_id:
            wait(conn, f"/volumes/{volume_id}", "volume", "available")
            call(conn, "DELETE", f"/volumes/{volume_id}")
            gone(conn, f"/volumes/{volume_id}")
        conn.compute.delete_keypair(key, ignore_missing=True)
        conn.image.delete_image(image_id, ignore_missing=True)
        deadline = time.monotonic() + 60
        while list(conn.network.ports(network_id=network.id)) and time.monotonic() < deadline:
            time.sleep(1)
        conn.network.delete_network(network.id, ignore_missing=True)
    # the top image deleted: its copy in pod3 goes too
    deadline = time.monotonic() + 60
    while pod3.image.find_image(image_id) is not None:
        assert time.monotonic() < deadline, "pod3 kept the copy of a deleted image"
        time.sleep(1)


def test_a_snapshot_taken_in_pod3_is_a_top_image_that_boots_in_pod1(
    top: dict[str, Connection], pod3: Connection
) -> None:
    conn = top["cascade"]
    image = str(conn.image.find_image("tiny", ignore_missing=False).id)
    network = conn.network.create_network(name=unique("snapnet"))
    conn.network.create_subnet(network_id=network.id, cidr="10.125.0.0/24", ip_version=4)
    nets = {"az1": network.id, "az3": network.id}
    servers: list[str] = []
    snapshot_id = None
    try:
        servers.append(create(conn, "az3", nets, image, "1")["id"])
        wait_status(conn, servers[0], "ACTIVE")
        name = unique("snap")
        taken = conn.compute.post(
            f"/servers/{servers[0]}/action", json={"createImage": {"name": name}}, microversion=MV
        )
        assert taken.status_code == 202, taken.text
        snapshot_id = str(taken.json()["image_id"])
        # a top image at once (queued, then active with pod3's data), the project's
        listed = conn.image.get_image(snapshot_id)
        assert listed.name == name and listed.owner == str(conn.current_project_id)
        deadline = time.monotonic() + 120
        while conn.image.get_image(snapshot_id).status != "active":
            assert time.monotonic() < deadline, "the snapshot never became active at the top"
            time.sleep(1)
        assert (
            conn.image.get_image(snapshot_id).checksum == pod3.image.get_image(snapshot_id).checksum
        )
        assert snapshot_id in [
            str(i.id) for i in conn.image.images(owner=str(conn.current_project_id))
        ]
        servers.append(create(conn, "az1", nets, snapshot_id, "1")["id"])
        assert wait_status(conn, servers[1], "ACTIVE")["image"]["id"] == snapshot_id
    finally:
        for server_id in servers:
            conn.compute.delete(f"/servers/{server_id}", raise_exc=False)
        for server_id in servers:
            wait_gone(conn, server_id)
        if snapshot_id:
            conn.image.delete_image(snapshot_id, ignore_missing=True)
        deadline = time.monotonic() + 60
        while list(conn.network.ports(network_id=network.id)) and time.monotonic() < deadline:
            time.sleep(1)
        conn.network.delete_network(network.id, ignore_missing=True)
