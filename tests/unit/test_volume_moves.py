"""A volume moved between pods (`os-migrate_volume` naming a host of another pod) keeps
its top id: the top translates between its id in its new pod and its top id, both ways;
Cinder's refusals come before anything is queued; a volume on its way cannot change."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Job, Move, Routing
from cascade.services.compute import moves
from tests.unit.fakecinder import FakeCinder
from tests.unit.fakenova import route
from tests.unit.test_server_moves import moved
from tests.unit.test_volume_hosts import ADMIN, MEMBER, V3, cinders, cloud2, novas, pod_handler

__all__ = ["cinders", "cloud2", "novas", "pod_handler"]  # fixtures used here
STAMP = "2026-01-01T00:00:00Z"


def test_requests_and_answers_are_translated_both_ways() -> None:
    kept = moves.PodMoves(aliases={"pod-id": "top-id"})
    path, options = moves.request_to_pod(
        kept,
        "/volumes/top-id/action",
        {"json": {"x": "top-id"}, "params": [("marker", "top-id")], "content": b'"top-id"'},
    )
    assert path == "/volumes/pod-id/action"
    assert options == {
        "json": {"x": "pod-id"},
        "params": [("marker", "pod-id")],
        "content": b'"pod-id"',
    }
    answer = httpx.Response(
        200,
        headers={"Location": "http://c/volumes/pod-id", "Content-Encoding": "identity"},
        json={"volume": {"id": "pod-id"}},
    )
    shown = moves.answer_from_pod(kept, answer)
    assert shown.json() == {"volume": {"id": "top-id"}}
    assert shown.headers["location"] == "http://c/volumes/top-id"
    untouched = httpx.Response(200, json={"volume": {"id": "other"}})
    assert moves.answer_from_pod(kept, untouched) is untouched
    assert moves.request_to_pod(moves.NONE, "/volumes/top-id", {}) == ("/volumes/top-id", {})


def test_a_volume_shows_its_migration_and_what_it_was_made_with() -> None:
    kept = moves.PodMoves(
        leaving={"v-1": moves.COPYING},
        aliases={"b-2": "v-2"},
        source={"v-2": {"user_id": "u-1", "created_at": "then"}},
    )
    going: dict[str, Any] = {"id": "v-1", "migration_status": None}
    kept.overlay_volume(going)
    assert going["migration_status"] == "migrating"
    there: dict[str, Any] = {"id": "v-2", "migration_status": None, "user_id": "svc"}
    there |= {"created_at": "now"}
    kept.overlay_volume(there)
    assert there == {"id": "v-2", "migration_status": "success", "user_id": "u-1"} | {
        "created_at": "then"
    }
    # moved back where it was: shown, though its first move hid the id there
    back = moves.PodMoves(aliases={"b-3": "v-3"}, hidden=frozenset({"v-3"}))
    assert back.shown({"id": "v-3"})


async def test_a_moved_volume_keeps_its_top_id(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    c1, c2 = cloud2["c1"], cloud2["c2"]
    top = c1.add_volume("data")["id"]
    await route(app, "volume", top, "pod1", "p1", STAMP)
    there = c2.add_volume("data")["id"]
    del c1.volumes[top]
    await moved(app, top, there, moves.DONE, kind="volume")
    shown = await client.get(f"{V3}/volumes/{top}", headers=MEMBER)
    assert shown.status_code == 200, shown.text
    assert shown.json()["volume"]["id"] == top and there not in shown.text
    assert shown.headers["X-Cascade-Pod"] == "pod2"
    listed = (await client.get(f"{V3}/volumes/detail", headers=MEMBER)).json()["volumes"]
    assert [v["id"] for v in listed] == [top]
    page = (await client.get(f"{V3}/volumes?limit=1&marker={top}", headers=MEMBER)).json()
    assert page["volumes"] == []
    # a snapshot of it names the pod's id in the pod, the top id at the top
    made = await client.post(
        f"{V3}/snapshots", json={"snapshot": {"volume_id": top}}, headers=MEMBER
    )
    assert made.status_code == 202, made.text
    assert made.json()["snapshot"]["volume_id"] == top
    assert [s["volume_id"] for s in c2.snapshots.values()] == [there]
    async with app.state.sessions() as db:
        rows = (await db.scalars(select(Routing).where(Routing.resource_type == "volume"))).all()
    assert [(r.top_id, r.bottom_id) for r in rows] == [(top, there)]


async def test_a_volume_moving_is_shown_migrating_and_cannot_change(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    c1, c2 = cloud2["c1"], cloud2["c2"]
    volume = c1.add_volume("data")
    volume["migration_status"] = None
    top = volume["id"]
    await route(app, "volume", top, "pod1", "p1", STAMP)
    target = c2.add_volume("cascade-move-x")
    target["volume_image_metadata"] = {"image_id": "img"}
    await moved(app, top, target["id"], moves.COPYING, kind="volume")
    listed = (await client.get(f"{V3}/volumes/detail", headers=ADMIN)).json()["volumes"]
    assert [(v["id"], v["migration_status"]) for v in listed] == [(top, "migrating")]
    for method, path, body in (
        ("DELETE", f"/volumes/{top}", None),
        ("PUT", f"/volumes/{top}", {"volume": {"name": "x"}}),
        ("POST", f"/volumes/{top}/action", {"os-extend": {"new_size": 2}}),
    ):
        resp = await client.request(method, f"{V3}{path}", json=body, headers=MEMBER)
        assert resp.status_code == 400, (method, path, resp.text)
        assert "migrating to another pod" in resp.json()["badRequest"]["message"]
    assert top in c1.volumes


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"status": "in-use"}, "must be available"),
        ({"group_id": "g-1"}, "is in group g-1"),
        ({"encrypted": True}, "is encrypted"),
    ],
)
async def test_a_migrate_to_another_pod_is_refused_when_cinder_would(
    app: Starlette,
    client: httpx.AsyncClient,
    cloud2: dict[str, FakeCinder],
    change: dict[str, Any],
    why: str,
) -> None:
    volume = cloud2["c1"].add_volume("data")
    volume.update(change)
    await route(app, "volume", volume["id"], "pod1", "p1", STAMP)
    body = {"os-migrate_volume": {"host": "c2-volume@fake#fake"}}
    path = f"{V3}/volumes/{volume['id']}/action"
    resp = await client.post(path, json=body, headers=ADMIN)
    assert resp.status_code == 400 and why in resp.json()["badRequest"]["message"], resp.text
    async with app.state.sessions() as db:
        assert (await db.scalars(select(Move))).all() == []


async def test_a_migrate_to_another_pod_queues_the_move(
    app: Starlette, client: httpx.AsyncClient, cloud2: dict[str, FakeCinder]
) -> None:
    volume = cloud2["c1"].add_volume("data")
    await route(app, "volume", volume["id"], "pod1", "p1", STAMP)
    path = f"{V3}/volumes/{volume['id']}/action"
    body = {"os-migrate_volume": {"host": "pod2"}}
    member = await client.post(path, json=body, headers=MEMBER)
    assert member.status_code == 403
    resp = await client.post(path, json=body, headers=ADMIN)
    assert resp.status_code == 202, resp.text
    async with app.state.sessions() as db:
        move = await db.scalar(select(Move))
        job = await db.scalar(select(Job).where(Job.type == "volume.move"))
    assert move is not None and move.resource_type == "volume" and move.status == moves.QUEUED
    assert job is not None and job.resource_id == move.id
    # nothing was asked of the pods' own migration
    assert not [r for r in cloud2["c1"].requests if r.method == "POST" and "action" in str(r.url)]
    again = await client.post(path, json=body, headers=ADMIN)
    assert again.status_code == 400 and "migrating" in again.text
    assert json.loads(again.text)["badRequest"]["code"] == 400
