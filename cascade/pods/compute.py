"""Calls to one pod's Nova: its endpoint from the catalog, the headers every call carries
(the caller's token, so the pod's ownership, RBAC and audit stay true, or Cascade's
service token where only an admin may act; the microversion; the top request id). The
pod's own answer is returned as it is; callers that treat it as a refusal raise
`PodRefused`, with the message `pod_message` finds in Nova's error body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Unpack

import httpx

from cascade.db.models import Pod
from cascade.pods import calls, client
from cascade.pods.registry import PodRegistry


class PodRefused(Exception):
    """A pod refused a call Cascade itself made (not one it forwards): the pod's status
    and message, with the pod named and `what` the call was for (default: the class's)."""

    what = "a call"

    def __init__(self, pod: str, status: int, message: str, what: str | None = None) -> None:
        super().__init__(f"pod {pod} answered {status} for {what or self.what}: {message}")
        self.pod = pod
        self.status = status
        self.message = message


def pod_message(resp: httpx.Response) -> str:
    """The message of a Nova error body (`{"<fault>": {"message": ...}}`), else the text
    (at most 500 characters)."""
    try:
        body: Any = resp.json()
    except ValueError:
        body = None
    found = fault_message(body)
    if found is not None:
        return found
    return resp.text.strip()[:500] or f"HTTP {resp.status_code}"


def fault_message(body: Any) -> str | None:
    """The message of a decoded Nova error body `{"<fault>": {"message": ...}}`, if it is one."""
    if isinstance(body, dict):
        for fault in body.values():
            if isinstance(fault, dict) and "message" in fault:
                return str(fault["message"])
    return None


@dataclass(frozen=True)
class Caller(client.Caller):
    """A call to a pod's Nova: its microversion in both of Nova's headers."""

    def version_headers(self) -> dict[str, str]:
        return {
            "OpenStack-API-Version": f"compute {self.version}",
            "X-OpenStack-Nova-API-Version": self.version,
        }


async def endpoint(registry: PodRegistry, pod: Pod) -> str:
    """The pod's compute endpoint, without a trailing slash (503-worthy if missing)."""
    return (await registry.endpoint(pod, "compute")).rstrip("/")


def root_of(endpoint_url: str) -> str:
    """What Nova's links start with: the endpoint without its `/v2.1...` part."""
    return client.api_root(endpoint_url, "/v2")


async def call(
    registry: PodRegistry,
    pod: Pod,
    caller: Caller,
    method: str,
    path: str,
    **options: Unpack[client.CallOptions],
) -> httpx.Response:
    """`method` on `path` (after the pod's /v2.1) of the pod's Nova, for `caller`."""
    url = await endpoint(registry, pod) + path
    return await calls.pod_request(
        registry,
        pod,
        "compute",
        method,
        url,
        caller.headers(),
        caller.project_id,
        caller.user_id,
        admin=caller.admin,
        **options,
    )
