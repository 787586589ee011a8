"""Drains (`/v1/pods/{id}/drain`, `/v1/drains`): a pod's servers moved out a few at a time,
each move confirmed when its target is up, what cannot move named; paused, resumed,
cancelled."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from cascade.db.engine import now
from cascade.db.models import Drain, Job, Move, Pod, Routing
from cascade.jobs.registry import JobContext
from cascade.services import drains
from cascade.services.compute import moves
from tests.unit.fakenova import FakeCloud, add_pod, route

pytestmark = pytest.mark.fake_pods
ADMIN = {"X-Auth-Token": "admin-token"}
STAMP = "2026-01-01T00:00:00Z"


async def _pods(app: Starlette) -> dict[str, Pod]:
    async with app.state.sessions() as db:
        return {p.name: p for p in (await db.scalars(select(Pod))).all()}


async def _step(app: Starlette, drain_id: str) -> dict[str, Any]:
    """One step of the drain's job, then the drain as the admin API shows it."""
    ctx = JobContext(app.state.sessions, app.state.conf, "test", app.state.registry)
    job = Job(id="j", type=drains.JOB, resource_id=drain_id, payload={}, status="running")
    await drains.step(ctx, job)
    async with app.state.sessions() as db:
        drain = await db.get(Drain, drain_id)
        assert drain is not None
        found = {"status": drain.status, "left": drain.left}
        found["moves"] = [(m.top_id, m.status) for m in await drains.moves_of(db, drain_id)]
    return found


async def _set_moves(app: Starlette, status: str) -> None:
    async with app.state.sessions() as db:
        await db.execute(update(Move).where(Move.status.in_(moves.UNDER_WAY)).values(status=status))
        await db.commit()


async def test_a_drain_moves_the_servers_out_and_names_what_stays(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await add_pod(client, "pod3", "az2", pod_az="nova-b")
    n1 = pods.pods["n1"]
    servers = [n1.add_server(f"vm{i}")["id"] for i in range(2)]
    volumes: dict[str, Any] = {"os-extended-volumes:volumes_attached": [{"id": "v9"}], "image": ""}
    attached = n1.add_server("vm-vol", **volumes)
    for server_id in [*servers, attached["id"]]:
        await route(app, "server", server_id, "pod1", "p1", STAMP)
    pod1 = (await _pods(app))["pod1"]
    nowhere = await client.post(f"/v1/pods/{pod1.id}/drain", headers=ADMIN)
    assert nowhere.status_code == 409 and "nowhere" in nowhere.text
    body = {"drain": {"azs": ["az2"]}}
    made = await client.post(f"/v1/pods/{pod1.id}/drain", json=body, headers=ADMIN)
    assert made.status_code == 202, made.text
    drain_id = made.json()["drain"]["id"]
    assert (await _pods(app))["pod1"].state == "draining"
    again = await client.post(f"/v1/pods/{pod1.id}/drain", json=body, headers=ADMIN)
    assert again.status_code == 409
    patched = await client.patch(
        f"/v1/pods/{pod1.id}", json={"pod": {"state": "active"}}, headers=ADMIN
    )
    assert patched.status_code == 409
    first = await _step(app, drain_id)
    assert sorted(first["moves"]) == sorted((s, "queued") for s in servers[:2])
    async with app.state.sessions() as db:
        targets = {m.target_pod_id for m in await drains.moves_of(db, drain_id)}
    pods_now = await _pods(app)
    assert targets == {pods_now["pod2"].id, pods_now["pod3"].id}  # spread over az2's pods
    await _set_moves(app, moves.VERIFY)
    second = await _step(app, drain_id)
    assert {s for _, s in second["moves"]} == {moves.CONFIRMING}  # confirmed by the drain
    await _set_moves(app, moves.DONE)
    async with app.state.sessions() as db:  # as the confirmed moves left them
        for move in await drains.moves_of(db, drain_id):
            await db.execute(
                update(Routing)
                .where(Routing.top_id == move.top_id)
                .values(pod_id=move.target_pod_id)
            )
        await db.commit()
    third = await _step(app, drain_id)
    assert third["status"] == drains.INCOMPLETE
    assert [(e["top_id"], "v9" in e["reason"]) for e in third["left"]] == [(attached["id"], True)]
    assert (await _pods(app))["pod1"].state == "maintenance"
    shown = (await client.get(f"/v1/drains/{drain_id}", headers=ADMIN)).json()["drain"]
    assert len(shown["moves"]) == 2 and shown["status"] == "incomplete"
    listed = (await client.get(f"/v1/drains?pod_id={pod1.id}", headers=ADMIN)).json()
    assert [d["id"] for d in listed["drains"]] == [drain_id]


async def test_a_drain_paused_resumed_and_cancelled(
    app: Starlette, client: httpx.AsyncClient, pods: FakeCloud
) -> None:
    await add_pod(client, "pod3", "az1", pod_az="nova-a")
    server_id = pods.pods["n1"].add_server("vm")["id"]
    await route(app, "server", server_id, "pod1", "p1", STAMP)
    pod1 = (await _pods(app))["pod1"]
    await client.patch(f"/v1/pods/{pod1.id}", json={"pod": {"state": "maintenance"}}, headers=ADMIN)
    drain_id = (await client.post(f"/v1/pods/{pod1.id}/drain", headers=ADMIN)).json()["drain"]["id"]
    paused = await client.post(f"/v1/drains/{drain_id}/pause", headers=ADMIN)
    assert paused.status_code == 202 and paused.json()["drain"]["status"] == "paused"
    assert (await _step(app, drain_id))["moves"] == []  # nothing starts while paused
    assert (await client.post(f"/v1/drains/{drain_id}/pause", headers=ADMIN)).status_code == 409
    resumed = await client.post(f"/v1/drains/{drain_id}/resume", headers=ADMIN)
    assert resumed.json()["drain"]["status"] == "running"
    assert (await _step(app, drain_id))["moves"] == [(server_id, "queued")]
    cancelled = await client.post(f"/v1/drains/{drain_id}/cancel", headers=ADMIN)
    assert cancelled.json()["drain"]["status"] == "cancelling"
    await _set_moves(app, moves.VERIFY)
    step = await _step(app, drain_id)
    assert step["moves"] == [(server_id, moves.REVERTING)]  # reverted, not confirmed
    async with app.state.sessions() as db:
        await db.execute(update(Move).values(status=moves.REVERTED, updated_at=now()))
        await db.commit()
    assert (await _step(app, drain_id))["status"] == drains.CANCELLED
    assert (await _pods(app))["pod1"].state == "maintenance"  # as before the drain
    assert (await client.post(f"/v1/drains/{drain_id}/resume", headers=ADMIN)).status_code == 409
