"""Asking every pod within one deadline (`pods.fanout`) and the one merged paged list
(`services.listing.read_pages`) through the servers and volumes lists: order, paging
with and without remembered positions, and a pod that accepts a call and never answers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cascade.pods.client import PodUnavailable
from cascade.pods.fanout import UNAVAILABLE_HEADER, fan_out
from cascade.services import listing
from tests.unit.conftest import FakeKeystone
from tests.unit.fakecinder import FakeCinder
from tests.unit.fakenova import FakeCloud, FakeNova, add_pod
from tests.unit.test_server_lists import pages

MEMBER = {"X-Auth-Token": "member-token"}
DEADLINE = 0.5
MARGIN = 1.0  # the answer itself (routings, views) on a slow test machine


@dataclasses.dataclass(frozen=True)
class Pod:
    name: str


async def test_a_pod_that_never_answers_is_left_out_at_the_deadline() -> None:
    late: list[str] = []
    cancelled = asyncio.Event()

    async def ask(pod: Pod) -> str:
        if pod.name == "hangs":
            try:
                await asyncio.Event().wait()
            finally:
                cancelled.set()
        if pod.name == "down":
            raise PodUnavailable(pod.name, "compute", "unreachable")
        return pod.name.upper()

    pods = [Pod("a"), Pod("hangs"), Pod("down"), Pod("b")]
    started = time.monotonic()
    found = await fan_out(pods, ask, deadline=0.2, late=lambda p: late.append(p.name))
    assert 0.2 <= time.monotonic() - started < 0.2 + MARGIN
    assert found.answers == [(Pod("a"), "A"), (Pod("b"), "B")]
    assert found.names == ["hangs", "down"]
    assert found.headers() == {UNAVAILABLE_HEADER: "hangs,down"}
    assert late == ["hangs"]  # only the late one counts against its breaker
    assert cancelled.is_set()  # its call does not linger


async def test_all_answering_is_not_waiting_for_the_deadline() -> None:
    async def ask(pod: Pod) -> int:
        return len(pod.name)

    started = time.monotonic()
    found = await fan_out([Pod("a"), Pod("bb")], ask, deadline=30)
    assert time.monotonic() - started < 1
    assert found.values == [1, 2] and found.headers() == {}


async def test_a_refusal_is_the_answer_and_stops_the_others() -> None:
    cancelled = asyncio.Event()

    async def ask(pod: Pod) -> None:
        if pod.name == "refuses":
            raise ValueError("bad filter")
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    with pytest.raises(ValueError, match="bad filter"):
        await fan_out([Pod("slow"), Pod("refuses")], ask, deadline=30)
    assert cancelled.is_set()


# --- the merged lists, with pod2 accepting calls and never answering ---------------------


class Hanging:
    """The pods' transport: pod hosts in `hang` accept a call and never answer."""

    def __init__(self, **hosts: Any) -> None:
        self.hosts = hosts
        self.hang: set[str] = set()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.hang:
            await asyncio.Event().wait()
        response: httpx.Response = self.hosts[request.url.host](request)
        return response


@pytest.fixture
def novas() -> FakeCloud:
    return FakeCloud.pair()


@pytest.fixture
def cinders() -> dict[str, FakeCinder]:
    return {"c1": FakeCinder("c1", "nova-a"), "c2": FakeCinder("c2", "nova-b")}


@pytest.fixture
def pod_handler(novas: FakeCloud, cinders: dict[str, FakeCinder]) -> Hanging:
    return Hanging(**novas.pods, **cinders)


@pytest.fixture
async def hanging(
    app: Starlette,
    client: httpx.AsyncClient,
    keystone: FakeKeystone,
    novas: FakeCloud,
    cinders: dict[str, FakeCinder],
    pod_handler: Hanging,
) -> Hanging:
    """pod1 (n1, c1) and pod2 (n2, c2) registered, with the deadline at `DEADLINE`."""
    registry = app.state.registry
    registry.conf = dataclasses.replace(registry.conf, list_deadline=DEADLINE)
    keystone.catalog = [
        {"type": kind, "endpoints": [_endpoint(region, url) for region, url in urls.items()]}
        for kind, urls in {
            "compute": {"pod1": "http://n1:8774/v2.1", "pod2": "http://n2:8774/v2.1"},
            "volumev3": {"pod1": "http://c1:8776/v3", "pod2": "http://c2:8776/v3"},
        }.items()
    ]
    for n, nova in enumerate(novas.pods.values(), 1):
        await add_pod(client, f"pod{n}", f"az{n}", pod_az=nova.az)
    return pod_handler


def _endpoint(region: str, url: str) -> dict[str, str]:
    return {"interface": "public", "region_id": region, "url": url}


async def _timed(client: httpx.AsyncClient, url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    resp = await client.get(url, headers=MEMBER)
    return resp, time.monotonic() - started


async def test_the_server_list_answers_within_the_deadline_without_a_hanging_pod(
    client: httpx.AsyncClient, novas: FakeCloud, hanging: Hanging
) -> None:
    one: FakeNova = novas.pods["n1"]
    mine = [one.add_server(f"s{n}")["id"] for n in range(3)]
    novas.pods["n2"].add_server("in-pod2")
    assert (await client.get("/compute/v2.1/servers", headers=MEMBER)).status_code == 200
    hanging.hang.add("n2")
    for path, count in (("/servers/detail", 3), ("/servers?limit=2", 2)):
        resp, took = await _timed(client, "/compute/v2.1" + path)
        assert resp.status_code == 200, resp.text
        assert took < DEADLINE + MARGIN, path
        assert resp.headers[UNAVAILABLE_HEADER] == "pod2"
        shown = [s["id"] for s in resp.json()["servers"]]
        assert set(shown) <= set(mine) and len(shown) == count


async def test_the_volume_list_answers_within_the_deadline_without_a_hanging_pod(
    client: httpx.AsyncClient, cinders: dict[str, FakeCinder], hanging: Hanging
) -> None:
    mine = {cinders["c1"].add_volume(f"v{n}")["id"] for n in range(3)}
    cinders["c2"].add_volume("in-pod2")
    both = await client.get("/volume/v3/volumes/detail", headers=MEMBER)
    assert both.status_code == 200, both.text
    assert len(both.json()["volumes"]) == 4 and UNAVAILABLE_HEADER not in both.headers
    hanging.hang.add("c2")
    resp, took = await _timed(client, "/volume/v3/volumes/detail")
    assert resp.status_code == 200, resp.text
    assert took < DEADLINE + MARGIN
    assert resp.headers[UNAVAILABLE_HEADER] == "pod2"
    assert {v["id"] for v in resp.json()["volumes"]} == mine
    assert {v["availability_zone"] for v in resp.json()["volumes"]} == {"az1"}


async def _volume_pages(
    client: httpx.AsyncClient, app: Starlette, query: str, forget: bool
) -> list[str]:
    url = f"/volume/v3/volumes/detail?{query}"
    return await pages(client, url, MEMBER, app if forget else None, "volumes")


@pytest.mark.parametrize("forget", [False, True])
async def test_volume_pages_are_the_sorted_union_of_the_pods(
    app: Starlette,
    client: httpx.AsyncClient,
    cinders: dict[str, FakeCinder],
    hanging: Hanging,
    forget: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a scanned pod is read in chunks of 2: a page needs several of them
    monkeypatch.setattr(listing, "SCAN_CHUNK", 2)
    names = ["web", "alpha", "db", "beta", "cache", "zeta", "mq", "gamma", "api"]
    for n, name in enumerate(names):
        cinders["c1" if n % 3 else "c2"].add_volume(name)
    cinders["c1"].add_volume("theirs", project="p2")
    mine = [v for c in cinders.values() for v in c.volumes.values() if v["name"] != "theirs"]
    by_name = [v["id"] for v in sorted(mine, key=lambda v: (v["name"], v["id"]))]
    assert await _volume_pages(client, app, "sort=name:asc&limit=2", forget) == by_name
    newest = sorted(mine, key=lambda v: (v["created_at"], v["id"]), reverse=True)
    assert await _volume_pages(client, app, "limit=4", forget) == [v["id"] for v in newest]
    counted = await client.get(
        "/volume/v3/volumes?with_count=true&limit=3",
        headers={**MEMBER, "OpenStack-API-Version": "volume 3.45"},
    )
    assert counted.json()["count"] == len(mine) and len(counted.json()["volumes"]) == 3
