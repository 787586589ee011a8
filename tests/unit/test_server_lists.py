"""GET /servers and /servers/detail merged across fake pods: order, paging, down pods."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Pod
from cascade.services import routings
from cascade.services.listing import Cursors
from tests.unit.fakenova import FakeCloud, route

pytestmark = pytest.mark.fake_pods

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
OTHER = {"X-Auth-Token": "other-token"}


@pytest.fixture
async def pods(pods: FakeCloud) -> FakeCloud:
    cloud = pods
    # interleaved creation, three per second: ties on `created` are broken by id
    names = ["web", "Alpha", "db", "alpha", "cache", "zeta", "mq", "Beta", "api", "beta", "x"]
    for n, name in enumerate(names):
        cloud.pods["n1" if n % 2 else "n2"].add_server(name)
    cloud.pods["n1"].add_server("theirs", project="p2")
    return cloud


def expected(cloud: FakeCloud, key: Any, reverse: bool) -> list[str]:
    mine = [s for p in cloud.pods.values() for s in p.servers.values() if s["tenant_id"] == "p1"]
    return [s["id"] for s in sorted(mine, key=key, reverse=reverse)]


def by_created(server: dict[str, Any]) -> tuple[str, str]:
    return server["created"], server["id"]


async def pages(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    app: Starlette | None = None,
    collection: str = "servers",
) -> list[str]:
    """The ids of every page, following `next` links; with `app`, forgets the pods'
    positions before each page (so the pods are scanned)."""
    ids: list[str] = []
    while url:
        if app is not None:
            app.state.registry.cache(Cursors).clear()
        resp = await client.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
        ids += [s["id"] for s in resp.json()[collection]]
        links = resp.json().get(f"{collection}_links", [])
        url = links[0]["href"].removeprefix("http://cascade.test") if links else ""
        assert len(ids) < 100
    return ids


async def test_the_default_order_is_nova_s_over_every_pod(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    resp = await client.get("/compute/v2.1/servers/detail", headers=MEMBER)
    assert resp.status_code == 200
    ids = [s["id"] for s in resp.json()["servers"]]
    assert ids == expected(pods, by_created, reverse=True)
    assert "servers_links" not in resp.json()
    first = resp.json()["servers"][0]
    assert first["links"][0]["href"].startswith("http://cascade.test/compute/v2.1/servers/")
    assert {s["OS-EXT-AZ:availability_zone"] for s in resp.json()["servers"]} == {"az1", "az2"}
    # every pod was asked for the same total order
    asked = pods.pods["n1"].requests[-1].url.params
    assert asked.get_list("sort_key") == ["created_at", "uuid"]
    assert asked.get_list("sort_dir") == ["desc", "desc"]


@pytest.mark.parametrize("forget_positions", [False, True])
async def test_paging_with_limit_and_marker_walks_the_whole_list_once(
    client: httpx.AsyncClient, app: Starlette, pods: FakeCloud, forget_positions: bool
) -> None:
    url = "/compute/v2.1/servers/detail?limit=3"
    walked = await pages(client, url, MEMBER, app if forget_positions else None)
    assert walked == expected(pods, by_created, reverse=True)


async def test_sorting_by_name_is_case_insensitive_with_id_ties(
    client: httpx.AsyncClient, app: Starlette, pods: FakeCloud
) -> None:
    url = "/compute/v2.1/servers?sort_key=display_name&sort_dir=asc&limit=4"
    walked = await pages(client, url, MEMBER, app)
    key = lambda s: (s["name"].lower(), s["created"], s["id"])  # noqa: E731
    assert walked == expected(pods, key, reverse=False)
    resp = await client.get("/compute/v2.1/servers?limit=2", headers=MEMBER)
    assert set(resp.json()["servers"][0]) == {"id", "name", "links"}
    assert resp.json()["servers_links"][0]["href"].startswith(
        "http://cascade.test/compute/v2.1/servers?limit=2&marker="
    )


async def test_other_projects_and_admins(client: httpx.AsyncClient, pods: FakeCloud) -> None:
    # p2 has no binding and no routing yet: its list asks no pod (its server was made in
    # pod1 behind the top's back)
    resp = await client.get("/compute/v2.1/servers", headers=OTHER)
    assert resp.json()["servers"] == []
    # an admin's list of every project asks every pod, and routes what it finds
    resp = await client.get("/compute/v2.1/servers?all_tenants=1", headers=ADMIN)
    assert len(resp.json()["servers"]) == 12
    # now the top knows p2 has a server in pod1: p2's list asks pod1 and shows it alone
    resp = await client.get("/compute/v2.1/servers", headers=OTHER)
    assert [s["name"] for s in resp.json()["servers"]] == ["theirs"]


async def test_bad_paging_and_sorting_are_nova_s_errors(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    cases = {
        "limit=x": (400, "limit param must be an integer"),
        "limit=-1": (400, "limit param must be positive"),
        "marker=nope": (400, "marker [nope] not found"),
        "sort_key=display_name&sort_dir=sideways": (400, "Unknown sort direction"),
        "sort_key=host": (403, "Only administrators can sort servers by host"),
    }
    for query, (status, message) in cases.items():
        resp = await client.get(f"/compute/v2.1/servers?{query}", headers=MEMBER)
        assert resp.status_code == status, query
        assert message in next(iter(resp.json().values()))["message"]
    # another project's server is not a marker for this one
    theirs = next(s["id"] for s in pods.pods["n1"].servers.values() if s["tenant_id"] == "p2")
    resp = await client.get(f"/compute/v2.1/servers?marker={theirs}", headers=MEMBER)
    assert resp.status_code == 400


async def test_a_down_pod_is_left_out_or_shown_as_stubs_from_2_69(
    client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await client.get("/compute/v2.1/servers", headers=MEMBER)  # routings for every server
    pods.pods["n2"].down = True
    resp = await client.get("/compute/v2.1/servers/detail", headers=MEMBER)
    assert resp.status_code == 200
    assert resp.headers["x-cascade-unavailable-pods"] == "pod2"
    up = [s["id"] for s in pods.pods["n1"].servers.values() if s["tenant_id"] == "p1"]
    assert sorted(s["id"] for s in resp.json()["servers"]) == sorted(up)
    headers = {**MEMBER, "OpenStack-API-Version": "compute 2.69"}
    resp = await client.get("/compute/v2.1/servers/detail", headers=headers)
    stubs = [s for s in resp.json()["servers"] if s["status"] == "UNKNOWN"]
    assert sorted(s["id"] for s in stubs) == sorted(pods.pods["n2"].servers)
    assert set(stubs[0]) == {"id", "status", "tenant_id", "created", "links"}
    assert len(resp.json()["servers"]) == len(up) + len(stubs)


async def test_the_flavor_filter_names_the_top_flavor_and_each_pod_gets_its_copy(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    async with app.state.sessions() as db:
        pod1 = (await db.scalars(select(Pod).where(Pod.name == "pod1"))).one()
        copy = await routings.record_intent(db, "flavor", "top-small", pod1.id, "")
        copy.bottom_id, copy.status = "7", "active"
        await db.commit()
    wanted = pods.pods["n1"].add_server("small", flavor={"id": "7", "links": []})
    pods.pods["n2"].add_server("other", flavor={"id": "7", "links": []})  # pod2's own "7"
    resp = await client.get("/compute/v2.1/servers?flavor=top-small", headers=MEMBER)
    assert [s["id"] for s in resp.json()["servers"]] == [wanted["id"]]
    asked = [r for r in pods.pods["n2"].requests if "flavor" in r.url.params]
    assert asked == []  # a pod without a copy has no such server: not asked


async def _routed(
    app: Starlette, cloud: FakeCloud, pod: str, name: str, created: str, routed: str = ""
) -> str:
    """A server of p2 (which is bound to no pod) in fake pod `pod`, made at `created`,
    with its routing written at `routed` (default: `created`)."""

    server = cloud.pods[pod].add_server(name, project="p2", created=created)
    await route(app, "server", server["id"], REGIONS[pod], "p2", routed or created)
    return str(server["id"])


REGIONS = {"n1": "pod1", "n2": "pod2"}


def lists(cloud: FakeCloud) -> dict[str, int]:
    """How many server lists each fake pod was asked for."""
    return {
        name: sum(r.url.path.startswith("/v2.1/servers") for r in nova.requests)
        for name, nova in cloud.pods.items()
    }


async def test_a_first_page_asks_only_the_pods_of_the_newest_servers(
    client: httpx.AsyncClient, app: Starlette, pods: FakeCloud
) -> None:
    """p2's three newest servers are in pod1, its older ones (an hour older) in pod2: its
    first page of three asks pod1 alone; the next page asks pod2 from its start (no
    scan); a filtered list, or another order, asks both."""
    new = [await _routed(app, pods, "n1", f"new{n}", f"2026-02-01T10:00:0{n}Z") for n in range(3)]
    old = [await _routed(app, pods, "n2", f"old{n}", f"2026-02-01T09:00:0{n}Z") for n in range(3)]
    before = lists(pods)
    resp = await client.get("/compute/v2.1/servers?limit=3", headers=OTHER)
    assert [s["id"] for s in resp.json()["servers"]] == new[::-1]
    assert lists(pods) == {"n1": before["n1"] + 1, "n2": before["n2"]}  # pod2 not asked
    href = resp.json()["servers_links"][0]["href"].removeprefix("http://cascade.test")
    resp = await client.get(href, headers=OTHER)
    assert [s["id"] for s in resp.json()["servers"]] == old[::-1]
    asked = pods.pods["n2"].requests[-1].url.params
    assert "marker" not in asked and asked["limit"] == "3"  # from its start, not scanned
    before = lists(pods)
    for query in ("limit=3&name=new", "limit=3&sort_key=display_name"):
        resp = await client.get(f"/compute/v2.1/servers?{query}", headers=OTHER)
        assert resp.status_code == 200, resp.text
    assert lists(pods)["n2"] == before["n2"] + 2


async def test_servers_close_in_time_across_pods_are_all_asked_for(
    client: httpx.AsyncClient, app: Starlette, pods: FakeCloud
) -> None:
    """A routing is written before its create is sent, and the pod stamps the server
    later: b's routing is older than the page's last routing (c's) while b itself is
    the newest. Its pod is within the margin, asked, and the page is Nova's order by
    the pods' own times."""
    a = await _routed(app, pods, "n1", "a", "2026-02-01T10:00:00Z")
    await _routed(app, pods, "n1", "c", "2026-02-01T09:59:30Z")
    b = await _routed(app, pods, "n2", "b", "2026-02-01T10:00:30Z", "2026-02-01T09:59:00Z")
    resp = await client.get("/compute/v2.1/servers?limit=2", headers=OTHER)
    assert [s["id"] for s in resp.json()["servers"]] == [b, a]


async def test_a_list_remembers_where_the_servers_it_showed_are(
    client: httpx.AsyncClient, app: Starlette, pods: FakeCloud
) -> None:
    """The GET that follows a list goes straight to the pod: the list put each shown
    server's active routing (pod and project) in the process's route cache, those it
    healed too."""
    from cascade.services.route_cache import RouteCache

    routes = app.state.registry.cache(RouteCache)
    resp = await client.get("/compute/v2.1/servers?limit=4", headers=MEMBER)
    shown = [s["id"] for s in resp.json()["servers"]]
    where = {}
    async with app.state.sessions() as db:
        for server_id in shown:
            row = await routings.find_top(db, "server", server_id)
            assert row is not None
            where[server_id] = (row.pod_id, row.project_id)
    assert [routes.get("server", i) for i in shown] == [where[i] for i in shown]
    assert {project for _, project in where.values()} == {"p1"}
    for server_id in shown:
        resp = await client.get(f"/compute/v2.1/servers/{server_id}", headers=OTHER)
        assert resp.status_code == 404


async def test_each_pod_is_asked_for_what_the_routing_table_says_it_holds(
    client: httpx.AsyncClient, app: Starlette, pods: FakeCloud
) -> None:
    """p2's routings: 12 servers in pod1, one in pod2. A first page of 10 asks pod1 for
    10 (its share, capped at the page) and pod2 for 3 (its one, a tenth more and two),
    not for the list's share (10). pod2 also holds three servers no routing knows
    (made there directly), newer than all: its batch runs out, it is read on, and the
    page is still Nova's order over both pods."""
    for n in range(12):
        await _routed(app, pods, "n1", f"a{n:02}", f"2026-02-01T10:00:{n:02}Z")
    await _routed(app, pods, "n2", "b0", "2026-02-01T10:00:30Z")
    for n in range(3):
        pods.pods["n2"].add_server(f"c{n}", project="p2", created=f"2026-02-01T10:01:0{n}Z")
    before = len(pods.pods["n2"].requests)
    resp = await client.get("/compute/v2.1/servers?limit=10", headers=OTHER)
    names = [s["name"] for s in resp.json()["servers"]]
    assert names == ["c2", "c1", "c0", "b0", "a11", "a10", "a09", "a08", "a07", "a06"]
    asked = [
        r.url.params for r in pods.pods["n2"].requests[before:] if r.url.path.endswith("detail")
    ]
    assert asked[0]["limit"] == "3" and "marker" not in asked[0]
    assert len(asked) == 2 and asked[1]["marker"]  # read on after its batch ran out
    first = [r.url.params for r in pods.pods["n1"].requests if r.url.path.endswith("detail")]
    assert first[-1]["limit"] == "10"
