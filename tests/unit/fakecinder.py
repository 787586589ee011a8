"""An in-process fake of the parts of Cinder v3 that the Block Storage lists call.

One `FakeCinder` per pod: the root version document, and volumes listed (detail
or not) with `sort=key:dir,...`, `limit` and `marker` in Cinder's order, for
the project of the caller's token (see `fakenova.PROJECTS`). Every request is
recorded for assertions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.unit.fakenova import PROJECTS, _stamp

VERSIONS = {
    "versions": [
        {"id": "v3.0", "status": "CURRENT", "min_version": "3.0", "version": "3.71", "links": []}
    ]
}


@dataclass
class FakeCinder:
    host: str
    az: str
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    @property
    def root(self) -> str:
        return f"http://{self.host}:8776/"

    def add_volume(self, name: str, project: str = "p1") -> dict[str, Any]:
        volume_id = str(uuid.uuid4())
        self.volumes[volume_id] = {
            "id": volume_id,
            "name": name,
            "size": 1,
            "status": "available",
            "created_at": _stamp(),
            "availability_zone": self.az,
            "os-vol-tenant-attr:tenant_id": project,
            "links": [{"rel": "self", "href": f"{self.root}v3/volumes/{volume_id}"}],
        }
        return self.volumes[volume_id]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.rstrip("/")
        if path == "":
            return httpx.Response(300, json=VERSIONS)
        project = PROJECTS[request.headers["X-Auth-Token"]]
        mine = [v for v in self.volumes.values() if v["os-vol-tenant-attr:tenant_id"] == project]
        if path in ("/v3/volumes", "/v3/volumes/detail"):
            body: dict[str, Any] = {"volumes": self._page(request, mine)}
            if request.url.params.get("with_count") == "true":
                body["count"] = len(mine)
            return httpx.Response(200, json=body)
        found = [v for v in mine if path == f"/v3/volumes/{v['id']}"]
        if found:
            return httpx.Response(200, json={"volume": found[0]})
        return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": "not found"}})

    def _page(self, request: httpx.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ordered = list(items)
        sort = request.url.params.get("sort", "created_at:desc,id:desc")
        for part in reversed(sort.split(",")):  # stable sorts, last key first
            key, _, direction = part.partition(":")

            def value(volume: dict[str, Any], key: str = key) -> str:
                return str(volume.get(key, ""))

            ordered.sort(key=value, reverse=direction == "desc")
        marker = request.url.params.get("marker")
        if marker is not None:
            ids = [v["id"] for v in ordered]
            ordered = ordered[ids.index(marker) + 1 :]
        return ordered[: int(request.url.params.get("limit", "1000"))]
