"""The routings API: project scoping, filters, paging; pods that host resources."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from cascade.services.routings import record_intent

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}  # project p1 in the fake Keystone


@pytest.fixture
async def pod_id(client: httpx.AsyncClient) -> str:
    body = {"pod": {"name": "pod1", "region_name": "pod1", "az": "az1"}}
    return str((await client.post("/v1/pods", json=body, headers=ADMIN)).json()["pod"]["id"])


async def routings(app: Starlette, pod_id: str, projects: list[str]) -> list[str]:
    made = []
    async with app.state.sessions() as db:
        for n, project in enumerate(projects):
            r = await record_intent(db, "server", f"top-{n}", pod_id, project)
            made.append(r.id)
    return made


async def test_members_see_their_project_admins_all(
    app: Starlette, client: httpx.AsyncClient, pod_id: str
) -> None:
    ids = await routings(app, pod_id, ["p1", "p2", "p1"])
    mine = (await client.get("/v1/routings", headers=MEMBER)).json()["routings"]
    assert [r["id"] for r in mine] == [ids[0], ids[2]]
    assert mine[0]["status"] == "creating" and mine[0]["bottom_id"] is None
    everything = (await client.get("/v1/routings", headers=ADMIN)).json()["routings"]
    assert [r["id"] for r in everything] == ids
    other = await client.get(f"/v1/routings/{ids[1]}", headers=MEMBER)
    assert other.status_code == 404
    refused = await client.get("/v1/routings?project_id=p2", headers=MEMBER)
    assert refused.status_code == 403
    only_p2 = await client.get("/v1/routings?project_id=p2", headers=ADMIN)
    assert [r["id"] for r in only_p2.json()["routings"]] == [ids[1]]


async def test_paging_with_limit_and_marker(
    app: Starlette, client: httpx.AsyncClient, pod_id: str
) -> None:
    ids = await routings(app, pod_id, ["p1"] * 5)
    seen: list[str] = []
    url = "/v1/routings?limit=2&resource_type=server"
    while url:
        body = (await client.get(url, headers=ADMIN)).json()
        seen += [r["id"] for r in body["routings"]]
        links = body.get("routings_links", [])
        url = links[0]["href"].removeprefix("http://cascade.test") if links else ""
    assert seen == ids
    bad = await client.get("/v1/routings?marker=nope", headers=ADMIN)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["detail"] == "marker [nope] not found"
    for query in ("limit=0", "limit=x", "colour=red"):
        assert (await client.get(f"/v1/routings?{query}", headers=ADMIN)).status_code == 400


async def test_delete_is_admin_only(app: Starlette, client: httpx.AsyncClient, pod_id: str) -> None:
    (rid,) = await routings(app, pod_id, ["p1"])
    assert (await client.delete(f"/v1/routings/{rid}", headers=MEMBER)).status_code == 403
    assert (await client.delete(f"/v1/routings/{rid}", headers=ADMIN)).status_code == 204
    assert (await client.get(f"/v1/routings/{rid}", headers=ADMIN)).status_code == 404


async def test_a_pod_hosting_resources_is_deleted_only_by_force(
    app: Starlette, client: httpx.AsyncClient, pod_id: str
) -> None:
    await routings(app, pod_id, ["p1", "p2"])
    refused = await client.delete(f"/v1/pods/{pod_id}", headers=ADMIN)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "cascade.pod.in_use"
    assert "hosts 2 resource(s)" in refused.json()["errors"][0]["detail"]
    assert (await client.delete(f"/v1/pods/{pod_id}?force=maybe", headers=ADMIN)).status_code == 400
    assert (await client.delete(f"/v1/pods/{pod_id}?force=true", headers=ADMIN)).status_code == 204
    assert (await client.get("/v1/routings", headers=ADMIN)).json()["routings"] == []
