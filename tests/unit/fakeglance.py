"""Just enough of Glance v2 for image copies: images with data, create with an id, upload,
download, delete; checksums worked out as Glance does (MD5, and SHA-512 multihash)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import httpx


class FakeGlance:
    def __init__(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.data: dict[str, bytes] = {}
        self.uploads = 0
        self.corrupt = False  # store a flipped byte: the copy must notice
        # a private image is shown to Cascade's service token only (not to the users')
        self.service_token = "service-token"

    def add(self, data: bytes, **fields: Any) -> dict[str, Any]:
        """An active image with `data` (as the top's Glance has them)."""
        image = {"id": str(uuid.uuid4()), "name": "img", "disk_format": "raw",
                 "container_format": "bare", "visibility": "public", "status": "queued",
                 "min_disk": 0, "min_ram": 0, "tags": [], **fields}  # fmt: skip
        self.images[image["id"]] = image
        self._store(image["id"], data)
        return image

    def _store(self, image_id: str, data: bytes) -> None:
        if self.corrupt and data:
            data = bytes([data[0] ^ 1]) + data[1:]
        self.data[image_id] = data
        self.images[image_id].update(
            status="active",
            size=len(data),
            checksum=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            os_hash_algo="sha512",
            os_hash_value=hashlib.sha512(data).hexdigest(),
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.removeprefix("/v2/").strip("/").split("/")
        if parts[0] != "images":
            return httpx.Response(404)
        if len(parts) == 1 and request.method == "POST":
            body = json.loads(request.content)
            if body.get("id") in self.images:
                return httpx.Response(409)
            made = {"status": "queued", "tags": [], **body}
            made.setdefault("id", str(uuid.uuid4()))
            self.images[made["id"]] = made
            return httpx.Response(201, json=made)
        image = self.images.get(parts[1])
        token = request.headers.get("X-Auth-Token")
        hidden = image is not None and image["visibility"] == "private"
        if image is None or (hidden and token != self.service_token):
            return httpx.Response(404)
        if len(parts) == 3 and request.method == "PUT":
            self.uploads += 1
            self._store(image["id"], request.read())
            return httpx.Response(204)
        if len(parts) == 3 and request.method == "GET":
            return httpx.Response(200, content=self.data[image["id"]])
        if request.method == "DELETE":
            del self.images[image["id"]]
            self.data.pop(image["id"], None)
            return httpx.Response(204)
        return httpx.Response(200, json=image)
