"""Which pod knows a host (or any other thing only the pods know): every pod asked at
once, the first whose answer says it is about the thing. Shared by Cinder's host and
service calls (`hosts.py`) and a volume's move to another pod (`volume_moves.py`), which
`hosts.py`'s own imports would make a cycle of."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request

from cascade.api.volume import fanout
from cascade.api.volume.common import pod_error
from cascade.api.volume.errors import VolumeError
from cascade.db.models import Pod
from cascade.pods import fanout as pod_fanout
from cascade.versions import Version

# --- asking the pods ---------------------------------------------------------------


def decoded(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


@dataclass
class Known:
    """What the pods said when asked who knows something: the pod that does (None:
    none) with its answer, every answer in the pods' order, and the header naming
    the pods that did not answer."""

    pod: Pod | None
    answer: httpx.Response | None
    answers: list[tuple[Pod, httpx.Response]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def fallback(self) -> tuple[Pod, httpx.Response]:
        """The first pod that answered (its answer says what the pods think of a host
        none of them knows); 503 when no pod answered."""
        if not self.answers:
            names = self.headers.get(pod_fanout.UNAVAILABLE_HEADER) or "no pod is registered"
            message = f"No pod's block storage service answered ({names})."
            raise VolumeError(503, message, dict(self.headers))
        return self.answers[0]

    def target(self) -> Pod:
        """Where a request about the thing goes: the pod that knows it, else the first
        pod that answered (whose Cinder then answers its own error)."""
        return self.pod if self.pod is not None else self.fallback()[0]

    def refused(self) -> VolumeError:
        """No pod knows it: the first pod's answer, as the top's error."""
        pod, resp = self.fallback()
        return pod_error(resp, pod, self.headers)


async def knowing(
    request: Request,
    version: Version,
    path: str,
    params: list[tuple[str, str]] | None = None,
    knows: Callable[[Any], bool] = lambda _: True,
) -> Known:
    """Every pod asked GET `path` at once: the first (in the pods' order) whose 200
    answer `knows` says is about the thing."""
    answers, headers = await fanout.answers(request, version, path, params or [], refusals=True)
    for pod, resp in answers:
        if resp.status_code == 200 and knows(decoded(resp)):
            return Known(pod, resp, answers, headers)
    return Known(None, None, answers, headers)


async def pod_of_host(request: Request, version: Version, host: str) -> Known:
    """The pod whose services include `host`. Cinder finds a backend's service without
    the pool (`h@b#pool` is `h@b`'s), and matches `h` to `h`, `h@*` and `h#*`."""
    backend = host.partition("#")[0]

    def listed(body: Any) -> bool:
        return isinstance(body, dict) and bool(body.get("services"))

    return await knowing(request, version, "/os-services", [("host", backend)], listed)
