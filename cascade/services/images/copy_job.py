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


def properties(image: dict[str, Any]) -> dict[str, str]:
    """An image's own properties (`hw_*`, `os_*`, a snapshot's `instance_uuid`...), not
    Glance's fields."""
    return {k: v for k, v in image.items() if k not in GLANCE_FIELDS and isinstance(v, str)}


def copy_body(top: dict[str, Any]) -> dict[str, Any]:
    """The pod's create of a copy of top image `top`: same id, formats, sizes, tags and
    properties; public when the top's is, else community (see `copies`)."""
    body = {k: top[k] for k in CREATE_FIELDS if top.get(k) is not None}
    body |= properties(top)
    body["id"] = top["id"]
    body["visibility"] = "public" if top.get("visibility") == "public" else "community"
    return body


class NotYet(Exception):
    """The source image is not active yet (a snapshot still being taken)."""


class Copier:
    """One run of a copy of image `image_id` between the top's Glance and `pod`'s: into
    the pod (a top image a server there boots from), or `up` to the top (a snapshot
    taken in the pod: the top image of that id exists already, `queued`)."""

    def __init__(self, ctx: JobContext, pod: Pod, image_id: str, up: bool = False) -> None:
        self.ctx, self.pod, self.image_id, self.up = ctx, pod, image_id, up
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

    async def side(self, target: bool) -> tuple[str, dict[str, str], str]:
        """The source's (or the target's) Glance: URL, headers, and its name in errors."""
        to_pod = target != self.up
        if to_pod:
            return await self.pod_url(), await self.pod_headers(), f"pod {self.pod.name}'s Glance"
        return self.top_url, await self.top_headers(), "the top's Glance"

    async def image(self, target: bool) -> dict[str, Any] | None:
        url, headers, name = await self.side(target)
        resp = await self.http.get(f"{url}/v2/images/{self.image_id}", headers=headers)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise CopyFailed(f"{name} answered {resp.status_code}")
        found: dict[str, Any] = resp.json()
        return found

    async def run(self) -> bool:
        """True when the target has a good copy; False when the source image is gone
        (NotYet while it is not active: a snapshot being taken)."""
        try:
            image = await self.image(target=False)
            if image is None or image.get("status") in ("killed", "deleted", "pending_delete"):
                return False
            if image.get("status") != "active":
                raise NotYet(f"the image is {image.get('status')}")
            if await self.has_good_copy(image):
                return True
            await self.make(image)
            await self.stream(image)
            if not await self.has_good_copy(image):
                raise CopyFailed("the copy does not match its image")
            return True
        finally:
            await self.http.aclose()

    async def has_good_copy(self, image: dict[str, Any]) -> bool:
        """Whether the target's copy is active with the source's size and checksums; a
        pod's copy left otherwise (an earlier run died while streaming) is removed."""
        copy = await self.image(target=True)
        if copy is None:
            return False
        same = all(copy.get(key) == image.get(key) for key in ("size", "checksum", "os_hash_value"))
        if copy.get("status") == "active" and same:
            return True
        if not self.up:
            await self.remove()
        elif copy.get("status") == "active":  # the top image took other data: never undone
            raise CopyFailed("the top image's data does not match the snapshot's")
        return False

    async def make(self, image: dict[str, Any]) -> None:
        """The copy's record in the target: made in the pod; the top's (made when the
        snapshot was asked for) given the formats the snapshot has now."""
        url, headers, name = await self.side(target=True)
        if self.up:
            await self._formats(url, headers, name, image)
            return
        resp = await self.http.post(f"{url}/v2/images", json=copy_body(image), headers=headers)
        if resp.status_code != 201:
            raise CopyFailed(f"{name} refused the copy ({resp.status_code}): {resp.text[:300]}")

    async def _formats(
        self, url: str, headers: dict[str, str], name: str, image: dict[str, Any]
    ) -> None:
        top = await self.image(target=True)
        if top is None:
            raise CopyFailed("the top image of the snapshot is gone")
        patch = [
            {"op": "add" if top.get(key) is None else "replace", "path": f"/{key}", "value": value}
            for key in ("disk_format", "container_format")
            if (value := image.get(key)) is not None and top.get(key) != value
        ]
        if not patch:
            return
        headers = {**headers, "Content-Type": "application/openstack-images-v2.1-json-patch"}
        resp = await self.http.patch(
            f"{url}/v2/images/{self.image_id}", json=patch, headers=headers
        )
        if resp.status_code != 200:
            raise CopyFailed(f"{name} refused the formats ({resp.status_code}): {resp.text[:300]}")

    async def stream(self, image: dict[str, Any]) -> None:
        """The data from the source's Glance to the target's, chunk by chunk, checked on
        the way."""
        src_url, src_headers, src_name = await self.side(target=False)
        dst_url, dst_headers, dst_name = await self.side(target=True)
        md5 = hashlib.md5(usedforsecurity=False)
        algo = str(image.get("os_hash_algo") or "sha512")
        multihash = hashlib.new(algo)
        seen = 0
        source = f"{src_url}/v2/images/{self.image_id}/file"
        async with self.http.stream("GET", source, headers=src_headers) as data:
            if data.status_code != 200:
                raise CopyFailed(f"{src_name} answered {data.status_code} for the data")

            async def chunks() -> Any:
                nonlocal seen
                async for chunk in data.aiter_bytes():
                    # hashed inline: a thread hop per chunk (tried) made copies slower
                    # (docs/benchmarks.md, "Images in an independent pod")
                    md5.update(chunk)
                    multihash.update(chunk)
                    seen += len(chunk)
                    yield chunk

            headers = {
                **dst_headers,
                "Content-Type": "application/octet-stream",
                # a length, not chunks: Glance behind uWSGI reads no chunked bodies
                "Content-Length": str(image.get("size") or 0),
            }
            target = f"{dst_url}/v2/images/{self.image_id}/file"
            put = await self.http.put(target, content=chunks(), headers=headers)
        if put.status_code != 204:
            if not self.up:
                await self.remove()
            raise CopyFailed(f"{dst_name} refused the data ({put.status_code}): {put.text[:300]}")
        expected = (image.get("size"), image.get("checksum"), image.get("os_hash_value"))
        if (seen, md5.hexdigest(), multihash.hexdigest()) != expected:
            if not self.up:
                await self.remove()
            raise CopyFailed(f"the data read ({seen} bytes) does not match its image's")
        where = "up from" if self.up else "into"
        LOG.info("image %s copied %s pod %s: %d bytes", self.image_id, where, self.pod.name, seen)

    async def remove(self) -> None:
        """The pod's copy deleted (never the top's image: that is its owner's)."""
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
