"""Scheduling policies (AZ -> pod) and the bindings API."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import pytest
from starlette.applications import Starlette

from cascade.conf import SchedulingSection
from cascade.db.models import Pod
from cascade.services import scheduling
from cascade.services.capacity import Capacity
from tests.unit.fakenova import add_pod

ADMIN = {"X-Auth-Token": "admin-token"}


async def schedule(
    app: Starlette, project: str, az: str, conf: SchedulingSection, rng: random.Random | None = None
) -> Pod:
    async with app.state.sessions() as db:
        return await scheduling.pod_for(db, conf, project, az, rng)


async def test_newest_pod_takes_new_projects_and_bindings_stick(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    conf = SchedulingSection()
    old = await add_pod(client, "old", "az1")
    assert (await schedule(app, "p1", "az1", conf)).id == old
    new = await add_pod(client, "new", "az1")  # capacity expansion
    assert (await schedule(app, "p2", "az1", conf)).id == new
    assert (await schedule(app, "p1", "az1", conf)).id == old  # p1 stays where it is


async def test_disabled_or_down_pods_get_no_new_resources(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    conf = SchedulingSection()
    first = await add_pod(client, "first", "az1")
    second = await add_pod(client, "second", "az1")
    assert (await schedule(app, "p1", "az1", conf)).id == second
    await client.patch(f"/v1/pods/{second}", json={"pod": {"enabled": False}}, headers=ADMIN)
    assert (await schedule(app, "p1", "az1", conf)).id == first  # rebound
    async with app.state.sessions() as db:
        pod = await db.get(Pod, first)
        pod.health_state = "down"
        await db.commit()
    with pytest.raises(scheduling.NoPodForAz, match="az1 has no enabled pod that is up"):
        await schedule(app, "p3", "az1", conf)
    with pytest.raises(scheduling.NoPodForAz):
        await schedule(app, "p3", "az-nowhere", conf)


async def test_weighted_policy_follows_the_weights(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    conf = SchedulingSection(az_policies="az1:weighted")
    heavy = await add_pod(client, "heavy", "az1", weight=3)
    await add_pod(client, "light", "az1", weight=1)
    rng = random.Random(7)
    chosen = Counter([(await schedule(app, f"p{n}", "az1", conf, rng)).id for n in range(400)])
    assert 0.65 < chosen[heavy] / 400 < 0.85


def test_bad_policy_settings_are_refused() -> None:
    with pytest.raises(scheduling.BadPolicy):
        scheduling.az_policies(SchedulingSection(default_policy="random"))
    with pytest.raises(scheduling.BadPolicy):
        scheduling.az_policies(SchedulingSection(az_policies="az1=weighted"))
    assert scheduling.az_policies(SchedulingSection(az_policies="az1:weighted, az2:newest")) == {
        "az1": "weighted",
        "az2": "newest",
    }


async def test_bindings_api(client: httpx.AsyncClient) -> None:
    pod1 = await add_pod(client, "pod1", "az1")
    await add_pod(client, "pod2", "az2")
    made = await client.post(
        "/v1/bindings", json={"binding": {"project_id": "p1", "az": "az1"}}, headers=ADMIN
    )
    assert made.status_code == 201
    binding = made.json()["binding"]
    assert binding["pod_id"] == pod1
    again = await client.post(
        "/v1/bindings", json={"binding": {"project_id": "p1", "az": "az1"}}, headers=ADMIN
    )
    assert again.status_code == 409
    wrong_az = await client.post(
        "/v1/bindings",
        json={"binding": {"project_id": "p2", "az": "az2", "pod_id": pod1}},
        headers=ADMIN,
    )
    assert wrong_az.status_code == 400
    assert "serves az1, not az2" in wrong_az.json()["errors"][0]["detail"]
    nowhere = await client.post(
        "/v1/bindings", json={"binding": {"project_id": "p2", "az": "az9"}}, headers=ADMIN
    )
    assert nowhere.status_code == 409
    listed = (await client.get("/v1/bindings?project_id=p1", headers=ADMIN)).json()["bindings"]
    assert [b["id"] for b in listed] == [binding["id"]]
    assert (
        await client.get("/v1/bindings", headers={"X-Auth-Token": "member-token"})
    ).status_code == 403
    assert (await client.delete(f"/v1/bindings/{binding['id']}", headers=ADMIN)).status_code == 204
    assert (await client.get(f"/v1/bindings/{binding['id']}", headers=ADMIN)).status_code == 404
    # deleting a pod takes its bindings along
    await client.post(
        "/v1/bindings", json={"binding": {"project_id": "p3", "az": "az1"}}, headers=ADMIN
    )
    assert (await client.delete(f"/v1/pods/{pod1}", headers=ADMIN)).status_code == 204
    assert (await client.get("/v1/bindings", headers=ADMIN)).json()["bindings"] == []


async def test_new_projects_skip_full_pods_and_weighted_follows_free_capacity(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    old = await add_pod(client, "old", "az1")
    new = await add_pod(client, "new", "az1")
    room = {
        old: Capacity(ram_mb=1000, free_ram_mb=900, free_disk_gb=100),
        new: Capacity(ram_mb=1000, free_ram_mb=100, free_disk_gb=100),
    }

    async def room_of(pod: Pod) -> Capacity | None:
        return room.get(pod.id)

    async def bind(project: str, conf: SchedulingSection, ram: int, seed: int = 0) -> str:
        async with app.state.sessions() as db:
            pod = await scheduling.pod_for(
                db, conf, project, "az1", random.Random(seed), room_of=room_of, need=(ram, 1)
            )
            return pod.id

    newest = SchedulingSection()
    assert await bind("small", newest, 64) == new  # the newest pod has room for it
    assert await bind("big", newest, 512) == old  # the newest is full for this flavor
    assert await bind("big", newest, 64) == old  # and the binding sticks
    with pytest.raises(scheduling.NoPodForAz, match="full"):
        await bind("huge", newest, 4096)
    weighted = SchedulingSection(default_policy="weighted")
    chosen = Counter([await bind(f"w{n}", weighted, 64, seed=n) for n in range(200)])
    assert chosen[old] > 3 * chosen[new] > 0  # 900 MiB free against 100 MiB free
    # a pod whose capacity is unknown is not full
    room.clear()
    assert await bind("unknown", newest, 10**6) == new


async def test_concurrent_first_creates_of_a_project_share_one_binding(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await add_pod(client, "a", "az1")
    await add_pod(client, "b", "az1")
    conf = SchedulingSection(default_policy="weighted")

    async def bind(seed: int) -> str:
        async with app.state.sessions() as db:
            return (await scheduling.pod_for(db, conf, "p-race", "az1", random.Random(seed))).id

    chosen = await asyncio.gather(*(bind(n) for n in range(8)))
    assert len(set(chosen)) == 1


async def test_a_pod_that_does_not_say_its_room_in_time_counts_as_having_room() -> None:
    full, hangs, free = (Pod(id=n, name=n) for n in ("full", "hangs", "free"))

    async def room_of(pod: Pod) -> Capacity | None:
        if pod is hangs:
            await asyncio.Event().wait()
        return Capacity(1024, 0 if pod is full else 512, 10)

    loop = asyncio.get_running_loop()
    started = loop.time()
    fits, room = await scheduling.with_room([full, hangs, free], room_of, 256, 1, 0.2)
    assert loop.time() - started < 1.2
    assert fits == [hangs, free]  # unknown is not full; the full pod is left out
    assert room["hangs"] is None and room["free"] == Capacity(1024, 512, 10)
