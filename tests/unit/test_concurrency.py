"""Concurrent creates against a small connection pool and slow pods, and the quota race.

cascade-api runs in process with a pool of 2 connections and no overflow, in
front of fake pods that take their time over every answer. Every request is
tagged (an ASGI wrapper sets a context variable, which the pool's checkout
events and the fake pods read), so the test sees, per request, how many
connections it holds and whether it holds one while a pod is asked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from cascade.api import busy
from cascade.app import create_app
from cascade.conf import Conf, DatabaseSection, KeystoneSection, QuotaSection
from cascade.db.migrate import upgrade
from cascade.db.models import Flavor, Routing
from tests.unit.conftest import FakeKeystone
from tests.unit.fakecinder import FakeCinder
from tests.unit.fakenova import PROJECTS, FakeNova, add_pod

MEMBER = {"X-Auth-Token": "member-token"}
CREATES = 50
POD_DELAY = 0.02  # seconds every pod answer takes (pods are slow; connections are few)
REQUEST: ContextVar[int | None] = ContextVar("request", default=None)


class Tagged:
    """The app, each request of it tagged with a number (`REQUEST`)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.numbers = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = REQUEST.set(next(self.numbers))
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST.reset(token)


@dataclasses.dataclass
class Held:
    """Connections checked out of the pool, by request: now, the most at once, and what
    a request held whenever it asked a pod."""

    now: Counter[int] = dataclasses.field(default_factory=Counter)
    most: int = 0
    owner: dict[int, int] = dataclasses.field(default_factory=dict)  # connection record -> request
    during_pod_calls: list[tuple[str, int]] = dataclasses.field(default_factory=list)

    def checkout(self, record: Any) -> None:
        request = REQUEST.get()
        if request is None:
            return  # the test's own sessions
        self.owner[id(record)] = request
        self.now[request] += 1
        self.most = max(self.most, self.now[request])

    def checkin(self, record: Any) -> None:
        request = self.owner.pop(id(record), None)
        if request is not None:
            self.now[request] -= 1

    def pod_call(self, request: httpx.Request) -> None:
        tag = REQUEST.get()
        if tag is not None:
            self.during_pod_calls.append((f"{request.method} {request.url.path}", self.now[tag]))


class SlowPods:
    """Fake Novas and Cinders that take POD_DELAY over every answer (a create in Cinder
    waits for `gate` when one is given), with Nova's /limits counting what it holds."""

    def __init__(self, held: Held, **hosts: Any) -> None:
        self.hosts = hosts
        self.held = held
        self.gate: asyncio.Event | None = None
        self.expected = 0  # creates under way: the gate opens once each is decided
        self.arrived = 0  # creates that reached a pod
        self.refused = 0  # creates the top refused

    def settle(self) -> None:
        if self.gate is not None and self.arrived + self.refused >= self.expected:
            self.gate.set()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.held.pod_call(request)
        await asyncio.sleep(POD_DELAY)
        pod = self.hosts[request.url.host]
        if request.method == "POST" and request.url.path.endswith(("/servers", "/volumes")):
            self.arrived += 1
            self.settle()
            if self.gate is not None:
                await self.gate.wait()
        if isinstance(pod, FakeNova) and request.url.path.endswith("/limits"):
            return _nova_limits(pod, request)
        response: httpx.Response = pod(request)
        return response


def _nova_limits(nova: FakeNova, request: httpx.Request) -> httpx.Response:
    """Nova's GET /limits with the usage of the servers it holds for the caller's project."""
    project = PROJECTS.get(request.headers.get("x-auth-token", ""), "nobody")
    mine = [s for s in nova.servers.values() if s["tenant_id"] == project]
    absolute = {"totalInstancesUsed": len(mine), "totalCoresUsed": len(mine)}
    absolute["totalRAMUsed"] = 128 * len(mine)
    return httpx.Response(200, json={"limits": {"rate": [], "absolute": absolute}})


@pytest.fixture
def held() -> Held:
    return Held()


@pytest.fixture
def slow(held: Held) -> SlowPods:
    return SlowPods(held, n1=FakeNova("n1", "nova-a"), c1=FakeCinder("c1", "nova-a"))


def _conf(url: str, quota: QuotaSection) -> Conf:
    """A pool of 2 connections, no overflow, and a wait for one long enough never to
    end in a refusal unless requests hold connections while they wait on a pod or on
    another connection (50 requests take their turns on 2 connections meanwhile)."""
    conf = Conf(
        database=DatabaseSection(connection=url, pool_size=2, max_overflow=0, pool_timeout=60),
        keystone=KeystoneSection(auth_url="http://keystone.test/v3", password="x"),
        quota=quota,
    )
    volume = dataclasses.replace(conf.volume, quota_volumes=-1, quota_gigabytes=-1)
    pods = dataclasses.replace(conf.pods, health_interval=0)
    return dataclasses.replace(conf, volume=volume, pods=pods)


async def _started(
    tmp_path: Path, keystone: FakeKeystone, slow: SlowPods, held: Held, quota: QuotaSection
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cascade.sqlite'}"
    await upgrade(url)
    app = create_app(
        _conf(url, quota),
        keystone_transport=httpx.MockTransport(keystone),
        pod_transport=httpx.MockTransport(slow),
    )
    event.listen(app.state.engine.sync_engine, "checkout", lambda _c, r, _p: held.checkout(r))
    event.listen(app.state.engine.sync_engine, "checkin", lambda _c, r: held.checkin(r))
    keystone.catalog = [
        {"type": "compute", "endpoints": [_endpoint("http://n1:8774/v2.1")]},
        {"type": "volumev3", "endpoints": [_endpoint("http://c1:8776/v3")]},
    ]
    # a 500 is an answer to count, not an exception in the test
    transport = httpx.ASGITransport(app=Tagged(app), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as client:
        await add_pod(client, "pod1", "az1", pod_az="nova-a")
        async with app.state.sessions() as db:
            now = datetime.now(UTC).replace(tzinfo=None)
            db.add(Flavor(id="42", name="m1.nano", ram=128, vcpus=1, disk=1, created_at=now))
            await db.commit()
        yield app, client
    await app.state.registry.aclose()
    await app.state.engine.dispose()


def _endpoint(url: str) -> dict[str, str]:
    return {"interface": "public", "region_id": "pod1", "url": url}


UNLIMITED = QuotaSection(instances=-1, cores=-1, ram=-1)


@pytest.fixture
async def unlimited(
    tmp_path: Path, keystone: FakeKeystone, slow: SlowPods, held: Held
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async for started in _started(tmp_path, keystone, slow, held, UNLIMITED):
        yield started


async def _routings(app: Starlette) -> list[Routing]:
    async with app.state.sessions() as db:
        return list((await db.scalars(select(Routing))).all())


def _create(client: httpx.AsyncClient, kind: str, n: int) -> Any:
    if kind == "server":
        server = {"name": f"s{n}", "flavorRef": "42", "imageRef": "i", "networks": "none"}
        body: dict[str, Any] = {"server": server}
        return client.post("/compute/v2.1/servers", json=body, headers=MEMBER)
    if kind == "volume":
        body = {"volume": {"name": f"v{n}", "size": 1}}
        return client.post("/volume/v3/p1/volumes", json=body, headers=MEMBER)
    body = {"network": {"name": f"n{n}"}}
    return client.post("/networking/v2.0/networks", json=body, headers=MEMBER)


async def test_concurrent_creates_hold_one_connection_and_none_while_a_pod_answers(
    unlimited: tuple[Starlette, httpx.AsyncClient], slow: SlowPods, held: Held
) -> None:
    app, client = unlimited
    answers: list[httpx.Response] = []
    for kind in ("server", "volume", "network"):  # each kind's creates all at once
        answers += await asyncio.gather(*(_create(client, kind, n) for n in range(CREATES)))
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {202: 2 * CREATES, 201: CREATES}, [
        a.text for a in answers if a.status_code >= 300 and "Multiple" not in a.text
    ][:3]
    # at most one connection per request, and none while it waits on a pod
    assert held.most == 1
    assert held.during_pod_calls, "the pods were asked"
    holding = [call for call, count in held.during_pod_calls if count]
    assert holding == []
    # every create visible once at the top, and routed once; no intent left
    servers = (await client.get("/compute/v2.1/servers", headers=MEMBER)).json()["servers"]
    volumes = (await client.get("/volume/v3/p1/volumes", headers=MEMBER)).json()["volumes"]
    networks = await client.get("/networking/v2.0/networks", headers=MEMBER)
    expected = {f"{p}{n}" for n in range(CREATES) for p in "svn"}
    names = [o["name"] for o in (*servers, *volumes, *networks.json()["networks"])]
    assert sorted(names) == sorted(expected)
    found = Counter((r.resource_type, r.status) for r in await _routings(app))
    assert found[("server", "active")] == CREATES
    assert found[("volume", "active")] == CREATES
    assert not [key for key in found if key[1] != "active"]


async def test_a_request_that_gets_no_connection_in_time_is_503_in_its_apis_format() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from starlette.requests import Request

    def request(path: str) -> Request:
        scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": [],
            "query_string": b"",
            "state": {"request_id": "req-1"},
        }
        return Request(scope)

    exhausted = PoolTimeout("QueuePool limit of size 2 overflow 0 reached")
    bodies = {}
    for path in ("/compute/v2.1/servers", "/volume/v3/p1/volumes", "/networking/v2.0/ports"):
        answer = await busy.pool_exhausted(request(path), exhausted)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == busy.RETRY_AFTER
        bodies[path.split("/")[1]] = answer.body
    admin = await busy.pool_exhausted(request("/v1/pods"), exhausted)
    assert admin.status_code == 503 and b'"cascade.unavailable"' in admin.body
    assert b'"serviceUnavailable"' in bodies["compute"] and b'"code":503' in bodies["volume"]
    assert b'"NeutronError"' in bodies["networking"]


async def test_the_app_answers_pool_exhaustion_with_503(
    unlimited: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = unlimited
    # both connections taken by someone else for the length of the request
    engine = app.state.engine
    async with engine.connect() as one, engine.connect() as two:
        await one.exec_driver_sql("select 1")
        await two.exec_driver_sql("select 1")
        engine.sync_engine.pool._timeout = 0.05  # no free connection comes back: fail fast
        answer = await client.post(
            "/volume/v3/p1/volumes", json={"volume": {"size": 1}}, headers=MEMBER
        )
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == busy.RETRY_AFTER
    assert answer.json()["serviceUnavailable"]["code"] == 503


# --- the quota race ----------------------------------------------------------------------

ROOM = 5  # what is left of the quota
RACERS = 20


async def _race(client: httpx.AsyncClient, slow: SlowPods, kind: str) -> list[httpx.Response]:
    """RACERS creates at once; the pod holds every create it gets until each request was
    either refused or reached the pod (so no create completes while another checks)."""
    slow.gate, slow.expected = asyncio.Event(), RACERS

    async def one(n: int) -> httpx.Response:
        answer: httpx.Response = await _create(client, kind, n)
        if answer.status_code >= 400:
            slow.refused += 1
            slow.settle()
        return answer

    return await asyncio.gather(*(one(n) for n in range(RACERS)))


@pytest.fixture
async def five_servers_left(
    tmp_path: Path, keystone: FakeKeystone, slow: SlowPods, held: Held
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    quota = QuotaSection(instances=ROOM + 2, cores=-1, ram=-1)
    async for app, client in _started(tmp_path, keystone, slow, held, quota):
        for n in range(2):
            slow.hosts["n1"].add_server(f"old{n}")
        yield app, client


async def test_twenty_server_creates_with_room_for_five_make_five(
    five_servers_left: tuple[Starlette, httpx.AsyncClient], slow: SlowPods
) -> None:
    app, client = five_servers_left
    answers = await _race(client, slow, "server")
    accepted = [a for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code != 202]
    assert len(accepted) == ROOM
    assert {a.status_code for a in refused} == {403}
    assert all(
        a.json()["forbidden"]["message"].startswith("Quota exceeded for instances: Requested 1")
        for a in refused
    )
    assert len(slow.hosts["n1"].servers) == 2 + ROOM  # nothing made for a refused create
    routed = [r for r in await _routings(app) if r.resource_type == "server"]
    assert sorted(r.status for r in routed) == ["active"] * ROOM


async def test_twenty_volume_creates_with_room_for_five_make_five(
    unlimited: tuple[Starlette, httpx.AsyncClient], slow: SlowPods
) -> None:
    app, client = unlimited
    cinder: FakeCinder = slow.hosts["c1"]
    for n in range(3):
        cinder.add_volume(f"old{n}")
    limit = {"quota_set": {"volumes": 3 + ROOM}}
    admin = {"X-Auth-Token": "admin-token"}
    assert (
        await client.put("/volume/v3/p1/os-quota-sets/p1", json=limit, headers=admin)
    ).is_success
    answers = await _race(client, slow, "volume")
    accepted = [a for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code != 202]
    assert len(accepted) == ROOM
    assert {a.status_code for a in refused} == {413}
    assert all(
        a.json()["overLimit"]["message"]
        == "VolumeLimitExceeded: Maximum number of volumes allowed (8) exceeded for quota "
        "'volumes'."
        for a in refused
    )
    assert len(cinder.volumes) == 3 + ROOM
    routed = [r for r in await _routings(app) if r.resource_type == "volume"]
    assert sorted(r.status for r in routed) == ["active"] * ROOM
