"""A server moved between pods keeps its top id: the top translates between its id in
its new pod and its top id; the target of a move under way is not shown, and the
server shows Nova's resize states meanwhile."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Move, Pod, Routing
from cascade.services.compute import moves
from tests.unit.fakenova import FakeCloud, route

pytestmark = pytest.mark.fake_pods
ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
SERVERS = "/compute/v2.1/servers"
STAMP = "2026-01-01T00:00:00Z"


async def _pods(app: Starlette) -> dict[str, Pod]:
    async with app.state.sessions() as db:
        return {p.name: p for p in (await db.scalars(select(Pod))).all()}


async def moved(
    app: Starlette, top: str, target: str, status: str, image: str = "img", kind: str = "server"
) -> None:
    """A move of `top` (a server, or another `kind`) from pod1 to pod2 as `target` there,
    in `status` (done: its routing switched)."""
    pods = await _pods(app)
    async with app.state.sessions() as db:
        db.add(
            Move(
                id=str(uuid.uuid4()),
                resource_type=kind,
                top_id=top,
                project_id="p1",
                user_id="u1",
                source_pod_id=pods["pod1"].id,
                source_bottom_id=top,
                target_pod_id=pods["pod2"].id,
                target_bottom_id=target,
                status=status,
                image_id=image,
                source={},
                created_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
        if status == moves.DONE:
            routing = await db.scalar(select(Routing).where(Routing.top_id == top))
            assert routing is not None
            routing.pod_id, routing.bottom_id = pods["pod2"].id, target
        await db.commit()
    app.state.registry.cache(moves.MovesKept).forget()


async def test_a_moved_server_keeps_its_top_id(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    n1, n2 = pods.pods["n1"], pods.pods["n2"]
    top = n1.add_server("vm")["id"]
    await route(app, "server", top, "pod1", "p1", STAMP)
    # the move done: the server is in pod2 as `there`, gone from pod1
    there = n2.add_server("vm", image={"id": "img", "links": []})["id"]
    del n1.servers[top]
    await moved(app, top, there, moves.DONE)
    shown = await client.get(f"{SERVERS}/{top}", headers=MEMBER)
    assert shown.status_code == 200, shown.text
    server = shown.json()["server"]
    assert server["id"] == top and there not in shown.text
    assert shown.headers["X-Cascade-Pod"] == "pod2"
    listed = (await client.get(f"{SERVERS}/detail", headers=MEMBER)).json()["servers"]
    assert [s["id"] for s in listed] == [top]
    # paging through it: the marker is the top id
    page = (await client.get(f"{SERVERS}?limit=1&marker={top}", headers=MEMBER)).json()
    assert page["servers"] == []
    # an action goes to the pod's own id
    resp = await client.post(f"{SERVERS}/{top}/action", json={"os-stop": None}, headers=MEMBER)
    assert resp.status_code == 202
    assert n2.servers[there]["actions"] == [{"os-stop": None}]
    # no second routing for the pod's own id
    async with app.state.sessions() as db:
        rows = (await db.scalars(select(Routing).where(Routing.resource_type == "server"))).all()
    assert [(r.top_id, r.bottom_id) for r in rows] == [(top, there)]


async def test_a_move_under_way_shows_the_source_in_a_resize_state(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    n1, n2 = pods.pods["n1"], pods.pods["n2"]
    states: dict[str, Any] = {"OS-EXT-STS:task_state": None, "OS-EXT-STS:vm_state": "active"}
    top = n1.add_server("vm", **states)["id"]
    await route(app, "server", top, "pod1", "p1", STAMP)
    target = n2.add_server("vm", image={"id": "img", "links": []})["id"]
    await moved(app, top, target, moves.VERIFY)
    listed = (await client.get(f"{SERVERS}/detail", headers=MEMBER)).json()["servers"]
    assert [(s["id"], s["status"]) for s in listed] == [(top, "VERIFY_RESIZE")]
    shown = (await client.get(f"{SERVERS}/{top}", headers=ADMIN)).json()["server"]
    assert shown["status"] == "VERIFY_RESIZE" and shown["OS-EXT-STS:vm_state"] == "resized"
    async with app.state.sessions() as db:
        count = len((await db.scalars(select(Routing))).all())
    assert count == 1  # the target got no routing of its own


async def test_confirm_and_revert_wait_for_verify_resize(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    top = pods.pods["n1"].add_server("vm")["id"]
    await route(app, "server", top, "pod1", "p1", STAMP)
    # no move: the pod's own confirmResize (forwarded)
    resp = await client.post(f"{SERVERS}/{top}/action", json={"confirmResize": None}, headers=ADMIN)
    assert resp.status_code == 202
    await moved(app, top, "t-1", moves.BOOTING)
    early = await client.post(
        f"{SERVERS}/{top}/action", json={"confirmResize": None}, headers=ADMIN
    )
    assert early.status_code == 409 and "VERIFY_RESIZE" in early.text
    async with app.state.sessions() as db:
        move = await db.scalar(select(Move))
        assert move is not None
        move.status = moves.VERIFY
        await db.commit()
    member = await client.post(
        f"{SERVERS}/{top}/action", json={"revertResize": None}, headers=MEMBER
    )
    assert member.status_code == 403
    resp = await client.post(f"{SERVERS}/{top}/action", json={"revertResize": None}, headers=ADMIN)
    assert resp.status_code == 202
    async with app.state.sessions() as db:
        move = await db.scalar(select(Move))
        assert move is not None and move.status == moves.REVERTING


async def test_a_migrate_to_another_pod_is_refused_when_nova_would(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    # booted from a volume: its root disk cannot be imaged (attached volumes move along)
    extra: dict[str, Any] = {"os-extended-volumes:volumes_attached": [{"id": "v-1"}], "image": ""}
    top = pods.pods["n1"].add_server("vm", **extra)["id"]
    await route(app, "server", top, "pod1", "p1", STAMP)
    body = {"migrate": {"host": "pod2"}}
    member = await client.post(f"{SERVERS}/{top}/action", json=body, headers=MEMBER)
    assert member.status_code == 403
    refused = await client.post(f"{SERVERS}/{top}/action", json=body, headers=ADMIN)
    assert refused.status_code == 409 and "v-1" in refused.text, refused.text
    assert "boots from a volume" in refused.text
    pods.pods["n1"].servers[top].pop("os-extended-volumes:volumes_attached")
    pods_rows = await _pods(app)
    await client.patch(
        f"/v1/pods/{pods_rows['pod2'].id}", json={"pod": {"state": "maintenance"}}, headers=ADMIN
    )
    busy = await client.post(f"{SERVERS}/{top}/action", json=body, headers=ADMIN)
    assert busy.status_code == 409 and "takes no new resources" in busy.text
    await client.patch(
        f"/v1/pods/{pods_rows['pod2'].id}", json={"pod": {"state": "active"}}, headers=ADMIN
    )
    made = await client.post(
        f"{SERVERS}/{top}/action", json={"migrate": {"host": "compute@pod2"}}, headers=ADMIN
    )
    assert made.status_code == 202, made.text
    again = await client.post(f"{SERVERS}/{top}/action", json=body, headers=ADMIN)
    assert again.status_code == 409 and "moving" in again.text
    shown = (await client.get(f"{SERVERS}/{top}", headers=ADMIN)).json()["server"]
    assert shown["status"] == "RESIZE"


async def test_the_admin_api_shows_moves(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    top = pods.pods["n1"].add_server("vm")["id"]
    await route(app, "server", top, "pod1", "p1", STAMP)
    body = {"migrate": {"host": "pod2"}}
    assert (
        await client.post(f"{SERVERS}/{top}/action", json=body, headers=ADMIN)
    ).status_code == 202
    listed = (await client.get(f"/v1/moves?top_id={top}", headers=ADMIN)).json()["moves"]
    assert [(m["top_id"], m["status"]) for m in listed] == [(top, "queued")]
    one = await client.get(f"/v1/moves/{listed[0]['id']}", headers=ADMIN)
    assert one.json()["move"]["target_pod_id"] == (await _pods(app))["pod2"].id
    assert (await client.get("/v1/moves", headers=MEMBER)).status_code == 403
    assert (await client.get("/v1/moves?status=asleep", headers=ADMIN)).status_code == 400
    assert (await client.get(f"/v1/moves/{uuid.uuid4()}", headers=ADMIN)).status_code == 404
