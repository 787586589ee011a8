"""Calls to one pod's Cinder: its endpoint from the catalog, the headers every call carries.

A call goes with the caller's own token (or Cascade's service token where only
an admin may act, such as copying a top volume type into the pod), the
request's volume microversion and the top request id as the global request
id. Paths are sent without a project id (`<root>/v3/volumes`): Cinder serves
every resource with and without one, and the pod then uses the token's
project, which is the caller's. `PodUnavailable` from the client is passed
on; the pod's own HTTP answer is returned as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable, pod_request
from cascade.pods.registry import PodRegistry

SERVICE = "volume"
CATALOG_TYPES = ("block-storage", "volumev3")


@dataclass(frozen=True)
class Caller:
    """Who a pod call is made for: the token, the volume microversion and the request id."""

    token: str | None  # None: Cascade's service token (see `pods.client.pod_request`)
    version: str
    request_id: str

    def headers(self) -> dict[str, str]:
        headers = {
            "OpenStack-API-Version": f"volume {self.version}",
            "Accept": "application/json",
        }
        if self.token is not None:
            headers["X-Auth-Token"] = self.token
        if self.request_id:
            headers["X-OpenStack-Request-ID"] = self.request_id
        return headers


def root_of(endpoint_url: str) -> str:
    """What Cinder's links start with: the endpoint without its `/v3...` part, with a slash."""
    parts = urlsplit(endpoint_url)
    path = parts.path
    cut = path.find("/v3")
    if cut >= 0:
        path = path[:cut]
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}/"


async def root(registry: PodRegistry, pod: Pod) -> str:
    """The pod's Cinder root (`http://host:port/`), from the catalog (503-worthy if none)."""
    found = await registry.endpoints(pod.region_name)
    for kind in CATALOG_TYPES:
        if kind in found:
            return root_of(found[kind])
    raise PodUnavailable(
        pod.name, SERVICE, f"no block-storage endpoint in region {pod.region_name}"
    )


async def call(
    registry: PodRegistry,
    pod: Pod,
    caller: Caller,
    method: str,
    path: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    params: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """`method` on `path` (after the pod's /v3) of the pod's Cinder, for `caller`."""
    return await pod_request(
        registry,
        pod.name,
        SERVICE,
        method,
        await root(registry, pod) + "v3" + path,
        caller.headers(),
        json=json,
        content=content,
        params=params,
        headers=headers,
    )
