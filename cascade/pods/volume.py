"""Calls to one pod's Cinder: its endpoint from the catalog, the headers every call carries
(as `pods.compute`: the caller's or Cascade's token, the volume microversion, the request
id). Paths are sent without a project id (`<root>/v3/volumes`): Cinder serves every
resource with and without one, and the pod then uses the token's project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

import httpx

from cascade.db.models import Pod
from cascade.pods import calls, client
from cascade.pods.registry import PodRegistry

SERVICE = "volume"
CATALOG_TYPES = ("block-storage", "volumev3")


@dataclass(frozen=True)
class Caller(client.Caller):
    """A call to a pod's Cinder: its volume microversion."""

    def version_headers(self) -> dict[str, str]:
        return {"OpenStack-API-Version": f"volume {self.version}"}


async def root(registry: PodRegistry, pod: Pod) -> str:
    """The pod's Cinder root (`http://host:port/`: what its links start with, the catalog's
    endpoint without its `/v3...` part), from the catalog (503-worthy if none)."""
    return client.api_root(await registry.endpoint(pod, SERVICE, *CATALOG_TYPES), "/v3")


async def call(
    registry: PodRegistry,
    pod: Pod,
    caller: Caller,
    method: str,
    path: str,
    **options: Unpack[client.CallOptions],
) -> httpx.Response:
    """`method` on `path` (after the pod's /v3) of the pod's Cinder, for `caller`."""
    url = await root(registry, pod) + "v3" + path
    return await calls.pod_request(
        registry,
        pod,
        SERVICE,
        method,
        url,
        caller.headers(),
        caller.project_id,
        caller.user_id,
        admin=caller.admin,
        **options,
    )
