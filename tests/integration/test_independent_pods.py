"""A pod that shares nothing with the top: the devcloud's pod3 with a Keystone and a
Glance of its own (`devcloud up --pods 3 --independent 1`), registered as an independent
pod. Through the top, the demo user's objects there live in a project of pod3 that stands
for demo's (made on first use), alt_demo can neither see nor touch them, and pod3's
Keystone away is a 503 naming the pod while the other pods serve on.

The module adds pod3 to the devcloud when it has none, and removes it again at the end
(the other modules expect the default two shared pods)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from devcloud.layout import Layout
from tests.integration.conftest import DEVCLOUD_DIR, connect, devcloud
from tests.integration.test_cascade_compute import unique
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
        # Keystone back: the project is made (or found again) and the volume too
        back = make(alt, availability_zone="az3", name=unique("ind"))
        made.append((alt, back["id"]))
        wait(alt, f"/volumes/{back['id']}", "volume", "available")
        assert standing_for(pod3, alt_project)["name"] == "alt_demo"
    finally:
        for who, volume_id in made:
            call(who, "DELETE", f"/volumes/{volume_id}")
            gone(who, f"/volumes/{volume_id}")
