"""The devcloud tool on a real devcloud: status, and `up` repairing exactly what is broken."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import cast

import httpx
import pytest
from openstack.identity.v3._proxy import Proxy as IdentityV3

from devcloud.layout import Layout
from tests.integration.conftest import DEVCLOUD_DIR, connect, devcloud

pytestmark = pytest.mark.integration


def pids() -> dict[str, int]:
    return {p.stem: json.loads(p.read_text())["pid"] for p in (DEVCLOUD_DIR / "run").glob("*.json")}


def test_status_lists_every_service_with_port_state_and_log(clouds_yaml: Path) -> None:
    result = devcloud("status")
    assert result.returncode == 0, result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    for name in ("mariadb", "rabbitmq", "keystone", "glance", "pod1-nova-api", "pod2-cinder-api"):
        assert "answering" in lines[name]
        assert str(DEVCLOUD_DIR / "log" / f"{name}.log") in lines[name]
    assert " 25000 " in lines["keystone"]
    assert "running (RPC only)" in lines["pod2-nova-compute"]


def test_up_repairs_a_dead_service_and_leaves_the_rest_alone(clouds_yaml: Path) -> None:
    before = pids()
    victim = "pod2-nova-scheduler"
    os.killpg(before[victim], signal.SIGKILL)
    for _ in range(50):
        if devcloud("status").returncode == 3:
            break
        time.sleep(0.1)
    broken = devcloud("status")
    assert broken.returncode == 3
    assert any(line.startswith(victim) and "stopped" in line for line in broken.stdout.splitlines())

    result = devcloud("up")
    assert result.returncode == 0, result.stderr
    after = pids()
    assert after[victim] != before[victim]
    assert {k: v for k, v in after.items() if k != victim} == {
        k: v for k, v in before.items() if k != victim
    }
    assert devcloud("status").returncode == 0


def test_up_adds_a_pod_and_removes_it_again(clouds_yaml: Path) -> None:
    grown = devcloud("up", "--pods", "3")
    assert grown.returncode == 0, grown.stderr
    status = devcloud("status")
    assert status.returncode == 0
    assert "pod3-nova-api" in status.stdout
    pod3 = connect("pod3")
    try:
        assert pod3.compute.find_flavor("m1.tiny") is not None
        assert pod3.network.find_network("private") is not None
        assert {z.name for z in pod3.compute.availability_zones()} == {"az3"}
    finally:
        pod3.close()

    shrunk = devcloud("up", "--pods", "2")
    assert shrunk.returncode == 0, shrunk.stderr
    assert "removed pod3" in shrunk.stdout
    assert "pod3" not in devcloud("status").stdout
    assert not (DEVCLOUD_DIR / "pod3").exists()
    assert "pod3" not in clouds_yaml.read_text()
    admin = connect("pod1-admin")
    try:
        identity = cast(IdentityV3, admin.identity)
        assert "pod3" not in {r.id for r in identity.regions()}
        assert not [e for e in identity.endpoints() if e.region_id == "pod3"]
    finally:
        admin.close()


def test_cascade_api_runs_with_the_pods_registered_and_healthy(clouds_yaml: Path) -> None:
    admin = connect("cascade-admin")
    url = Layout(DEVCLOUD_DIR).url("cascade") + "/v1/pods"
    headers = {"X-Auth-Token": str(admin.auth_token)}
    admin.close()
    resp = httpx.get(url, headers=headers)
    assert resp.status_code == 200, resp.text
    pods = {p["name"]: (p["region_name"], p["az"], p["pod_az"]) for p in resp.json()["pods"]}
    assert pods == {"pod1": ("pod1", "az1", "az1"), "pod2": ("pod2", "az2", "az2")}
    # the devcloud's cascade-api checks every 5 s: each pod's services answer
    for _ in range(60):
        health = [p["health"] for p in httpx.get(url, headers=headers).json()["pods"]]
        if all(h["state"] == "up" for h in health):
            break
        time.sleep(0.5)
    assert [h["state"] for h in health] == ["up", "up"], health
    assert all(h["latency_ms"] > 0 and h["last_check"] and h["last_error"] is None for h in health)


def test_cascade_compute_endpoint_negotiates_with_the_real_pods(clouds_yaml: Path) -> None:
    conn = connect("cascade")
    try:
        # found through the catalog of the `cascade` region, as every client finds it
        endpoint = str(conn.compute.get_endpoint())
        doc = httpx.get(endpoint.rstrip("/") + "/").json()["version"]
        pods = connect("pod1")
        pod_endpoint = str(pods.compute.get_endpoint())
        pods.close()
        pod_doc = httpx.get(pod_endpoint.rstrip("/") + "/").json()["version"]
        assert (doc["min_version"], doc["version"]) == (pod_doc["min_version"], pod_doc["version"])
        # a path Nova does not have either: Cascade's 501, with the version echoed
        resp = conn.compute.get("/os-no-such-thing", microversion="2.60", raise_exc=False)
        assert resp.status_code == 501
        assert "does not serve GET /os-no-such-thing" in resp.json()["notImplemented"]["message"]
        assert resp.headers["OpenStack-API-Version"] == "compute 2.60"
        too_new = conn.compute.get("/servers", microversion="9.1", raise_exc=False)
        assert too_new.status_code == 406
        # the pods' health is `up` (checked above): both top AZs are available
        zones = {z.name: z.state["available"] for z in conn.compute.availability_zones()}
        assert zones == {"az1": True, "az2": True}
    finally:
        conn.close()
