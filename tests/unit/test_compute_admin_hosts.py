"""os-hypervisors, os-services and os-availability-zone/detail across two fake pods.

Both pods have a controller `ctl` and a compute host `shared` (names that
clash, so the top shows them as `<host>@<pod>`), and one compute host of
their own (`cmp1`, `cmp2`, shown as they are). Both serve the top AZ `az1`,
under the pod AZ names `nova` and `zone-b`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Pod
from cascade.policy import DEFAULTS
from cascade.services.compute import hosts
from tests.unit.conftest import FakeKeystone, PodHandler

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
UNAVAILABLE = "x-cascade-unavailable-pods"


def at(version: str, token: dict[str, str] = ADMIN) -> dict[str, str]:
    return {**token, "OpenStack-API-Version": f"compute {version}"}


def not_found(message: str) -> httpx.Response:
    return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": message}})


@dataclass
class Node:
    """One service of a fake pod, with the compute node of its host when it is a compute."""

    number: int
    host: str
    binary: str
    zone: str
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    node_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "enabled"

    def service(self, v253: bool) -> dict[str, Any]:
        return {
            "id": self.uuid if v253 else self.number,
            "binary": self.binary,
            "host": self.host,
            "zone": self.zone,
            "status": self.status,
            "state": "up",
            "updated_at": "2026-01-01T00:00:00.000000",
            "disabled_reason": None,
            "forced_down": False,
        }

    def hypervisor(self, v253: bool, detail: bool) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": self.node_uuid if v253 else self.number,
            "hypervisor_hostname": f"{self.host}.example",
            "state": "up",
            "status": self.status,
        }
        if detail:
            found["hypervisor_type"] = "QEMU"
            found["service"] = {
                "id": self.uuid if v253 else self.number,
                "host": self.host,
                "disabled_reason": None,
            }
        return found


@dataclass
class AdminNova:
    """The admin host APIs of one pod's Nova (the subset Cascade calls)."""

    name: str
    az: str
    nodes: list[Node]
    down: bool = False
    requests: list[httpx.Request] = field(default_factory=list)
    migrations: list[dict[str, Any]] = field(default_factory=list)

    def computes(self) -> list[Node]:
        return [n for n in self.nodes if n.binary == "nova-compute"]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = unquote(request.url.path).removeprefix("/v2.1")
        if path == "/":
            return httpx.Response(200, json={"version": {"min_version": "2.1", "version": "2.96"}})
        self.requests.append(request)
        assert request.headers["x-auth-token"] == "service-token"
        version = request.headers["openstack-api-version"].split()[1]
        v253 = tuple(map(int, version.split("."))) >= (2, 53)
        parts = path.strip("/").split("/")
        if parts[0] == "os-services":
            return self._services(request, parts[1:], v253)
        if parts[0] == "os-hypervisors":
            found = self._hypervisors(request, parts[1:], v253)
            return self._as_of(found, version, request.url.params)
        if path == "/os-availability-zone/detail":
            return self._zones()
        if parts[0] == "os-hosts":
            return self._hosts(request, parts[1:])
        if parts == ["os-migrations"]:
            return self._migrations(request, version)
        if parts[0] == "os-instance_usage_audit_log":
            return self._audit(parts[1:])
        return not_found("no route")

    def _audit(self, rest: list[str]) -> httpx.Response:
        """Nova's audit report: every compute done but the first, which did not run."""
        done, missed = self.computes()[1:], self.computes()[0]
        report = {
            "period_beginning": "2026-01-01 00:00:00",
            "period_ending": "2026-02-01 00:00:00" if not rest else "2025-12-01 00:00:00",
            "num_hosts": len(self.computes()),
            "num_hosts_done": len(done),
            "num_hosts_running": 0,
            "num_hosts_not_run": 1,
            "hosts_not_run": [missed.host],
            "total_instances": 3 * len(done),
            "total_errors": 1,
            "overall_status": "",
            "log": {
                n.host: {"state": "DONE", "instances": 3, "errors": 1, "message": "ok"}
                for n in done
            },
        }
        key = "instance_usage_audit_log" if rest else "instance_usage_audit_logs"
        return httpx.Response(200, json={key: report})

    def _migrations(self, request: httpx.Request, version: str) -> httpx.Response:
        """Nova's os-migrations: filtered by host; from 2.59 newest first, with uuid and a
        limit; from 2.23 migration_type and live migrations' links."""
        at = tuple(map(int, version.split(".")))
        params = request.url.params
        found = [
            m
            for m in self.migrations
            if params.get("host") in (None, m["source_compute"], m["dest_compute"])
            and params.get("source_compute") in (None, m["source_compute"])
        ]
        shown = []
        for m in found:
            item = {k: v for k, v in m.items() if k not in ("uuid", "migration_type")}
            if at >= (2, 59):
                item["uuid"] = m["uuid"]
            if at >= (2, 23):
                item["migration_type"] = m["migration_type"]
                if m["migration_type"] == "live-migration":
                    href = f"http://{request.url.host}:8774/v2.1/servers/{m['instance_uuid']}"
                    item["links"] = [{"rel": "self", "href": f"{href}/migrations/{m['id']}"}]
            shown.append(item)
        if at >= (2, 59):
            shown.sort(key=lambda m: (m["created_at"], m["id"]), reverse=True)
            shown = shown[: int(params.get("limit", 1000))]
        return httpx.Response(200, json={"migrations": shown})

    def _hosts(self, request: httpx.Request, rest: list[str]) -> httpx.Response:
        """Nova's os-hosts (before 2.43): every service's host, or a compute host's."""
        if not rest:
            hosts_ = [
                {"host_name": n.host, "service": n.binary.removeprefix("nova-"), "zone": n.zone}
                for n in self.nodes
            ]
            return httpx.Response(200, json={"hosts": hosts_})
        node = next((n for n in self.computes() if n.host == rest[0]), None)
        if node is None:
            return not_found(f"Host '{rest[0]}' is not mapped to any cell")
        if request.method == "PUT":
            body = json.loads(request.content)
            node.status = "enabled" if body["status"].lower() == "enable" else "disabled"
            return httpx.Response(200, json={"host": node.host, "status": node.status})
        if rest[1:]:
            return httpx.Response(200, json={"host": node.host, "power_action": rest[1]})
        total = {"host": node.host, "project": "(total)", "cpu": 8, "memory_mb": 1024}
        return httpx.Response(200, json={"host": [{"resource": {**total, "disk_gb": 10}}]})

    def _services(self, request: httpx.Request, rest: list[str], v253: bool) -> httpx.Response:
        if not rest:
            return httpx.Response(200, json={"services": [n.service(v253) for n in self.nodes]})
        node = next((n for n in self.nodes if rest[0] in (n.uuid, str(n.number))), None)
        if request.method == "DELETE":
            if node is None:
                return not_found(f"Service {rest[0]} not found.")
            self.nodes.remove(node)
            return httpx.Response(204)
        body = json.loads(request.content)
        if v253:
            if node is None:
                return not_found(f"Service {rest[0]} could not be found.")
            node.status = body["status"]
            return httpx.Response(200, json={"service": node.service(True)})
        node = next(n for n in self.nodes if (n.host, n.binary) == (body["host"], body["binary"]))
        node.status = "disabled" if rest[0] == "disable" else "enabled"
        service = {"host": node.host, "binary": node.binary, "status": node.status}
        return httpx.Response(200, json={"service": service})

    @staticmethod
    def _as_of(resp: httpx.Response, version: str, params: httpx.QueryParams) -> httpx.Response:
        """Nova's detail fields by microversion: `cpu_info` a string before 2.28, an object
        from it; from 2.53 `servers` with `with_servers=true`."""
        if resp.status_code != 200:
            return resp
        at = tuple(map(int, version.split(".")))
        body = resp.json()
        for item in [*body.get("hypervisors", []), body.get("hypervisor") or {}]:
            if "hypervisor_type" in item:
                info = {"arch": "x86_64", "model": "Nehalem", "topology": {"cores": 2}}
                item["cpu_info"] = info if at >= (2, 28) else json.dumps(info)
            if at >= (2, 53) and params.get("with_servers") == "true" and "id" in item:
                item["servers"] = [{"name": "vm", "uuid": "8a2b7b1e-0000-4000-8000-000000000001"}]
        return httpx.Response(200, json=body)

    def _hypervisors(self, request: httpx.Request, rest: list[str], v253: bool) -> httpx.Response:
        params = request.url.params
        if rest == ["statistics"]:
            count = len(self.computes())
            stats = {"count": count, "vcpus": 8 * count, "running_vms": 1, "memory_mb": 1024}
            return httpx.Response(200, json={"hypervisor_statistics": stats})
        if len(rest) == 2 and rest[1] in ("search", "servers"):
            found = [n for n in self.computes() if rest[0] in n.host]
            if not found:
                return not_found(f"No hypervisor matching '{rest[0]}' could be found.")
            return httpx.Response(
                200, json={"hypervisors": [n.hypervisor(False, False) for n in found]}
            )
        if rest in ([], ["detail"]):
            found = self.computes()
            if "hypervisor_hostname_pattern" in params:
                found = [n for n in found if params["hypervisor_hostname_pattern"] in n.host]
                if not found:
                    return not_found("No hypervisor matching it could be found.")
            if "marker" in params:
                ids = [n.node_uuid if v253 else str(n.number) for n in found]
                if params["marker"] not in ids:
                    message = f"marker [{params['marker']}] not found"
                    return httpx.Response(
                        400, json={"badRequest": {"code": 400, "message": message}}
                    )
                found = found[ids.index(params["marker"]) + 1 :]
            found = found[: int(params.get("limit", 1000))]
            items = [n.hypervisor(v253, rest == ["detail"]) for n in found]
            return httpx.Response(200, json={"hypervisors": items})
        node = next((n for n in self.computes() if rest[0] in (n.node_uuid, str(n.number))), None)
        if node is None:
            return not_found(f"Hypervisor with ID '{rest[0]}' could not be found.")
        if rest[1:] == ["uptime"]:
            found_one = {**node.hypervisor(v253, False), "uptime": " 10:00:00 up 1 day"}
            return httpx.Response(200, json={"hypervisor": found_one})
        return httpx.Response(200, json={"hypervisor": node.hypervisor(v253, True)})

    def _zones(self) -> httpx.Response:
        zones: dict[str, dict[str, Any]] = {}
        for node in self.nodes:
            state = {"available": True, "active": True, "updated_at": None}
            zones.setdefault(node.zone, {}).setdefault(node.host, {})[node.binary] = state
        info: list[dict[str, Any]] = [
            {"zoneName": z, "zoneState": {"available": True}, "hosts": h} for z, h in zones.items()
        ]
        info.append({"zoneName": "other", "zoneState": {"available": False}, "hosts": None})
        return httpx.Response(200, json={"availabilityZoneInfo": info})


def make_pod(name: str, az: str, own: str, first: int) -> AdminNova:
    nodes = [
        Node(first, "ctl", "nova-scheduler", "internal"),
        Node(first + 1, "ctl", "nova-conductor", "internal"),
        Node(first + 2, own, "nova-compute", az),
        Node(first + 3, "shared", "nova-compute", az),
    ]
    pod = AdminNova(name, az, nodes)
    for number, (day, kind) in enumerate(((1, "migration"), (3, "live-migration")), 1):
        pod.migrations.append(
            {
                "id": number,
                "uuid": str(uuid.uuid4()),
                "instance_uuid": str(uuid.uuid4()),
                "created_at": f"2026-01-0{day + (name == 'pod2')}T00:00:00.000000",
                "updated_at": None,
                "source_compute": "shared",
                "dest_compute": own,
                "source_node": "shared.example",
                "dest_node": f"{own}.example",
                "dest_host": "192.0.2.1",
                "status": "running",
                "migration_type": kind,
                "new_instance_type_id": 2,
                "old_instance_type_id": 1,
            }
        )
    return pod


@dataclass
class Cloud:
    pods: dict[str, AdminNova]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.pods[request.url.host](request)


@pytest.fixture
def cloud() -> Cloud:
    # the same integer ids in both pods, as two separate Nova databases give
    return Cloud(
        {"c1": make_pod("pod1", "nova", "cmp1", 1), "c2": make_pod("pod2", "zone-b", "cmp2", 1)}
    )


@pytest.fixture
def pod_handler(cloud: Cloud) -> PodHandler:
    return cloud


async def register(
    client: httpx.AsyncClient, keystone: FakeKeystone, cloud: Cloud, count: int = 2
) -> None:
    endpoints = [
        {"interface": "public", "region_id": pod.name, "url": f"http://{host}:8774/v2.1"}
        for host, pod in cloud.pods.items()
    ]
    keystone.catalog = [{"type": "compute", "endpoints": endpoints}]
    for pod in list(cloud.pods.values())[:count]:
        body = {"pod": {"name": pod.name, "region_name": pod.name, "az": "az1", "pod_az": pod.az}}
        assert (await client.post("/v1/pods", json=body, headers=ADMIN)).status_code == 201


@pytest.fixture
async def two(client: httpx.AsyncClient, keystone: FakeKeystone, cloud: Cloud) -> httpx.AsyncClient:
    await register(client, keystone, cloud)
    return client


async def test_services_of_every_pod_with_clashing_hosts_qualified(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    resp = await two.get("/compute/v2.1/os-services", headers=at("2.53"))
    assert resp.status_code == 200
    assert resp.headers["openstack-api-version"] == "compute 2.53"
    shown = [(s["host"], s["binary"], s["zone"]) for s in resp.json()["services"]]
    assert shown == [
        ("ctl@pod1", "nova-scheduler", "internal"),
        ("ctl@pod1", "nova-conductor", "internal"),
        ("cmp1", "nova-compute", "az1"),
        ("shared@pod1", "nova-compute", "az1"),
        ("ctl@pod2", "nova-scheduler", "internal"),
        ("ctl@pod2", "nova-conductor", "internal"),
        ("cmp2", "nova-compute", "az1"),
        ("shared@pod2", "nova-compute", "az1"),
    ]
    assert UNAVAILABLE not in resp.headers
    # the pods are asked with the service token (the fake pods assert it)
    assert all(p.requests for p in cloud.pods.values())


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("shared@pod2", ["shared@pod2"]),
        ("cmp1", ["cmp1"]),
        ("cmp1@pod1", ["cmp1"]),
        ("shared", ["shared@pod1", "shared@pod2"]),
        ("nowhere", []),
    ],
)
async def test_host_filter_takes_both_forms(
    two: httpx.AsyncClient, host: str, expected: list[str]
) -> None:
    params = {"host": host, "binary": "nova-compute"}
    resp = await two.get("/compute/v2.1/os-services", params=params, headers=at("2.75"))
    assert [s["host"] for s in resp.json()["services"]] == expected


async def test_strict_query_from_275(two: httpx.AsyncClient) -> None:
    url = "/compute/v2.1/os-services?foo=1"
    assert (await two.get(url, headers=at("2.74"))).status_code == 200
    resp = await two.get(url, headers=at("2.75"))
    assert resp.status_code == 400
    assert "('foo' was unexpected)" in resp.json()["badRequest"]["message"]


async def test_update_before_253_goes_to_the_pod_of_the_host(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    body = {"host": "shared@pod2", "binary": "nova-compute"}
    resp = await two.put("/compute/v2.1/os-services/disable", json=body, headers=at("2.11"))
    assert resp.status_code == 200
    assert resp.json()["service"] == {
        "host": "shared@pod2",
        "binary": "nova-compute",
        "status": "disabled",
    }
    assert resp.headers["x-cascade-pod"] == "pod2"
    sent = cloud.pods["c2"].requests[-1]
    assert (sent.method, json.loads(sent.content)["host"]) == ("PUT", "shared")
    assert [n.status for n in cloud.pods["c1"].computes()] == ["enabled", "enabled"]

    body = {"host": "cmp1", "binary": "nova-compute"}
    resp = await two.put("/compute/v2.1/os-services/disable", json=body, headers=at("2.11"))
    assert resp.headers["x-cascade-pod"] == "pod1"

    body = {"host": "shared", "binary": "nova-compute"}
    resp = await two.put("/compute/v2.1/os-services/disable", json=body, headers=at("2.11"))
    assert resp.status_code == 400
    assert "shared@pod1, shared@pod2" in resp.json()["badRequest"]["message"]

    body = {"host": "nowhere", "binary": "nova-compute"}
    resp = await two.put("/compute/v2.1/os-services/enable", json=body, headers=at("2.11"))
    assert resp.status_code == 404


async def test_update_and_delete_by_uuid_go_to_the_pod_that_has_it(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    target = cloud.pods["c2"].computes()[1]  # pod2's `shared`
    url = f"/compute/v2.1/os-services/{target.uuid}"
    resp = await two.put(url, json={"status": "disabled"}, headers=at("2.53"))
    assert resp.status_code == 200
    assert resp.headers["x-cascade-pod"] == "pod2"
    assert resp.json()["service"]["host"] == "shared@pod2"
    assert resp.json()["service"]["zone"] == "az1"
    assert target.status == "disabled"
    assert not [r for r in cloud.pods["c1"].requests if r.method == "PUT"]

    resp = await two.delete(url, headers=at("2.53"))
    assert resp.status_code == 204
    assert target not in cloud.pods["c2"].nodes

    missing = f"/compute/v2.1/os-services/{uuid.uuid4()}"
    resp = await two.put(missing, json={"status": "disabled"}, headers=at("2.53"))
    assert resp.status_code == 404
    assert "could not be found" in resp.json()["itemNotFound"]["message"]
    resp = await two.delete("/compute/v2.1/os-services/disable", headers=at("2.53"))
    assert resp.json() == {"badRequest": {"code": 400, "message": "Invalid uuid disable"}}


async def test_once_the_clash_is_gone_the_host_keeps_its_own_name(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    shared = cloud.pods["c2"].computes()[1]
    await two.delete(f"/compute/v2.1/os-services/{shared.uuid}", headers=at("2.53"))
    resp = await two.get("/compute/v2.1/os-services?binary=nova-compute", headers=at("2.53"))
    assert [s["host"] for s in resp.json()["services"]] == ["cmp1", "shared", "cmp2"]


async def test_integer_ids_are_numbered_at_the_top_with_two_pods(two: httpx.AsyncClient) -> None:
    """Before 2.53 each pod's hypervisor ids are integers that repeat across pods: the top
    numbers them (pod position * 1,000,000 + the pod's id), so that every id a list shows
    can be shown (tempest shows the first listed at 2.1 and 2.28)."""
    resp = await two.get("/compute/v2.1/os-hypervisors", headers=at("2.52"))
    assert [h["id"] for h in resp.json()["hypervisors"]] == [1000003, 1000004, 2000003, 2000004]
    resp = await two.get("/compute/v2.1/os-hypervisors/2000004", headers=at("2.28"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-cascade-pod"] == "pod2"
    shown = resp.json()["hypervisor"]
    assert (shown["id"], shown["service"]["host"]) == (2000004, "shared@pod2")
    resp = await two.get("/compute/v2.1/os-hypervisors/1000003/uptime", headers=at("2.52"))
    assert (resp.status_code, resp.json()["hypervisor"]["id"]) == (200, 1000003)
    page = await two.get("/compute/v2.1/os-hypervisors?limit=2", headers=at("2.33"))
    (link,) = page.json()["hypervisors_links"]
    assert link["href"].endswith("marker=1000004")
    rest = await two.get("/compute/v2.1/os-hypervisors?marker=1000004", headers=at("2.33"))
    assert [h["id"] for h in rest.json()["hypervisors"]] == [2000003, 2000004]
    found = await two.get("/compute/v2.1/os-hypervisors/cmp2/search", headers=at("2.1"))
    assert [h["id"] for h in found.json()["hypervisors"]] == [2000003]
    for url in ("/os-hypervisors/3", "/os-hypervisors/3000003", "/os-hypervisors/x"):
        resp = await two.get(f"/compute/v2.1{url}", headers=at("2.52"))
        assert resp.status_code == 404, url
    resp = await two.get("/compute/v2.1/os-hypervisors?marker=3", headers=at("2.52"))
    assert resp.status_code == 400
    # os-services still refuses an integer id that several pods may use
    resp = await two.delete("/compute/v2.1/os-services/3", headers=at("2.52"))
    assert resp.status_code == 400
    assert "microversion 2.53" in resp.json()["badRequest"]["message"]


async def test_integer_ids_pass_with_one_pod(
    client: httpx.AsyncClient, keystone: FakeKeystone, cloud: Cloud
) -> None:
    await register(client, keystone, cloud, count=1)
    resp = await client.get("/compute/v2.1/os-hypervisors/4", headers=at("2.52"))
    assert resp.status_code == 200
    assert resp.json()["hypervisor"]["service"]["host"] == "shared"  # no clash with one pod
    resp = await client.get("/compute/v2.1/os-hypervisors/4/uptime", headers=at("2.52"))
    assert resp.json()["hypervisor"]["uptime"].endswith("1 day")
    assert (
        await client.delete("/compute/v2.1/os-services/1", headers=at("2.52"))
    ).status_code == 204


async def test_hypervisors_join_in_pod_order_and_page_at_the_top(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    ids = [n.node_uuid for p in cloud.pods.values() for n in p.computes()]
    resp = await two.get("/compute/v2.1/os-hypervisors/detail?limit=3", headers=at("2.53"))
    assert resp.status_code == 200
    page = resp.json()
    assert [h["id"] for h in page["hypervisors"]] == ids[:3]
    shown = [h["service"]["host"] for h in page["hypervisors"]]
    assert shown == ["cmp1", "shared@pod1", "cmp2"]
    (link,) = page["hypervisors_links"]
    assert link["rel"] == "next"
    assert link["href"].startswith("http://cascade.test/compute/v2.1/os-hypervisors/detail?")
    assert f"marker={ids[2]}" in link["href"] and "limit=3" in link["href"]

    resp = await two.get(link["href"], headers=at("2.53"))
    page = resp.json()
    assert [h["id"] for h in page["hypervisors"]] == ids[3:]
    assert page["hypervisors"][0]["service"]["host"] == "shared@pod2"
    assert "hypervisors_links" not in page

    # a marker in the first pod: the rest of it, then the second pod from its start
    resp = await two.get(f"/compute/v2.1/os-hypervisors?marker={ids[0]}", headers=at("2.53"))
    assert [h["id"] for h in resp.json()["hypervisors"]] == ids[1:]
    resp = await two.get(f"/compute/v2.1/os-hypervisors?marker={uuid.uuid4()}", headers=at("2.53"))
    assert resp.status_code == 400
    assert "not found" in resp.json()["badRequest"]["message"]


async def test_show_by_uuid_is_answered_by_the_pod_that_has_it(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    node = cloud.pods["c2"].computes()[1]
    resp = await two.get(f"/compute/v2.1/os-hypervisors/{node.node_uuid}", headers=at("2.53"))
    assert resp.status_code == 200
    assert resp.headers["x-cascade-pod"] == "pod2"
    assert resp.json()["hypervisor"]["service"]["host"] == "shared@pod2"
    resp = await two.get(f"/compute/v2.1/os-hypervisors/{uuid.uuid4()}", headers=at("2.53"))
    assert resp.status_code == 404
    resp = await two.get("/compute/v2.1/os-hypervisors/3", headers=at("2.53"))
    assert resp.json()["badRequest"]["message"] == "Invalid uuid 3"


async def test_hostname_patterns_ask_every_pod_or_the_one_named(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    url = "/compute/v2.1/os-hypervisors?hypervisor_hostname_pattern="
    resp = await two.get(url + "shar", headers=at("2.53"))
    names = [h["hypervisor_hostname"] for h in resp.json()["hypervisors"]]
    assert names == ["shared.example", "shared.example"]
    resp = await two.get(url + "shared@pod2", headers=at("2.53"))
    assert len(resp.json()["hypervisors"]) == 1
    assert cloud.pods["c2"].requests[-1].url.params["hypervisor_hostname_pattern"] == "shared"
    assert (await two.get(url + "nothing", headers=at("2.53"))).status_code == 404
    resp = await two.get(url + "cmp&limit=1", headers=at("2.53"))
    assert resp.status_code == 400

    resp = await two.get("/compute/v2.1/os-hypervisors/cmp/search", headers=at("2.52"))
    assert [h["hypervisor_hostname"] for h in resp.json()["hypervisors"]] == [
        "cmp1.example",
        "cmp2.example",
    ]
    resp = await two.get("/compute/v2.1/os-hypervisors/cmp@pod1/servers", headers=at("2.52"))
    assert [h["hypervisor_hostname"] for h in resp.json()["hypervisors"]] == ["cmp1.example"]
    resp = await two.get("/compute/v2.1/os-hypervisors/cmp/search", headers=at("2.53"))
    assert resp.json() == {
        "itemNotFound": {"code": 404, "message": "The resource could not be found."}
    }


async def test_statistics_are_summed_until_288(two: httpx.AsyncClient) -> None:
    resp = await two.get("/compute/v2.1/os-hypervisors/statistics", headers=at("2.87"))
    stats = resp.json()["hypervisor_statistics"]
    assert (stats["count"], stats["vcpus"], stats["running_vms"], stats["memory_mb"]) == (
        4,
        32,
        2,
        2048,
    )
    assert stats["local_gb"] == 0  # a field no pod gave
    resp = await two.get("/compute/v2.1/os-hypervisors/statistics", headers=at("2.88"))
    assert resp.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "rule"),
    [
        ("GET", "os-hypervisors", "os-hypervisors:list"),
        ("GET", "os-hypervisors/detail", "os-hypervisors:list-detail"),
        ("GET", f"os-hypervisors/{uuid.UUID(int=1)}", "os-hypervisors:show"),
        ("GET", "os-hypervisors/statistics", "os-hypervisors:statistics"),
        ("GET", f"os-hypervisors/{uuid.UUID(int=1)}/uptime", "os-hypervisors:uptime"),
        ("GET", "os-services", "os-services:list"),
        ("PUT", f"os-services/{uuid.UUID(int=1)}", "os-services:update"),
        ("DELETE", f"os-services/{uuid.UUID(int=1)}", "os-services:delete"),
        ("GET", "os-availability-zone/detail", "os-availability-zone:detail"),
    ],
)
async def test_members_get_novas_403(
    two: httpx.AsyncClient, cloud: Cloud, method: str, path: str, rule: str
) -> None:
    body = b"{}" if method == "PUT" else None
    resp = await two.request(
        method, f"/compute/v2.1/{path}", content=body, headers=at("2.60", MEMBER)
    )
    assert resp.status_code == 403
    message = f"Policy doesn't allow os_compute_api:{rule} to be performed."
    assert resp.json() == {"forbidden": {"code": 403, "message": message}}
    assert not any(p.requests for p in cloud.pods.values())
    assert DEFAULTS[f"os_compute_api:{rule}"] == "rule:admin_required"


async def test_search_and_servers_policies(two: httpx.AsyncClient) -> None:
    for what in ("search", "servers"):
        url = f"/compute/v2.1/os-hypervisors/cmp/{what}"
        resp = await two.get(url, headers=at("2.1", MEMBER))
        assert resp.status_code == 403
        assert f"os-hypervisors:{what}" in resp.json()["forbidden"]["message"]


async def test_a_pod_that_is_down_is_left_out_and_named(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    # seen once with both pods up: the clashing names stay qualified while pod2 is away
    assert (await two.get("/compute/v2.1/os-services", headers=at("2.53"))).status_code == 200
    cloud.pods["c2"].down = True
    resp = await two.get("/compute/v2.1/os-services", headers=at("2.53"))
    assert resp.status_code == 200
    assert resp.headers[UNAVAILABLE] == "pod2"
    assert [s["host"] for s in resp.json()["services"]] == [
        "ctl@pod1",
        "ctl@pod1",
        "cmp1",
        "shared@pod1",
    ]
    resp = await two.get("/compute/v2.1/os-hypervisors/detail", headers=at("2.53"))
    assert resp.headers[UNAVAILABLE] == "pod2"
    assert [h["service"]["host"] for h in resp.json()["hypervisors"]] == ["cmp1", "shared@pod1"]
    resp = await two.get("/compute/v2.1/os-hypervisors/statistics", headers=at("2.1"))
    assert resp.json()["hypervisor_statistics"]["count"] == 2
    assert resp.headers[UNAVAILABLE] == "pod2"
    # what only the pod that is down might have: 503, not a false 404
    resp = await two.get(f"/compute/v2.1/os-hypervisors/{uuid.uuid4()}", headers=at("2.53"))
    assert resp.status_code == 503
    assert "pod2" in resp.json()["serviceUnavailable"]["message"]


async def set_health(app: Starlette, name: str, state: str) -> None:
    async with app.state.sessions() as db:
        pod = (await db.scalars(select(Pod).where(Pod.name == name))).one()
        pod.health_state = state
        await db.commit()


async def test_az_detail_shows_top_zones_with_every_pods_hosts(
    app: Starlette, two: httpx.AsyncClient, cloud: Cloud, keystone: FakeKeystone
) -> None:
    await set_health(app, "pod2", "up")
    body = {"pod": {"name": "pod3", "region_name": "pod3", "az": "az2"}}
    assert (await two.post("/v1/pods", json=body, headers=ADMIN)).status_code == 201
    keystone.catalog[0]["endpoints"].append(
        {"interface": "public", "region_id": "pod3", "url": "http://c3:8774/v2.1"}
    )
    cloud.pods["c3"] = AdminNova("pod3", "az2", [], down=True)
    resp = await two.get("/compute/v2.1/os-availability-zone/detail", headers=ADMIN)
    assert resp.status_code == 200
    assert resp.headers[UNAVAILABLE] == "pod3"
    zones = {z["zoneName"]: z for z in resp.json()["availabilityZoneInfo"]}
    assert [z["zoneName"] for z in resp.json()["availabilityZoneInfo"]] == [
        "az1",
        "internal",
        "az2",
    ]
    assert zones["az1"]["zoneState"] == {"available": True}
    assert sorted(zones["az1"]["hosts"]) == ["cmp1", "cmp2", "shared@pod1", "shared@pod2"]
    assert zones["az1"]["hosts"]["cmp2"]["nova-compute"]["available"] is True
    internal = zones["internal"]["hosts"]
    assert sorted(internal) == ["ctl@pod1", "ctl@pod2"]
    assert sorted(internal["ctl@pod1"]) == ["nova-conductor", "nova-scheduler"]
    assert zones["az2"] == {"zoneName": "az2", "zoneState": {"available": False}, "hosts": None}
    assert "other" not in zones  # a pod's own extra zone is not a zone of the top


def test_host_names_qualify_only_clashes_and_resolve_both_forms() -> None:
    names = hosts.HostNames.of({"pod1": ["a", "shared"], "pod2": ["shared", "b@x"]})
    assert names.shown("pod1", "a") == "a"
    assert names.shown("pod2", "shared") == "shared@pod2"
    assert names.resolve("shared") == [("pod1", "shared"), ("pod2", "shared")]
    assert names.resolve("shared@pod1") == [("pod1", "shared")]
    assert names.resolve("a@pod2") == [("pod2", "a")]  # that pod answers for itself
    assert names.resolve("b@x") == [("pod2", "b@x")]  # `x` is no pod: a bare name
    assert names.resolve("nowhere") == []
    assert hosts.split_pod("cmp@pod1", ["pod1"]) == ("cmp", "pod1")
    assert hosts.split_pod("cmp@pod9", ["pod1"]) == ("cmp@pod9", None)


def test_a_pods_501_is_an_answer_not_an_outage() -> None:
    pod = Pod(name="pod1")
    assert not hosts.Answer(pod, 501).down
    assert hosts.Answer(pod, 503).down and hosts.Answer(pod, 0, reason="refused").down
    body = {"badRequest": {"code": 400, "message": "no"}}
    assert hosts.Answer(pod, 400, body).message == "no"
    assert hosts.Answer(pod, 404).message == "HTTP 404"


async def test_os_hosts_lists_every_pods_hosts_with_top_names_and_zones(
    two: httpx.AsyncClient,
) -> None:
    resp = await two.get("/compute/v2.1/os-hosts", headers=at("2.42"))
    assert resp.status_code == 200, resp.text
    shown = [(h["host_name"], h["service"], h["zone"]) for h in resp.json()["hosts"]]
    assert shown == [
        ("ctl@pod1", "scheduler", "internal"),
        ("ctl@pod1", "conductor", "internal"),
        ("cmp1", "compute", "az1"),
        ("shared@pod1", "compute", "az1"),
        ("ctl@pod2", "scheduler", "internal"),
        ("ctl@pod2", "conductor", "internal"),
        ("cmp2", "compute", "az1"),
        ("shared@pod2", "compute", "az1"),
    ]
    by_zone = await two.get("/compute/v2.1/os-hosts?zone=internal", headers=at("2.1"))
    assert {h["zone"] for h in by_zone.json()["hosts"]} == {"internal"}
    blank = await two.get("/compute/v2.1/os-hosts?zone=", headers=at("2.1"))
    assert len(blank.json()["hosts"]) == 8  # an empty zone filters nothing, as Nova
    nowhere = await two.get("/compute/v2.1/os-hosts?zone=xxx", headers=ADMIN)
    assert nowhere.json() == {"hosts": []}


async def test_os_hosts_by_name_go_to_the_hosts_pod(two: httpx.AsyncClient, cloud: Cloud) -> None:
    resp = await two.get("/compute/v2.1/os-hosts/cmp2", headers=at("2.42"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-cascade-pod"] == "pod2"
    assert resp.json()["host"][0]["resource"]["host"] == "cmp2"
    resp = await two.get("/compute/v2.1/os-hosts/shared@pod1", headers=ADMIN)
    assert (resp.status_code, resp.headers["x-cascade-pod"]) == (200, "pod1")
    assert resp.json()["host"][0]["resource"]["host"] == "shared@pod1"
    resp = await two.put(
        "/compute/v2.1/os-hosts/shared@pod2", json={"status": "disable"}, headers=MEMBER
    )
    assert resp.status_code == 403
    resp = await two.put(
        "/compute/v2.1/os-hosts/shared@pod2", json={"status": "Disable"}, headers=ADMIN
    )
    assert resp.json() == {"host": "shared@pod2", "status": "disabled"}
    assert [n.status for n in cloud.pods["c2"].computes()] == ["enabled", "disabled"]
    assert [n.status for n in cloud.pods["c1"].computes()] == ["enabled", "enabled"]
    for action in ("reboot", "shutdown", "startup"):
        resp = await two.get(f"/compute/v2.1/os-hosts/cmp1/{action}", headers=ADMIN)
        assert resp.json() == {"host": "cmp1", "power_action": action}
    # a bare name several pods have names no one host
    resp = await two.get("/compute/v2.1/os-hosts/shared", headers=ADMIN)
    assert resp.status_code == 400
    assert "shared@pod1, shared@pod2" in resp.json()["badRequest"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "token", "status", "message"),
    [
        ("GET", "nonexistent", None, ADMIN, 404, "Host 'nonexistent' is not mapped to any cell"),
        ("GET", "nonexistent/reboot", None, ADMIN, 404, None),
        ("PUT", "nonexistent", {"status": "enable"}, ADMIN, 404, None),
        ("PUT", "cmp1", {"status": "invalid"}, ADMIN, 400, "Invalid input for field/attribute"),
        ("PUT", "cmp1", {"maintenance_mode": "x"}, ADMIN, 400, None),
        ("PUT", "cmp1", {}, ADMIN, 400, None),
        ("PUT", "cmp1", {"status": "enable"}, MEMBER, 403, "os_compute_api:os-hosts:update"),
        ("GET", "cmp1", None, MEMBER, 403, "os_compute_api:os-hosts:show"),
        ("GET", "cmp1/startup", None, MEMBER, 403, "os_compute_api:os-hosts:start"),
        ("GET", "", None, MEMBER, 403, "os_compute_api:os-hosts:list"),
    ],
)
async def test_os_hosts_refusals_are_novas(
    two: httpx.AsyncClient,
    method: str,
    path: str,
    body: Any,
    token: dict[str, str],
    status: int,
    message: str | None,
) -> None:
    url = "/compute/v2.1/os-hosts" + (f"/{path}" if path else "")
    resp = await two.request(method, url, json=body, headers=token)
    assert resp.status_code == status, resp.text
    fault = next(iter(resp.json().values()))
    assert fault["code"] == status
    assert message is None or message in fault["message"]


async def test_os_hosts_are_gone_from_243(two: httpx.AsyncClient, cloud: Cloud) -> None:
    asked = sum(len(p.requests) for p in cloud.pods.values())
    for url in ("/os-hosts", "/os-hosts/cmp1", "/os-hosts/cmp1/reboot"):
        resp = await two.get(f"/compute/v2.1{url}", headers=at("2.43", MEMBER))
        assert resp.status_code == 404
        assert resp.json()["itemNotFound"]["message"] == "The resource could not be found."
    resp = await two.put("/compute/v2.1/os-hosts/cmp1", json={}, headers=at("2.43"))
    assert resp.status_code == 404
    assert sum(len(p.requests) for p in cloud.pods.values()) == asked


async def test_migrations_of_every_pod_newest_first_with_top_hosts_and_links(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    one, two_ = cloud.pods["c1"].migrations, cloud.pods["c2"].migrations
    newest_first = [two_[1], one[1], two_[0], one[0]]  # pod2's are a day younger each
    resp = await two.get("/compute/v2.1/os-migrations", headers=at("2.59"))
    assert resp.status_code == 200, resp.text
    found = resp.json()["migrations"]
    assert [m["uuid"] for m in found] == [m["uuid"] for m in newest_first]
    assert [(m["source_compute"], m["dest_compute"]) for m in found] == [
        ("shared@pod2", "cmp2"),
        ("shared@pod1", "cmp1"),
        ("shared@pod2", "cmp2"),
        ("shared@pod1", "cmp1"),
    ]
    server = two_[1]["instance_uuid"]
    assert found[0]["links"] == [
        {
            "rel": "self",
            "href": f"http://cascade.test/compute/v2.1/servers/{server}/migrations/2",
        }
    ]
    assert "migrations_links" not in resp.json()
    # paged at the top: a full page links to the next, whose marker any pod's uuid is
    page = await two.get("/compute/v2.1/os-migrations?limit=3", headers=at("2.59"))
    assert [m["uuid"] for m in page.json()["migrations"]] == [m["uuid"] for m in newest_first[:3]]
    (link,) = page.json()["migrations_links"]
    assert link["href"].startswith("http://cascade.test/compute/v2.1/os-migrations?")
    assert f"marker={newest_first[2]['uuid']}" in link["href"]
    rest = await two.get(
        f"/compute/v2.1/os-migrations?limit=3&marker={newest_first[1]['uuid']}",
        headers=at("2.59"),
    )
    assert [m["uuid"] for m in rest.json()["migrations"]] == [m["uuid"] for m in newest_first[2:]]
    unknown = await two.get(
        f"/compute/v2.1/os-migrations?marker={uuid.uuid4()}", headers=at("2.59")
    )
    assert unknown.status_code == 400
    assert unknown.json()["badRequest"]["message"].startswith("Marker ")


async def test_migrations_before_259_join_the_pods_and_filter_by_top_host(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    resp = await two.get("/compute/v2.1/os-migrations", headers=at("2.1"))
    assert resp.status_code == 200, resp.text
    found = resp.json()["migrations"]
    expected = cloud.pods["c1"].migrations + cloud.pods["c2"].migrations
    assert [m["instance_uuid"] for m in found] == [m["instance_uuid"] for m in expected]
    assert all("uuid" not in m and "migration_type" not in m for m in found)
    resp = await two.get("/compute/v2.1/os-migrations?host=shared@pod2", headers=at("2.23"))
    assert {m["source_compute"] for m in resp.json()["migrations"]} == {"shared@pod2"}

    def asked(pod: str) -> list[httpx.Request]:
        return [r for r in cloud.pods[pod].requests if r.url.path.endswith("/os-migrations")]

    assert asked("c2")[-1].url.params["host"] == "shared"
    assert len(asked("c1")) == 1  # only the first list: pod1 is not asked for pod2's host
    refused = await two.get("/compute/v2.1/os-migrations", headers=at("2.1", MEMBER))
    assert refused.status_code == 403


async def test_the_audit_log_joins_every_pods_computes(two: httpx.AsyncClient) -> None:
    resp = await two.get("/compute/v2.1/os-instance_usage_audit_log", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    report = resp.json()["instance_usage_audit_logs"]
    assert (report["num_hosts"], report["num_hosts_done"], report["num_hosts_not_run"]) == (
        4,
        2,
        2,
    )
    assert (report["total_instances"], report["total_errors"]) == (6, 2)
    assert report["hosts_not_run"] == ["cmp1", "cmp2"]
    assert set(report["log"]) == {"shared@pod1", "shared@pod2"}
    assert report["overall_status"] == "2 of 4 hosts done. 2 errors."
    assert report["period_ending"] == "2026-02-01 00:00:00"
    url = "/compute/v2.1/os-instance_usage_audit_log/2026-01-01%2000:00:00"
    before = (await two.get(url, headers=ADMIN)).json()["instance_usage_audit_log"]
    assert before["period_ending"] == "2025-12-01 00:00:00"


async def test_the_audit_log_refusals_are_novas(two: httpx.AsyncClient, cloud: Cloud) -> None:
    asked = sum(len(p.requests) for p in cloud.pods.values())
    bad = await two.get("/compute/v2.1/os-instance_usage_audit_log/invalid_time", headers=ADMIN)
    assert bad.status_code == 400
    assert bad.json()["badRequest"]["message"] == "Invalid timestamp for date invalid_time"
    for url in ("", "/2026-01-01%2000:00:00"):
        resp = await two.get(f"/compute/v2.1/os-instance_usage_audit_log{url}", headers=MEMBER)
        assert resp.status_code == 403
    assert sum(len(p.requests) for p in cloud.pods.values()) == asked


async def test_hypervisor_fields_are_the_pods_at_the_microversion(two: httpx.AsyncClient) -> None:
    """As Nova answers at the request's microversion: `cpu_info` an object from 2.28 (a
    string before), `servers` listed from 2.53 with `with_servers`."""
    old = await two.get("/compute/v2.1/os-hypervisors/detail", headers=at("2.27"))
    assert isinstance(old.json()["hypervisors"][0]["cpu_info"], str)
    new = await two.get("/compute/v2.1/os-hypervisors/detail", headers=at("2.28"))
    assert new.json()["hypervisors"][0]["cpu_info"]["arch"] == "x86_64"
    first = new.json()["hypervisors"][0]["id"]
    shown = await two.get(f"/compute/v2.1/os-hypervisors/{first}", headers=at("2.28"))
    assert shown.status_code == 200 and isinstance(shown.json()["hypervisor"]["cpu_info"], dict)
    listed = await two.get(
        "/compute/v2.1/os-hypervisors?with_servers=true&hypervisor_hostname_pattern=cmp",
        headers=at("2.53"),
    )
    assert listed.status_code == 200, listed.text
    found = listed.json()["hypervisors"]
    assert [h["hypervisor_hostname"] for h in found] == ["cmp1.example", "cmp2.example"]
    assert all(h["servers"][0]["name"] == "vm" for h in found)
