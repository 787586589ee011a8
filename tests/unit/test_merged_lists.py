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
from tests.unit.fakenova import FakeCloud, FakeNova, add_pod, bind_member, route
from tests.unit.test_server_lists import pages

MEMBER = {"X-Auth-Token": "member-token"}
OTHER = {"X-Auth-Token": "other-token"}
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
        await bind_member(
            client, await add_pod(client, f"pod{n}", f"az{n}", pod_az=nova.az), f"az{n}"
        )
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


# --- batches per pod, and a merge that stops at the page --------------------------------


def test_each_pod_is_asked_for_its_share_of_the_page_as_nova_asks_cells() -> None:
    assert listing.batch_size(1000, 1) == 1000
    assert listing.batch_size(1000, 2) == 550
    assert listing.batch_size(1000, 10) == 110
    assert listing.batch_size(1000, 1000) == listing.MIN_BATCH
    assert listing.batch_size(20, 1000) == 20  # never more than the page


@dataclasses.dataclass(frozen=True)
class ListedPod:
    id: str
    name: str


class Shelves:
    """In-memory pods whose items are sorted newest first; every read is recorded."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.items = {
            name: [
                {"id": f"{name}-{n:05d}", "created": f"2026-01-01T00:00:{n:05d}"}
                for n in range(count)
            ][::-1]
            for name, count in counts.items()
        }
        self.reads: list[tuple[str, str | None, int]] = []
        self.down: set[str] = set()

    async def read(self, pod: Any, marker: str | None, limit: int) -> listing.Chunk:
        self.reads.append((pod.name, marker, limit))
        if pod.name in self.down:
            raise PodUnavailable(pod.name, "compute", "gone")
        items = self.items[pod.name]
        start = 0 if marker is None else [i["id"] for i in items].index(marker) + 1
        return listing.Chunk(items[start : start + limit])


class Deadline:
    list_deadline = 5.0
    fanout_in_flight = 200

    def __init__(self) -> None:
        self.cursors = listing.Cursors()

    def cache(self, kind: type) -> Any:
        return self.cursors

    def late(self, pod: str, service: str) -> None:
        raise AssertionError(f"{pod} was late")


ORDER = listing.Order(
    listing.SortSpec(("created", "id"), ("desc", "desc")),
    {"created": lambda i: i["created"], "id": lambda i: i["id"]},
)


async def _page(shelves: Shelves, size: int) -> tuple[list[str], listing.Pages]:
    pods = [ListedPod(name, name) for name in shelves.items]
    found = await listing.read_pages(
        Deadline(),  # type: ignore[arg-type]
        "compute",
        pods,  # type: ignore[arg-type]
        shelves.read,
        ORDER,
        size,
        "q",
    )
    return [str(item["id"]) for _, item in await found.merged()], found


def _newest(shelves: Shelves, size: int) -> list[str]:
    every = [i for items in shelves.items.values() for i in items]
    every.sort(key=lambda i: (i["created"], i["id"]), reverse=True)
    return [str(i["id"]) for i in every[:size]]


async def test_a_page_over_many_pods_asks_each_for_a_batch_once() -> None:
    """40 pods of 60 items, a page of 1,000: each pod is asked for 100 once; the
    merge needs about 25 of each and asks nobody again."""
    shelves = Shelves({f"p{n:02d}": 60 for n in range(40)})
    shown, _ = await _page(shelves, 1000)
    assert shown == _newest(shelves, 1000)
    assert sorted(shelves.reads) == [(f"p{n:02d}", None, 100) for n in range(40)]


async def test_a_pod_whose_batch_runs_out_is_read_on_and_the_merge_stops_at_the_page() -> None:
    """One pod holds the 1,000 newest items: it is read batch after batch from its last
    item, until the page is full and no further."""
    shelves = Shelves({"big": 2000, **{f"s{n}": 5 for n in range(19)}})
    for n in range(19):  # the small pods' items are all older than the big pod's
        for item in shelves.items[f"s{n}"]:
            item["created"] = "2025" + item["created"][4:]
    shown, _ = await _page(shelves, 1000)
    assert shown == _newest(shelves, 1000)
    big = [(marker, limit) for name, marker, limit in shelves.reads if name == "big"]
    assert [limit for _, limit in big] == [100] * 10
    assert [marker for marker, _ in big][1:] == [f"big-{2000 - 100 * k:05d}" for k in range(1, 10)]
    assert len(shelves.reads) == 19 + 10


async def test_parts_that_cannot_make_the_page_are_cut_as_they_arrive() -> None:
    """500 pods of 10 items, a page of 100: once 100 items are held, a pod's items that
    sort after all of them are dropped as its answer arrives (and its pod is not read
    on), so the page holds about its own size of items, not 5,000; the page is the same."""
    shelves = Shelves({f"p{n:03d}": 10 for n in range(500)})
    for n, items in enumerate(shelves.items.values()):  # interleaved in time across pods
        for k, item in enumerate(items):
            item["created"] = f"2026-01-01T{(9 - k):02d}:{n // 60:02d}:{n % 60:02d}"
    shown, found = await _page(shelves, 100)
    assert shown == _newest(shelves, 100)
    held = sum(len(page.items) for page in found.pages)
    assert held < 1000, held
    assert not any(page.more for page in found.pages)


def test_a_bound_of_no_items_keeps_none() -> None:
    assert listing.Bound(ORDER, 0).keep([{"id": "a", "created": "x"}]) == 0


async def test_a_pod_that_fails_when_read_on_is_left_out_and_named() -> None:
    shelves = Shelves({"big": 500, "small": 5})
    shelves.items["small"] = [dict(i, created="2025") for i in shelves.items["small"]]
    shown_before = _newest(shelves, 300)
    shelves.down.add("big")
    # the first batch answered, the next does not: the page goes on with the others
    reads = shelves.read

    async def first_then_down(pod: Any, marker: str | None, limit: int) -> listing.Chunk:
        if marker is None:
            shelves.down.discard(pod.name)
            try:
                return await reads(pod, marker, limit)
            finally:
                shelves.down.add("big")
        return await reads(pod, marker, limit)

    shelves.read = first_then_down  # type: ignore[method-assign]
    shown, found = await _page(shelves, 300)
    # 2 pods: each asked for 165 (its half and a tenth); the big pod's first batch shows
    assert shown[:165] == shown_before[:165]
    assert shown[165:] == [i["id"] for i in shelves.items["small"]]
    assert [p.name for p in found.unavailable] == ["big"]


async def test_when_most_pods_are_late_none_is_blamed() -> None:
    """Ten pods asked, all still answering at the deadline: the fan-out itself was too
    slow (thousands of pods at once), so no breaker counts a failure; one late pod of
    ten is blamed as before."""
    late: list[str] = []

    async def slow(pod: Pod) -> str:
        if pod.name != "quick":
            await asyncio.Event().wait()
        return pod.name

    pods = [Pod(f"p{n}") for n in range(10)]
    found = await fan_out(pods, slow, deadline=0.05, late=lambda p: late.append(p.name))
    assert len(found.unavailable) == 10 and late == []
    pods = [Pod("quick")] * 9 + [Pod("hangs")]
    found = await fan_out(pods, slow, deadline=0.05, late=lambda p: late.append(p.name))
    assert late == ["hangs"]


async def test_a_bounded_fan_out_finishes_pods_in_turn_and_blames_only_those_asked() -> None:
    """Ten slow pods, two at a time, a deadline that leaves time for four: those four
    answer, the six others are left out; the two in flight at the deadline count
    against their breakers, the four never asked do not."""
    late: list[str] = []

    async def slow(pod: Pod) -> str:
        await asyncio.sleep(0.1)
        return pod.name

    pods = [Pod(f"p{n}") for n in range(10)]
    found = await fan_out(
        pods, slow, deadline=0.25, late=lambda p: late.append(p.name), in_flight=2
    )
    assert found.values == ["p0", "p1", "p2", "p3"]
    assert found.names == [f"p{n}" for n in range(4, 10)]
    assert late == ["p4", "p5"]


async def test_a_first_page_of_volumes_asks_only_the_pods_of_the_newest(
    app: Starlette, client: httpx.AsyncClient, cinders: dict[str, FakeCinder], hanging: Hanging
) -> None:
    """p2 (bound to no pod) has its three newest volumes in pod1 and older ones, an hour
    older, in pod2: its first page of three asks pod1 alone, the next one pod2 from its
    start; a page with a filter, an offset or a count asks both."""

    async def made(cinder: str, region: str, name: str, created: str) -> str:
        volume = cinders[cinder].add_volume(name, project="p2")
        volume["created_at"] = created
        await route(app, "volume", volume["id"], region, "p2", created)
        return str(volume["id"])

    def lists() -> dict[str, int]:
        return {
            name: sum(r.url.path.startswith("/v3/volumes") for r in cinder.requests)
            for name, cinder in cinders.items()
        }

    new = [await made("c1", "pod1", f"new{n}", f"2026-02-01T10:00:0{n}Z") for n in range(3)]
    old = [await made("c2", "pod2", f"old{n}", f"2026-02-01T09:00:0{n}Z") for n in range(3)]
    before = lists()
    resp = await client.get("/volume/v3/volumes/detail?limit=3", headers=OTHER)
    assert resp.status_code == 200, resp.text
    assert [v["id"] for v in resp.json()["volumes"]] == new[::-1]
    assert lists() == {"c1": before["c1"] + 1, "c2": before["c2"]}
    href = resp.json()["volumes_links"][0]["href"].removeprefix("http://cascade.test")
    resp = await client.get(href, headers=OTHER)
    assert [v["id"] for v in resp.json()["volumes"]] == old[::-1]
    asked = cinders["c2"].requests[-1].url.params
    assert "marker" not in asked and asked["limit"] == "3"
    before = lists()
    for query in ("limit=3&name=new0", "limit=3&offset=1", "limit=3&sort=name:asc"):
        resp = await client.get(f"/volume/v3/volumes/detail?{query}", headers=OTHER)
        assert resp.status_code == 200, resp.text
    assert lists()["c2"] == before["c2"] + 3
