"""Copies of top images in pods whose Glance is not the top's (no HTTP types here).

A pod that shares the top's Glance (its catalog's image endpoint is `[image]
glance_url`) boots top images as they are. Another pod (an independent pod, with a
Glance of its own) gets a copy of a top image the first time a server (or a volume) there
is made from it: the copy has the top image's id, so what the pod answers names the top
image without any translation. Each copy is an `image` routing (top id = bottom id = the
image's id, project ""): written `creating` with the `image.copy` job in one transaction
(the routing's unique key makes it one copy per image and pod however many servers boot
at once), `active` once the job has streamed and verified the data (`copy_job.py`).

Who may boot an image is the top's Glance's to say: a copy is made, and waited for, only
for a caller the top's Glance shows the image to. The copy is public in the pod when the
top image is, else `community` (bootable by id, never listed: the top already checked
the caller may see it; the pod's own users cannot find it).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import now
from cascade.db.models import Job, Pod, Routing
from cascade.jobs import queue
from cascade.services.workflow import Env, Refused

RESOURCE = "image"
COPY_JOB = "image.copy"
DELETE_JOB = "image.delete_copy"
POLL_SECONDS = 0.2  # a boot waiting for its copy reads its routing this often


def job_key(image_id: str, pod_id: str) -> str:
    """The copy job's resource id: one queued job per image and pod."""
    return f"{image_id}@{pod_id}"


def root(url: str) -> str:
    """A Glance endpoint without its version part and trailing slash (catalogs list it
    either way)."""
    url = url.rstrip("/")
    return url.removesuffix("/v2").removesuffix("/v2.0")


async def shares_glance(env: Env, pod: Pod) -> bool:
    """Whether the pod's image endpoint is the top's own Glance (no copy needed)."""
    mine = root(env.conf.image.glance_url)
    if not mine:
        return True  # no top Glance configured: images are whatever the pods have
    found = (await env.registry.pod_endpoints(pod)).get("image")
    return found is None or root(found) == mine


# Nova's answer to a boot from an image that is not active (Cinder's: volume/create.py)
NOT_ACTIVE = "Image {} is not active."


async def _ask_top(env: Env, image_id: str, token: str) -> httpx.Response:
    """The top's Glance's answer to GET image `image_id` with `token`; Refused (503) when
    it does not answer."""
    url = f"{root(env.conf.image.glance_url)}/v2/images/{image_id}"
    async with httpx.AsyncClient(
        transport=env.registry.transport, timeout=env.conf.pods.timeout
    ) as http:
        try:
            return await http.get(url, headers={"X-Auth-Token": token})
        except httpx.HTTPError as exc:
            raise Refused(503, f"the top's image service did not answer: {exc!r}") from exc


async def ensure_in_pod(
    env: Env, pod: Pod, image_id: str, token: str, not_active: str = NOT_ACTIVE
) -> None:
    """Image `image_id` of the top in the pod, copied there if the pod does not share the
    top's Glance, waited for up to `[image] copy_wait` seconds. Nothing for an image the
    caller may not see (the pod then answers its own "not found", as Nova would); Refused
    400 (`not_active`, the API's message, with the id) for one that is not active (its
    data cannot be read: deactivated, still queued), as the pod would say of its own;
    Refused (503) when the copy failed or outlasted the wait (it carries on as a job)."""
    if not image_id or await shares_glance(env, pod):
        return
    found = await _ask_top(env, image_id, token)
    if found.status_code != 200:
        return
    if found.json().get("status") != "active":
        raise Refused(400, not_active.format(image_id))
    if await _intend(env, pod, image_id):
        return
    await _wait(env, pod, image_id)


async def _intend(env: Env, pod: Pod, image_id: str) -> bool:
    """True when the pod has the copy already; else its routing (`creating`) and the copy
    job exist, written now or by a concurrent create."""
    async with env.sessions() as db:
        found = await _routing(db, image_id, pod.id)
        if found is not None:
            return found.status == "active"
        await intend(db, image_id, pod.id, "", COPY_JOB, {})
    return False


async def intend(
    db: AsyncSession,
    image_id: str,
    pod_id: str,
    project_id: str,
    job_type: str,
    payload: dict[str, Any],
) -> bool:
    """The image's routing in the pod (`creating`) and the job of `job_type` that
    settles it, committed together; False when the routing was there already (written
    at once by another request: its job does the work)."""
    routing = Routing(
        id=str(uuid.uuid4()),
        resource_type=RESOURCE,
        top_id=image_id,
        pod_id=pod_id,
        bottom_id=image_id,
        project_id=project_id,
        status="creating",
        created_at=now(),
    )
    payload = {"image_id": image_id, "pod_id": pod_id, **payload}
    try:
        db.add(routing)
        await db.flush()
        await queue.enqueue(db, job_type, job_key(image_id, pod_id), project_id or None, payload)
        await db.commit()
    except IntegrityError:
        await db.rollback()
        return False
    return True


async def _routing(db: Any, image_id: str, pod_id: str) -> Routing | None:
    query = select(Routing).where(
        Routing.resource_type == RESOURCE, Routing.top_id == image_id, Routing.pod_id == pod_id
    )
    found: Routing | None = await db.scalar(query)
    return found


async def _wait(env: Env, pod: Pod, image_id: str) -> None:
    """Until the copy is active; Refused (503) when its job failed or the wait is over."""
    deadline = time.monotonic() + env.conf.image.copy_wait
    key = job_key(image_id, pod.id)
    while True:
        async with env.sessions() as db:
            found = await _routing(db, image_id, pod.id)
            job = await db.scalar(
                select(Job)
                .where(Job.type == COPY_JOB, Job.resource_id == key)
                .order_by(Job.created_at.desc())
                .limit(1)
            )
        if found is not None and found.status == "active":
            return
        if found is None or (job is not None and job.status == "failed"):
            why = job.last_error if job is not None else "its copy was removed"
            raise Refused(503, f"Image {image_id} could not be copied into pod {pod.name}: {why}")
        if time.monotonic() >= deadline:
            raise Refused(
                503,
                f"Image {image_id} is still being copied into pod {pod.name} (job "
                f"{job.id if job else '?'}); try again later.",
            )
        await asyncio.sleep(POLL_SECONDS)


def server_images(server: dict[str, Any]) -> list[str]:
    """The top images a Nova create body boots from: `imageRef` and the block device
    mappings whose source is an image."""
    found = [server["imageRef"]] if isinstance(server.get("imageRef"), str) else []
    for mapping in server.get("block_device_mapping_v2") or []:
        if (
            isinstance(mapping, dict)
            and mapping.get("source_type") == "image"
            and isinstance(mapping.get("uuid"), str)
        ):
            found.append(mapping["uuid"])
    return [i for i in dict.fromkeys(found) if i]


async def image_deleted(sessions: async_sessionmaker[AsyncSession], image_id: str) -> int:
    """The top image `image_id` is gone: each pod's copy is deleted by a job (how many
    copies go)."""
    async with sessions() as db:
        rows = list(
            (
                await db.scalars(
                    select(Routing).where(
                        Routing.resource_type == RESOURCE, Routing.top_id == image_id
                    )
                )
            ).all()
        )
        for row in rows:
            row.status = "deleting"
            row.updated_at = now()
            payload = {"image_id": image_id, "pod_id": row.pod_id}
            await queue.enqueue(db, DELETE_JOB, job_key(image_id, row.pod_id), None, payload)
        await db.commit()
    return len(rows)


class ImageNotFound(Exception):
    """The top's Glance has no such image."""


@dataclass(frozen=True)
class PodCopy:
    """Where an image stands in one pod: `shared` (the pod uses the top's Glance),
    `none`, `creating` (its job's status and last error), `active` or `deleting`."""

    pod_id: str
    pod_name: str
    status: str
    job_status: str | None = None
    error: str | None = None


async def top_image(env: Env, image_id: str) -> dict[str, Any]:
    """The top image (as Cascade's service user sees it); ImageNotFound if none."""
    if not root(env.conf.image.glance_url):
        # the deployment's choice, not a fault: the pods' own images are all there is
        raise Refused(409, "Cascade has no image service here: [image] glance_url is not set")
    resp = await _ask_top(env, image_id, await env.registry.validator.service_token())
    if resp.status_code == 404:
        raise ImageNotFound(f"no image {image_id} at the top")
    if resp.status_code != 200:
        raise Refused(503, f"the top's image service answered {resp.status_code}")
    found: dict[str, Any] = resp.json()
    return found


async def copy_ahead(env: Env, image_id: str, pods: list[Pod]) -> list[PodCopy]:
    """Image `image_id` copied into each of `pods` that does not share the top's Glance
    (an operator's "everywhere", ahead of the first boot): their copy jobs queued, one per
    image and pod as for a boot; where each stands."""
    await top_image(env, image_id)  # 404 for an image the top does not have
    for pod in pods:
        if not await shares_glance(env, pod):
            await _intend(env, pod, image_id)
    return await where_copied(env, image_id, pods)


async def where_copied(env: Env, image_id: str, pods: list[Pod]) -> list[PodCopy]:
    """Where image `image_id` stands in each of `pods` (see `PodCopy`)."""
    async with env.sessions() as db:
        rows = {
            r.pod_id: r
            for r in (
                await db.scalars(
                    select(Routing).where(
                        Routing.resource_type == RESOURCE, Routing.top_id == image_id
                    )
                )
            ).all()
        }
        jobs: dict[str, Job] = {}
        keys = [job_key(image_id, pod.id) for pod in pods]
        query = (
            select(Job)
            .where(Job.type == COPY_JOB, Job.resource_id.in_(keys))
            .order_by(Job.created_at)
        )
        for found in (await db.scalars(query)).all():
            jobs[found.resource_id] = found  # the latest wins
    shown = []
    for pod in pods:
        if await shares_glance(env, pod):
            shown.append(PodCopy(pod.id, pod.name, "shared"))
            continue
        row = rows.get(pod.id)
        job = jobs.get(job_key(image_id, pod.id))
        status = row.status if row is not None else "none"
        shown.append(
            PodCopy(
                pod.id,
                pod.name,
                status,
                job.status if job is not None and status == "creating" else None,
                job.last_error if job is not None and status == "creating" else None,
            )
        )
    return shown
