"""Nothing is left behind: a refused create leaves no routing, and routings that outlived
their request (`creating` intents, `deleting` rows) are settled by `stale.sweep`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Flavor, Pod, Routing
from cascade.services import stale
from tests.unit.conftest import FakeKeystone
from tests.unit.fakecinder import FakeCinder
from tests.unit.fakenova import FakeNova, add_pod

MEMBER = {"X-Auth-Token": "member-token"}
OLD = timedelta(minutes=10)


class Pods:
    """Fake Nova n1 and Cinder c1 of one pod; Cinder refuses a volume named `refuse`."""

    def __init__(self) -> None:
        self.nova = FakeNova("n1", "nova-a")
        self.cinder = FakeCinder("c1", "nova-a")
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.host == "n1":
            return self.nova(request)
        creates = request.method == "POST" and request.url.path.endswith("/volumes")
        if creates and b'"refuse"' in request.content:
            body = {"badRequest": {"code": 400, "message": "Invalid input received."}}
            return httpx.Response(400, json=body)
        return self.cinder(request)


@pytest.fixture
def fake() -> Pods:
    return Pods()


@pytest.fixture
def pod_handler(fake: Pods) -> Pods:
    return fake


@pytest.fixture
async def pod(app: Starlette, client: httpx.AsyncClient, keystone: FakeKeystone) -> Pod:
    endpoints = {"compute": "http://n1:8774/v2.1", "volumev3": "http://c1:8776/v3"}
    keystone.catalog = [
        {"type": kind, "endpoints": [{"interface": "public", "region_id": "pod1", "url": url}]}
        for kind, url in endpoints.items()
    ]
    pod_id = await add_pod(client, "pod1", "az1", pod_az="nova-a")
    async with app.state.sessions() as db:
        stamp = datetime.now(UTC).replace(tzinfo=None)
        db.add(Flavor(id="42", name="m1.nano", ram=128, vcpus=1, disk=1, created_at=stamp))
        await db.commit()
        found: Pod | None = await db.get(Pod, pod_id)
    assert found is not None
    return found


async def _routings(app: Starlette) -> list[Routing]:
    async with app.state.sessions() as db:
        return list((await db.scalars(select(Routing).order_by(Routing.created_at))).all())


async def _add(app: Starlette, pod: Pod, kind: str, status: str, age: timedelta, **kw: Any) -> str:
    """A routing of `kind`, `age` old."""
    stamp = datetime.now(UTC).replace(tzinfo=None) - age
    routing_id = str(uuid.uuid4())
    top_id = kw.pop("top_id", f"req-{uuid.uuid4()}")
    async with app.state.sessions() as db:
        db.add(
            Routing(
                id=routing_id,
                resource_type=kind,
                top_id=top_id,
                pod_id=pod.id,
                bottom_id=kw.pop("bottom_id", None),
                project_id="p1",
                status=status,
                created_at=stamp,
                updated_at=stamp if status != "creating" else None,
                **kw,
            )
        )
        await db.commit()
    return routing_id


# --- a refused create leaves nothing ------------------------------------------------------


async def test_refused_creates_leave_no_intent(
    app: Starlette, client: httpx.AsyncClient, pod: Pod, fake: Pods
) -> None:
    servers = "/compute/v2.1/servers"
    refused = [
        # the pod refuses the create
        (servers, {"server": {"name": "refuse", "flavorRef": "42", "networks": "none"}}, 400),
        ("/volume/v3/p1/volumes", {"volume": {"name": "refuse", "size": 1}}, 400),
        # bad input the top finds after the pod is chosen
        (servers, {"server": {"name": "a", "flavorRef": "42", "key_name": "nokey"}}, 400),
    ]
    for path, body, status in refused:
        answer = await client.post(path, json=body, headers=MEMBER)
        assert answer.status_code == status, (body, answer.text)
    # a body the pod cannot be sent as it is (not JSON once decoded): Cinder's 400
    nan = b'{"volume": {"name": "v", "size": 1, "metadata": {"a": NaN}}}'
    answer = await client.post("/volume/v3/p1/volumes", content=nan, headers=MEMBER)
    assert answer.status_code == 400, answer.text
    # only the pod's copies of the flavor and the default volume type are left
    left = [(r.resource_type, r.status) for r in await _routings(app)]
    assert sorted(left) == [("flavor", "active"), ("volume_type", "active")]
    assert fake.nova.servers == {} and fake.cinder.volumes == {}


async def test_a_create_that_never_reached_its_pod_leaves_no_intent(
    app: Starlette, client: httpx.AsyncClient, pod: Pod, fake: Pods
) -> None:
    body = {"server": {"name": "first", "flavorRef": "42", "networks": "none"}}
    made = await client.post("/compute/v2.1/servers", json=body, headers=MEMBER)
    assert made.status_code == 202, made.text  # the flavor's copy is in the pod now
    before = sorted((r.resource_type, r.status) for r in await _routings(app))
    second = {"server": {**body["server"], "name": "second"}}
    for service, path, asked in (
        ("compute", "/compute/v2.1/servers", second),
        ("volume", "/volume/v3/p1/volumes", {"volume": {"name": "v", "size": 1}}),
    ):
        app.state.registry.client(pod.name, service).breaker.trip()  # refused, never sent
        answer = await client.post(path, json=asked, headers=MEMBER)
        assert answer.status_code == 503, answer.text
    assert sorted((r.resource_type, r.status) for r in await _routings(app)) == before
    assert [s["name"] for s in fake.nova.servers.values()] == ["first"]


async def test_deleting_a_server_its_pod_no_longer_has_lets_go_of_it_at_the_top(
    app: Starlette, client: httpx.AsyncClient, pod: Pod, fake: Pods
) -> None:
    body = {"server": {"name": "lost", "flavorRef": "42", "networks": "none"}}
    made = await client.post("/compute/v2.1/servers", json=body, headers=MEMBER)
    server_id = made.json()["server"]["id"]
    fake.nova.servers.clear()  # deleted in the pod; the answer never reached the top
    answer = await client.delete(f"/compute/v2.1/servers/{server_id}", headers=MEMBER)
    assert answer.status_code == 404  # as Nova answers a second delete
    assert [r.resource_type for r in await _routings(app)] == ["flavor"]  # not kept stale


# --- the sweep ----------------------------------------------------------------------------


async def test_an_old_intent_whose_create_happened_is_completed(
    app: Starlette, pod: Pod, fake: Pods
) -> None:
    made = fake.nova.add_server("made-before-a-crash")
    fake.nova.add_server("another-projects", project="p2")
    await _add(app, pod, "server", "creating", OLD)
    swept = await stale.sweep(app.state.sessions, app.state.registry, timedelta(minutes=5))
    assert swept == stale.Swept(routed=1, removed=1)
    rows = await _routings(app)
    assert [(r.top_id, r.status, r.project_id) for r in rows] == [(made["id"], "active", "p1")]


async def test_an_old_intent_whose_create_did_not_happen_goes(
    app: Starlette, pod: Pod, fake: Pods
) -> None:
    await _add(app, pod, "volume", "creating", OLD)
    young = await _add(app, pod, "volume", "creating", timedelta(seconds=1))
    swept = await stale.sweep(app.state.sessions, app.state.registry, timedelta(minutes=5))
    assert swept == stale.Swept(removed=1)
    assert [r.id for r in await _routings(app)] == [young]  # its request may be under way


async def test_old_deletes_are_finished_or_undone(app: Starlette, pod: Pod, fake: Pods) -> None:
    gone = await _add(app, pod, "volume", "deleting", OLD, top_id="v-gone", bottom_id="v-gone")
    kept = fake.cinder.add_volume("delete-failed")
    kept["status"] = "error_deleting"
    back = await _add(app, pod, "volume", "deleting", OLD, top_id=kept["id"], bottom_id=kept["id"])
    going = fake.cinder.add_volume("being-deleted")
    going["status"] = "deleting"
    await _add(app, pod, "volume", "deleting", OLD, top_id=going["id"], bottom_id=going["id"])
    swept = await stale.sweep(app.state.sessions, app.state.registry, timedelta(minutes=5))
    assert swept == stale.Swept(deleted=1, restored=1)
    status = {r.top_id: r.status for r in await _routings(app)}
    assert status == {kept["id"]: "active", going["id"]: "deleting"}
    assert gone not in status and back


async def test_a_pod_that_does_not_answer_keeps_its_routings_for_the_next_round(
    app: Starlette, pod: Pod, fake: Pods
) -> None:
    await _add(app, pod, "server", "creating", OLD)
    await _add(app, pod, "server", "deleting", OLD, top_id="s1", bottom_id="s1")
    fake.down = True
    swept = await stale.sweep(app.state.sessions, app.state.registry, timedelta(minutes=5))
    assert swept == stale.Swept()
    assert sorted(r.status for r in await _routings(app)) == ["creating", "deleting"]
    fake.down = False
    swept = await stale.sweep(app.state.sessions, app.state.registry, timedelta(minutes=5))
    assert swept == stale.Swept(removed=1, deleted=1)
    assert await _routings(app) == []
