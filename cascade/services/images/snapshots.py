"""Snapshots taken in a pod whose Glance is not the top's, made top images.

Nova's `createImage` in such a pod makes the image in the pod's Glance. The top makes an
image of the same id in its own Glance, owned by the server's project (`queued` until its
data is there), and the `image.copy_up` job streams the data up once the pod's snapshot
is active (`copy_job.Copier`, up); the pod keeps its snapshot as the image's copy there
(an `image` routing, `active` once the top has the data). From then on it is a top image
like any other: usable in every pod, its visibility and members decided at the top,
deleted with its copies.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select, update

from cascade.db.engine import now
from cascade.db.models import Job, Pod, Routing
from cascade.identity import KeystoneUnavailable
from cascade.jobs import queue
from cascade.jobs.registry import JobContext, handler
from cascade.pods.client import PodUnavailable
from cascade.services.images.copies import RESOURCE, intend, root, shares_glance
from cascade.services.images.copy_job import Copier, CopyFailed, NotYet, properties
from cascade.services.workflow import Env

LOG = logging.getLogger(__name__)
UP_JOB = "image.copy_up"
POLL_SECONDS = 2.0
WAIT_SECONDS = 3600.0  # a snapshot not active within this long has failed


def image_id_of(resp: httpx.Response) -> str | None:
    """The snapshot's id in Nova's answer to `createImage`: its body (2.45 on) or the
    Location header (before)."""
    try:
        body = resp.json() if resp.content else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("image_id"), str):
        return str(body["image_id"])
    location = resp.headers.get("Location", "")
    return location.rstrip("/").rsplit("/", 1)[-1] or None


async def taken(env: Env, pod: Pod, image_id: str, project_id: str) -> None:
    """A snapshot was taken in `pod`: nothing when the pod shares the top's Glance; else
    its routing (`creating`) and the job that makes it a top image."""
    if await shares_glance(env, pod):
        return
    async with env.sessions() as db:
        payload = {"project_id": project_id}
        if not await intend(db, image_id, pod.id, project_id, UP_JOB, payload):
            return  # known already (the same answer relayed twice)
    # the top image at once, as Nova's own is there when it answers (clients look it up
    # right away); should this fail, the job makes it
    ctx = JobContext(env.sessions, env.conf, "cascade-api", env.registry)
    copier = Copier(ctx, pod, image_id, up=True)
    try:
        pod_image = await copier.image(target=False)
        if pod_image is not None:
            await _top_image(copier, pod_image, project_id)
    except (CopyFailed, NotYet, PodUnavailable, KeystoneUnavailable, httpx.HTTPError) as exc:
        LOG.warning("the top image of snapshot %s waits for its job: %s", image_id, exc)
    finally:
        await copier.http.aclose()


async def _top_image(copier: Copier, pod_image: dict[str, Any], project_id: str) -> None:
    """The top image of the snapshot, made as the pod's is (owned by the project)."""
    if await copier.image(target=True) is not None:
        return
    body = {
        **properties(pod_image),
        "id": copier.image_id,
        "name": pod_image.get("name"),
        "visibility": "private",
        "owner": project_id,
    }
    body |= {
        k: pod_image[k]
        for k in ("disk_format", "container_format", "min_disk", "min_ram")
        if pod_image.get(k) is not None
    }
    url = f"{copier.top_url}/v2/images"
    resp = await copier.http.post(url, json=body, headers=await copier.top_headers())
    if resp.status_code not in (201, 409):
        raise NotYet(f"the top's Glance refused the snapshot's image ({resp.status_code})")


@handler(UP_JOB)
async def copy_up(ctx: JobContext, job: Job) -> None:
    """The snapshot made a top image, its data copied up once it is active; queued
    again while the pod is still taking it (failed after WAIT_SECONDS)."""
    image_id, pod_id = str(job.payload["image_id"]), str(job.payload["pod_id"])
    where = (
        Routing.resource_type == RESOURCE,
        Routing.top_id == image_id,
        Routing.pod_id == pod_id,
    )
    async with ctx.sessions() as db:
        pod = await db.get(Pod, pod_id)
        routing = await db.scalar(select(Routing).where(*where))
    if pod is None or routing is None or routing.status == "active":
        return
    copier = Copier(ctx, pod, image_id, up=True)
    try:
        pod_image = await copier.image(target=False)
        if pod_image is not None and pod_image.get("status") not in ("killed", "deleted"):
            await _top_image(copier, pod_image, str(job.payload["project_id"]))
        kept = await copier.run()
    except NotYet as exc:
        age = (now() - routing.created_at).total_seconds()
        if age > WAIT_SECONDS:
            raise NotYet(f"the snapshot was not taken in {WAIT_SECONDS:g} s: {exc}") from exc
        async with ctx.sessions() as db:
            delay = timedelta(seconds=POLL_SECONDS)
            await queue.enqueue(
                db, UP_JOB, job.resource_id, job.project_id, job.payload, delay=delay
            )
            await db.commit()
        return
    finally:
        await copier.http.aclose()
    async with ctx.sessions() as db:
        if kept:
            await db.execute(
                update(Routing).where(*where).values(status="active", updated_at=now())
            )
        else:  # the pod's snapshot failed: its top image goes too
            await db.execute(delete(Routing).where(*where))
            LOG.info("snapshot %s in pod %s failed: its top image goes", image_id, pod_id)
        await db.commit()
    if not kept:
        headers = {"X-Auth-Token": await ctx.pods.validator.service_token()}
        async with httpx.AsyncClient(transport=ctx.pods.transport) as http:
            await http.delete(
                f"{root(ctx.conf.image.glance_url)}/v2/images/{image_id}", headers=headers
            )
