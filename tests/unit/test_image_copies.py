"""Top images copied into a pod with a Glance of its own (fake Glances, fake pod
Keystone): one copy per image and pod however many creates ask at once, the data
streamed and checked, a copy that does not match removed."""

from __future__ import annotations

import asyncio
import dataclasses
import os

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.conf import ImageSection
from cascade.db.models import Job, Pod, Routing
from cascade.jobs.registry import JobContext
from cascade.services.images import copies, copy_job, snapshots
from cascade.services.workflow import Env, Refused
from tests.unit.conftest import PodHandler
from tests.unit.fakeglance import FakeGlance
from tests.unit.fakenova import ADMIN, FakeCloud
from tests.unit.test_independent_pods import PodKeystone, independent  # noqa: F401

MEMBER = {"X-Auth-Token": "member-token"}
TOP_GLANCE = "http://glance.test"
POD_GLANCE = "http://g2.test:9292"


@pytest.fixture
def top_glance() -> FakeGlance:
    return FakeGlance()


@pytest.fixture
def pod_glance() -> FakeGlance:
    return FakeGlance()


@pytest.fixture
def pod_handler(
    cloud: FakeCloud, pod_keystone: PodKeystone, top_glance: FakeGlance, pod_glance: FakeGlance
) -> PodHandler:
    def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "ks2.test":
            return pod_keystone(request)
        if host == "glance.test":
            return top_glance(request)
        if host == "g2.test":
            return pod_glance(request)
        return cloud(request)

    return handler


@pytest.fixture
def pod_keystone() -> PodKeystone:
    return PodKeystone()


def env_of(app: Starlette) -> Env:
    conf = dataclasses.replace(
        app.state.conf, image=ImageSection(glance_url=TOP_GLANCE, copy_wait=30)
    )
    return Env(app.state.registry, conf, app.state.sessions)


async def _pod2(app: Starlette, pod_keystone: PodKeystone, pod_id: str) -> Pod:
    pod_keystone.catalog.append(
        {
            "type": "image",
            "endpoints": [{"interface": "public", "region_id": "RegionOne", "url": POD_GLANCE}],
        }
    )
    async with app.state.sessions() as db:
        pod: Pod | None = await db.get(Pod, pod_id)
    assert pod is not None
    return pod


async def _jobs(app: Starlette) -> list[Job]:
    async with app.state.sessions() as db:
        return list((await db.scalars(select(Job).where(Job.type == copies.COPY_JOB))).all())


async def test_three_boots_at_once_make_one_copy_streamed_and_checked(
    app: Starlette,
    pod_keystone: PodKeystone,
    top_glance: FakeGlance,
    pod_glance: FakeGlance,
    independent: str,  # noqa: F811
) -> None:
    env = env_of(app)
    pod = await _pod2(app, pod_keystone, independent)
    data = os.urandom(300_000)
    image = top_glance.add(data, hw_disk_bus="virtio", tags=["t1"])
    waiting = [
        asyncio.create_task(copies.ensure_in_pod(env, pod, image["id"], "member-token"))
        for _ in range(3)
    ]
    for _ in range(100):
        if await _jobs(app):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    jobs = await _jobs(app)
    assert len(jobs) == 1 and jobs[0].status == "queued"  # one copy, however many ask
    assert not any(t.done() for t in waiting)
    ctx = JobContext(app.state.sessions, env.conf, "w1", app.state.registry)
    await copy_job.copy(ctx, jobs[0])
    await asyncio.wait_for(asyncio.gather(*waiting), 5)
    copy = pod_glance.images[image["id"]]  # the top image's id: nothing to translate
    assert pod_glance.data[image["id"]] == data and pod_glance.uploads == 1
    assert copy["checksum"] == image["checksum"] and copy["size"] == len(data)
    assert copy["hw_disk_bus"] == "virtio" and copy["visibility"] == "public"
    async with app.state.sessions() as db:
        routing = await db.scalar(select(Routing).where(Routing.resource_type == "image"))
    assert routing is not None and routing.status == "active" and routing.pod_id == pod.id
    # once there, a boot waits for nothing and makes no job
    await copies.ensure_in_pod(env, pod, image["id"], "member-token")
    assert len(await _jobs(app)) == 1 and pod_glance.uploads == 1
    # a run again (a redo) finds the good copy and leaves it
    await copy_job.copy(ctx, jobs[0])
    assert pod_glance.uploads == 1


async def test_a_copy_that_does_not_match_is_removed_and_the_attempt_fails(
    app: Starlette,
    pod_keystone: PodKeystone,
    top_glance: FakeGlance,
    pod_glance: FakeGlance,
    independent: str,  # noqa: F811
) -> None:
    env = env_of(app)
    pod = await _pod2(app, pod_keystone, independent)
    image = top_glance.add(os.urandom(5000), visibility="shared")
    pod_glance.corrupt = True
    ctx = JobContext(app.state.sessions, env.conf, "w1", app.state.registry)
    with pytest.raises(copy_job.CopyFailed, match="does not match"):
        await copy_job.Copier(ctx, pod, image["id"]).run()
    assert image["id"] not in pod_glance.images
    pod_glance.corrupt = False
    assert await copy_job.Copier(ctx, pod, image["id"]).run()
    assert pod_glance.images[image["id"]]["visibility"] == "community"


async def test_an_image_the_caller_may_not_see_is_not_copied(
    app: Starlette,
    pod_keystone: PodKeystone,
    top_glance: FakeGlance,
    independent: str,  # noqa: F811
) -> None:
    env = env_of(app)
    pod = await _pod2(app, pod_keystone, independent)
    image = top_glance.add(b"secret data", visibility="private")
    await copies.ensure_in_pod(env, pod, image["id"], "member-token")
    assert await _jobs(app) == []


async def test_an_image_that_is_not_active_is_refused_as_the_pod_would(
    app: Starlette,
    pod_keystone: PodKeystone,
    top_glance: FakeGlance,
    independent: str,  # noqa: F811
) -> None:
    """A deactivated image's data cannot be read: no copy to wait for, the answer a
    pod gives of its own (Nova's 400; Cinder's with its own message)."""
    env = env_of(app)
    pod = await _pod2(app, pod_keystone, independent)
    image = top_glance.add(b"data")
    image["status"] = "deactivated"
    with pytest.raises(Refused) as refused:
        await copies.ensure_in_pod(env, pod, image["id"], "member-token")
    assert (refused.value.status, refused.value.message) == (
        400,
        f"Image {image['id']} is not active.",
    )
    cinder = "Invalid input received: Image {} is not active."
    with pytest.raises(Refused, match="Invalid input received"):
        await copies.ensure_in_pod(env, pod, image["id"], "member-token", cinder)
    assert await _jobs(app) == []


async def test_a_deleted_top_image_takes_its_copies_with_it(
    app: Starlette,
    pod_keystone: PodKeystone,
    top_glance: FakeGlance,
    pod_glance: FakeGlance,
    independent: str,  # noqa: F811
) -> None:
    env = env_of(app)
    pod = await _pod2(app, pod_keystone, independent)
    image = top_glance.add(os.urandom(2048))
    task = asyncio.create_task(copies.ensure_in_pod(env, pod, image["id"], "member-token"))
    ctx = JobContext(app.state.sessions, env.conf, "w1", app.state.registry)
    for _ in range(100):
        if jobs := await _jobs(app):
            break
        await asyncio.sleep(0.05)
    await copy_job.copy(ctx, jobs[0])
    await asyncio.wait_for(task, 5)
    assert image["id"] in pod_glance.images
    assert await copies.image_deleted(app.state.sessions, image["id"]) == 1
    async with app.state.sessions() as db:
        deletes = list((await db.scalars(select(Job).where(Job.type == copies.DELETE_JOB))).all())
    assert len(deletes) == 1
    await copy_job.delete_copy(ctx, deletes[0])
    assert image["id"] not in pod_glance.images
    async with app.state.sessions() as db:
        assert await db.scalar(select(Routing).where(Routing.resource_type == "image")) is None


async def test_a_snapshot_in_the_pod_becomes_a_top_image_once_taken(
    app: Starlette,
    pod_keystone: PodKeystone,
    top_glance: FakeGlance,
    pod_glance: FakeGlance,
    independent: str,  # noqa: F811
) -> None:
    env = env_of(app)
    pod = await _pod2(app, pod_keystone, independent)
    data = os.urandom(70_000)
    snap = pod_glance.add(data, name="snap", instance_uuid="s-1", image_type="snapshot")
    snap["status"] = "saving"  # Nova still uploading it
    await snapshots.taken(env, pod, snap["id"], "p1")
    await snapshots.taken(env, pod, snap["id"], "p1")  # the same answer twice: one job
    async with app.state.sessions() as db:
        jobs = list((await db.scalars(select(Job).where(Job.type == snapshots.UP_JOB))).all())
    assert len(jobs) == 1
    ctx = JobContext(app.state.sessions, env.conf, "w1", app.state.registry)
    await snapshots.copy_up(ctx, jobs[0])
    # its top image exists at once, owned by the project, waiting for its data
    top = top_glance.images[snap["id"]]
    assert top["owner"] == "p1" and top["name"] == "snap" and top["status"] == "queued"
    assert top["instance_uuid"] == "s-1" and top["visibility"] == "private"
    async with app.state.sessions() as db:
        again = list(
            (
                await db.scalars(
                    select(Job).where(Job.type == snapshots.UP_JOB, Job.status == "queued")
                )
            ).all()
        )
    # queued again (later) while the pod takes it
    assert len(again) == 1 and again[0].id != jobs[0].id and again[0].run_after is not None
    snap["status"] = "active"
    await snapshots.copy_up(ctx, again[-1])
    assert top_glance.data[snap["id"]] == data and top["status"] == "active"
    assert top["checksum"] == snap["checksum"]
    async with app.state.sessions() as db:
        routing = await db.scalar(select(Routing).where(Routing.top_id == snap["id"]))
    assert routing is not None and routing.status == "active"


async def test_an_admin_copies_an_image_into_every_pod_ahead(
    app: Starlette,
    client: httpx.AsyncClient,
    pod_keystone: PodKeystone,
    top_glance: FakeGlance,
    pod_glance: FakeGlance,
    independent: str,  # noqa: F811
) -> None:
    app.state.conf = env_of(app).conf
    await _pod2(app, pod_keystone, independent)
    image = top_glance.add(os.urandom(4096))
    url = f"/v1/images/{image['id']}/copies"
    assert (await client.post(url, headers=MEMBER)).status_code == 403
    asked = await client.post(url, headers=ADMIN)
    assert asked.status_code == 202, asked.text
    where = {c["pod_name"]: c for c in asked.json()["copies"]}
    assert where["pod1"]["status"] == "shared"  # pod1 uses the top's Glance: no copy
    assert where["pod2"]["status"] == "creating" and where["pod2"]["job_status"] == "queued"
    jobs = await _jobs(app)
    ctx = JobContext(app.state.sessions, app.state.conf, "w1", app.state.registry)
    await copy_job.copy(ctx, jobs[0])
    shown = (await client.get(url, headers=ADMIN)).json()["copies"]
    assert {c["pod_name"]: c["status"] for c in shown} == {"pod1": "shared", "pod2": "active"}
    assert pod_glance.data[image["id"]] == top_glance.data[image["id"]]
    # by tag: no pod has it, nothing asked; an unknown image or pod: 404
    tagged = await client.post(url, json={"copies": {"tag": "gpu"}}, headers=ADMIN)
    assert tagged.status_code == 202 and tagged.json() == {"copies": []}
    missing = await client.post("/v1/images/nope/copies", headers=ADMIN)
    assert missing.status_code == 404
    unknown = await client.post(url, json={"copies": {"pods": ["nope"]}}, headers=ADMIN)
    assert unknown.status_code == 404


async def test_create_image_of_a_server_in_the_pod_makes_the_top_image(
    app: Starlette,
    client: httpx.AsyncClient,
    cloud: FakeCloud,
    pod_keystone: PodKeystone,
    top_glance: FakeGlance,
    pod_glance: FakeGlance,
    independent: str,  # noqa: F811
) -> None:
    app.state.conf = env_of(app).conf
    await _pod2(app, pod_keystone, independent)
    n2 = cloud.pods["n2"]
    n2.glance = pod_glance
    await client.get("/compute/v2.1/servers/detail", headers=MEMBER)  # p1 mapped
    mapped = next(iter(pod_keystone.projects))
    server = n2.add_server("vm", project=mapped)
    body = {"createImage": {"name": "snap"}}
    taken = await client.post(
        f"/compute/v2.1/servers/{server['id']}/action", json=body, headers=MEMBER
    )
    assert taken.status_code == 202, taken.text
    image_id = next(iter(pod_glance.images))
    # the top image exists as the answer goes back, the project's, its data to come
    assert top_glance.images[image_id]["owner"] == "p1"
    assert top_glance.images[image_id]["name"] == "snap"
    # Location (Nova before 2.45) names it at the top's Image API, not the pod's Glance
    assert taken.headers["Location"] == f"http://cascade.test/image/v2/images/{image_id}"
    async with app.state.sessions() as db:
        jobs = list((await db.scalars(select(Job).where(Job.type == snapshots.UP_JOB))).all())
    assert len(jobs) == 1 and jobs[0].payload["image_id"] == image_id
