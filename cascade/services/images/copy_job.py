"""The `image.copy` job: a top image's data streamed from the top's Glance into a pod's
Glance, and the `image.delete_copy` job that removes a copy (`copies.py` says when).

The copy is made with the top image's id, its formats, sizes and properties; the data
is streamed chunk by chunk from one Glance to the other (never held whole: memory does
not grow with the image), its MD5 (Glance's `checksum`) and `os_hash_value` worked out on
the way and compared with the top's, as the size and the pod's own checksum once the pod
says the copy is active. A mismatch deletes the copy and fails the attempt (retried).
Idempotent: a run finds the pod's copy as the last one left it (active and matching:
done; anything else: made again).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import httpx
from sqlalchemy import delete, update

from cascade.db.engine import now
from cascade.db.models import Job, Pod, Routing
from cascade.jobs.registry import JobContext, handler
from cascade.pods.calls import service_token
from cascade.services.images.copies import COPY_JOB, DELETE_JOB, RESOURCE, root

LOG = logging.getLogger(__name__)
# what a copy takes of the top image besides its properties: the rest is the pod's own
CREATE_FIELDS = ("name", "disk_format", "container_format", "min_disk", "min_ram", "tags")
# Glance's own fields: read only, or set by Glance (not properties to copy)
GLANCE_FIELDS = frozenset(
    {
        "id", "status", "visibility", "protected", "checksum", "owner", "size", "virtual_size",
        "created_at", "updated_at", "file", "schema", "self", "direct_url", "locations",
        "os_hash_algo", "os_hash_value", "os_hidden", "stores", "tags", "name", "disk_format",
        "container_format", "min_disk", "min_ram",
    }
)  # fmt: skip


class CopyFailed(Exception):
    """This attempt did not leave a good copy (the job is retried)."""


def copy_body(top: dict[str, Any]) -> dict[str, Any]:
    """The pod's create of a copy of top image `top`: same id, formats, sizes, tags and
    properties; public when the top's is, else community (see `copies`)."""
    body = {k: top[k] for k in CREATE_FIELDS if top.get(k) is not None}
    body |= {k: v for k, v in top.items() if k not in GLANCE_FIELDS and isinstance(v, str)}
    body["id"] = top["id"]
    body["visibility"] = "public" if top.get("visibility") == "public" else "community"
    return body


class Copier:
    """One run of a copy of image `image_id` into `pod`."""

    def __init__(self, ctx: JobContext, pod: Pod, image_id: str) -> None:
        self.ctx, self.pod, self.image_id = ctx, pod, image_id
        self.top_url = root(ctx.conf.image.glance_url)
        self.http = httpx.AsyncClient(
            transport=ctx.pods.transport,
            timeout=httpx.Timeout(ctx.conf.pods.timeout, connect=ctx.conf.pods.connect_timeout),
        )

    async def pod_url(self) -> str:
        return root(await self.ctx.pods.endpoint(self.pod, "image"))

    async def top_headers(self) -> dict[str, str]:
        return {"X-Auth-Token": await self.ctx.pods.validator.service_token()}

    async def pod_headers(self) -> dict[str, str]:
        return {"X-Auth-Token": await service_token(self.ctx.pods, self.pod)}

    async def run(self) -> bool:
        """True when the pod has a good copy; False when the top image is gone."""
        try:
            top = await self.http.get(
                f"{self.top_url}/v2/images/{self.image_id}", headers=await self.top_headers()
            )
            if top.status_code == 404:
                return False
            if top.status_code != 200:
                raise CopyFailed(f"the top's Glance answered {top.status_code}")
            image: dict[str, Any] = top.json()
            if image.get("status") != "active":
                raise CopyFailed(f"the top image is {image.get('status')}, not active")
            if await self.has_good_copy(image):
                return True
            await self.make(image)
            await self.stream(image)
            if not await self.has_good_copy(image):
                await self.remove()
                raise CopyFailed("the pod's copy does not match the top image")
            return True
        finally:
            await self.http.aclose()

    async def has_good_copy(self, image: dict[str, Any]) -> bool:
        """Whether the pod's copy is active with the top's size and checksums; a copy
        left otherwise (an earlier run died while streaming) is removed."""
        url = f"{await self.pod_url()}/v2/images/{self.image_id}"
        resp = await self.http.get(url, headers=await self.pod_headers())
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise CopyFailed(f"pod {self.pod.name}'s Glance answered {resp.status_code}")
        copy = resp.json()
        same = all(copy.get(key) == image.get(key) for key in ("size", "checksum", "os_hash_value"))
        if copy.get("status") == "active" and same:
            return True
        await self.remove()
        return False

    async def make(self, image: dict[str, Any]) -> None:
        url = f"{await self.pod_url()}/v2/images"
        resp = await self.http.post(url, json=copy_body(image), headers=await self.pod_headers())
        if resp.status_code != 201:
            raise CopyFailed(
                f"pod {self.pod.name}'s Glance refused the copy ({resp.status_code}): "
                f"{resp.text[:300]}"
            )

    async def stream(self, image: dict[str, Any]) -> None:
        """The data from the top's Glance to the pod's, chunk by chunk, checked on the way."""
        source = f"{self.top_url}/v2/images/{self.image_id}/file"
        target = f"{await self.pod_url()}/v2/images/{self.image_id}/file"
        md5 = hashlib.md5(usedforsecurity=False)
        algo = str(image.get("os_hash_algo") or "sha512")
        multihash = hashlib.new(algo)
        seen = 0
        async with self.http.stream("GET", source, headers=await self.top_headers()) as data:
            if data.status_code != 200:
                raise CopyFailed(f"the top's Glance answered {data.status_code} for the data")

            async def chunks() -> Any:
                nonlocal seen
                async for chunk in data.aiter_bytes():
                    md5.update(chunk)
                    multihash.update(chunk)
                    seen += len(chunk)
                    yield chunk

            headers = {
                **await self.pod_headers(),
                "Content-Type": "application/octet-stream",
                # a length, not chunks: Glance behind uWSGI reads no chunked bodies
                "Content-Length": str(image.get("size") or 0),
            }
            put = await self.http.put(target, content=chunks(), headers=headers)
        if put.status_code != 204:
            await self.remove()
            raise CopyFailed(
                f"pod {self.pod.name}'s Glance refused the data ({put.status_code}): "
                f"{put.text[:300]}"
            )
        expected = (image.get("size"), image.get("checksum"), image.get("os_hash_value"))
        if (seen, md5.hexdigest(), multihash.hexdigest()) != expected:
            await self.remove()
            raise CopyFailed(f"the data read ({seen} bytes) does not match the top image's")
        LOG.info("image %s copied into pod %s: %d bytes", self.image_id, self.pod.name, seen)

    async def remove(self) -> None:
        url = f"{await self.pod_url()}/v2/images/{self.image_id}"
        resp = await self.http.delete(url, headers=await self.pod_headers())
        if resp.status_code not in (204, 404):
            raise CopyFailed(f"pod {self.pod.name}'s Glance kept a bad copy ({resp.status_code})")


async def _pod(ctx: JobContext, job: Job) -> Pod | None:
    async with ctx.sessions() as db:
        found: Pod | None = await db.get(Pod, str(job.payload["pod_id"]))
        return found


def _where(image_id: str, pod_id: str) -> Any:
    return (
        Routing.resource_type == RESOURCE,
        Routing.top_id == image_id,
        Routing.pod_id == pod_id,
    )


@handler(COPY_JOB)
async def copy(ctx: JobContext, job: Job) -> None:
    """Copy the image into the pod; its routing `active` then (gone with the image)."""
    image_id = str(job.payload["image_id"])
    pod = await _pod(ctx, job)
    if pod is None:
        return
    kept = await Copier(ctx, pod, image_id).run()
    async with ctx.sessions() as db:
        where = _where(image_id, pod.id)
        if kept:
            await db.execute(
                update(Routing).where(*where).values(status="active", updated_at=now())
            )
        else:
            await db.execute(delete(Routing).where(*where))
        await db.commit()


@handler(DELETE_JOB)
async def delete_copy(ctx: JobContext, job: Job) -> None:
    """The pod's copy of the image deleted, then its routing."""
    image_id = str(job.payload["image_id"])
    pod = await _pod(ctx, job)
    if pod is not None:
        copier = Copier(ctx, pod, image_id)
        try:
            await copier.remove()
        finally:
            await copier.http.aclose()
    async with ctx.sessions() as db:
        await db.execute(delete(Routing).where(*_where(image_id, str(job.payload["pod_id"]))))
        await db.commit()
