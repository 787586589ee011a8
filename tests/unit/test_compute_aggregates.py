"""os-aggregates across two fake pods.

pod1 serves the top AZ `az1` (its own AZ name `nova`), pod2 the top AZ `az2`
(its own name `zone-b`). Both have a compute host `shared` (a clashing name,
shown as `<host>@<pod>`) and one of their own (`cmp1`, `cmp2`). Each pod's
Nova numbers its aggregates from 1, so the pods' ids clash too.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.api.compute import aggregates
from cascade.db.models import Pod, Routing
from cascade.policy import DEFAULTS
from cascade.services.compute.aggregates import Numbering, pod_for_az
from tests.unit.conftest import FakeKeystone, PodHandler

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
UNAVAILABLE = "x-cascade-unavailable-pods"
URL = "/compute/v2.1/os-aggregates"
POD1_AGG, POD2_AGG = 1_000_001, 2_000_001  # each pod's aggregate 1, as the top numbers them


def at(version: str, token: dict[str, str] = ADMIN) -> dict[str, str]:
    return {**token, "OpenStack-API-Version": f"compute {version}"}


def fault(status: int, message: str) -> httpx.Response:
    name = {400: "badRequest", 404: "itemNotFound", 409: "conflictingRequest"}[status]
    return httpx.Response(status, json={name: {"code": status, "message": message}})


@dataclass
class Aggregate:
    id: int
    name: str
    zone: str | None
    hosts: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))

    def view(self, v241: bool, full: bool = True) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "availability_zone": self.zone,
            "created_at": "2026-01-01T00:00:00.000000",
            "updated_at": None,
            "deleted_at": None,
            "deleted": False,
        }
        if full:
            shown["hosts"] = list(self.hosts)
            shown["metadata"] = dict(self.metadata)
        if v241:
            shown["uuid"] = self.uuid
        return shown


@dataclass
class AggregateNova:
    """The os-aggregates and os-services of one pod's Nova (what Cascade calls)."""

    name: str
    zone: str
    hosts: list[str]
    aggregates: list[Aggregate] = field(default_factory=list)
    down: bool = False
    requests: list[httpx.Request] = field(default_factory=list)

    def add(self, name: str, hosts: list[str]) -> Aggregate:
        made = Aggregate(len(self.aggregates) + 1, name, self.zone, hosts)
        if self.aggregates:
            made.id = self.aggregates[-1].id + 1
        self.aggregates.append(made)
        return made

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path.removeprefix("/v2.1")
        if path == "/":
            return httpx.Response(200, json={"version": {"min_version": "2.1", "version": "2.104"}})
        self.requests.append(request)
        assert request.headers["x-auth-token"] == "service-token"
        version = request.headers["openstack-api-version"].split()[1]
        v241 = tuple(map(int, version.split("."))) >= (2, 41)
        if path == "/os-services":
            services = [
                {"host": h, "binary": "nova-compute", "zone": self.zone} for h in self.hosts
            ]
            return httpx.Response(200, json={"services": services})
        parts = path.strip("/").split("/")
        body: Any = json.loads(request.content) if request.content else None
        if parts == ["os-aggregates"]:
            if request.method == "POST":
                wanted = body["aggregate"]
                made = self.add(wanted["name"], [])
                made.zone = wanted.get("availability_zone")
                return httpx.Response(200, json={"aggregate": made.view(v241, full=False)})
            items = [a.view(v241) for a in self.aggregates]
            return httpx.Response(200, json={"aggregates": items})
        found = next((a for a in self.aggregates if str(a.id) == parts[1]), None)
        if found is None:
            return fault(404, f"Aggregate {parts[1]} could not be found.")
        return self._one(request.method, found, parts[2:], body, v241)

    def _one(
        self, method: str, found: Aggregate, rest: list[str], body: Any, v241: bool
    ) -> httpx.Response:
        if method == "DELETE":
            self.aggregates.remove(found)
            return httpx.Response(200)
        if rest == ["images"]:
            return httpx.Response(202)
        if method == "PUT":
            found.name = body["aggregate"].get("name", found.name)
            found.zone = body["aggregate"].get("availability_zone", found.zone)
        if rest == ["action"]:
            error = self._action(found, body)
            if error is not None:
                return error
        return httpx.Response(200, json={"aggregate": found.view(v241)})

    def _action(self, found: Aggregate, body: dict[str, Any]) -> httpx.Response | None:
        (name, inner), *_ = body.items()
        if name == "set_metadata":
            found.metadata.update(inner["metadata"])
            if "availability_zone" in inner["metadata"]:
                found.zone = inner["metadata"]["availability_zone"]
            return None
        host = inner["host"]
        if host not in self.hosts:
            return fault(404, f"Compute host {host} could not be found.")
        if name == "add_host":
            if host in found.hosts:
                return fault(409, f"Aggregate {found.id} already has host {host}.")
            found.hosts.append(host)
        else:
            found.hosts.remove(host)
        return None


@dataclass
class Cloud:
    pods: dict[str, AggregateNova]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.pods[request.url.host](request)


@pytest.fixture
def cloud() -> Cloud:
    pod1 = AggregateNova("pod1", "nova", ["cmp1", "shared"])
    pod1.add("fast", ["cmp1", "shared"])
    pod2 = AggregateNova("pod2", "zone-b", ["cmp2", "shared"])
    pod2.add("gpu", ["shared"])
    return Cloud({"c1": pod1, "c2": pod2})


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
    for number, pod in enumerate(list(cloud.pods.values())[:count], 1):
        body = {
            "pod": {
                "name": pod.name,
                "region_name": pod.name,
                "az": f"az{number}",
                "pod_az": pod.zone,
            }
        }
        assert (await client.post("/v1/pods", json=body, headers=ADMIN)).status_code == 201


@pytest.fixture
async def two(client: httpx.AsyncClient, keystone: FakeKeystone, cloud: Cloud) -> httpx.AsyncClient:
    await register(client, keystone, cloud)
    return client


async def routings(app: Starlette) -> list[tuple[str, str | None, str]]:
    """(pod name, bottom id, status) of every aggregate routing."""
    async with app.state.sessions() as db:
        rows = await db.execute(
            select(Pod.name, Routing.bottom_id, Routing.status)
            .join(Pod, Pod.id == Routing.pod_id)
            .where(Routing.resource_type == "aggregate")
            .order_by(Pod.name, Routing.bottom_id)
        )
        return [(name, bottom, status) for name, bottom, status in rows.all()]


def sent(pod: AggregateNova) -> tuple[str, str, Any]:
    """The last aggregate request a pod got: method, path after /v2.1, JSON body."""
    request = next(r for r in reversed(pod.requests) if "os-aggregates" in r.url.path)
    body = json.loads(request.content) if request.content else None
    return request.method, request.url.path.removeprefix("/v2.1"), body


async def test_list_joins_the_pods_with_top_ids_zones_and_hosts(
    app: Starlette, two: httpx.AsyncClient, cloud: Cloud
) -> None:
    resp = await two.get(URL, headers=at("2.41"))
    assert resp.status_code == 200
    assert resp.headers["openstack-api-version"] == "compute 2.41"
    found = resp.json()["aggregates"]
    assert [(a["id"], a["name"], a["availability_zone"]) for a in found] == [
        (POD1_AGG, "fast", "az1"),
        (POD2_AGG, "gpu", "az2"),
    ]
    assert [a["hosts"] for a in found] == [["cmp1", "shared@pod1"], ["shared@pod2"]]
    assert [a["uuid"] for a in found] == [
        cloud.pods["c1"].aggregates[0].uuid,
        cloud.pods["c2"].aggregates[0].uuid,
    ]
    assert UNAVAILABLE not in resp.headers
    assert await routings(app) == [("pod1", "1", "active"), ("pod2", "1", "active")]

    # before 2.41 no uuid is shown, but the pods are asked at 2.41 for the routings
    resp = await two.get(URL, headers=at("2.40"))
    assert all("uuid" not in a for a in resp.json()["aggregates"])
    last = cloud.pods["c1"].requests[-1]
    assert last.headers["openstack-api-version"] == "compute 2.41"

    # an aggregate deleted in the pod directly: its routing is marked stale
    cloud.pods["c1"].aggregates.clear()
    resp = await two.get(URL, headers=at("2.41"))
    assert [a["id"] for a in resp.json()["aggregates"]] == [POD2_AGG]
    assert await routings(app) == [("pod1", "1", "stale"), ("pod2", "1", "active")]


async def test_create_goes_to_the_pod_of_the_az(
    app: Starlette, two: httpx.AsyncClient, cloud: Cloud
) -> None:
    body = {"aggregate": {"name": "new", "availability_zone": "az2"}}
    resp = await two.post(URL, json=body, headers=at("2.41"))
    assert resp.status_code == 200
    assert resp.headers["x-cascade-pod"] == "pod2"
    made = resp.json()["aggregate"]
    assert (made["id"], made["availability_zone"]) == (2_000_002, "az2")
    assert "hosts" not in made and "metadata" not in made
    assert sent(cloud.pods["c2"]) == (
        "POST",
        "/os-aggregates",
        {"aggregate": {"name": "new", "availability_zone": "zone-b"}},
    )
    assert not [r for r in cloud.pods["c1"].requests if r.method == "POST"]
    assert ("pod2", "2", "active") in await routings(app)

    # without an AZ (a plain host group, as tempest makes): the first enabled pod
    resp = await two.post(URL, json={"aggregate": {"name": "x"}}, headers=at("2.41"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-cascade-pod"] == "pod1"
    assert resp.json()["aggregate"]["availability_zone"] is None
    assert sent(cloud.pods["c1"]) == ("POST", "/os-aggregates", {"aggregate": {"name": "x"}})

    body = {"aggregate": {"name": "x", "availability_zone": "az9"}}
    resp = await two.post(URL, json=body, headers=at("2.41"))
    assert resp.status_code == 400
    assert "No pod serves availability zone az9" in resp.json()["badRequest"]["message"]
    resp = await two.post(URL, json={"name": "x"}, headers=at("2.41"))
    assert resp.json()["badRequest"]["message"] == "'aggregate' is a required property"


def test_an_az_of_several_pods_takes_its_first_enabled_pod() -> None:
    pods = [
        Pod(id="a", name="a", az="az1", enabled=False),
        Pod(id="b", name="b", az="az1", enabled=True),
        Pod(id="c", name="c", az="az1", enabled=True),
        Pod(id="d", name="d", az="az2", enabled=False),
    ]
    assert pod_for_az(pods, "az1") is pods[1]
    assert pod_for_az(pods, "az2") is pods[3]  # none enabled: its first pod
    assert pod_for_az(pods, "az3") is None


def test_an_aggregate_without_an_az_goes_to_the_default_azs_pod_or_the_first_enabled() -> None:
    pods = [
        Pod(id="a", name="a", az="az1", enabled=False),
        Pod(id="b", name="b", az="az1", enabled=True),
        Pod(id="c", name="c", az="az2", enabled=True),
    ]
    assert aggregates._target(pods, None) is pods[1]
    assert aggregates._target(pods, None, "az2") is pods[2]
    assert aggregates._target(pods, None, "az9") is pods[1]  # a default no pod serves
    assert aggregates._target(pods[:1], None) is pods[0]  # none enabled: the first


def test_numbering_encodes_and_decodes_pod_positions() -> None:
    pods = [Pod(id="a", name="a"), Pod(id="b", name="b")]
    numbering = Numbering(pods)
    assert numbering.top_id(pods[1], 7) == 2_000_007
    assert numbering.find(2_000_007) == (pods[1], 7)
    assert numbering.top_id(pods[0], 1_000_000) is None
    for number in (7, 3_000_001, 1_000_000, -1_000_001):
        assert numbering.find(number) is None
    single = Numbering(pods[:1])
    assert single.top_id(pods[0], 7) == 7
    assert single.find(7) == (pods[0], 7)
    assert Numbering([]).find(7) is None


async def test_by_id_requests_go_to_the_aggregates_pod(
    app: Starlette, two: httpx.AsyncClient, cloud: Cloud
) -> None:
    pod1, pod2 = cloud.pods["c1"], cloud.pods["c2"]
    resp = await two.get(f"{URL}/{POD2_AGG}", headers=at("2.41"))
    assert resp.status_code == 200
    assert resp.headers["x-cascade-pod"] == "pod2"
    shown = resp.json()["aggregate"]
    assert (shown["id"], shown["name"], shown["hosts"]) == (POD2_AGG, "gpu", ["shared@pod2"])
    assert sent(pod2)[:2] == ("GET", "/os-aggregates/1")

    resp = await two.put(f"{URL}/{POD1_AGG}", json={"aggregate": {"name": "quick"}}, headers=ADMIN)
    assert resp.status_code == 200
    assert (resp.json()["aggregate"]["name"], pod1.aggregates[0].name) == ("quick", "quick")
    assert "uuid" not in resp.json()["aggregate"]  # 2.1

    # an AZ is the top AZ of the aggregate's pod, sent by the pod's own name
    body = {"aggregate": {"availability_zone": "az2"}}
    resp = await two.put(f"{URL}/{POD2_AGG}", json=body, headers=ADMIN)
    assert resp.json()["aggregate"]["availability_zone"] == "az2"
    assert sent(pod2)[2] == {"aggregate": {"availability_zone": "zone-b"}}
    body = {"aggregate": {"availability_zone": "az1"}}
    resp = await two.put(f"{URL}/{POD2_AGG}", json=body, headers=ADMIN)
    assert resp.status_code == 400
    assert "lives in pod pod2" in resp.json()["badRequest"]["message"]

    metadata = {"set_metadata": {"metadata": {"availability_zone": "az2", "ssd": "true"}}}
    resp = await two.post(f"{URL}/{POD2_AGG}/action", json=metadata, headers=ADMIN)
    assert resp.status_code == 200
    assert resp.json()["aggregate"]["metadata"] == {"availability_zone": "az2", "ssd": "true"}
    assert pod2.aggregates[0].metadata["availability_zone"] == "zone-b"

    resp = await two.delete(f"{URL}/{POD2_AGG}", headers=ADMIN)
    assert (resp.status_code, resp.content) == (200, b"")
    assert resp.headers["x-cascade-pod"] == "pod2"
    assert (pod2.aggregates, len(pod1.aggregates)) == ([], 1)
    assert [r[0] for r in await routings(app)] == ["pod1"]


@pytest.mark.parametrize(
    ("given", "status", "message"),
    [
        ("3000001", 404, "Aggregate 3000001 could not be found."),  # no third pod
        ("2000000", 404, "Aggregate 2000000 could not be found."),
        ("7", 404, "Aggregate 7 could not be found."),  # an id of no pod: ambiguous
        ("2000009", 404, "Aggregate 2000009 could not be found."),  # the pod has none
        ("abc", 400, "Invalid input received: id must be an integer"),
    ],
)
async def test_ids_that_name_no_aggregate(
    two: httpx.AsyncClient, given: str, status: int, message: str
) -> None:
    resp = await two.get(f"{URL}/{given}", headers=ADMIN)
    assert resp.status_code == status
    assert next(iter(resp.json().values())) == {"code": status, "message": message}


async def test_add_host_takes_a_host_of_the_aggregates_pod(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    pod2 = cloud.pods["c2"]
    pod2.aggregates[0].hosts = []
    action = f"{URL}/{POD2_AGG}/action"
    # a bare name several pods have means the host of the aggregate's own pod
    resp = await two.post(action, json={"add_host": {"host": "shared"}}, headers=ADMIN)
    assert resp.status_code == 200
    assert resp.json()["aggregate"]["hosts"] == ["shared@pod2"]
    assert sent(pod2)[2] == {"add_host": {"host": "shared"}}

    resp = await two.post(action, json={"add_host": {"host": "cmp2@pod2"}}, headers=ADMIN)
    assert resp.json()["aggregate"]["hosts"] == ["shared@pod2", "cmp2"]

    for host in ("shared@pod1", "cmp1"):
        resp = await two.post(action, json={"add_host": {"host": host}}, headers=ADMIN)
        assert resp.status_code == 409
        message = resp.json()["conflictingRequest"]["message"]
        assert f"Host {host} is a host of pod pod1" in message
        assert f"aggregate {POD2_AGG} lives in pod pod2" in message

    resp = await two.post(action, json={"add_host": {"host": "nowhere"}}, headers=ADMIN)
    assert resp.json() == {
        "itemNotFound": {"code": 404, "message": "Compute host nowhere could not be found."}
    }
    # the pod's own refusal: its status, the pod named, the top's id
    resp = await two.post(action, json={"add_host": {"host": "shared"}}, headers=ADMIN)
    assert resp.json()["conflictingRequest"]["message"] == (
        f"Aggregate {POD2_AGG} already has host shared. (pod pod2)"
    )

    resp = await two.post(action, json={"remove_host": {"host": "shared@pod2"}}, headers=ADMIN)
    assert resp.status_code == 200
    assert resp.json()["aggregate"]["hosts"] == ["cmp2"]
    assert sent(pod2)[2] == {"remove_host": {"host": "shared"}}

    malformed: list[tuple[Any, str]] = [
        ({"add_host": {}, "remove_host": {}}, "Malformed request body"),
        ([], "Malformed request body"),
        ({"reboot": {}}, "There is no such action: reboot"),
    ]
    for wrong, message in malformed:
        resp = await two.post(action, json=wrong, headers=ADMIN)
        assert resp.json() == {"badRequest": {"code": 400, "message": message}}


async def test_images_from_281(two: httpx.AsyncClient, cloud: Cloud) -> None:
    body = {"cache": [{"id": str(uuid.uuid4())}]}
    resp = await two.post(f"{URL}/{POD1_AGG}/images", json=body, headers=at("2.80"))
    assert resp.status_code == 404
    resp = await two.post(f"{URL}/{POD1_AGG}/images", json=body, headers=at("2.81"))
    assert (resp.status_code, resp.headers["x-cascade-pod"]) == (202, "pod1")
    assert sent(cloud.pods["c1"]) == ("POST", "/os-aggregates/1/images", body)


async def test_strict_query_from_2102(two: httpx.AsyncClient) -> None:
    assert (await two.get(f"{URL}?foo=1", headers=at("2.101"))).status_code == 200
    resp = await two.get(f"{URL}/{POD1_AGG}?foo=1", headers=at("2.102"))
    assert resp.json()["badRequest"]["message"] == (
        "Additional properties are not allowed ('foo' was unexpected)"
    )


async def test_one_pod_passes_its_ids_through(
    client: httpx.AsyncClient, keystone: FakeKeystone, cloud: Cloud
) -> None:
    await register(client, keystone, cloud, count=1)
    resp = await client.get(URL, headers=ADMIN)
    (only,) = resp.json()["aggregates"]
    assert (only["id"], only["hosts"]) == (1, ["cmp1", "shared"])  # no clash with one pod
    assert (await client.get(f"{URL}/1", headers=ADMIN)).json()["aggregate"]["name"] == "fast"
    # a single pod needs no AZ to be chosen
    resp = await client.post(URL, json={"aggregate": {"name": "plain"}}, headers=ADMIN)
    assert (resp.status_code, resp.json()["aggregate"]["id"]) == (200, 2)


@pytest.mark.parametrize(
    ("method", "path", "body", "rule"),
    [
        ("GET", "", None, "os-aggregates:index"),
        ("POST", "", {"aggregate": {"name": "x"}}, "os-aggregates:create"),
        ("GET", f"/{POD1_AGG}", None, "os-aggregates:show"),
        ("PUT", f"/{POD1_AGG}", {"aggregate": {"name": "x"}}, "os-aggregates:update"),
        ("DELETE", f"/{POD1_AGG}", None, "os-aggregates:delete"),
        ("POST", f"/{POD1_AGG}/action", {"add_host": {"host": "a"}}, "os-aggregates:add_host"),
        (
            "POST",
            f"/{POD1_AGG}/action",
            {"remove_host": {"host": "a"}},
            "os-aggregates:remove_host",
        ),
        (
            "POST",
            f"/{POD1_AGG}/action",
            {"set_metadata": {"metadata": {}}},
            "os-aggregates:set_metadata",
        ),
    ],
)
async def test_members_get_novas_403(
    two: httpx.AsyncClient,
    cloud: Cloud,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    rule: str,
) -> None:
    content = json.dumps(body).encode() if body is not None else None
    resp = await two.request(method, URL + path, content=content, headers=at("2.41", MEMBER))
    assert resp.status_code == 403
    message = f"Policy doesn't allow os_compute_api:{rule} to be performed."
    assert resp.json() == {"forbidden": {"code": 403, "message": message}}
    assert not any(p.requests for p in cloud.pods.values())
    assert DEFAULTS[f"os_compute_api:{rule}"] == "rule:admin_required"


async def test_images_policy(two: httpx.AsyncClient) -> None:
    body = {"cache": [{"id": str(uuid.uuid4())}]}
    resp = await two.post(f"{URL}/{POD1_AGG}/images", json=body, headers=at("2.81", MEMBER))
    message = "Policy doesn't allow compute:aggregates:images to be performed."
    assert resp.json() == {"forbidden": {"code": 403, "message": message}}


async def test_a_pod_that_is_down_is_left_out_and_named(
    two: httpx.AsyncClient, cloud: Cloud
) -> None:
    cloud.pods["c2"].down = True
    resp = await two.get(URL, headers=ADMIN)
    assert resp.status_code == 200
    assert resp.headers[UNAVAILABLE] == "pod2"
    assert [a["id"] for a in resp.json()["aggregates"]] == [POD1_AGG]
    for method, path, body in (
        ("GET", "", None),
        ("DELETE", "", None),
        ("POST", "/action", {"add_host": {"host": "cmp2"}}),
    ):
        resp = await two.request(
            method,
            f"{URL}/{POD2_AGG}{path}",
            content=json.dumps(body).encode() if body else None,
            headers=ADMIN,
        )
        assert resp.status_code == 503, path
        assert "pod pod2 is unavailable" in resp.json()["serviceUnavailable"]["message"]
    body = {"aggregate": {"name": "x", "availability_zone": "az2"}}
    assert (await two.post(URL, json=body, headers=ADMIN)).status_code == 503
