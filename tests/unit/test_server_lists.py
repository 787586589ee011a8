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
from tests.unit.fakenova import FakeCloud

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
