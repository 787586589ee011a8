"""The Compute API through Cascade, against the real pods of the devcloud.

openstacksdk and the `openstack` CLI point at the `cascade` region, as a
tenant would; the pods' own APIs are used only to check what Cascade did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from tests.integration.conftest import DEVCLOUD_DIR, PODS, devcloud

pytestmark = pytest.mark.integration
MV = "2.79"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def networks(top: dict[str, Connection]) -> Iterator[dict[str, str]]:
    """One network made at the top (a VLAN network spanning pods), used in both AZs."""
    conn = top["cascade"]
    network = conn.network.create_network(name=unique("top-net"))
    conn.network.create_subnet(network_id=network.id, cidr="10.123.0.0/24", ip_version=4)
    yield {"az1": network.id, "az2": network.id}
    deadline = time.monotonic() + 60
    while list(conn.network.ports(network_id=network.id)) and time.monotonic() < deadline:
        time.sleep(1)  # the servers' ports go with the servers' deletes
    conn.network.delete_network(network.id, ignore_missing=True)


@pytest.fixture(scope="module")
def image(top: dict[str, Connection]) -> str:
    return str(top["cascade"].image.find_image("tiny", ignore_missing=False).id)


def create(
    conn: Connection, az: str, networks: dict[str, str], image: str, flavor: str, **extra: Any
) -> dict[str, Any]:
    body = {
        "server": {
            "name": extra.pop("name", unique("top-vm")),
            "imageRef": image,
            "flavorRef": flavor,
            "availability_zone": az,
            "networks": [{"uuid": networks[az]}],
            **extra,
        }
    }
    resp = conn.compute.post("/servers", json=body, microversion=MV, raise_exc=False)
    assert resp.status_code == 202, resp.text
    return {"id": resp.json()["server"]["id"], "pod": resp.headers["X-Cascade-Pod"]}


def wait_status(
    conn: Connection, server_id: str, status: str, timeout: float = 180
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        resp = conn.compute.get(f"/servers/{server_id}", microversion=MV)
        server: dict[str, Any] = resp.json()["server"]
        if server["status"] == status:
            return server
        assert server["status"] != "ERROR", server.get("fault")
        assert time.monotonic() < deadline, f"{server_id} still {server['status']}"
        time.sleep(0.5)


def wait_gone(conn: Connection, server_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while conn.compute.get(f"/servers/{server_id}", raise_exc=False).status_code != 404:
        assert time.monotonic() < deadline, f"{server_id} not deleted"
        time.sleep(0.5)


@pytest.mark.parametrize("az", ["az1", "az2"])
def test_a_server_lifecycle_through_the_top(
    top: dict[str, Connection],
    conns: dict[str, Connection],
    networks: dict[str, str],
    image: str,
    az: str,
) -> None:
    conn = top["cascade"]
    key = unique("key")
    made = conn.compute.create_keypair(name=key)
    try:
        server = create(conn, az, networks, image, "1", key_name=key, metadata={"k": "v"})
        assert server["pod"] == f"pod{az[-1]}"
        shown = wait_status(conn, server["id"], "ACTIVE")
        assert shown["OS-EXT-AZ:availability_zone"] == az
        assert shown["key_name"] == key
        assert shown["flavor"]["original_name"] == "m1.tiny"
        assert shown["links"][0]["href"].startswith(str(conn.compute.get_endpoint()).rstrip("/"))
        # the pod holds the user's key with the top's public key, and the flavor copy
        pod = conns[server["pod"]]
        assert pod.compute.get_keypair(key).public_key == made.public_key
        url = f"/servers/{server['id']}"
        resp = conn.compute.post(f"{url}/action", json={"os-stop": None}, microversion=MV)
        assert resp.status_code == 202
        wait_status(conn, server["id"], "SHUTOFF")
        resp = conn.compute.put(
            f"{url}/metadata/role", json={"meta": {"role": "db"}}, microversion=MV
        )
        assert resp.json() == {"meta": {"role": "db"}}
        actions = conn.compute.get(f"{url}/os-instance-actions", microversion=MV).json()
        assert {a["action"] for a in actions["instanceActions"]} >= {"create", "stop"}
        assert conn.compute.delete(url, microversion=MV).status_code == 204
        wait_gone(conn, server["id"])
        missing = conn.compute.get(url, raise_exc=False)
        assert (
            missing.json()["itemNotFound"]["message"]
            == f"Instance {server['id']} could not be found."
        )
    finally:
        conn.compute.delete_keypair(key, ignore_missing=True)


def test_lists_merge_every_pod_in_order_with_paging(
    top: dict[str, Connection],
    conns: dict[str, Connection],
    networks: dict[str, str],
    image: str,
) -> None:
    conn = top["cascade"]
    made = [create(conn, az, networks, image, "1") for az in ("az1", "az2", "az1", "az2", "az2")]
    try:
        union: list[dict[str, Any]] = []
        for pod in PODS:
            union += conns[pod].compute.get("/servers/detail", microversion=MV).json()["servers"]
        want = [s["id"] for s in sorted(union, key=lambda s: (s["created"], s["id"]), reverse=True)]
        walked: list[str] = []
        url = "/servers/detail?limit=2"
        while url:
            body = conn.compute.get(url, microversion=MV).json()
            walked += [s["id"] for s in body["servers"]]
            links = body.get("servers_links", [])
            url = links[0]["href"] if links else ""
            assert not url or url.startswith(str(conn.compute.get_endpoint()).rstrip("/"))
        assert walked == want
        assert {m["id"] for m in made} <= set(walked)
        by_name = conn.compute.get("/servers?sort_key=display_name&sort_dir=asc", microversion=MV)
        names = [s["name"].lower() for s in by_name.json()["servers"]]
        assert names == sorted(names)
        # the other tenant sees none of it and cannot touch it
        alt = top["cascade-alt"]
        assert not {
            s["id"] for s in alt.compute.get("/servers", microversion=MV).json()["servers"]
        } & set(walked)
        denied = alt.compute.get(f"/servers/{made[0]['id']}", raise_exc=False)
        assert denied.status_code == 404
    finally:
        for server in made:
            conn.compute.delete(f"/servers/{server['id']}", raise_exc=False)
        for server in made:
            wait_gone(conn, server["id"])


def test_a_flavor_made_at_the_top_serves_both_pods(
    top: dict[str, Connection],
    conns: dict[str, Connection],
    networks: dict[str, str],
    image: str,
) -> None:
    admin, conn = top["cascade-admin"], top["cascade"]
    name = unique("top-flavor")
    flavor = admin.compute.create_flavor(name=name, ram=96, vcpus=1, disk=1)
    made = []
    try:
        admin.compute.create_flavor_extra_specs(flavor, {"hw:cpu_policy": "shared"})
        made = [create(conn, az, networks, image, flavor.id) for az in ("az1", "az2")]
        for server in made:
            shown = wait_status(conn, server["id"], "ACTIVE")
            assert shown["flavor"]["original_name"] == name
            assert shown["flavor"]["extra_specs"] == {"hw:cpu_policy": "shared"}
            old = conn.compute.get(f"/servers/{server['id']}", microversion="2.46").json()
            assert old["server"]["flavor"]["id"] == flavor.id
            pod_admin = conns[f"{server['pod']}-admin"]
            copies = [f for f in pod_admin.compute.flavors() if f.name == f"cascade-{flavor.id}"]
            assert len(copies) == 1 and copies[0].ram == 96
    finally:
        for server in made:
            conn.compute.delete(f"/servers/{server['id']}", raise_exc=False)
        for server in made:
            wait_gone(conn, server["id"])
        admin.compute.delete_flavor(flavor, ignore_missing=True)


def pids() -> dict[str, int]:
    return {p.stem: json.loads(p.read_text())["pid"] for p in (DEVCLOUD_DIR / "run").glob("*.json")}


def test_with_a_pod_s_nova_api_stopped_lists_answer_and_the_other_az_works(
    top: dict[str, Connection],
    networks: dict[str, str],
    image: str,
) -> None:
    conn = top["cascade"]
    kept = create(conn, "az2", networks, image, "1")
    os.killpg(pids()["pod1-nova-api"], signal.SIGKILL)
    made = None
    try:
        started = time.monotonic()
        resp = conn.compute.get("/servers/detail", microversion=MV)
        took = time.monotonic() - started
        assert resp.status_code == 200
        assert resp.headers["X-Cascade-Unavailable-Pods"] == "pod1"
        assert kept["id"] in {s["id"] for s in resp.json()["servers"]}
        assert took < 30, took  # the pod timeout; a refused connection is far quicker
        made = create(conn, "az2", networks, image, "1")
        down = conn.compute.post(
            "/servers",
            json={
                "server": {
                    "name": "x",
                    "imageRef": image,
                    "flavorRef": "1",
                    "availability_zone": "az1",
                }
            },
            microversion=MV,
            raise_exc=False,
        )
        assert down.status_code in (503, 409), down.text
    finally:
        result = devcloud("up")
        assert result.returncode == 0, result.stderr
        for server in (kept, made):
            if server:
                conn.compute.delete(f"/servers/{server['id']}", raise_exc=False)
                wait_gone(conn, server["id"])


def cli(clouds_yaml: Path, *args: str) -> Any:
    """`openstack --os-cloud cascade <args> -f json`, decoded."""
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds_yaml)}
    openstack = DEVCLOUD_DIR / "venv" / "bin" / "openstack"  # on PATH after `devcloud env`
    result = subprocess.run(
        [str(openstack), "--os-cloud", "cascade", *args, "-f", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_openstack_cli_lists_servers_and_flavors_through_the_top(clouds_yaml: Path) -> None:
    assert isinstance(cli(clouds_yaml, "server", "list"), list)
    names = {f["Name"] for f in cli(clouds_yaml, "flavor", "list")}
    assert {"m1.nano", "m1.tiny", "m1.small"} <= names


def test_a_create_over_the_top_quota_is_refused_before_any_pod(
    top: dict[str, Connection],
    conns: dict[str, Connection],
    networks: dict[str, str],
    image: str,
) -> None:
    conn, admin = top["cascade"], top["cascade-admin"]
    project = conn.current_project_id
    used = conn.compute.get("/limits", microversion=MV).json()["limits"]["absolute"]
    url = f"/os-quota-sets/{project}"
    body = {"quota_set": {"instances": used["totalInstancesUsed"]}}
    assert admin.compute.put(url, json=body, microversion=MV).status_code == 200
    try:
        before = {pod: len(list(conns[pod].compute.servers())) for pod in PODS}
        resp = conn.compute.post(
            "/servers",
            json={
                "server": {
                    "name": unique("over"),
                    "imageRef": image,
                    "flavorRef": "1",
                    "availability_zone": "az1",
                    "networks": [{"uuid": networks["az1"]}],
                }
            },
            microversion=MV,
            raise_exc=False,
        )
        assert resp.status_code == 403, resp.text
        assert resp.json()["forbidden"]["message"].startswith("Quota exceeded for instances")
        assert {pod: len(list(conns[pod].compute.servers())) for pod in PODS} == before
    finally:
        assert admin.compute.delete(url, microversion=MV).status_code == 202
