"""Nova's image proxy at the top: `/images`, `/images/detail`, `/images/{id}` (GET,
DELETE) and `/images/{id}/metadata` (+ `/{key}`), below microversion 2.36.

The pods share one image service (Glance), so every pod's Nova answers these
alike, from the same images with the same ids: the top asks one of them (an
enabled pod, those whose last health check found them up first; the next when
one cannot be reached) with the caller's token, query and body, and shows its
answer with links at the top. A pod's error is Nova's own (404 "Image not
found.", 403 for an image the caller may not delete), as it gave it. At 2.36
and later each is Nova's 404 "The resource could not be found.", as Nova
answers it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.network_proxy import proxied
from cascade.api.handlers import raw_body
from cascade.api.request import session
from cascade.db.engine import idle
from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import call, pod_message
from cascade.services import pods as pod_service

V21 = "/compute/v2.1"


def _order(found: list[Pod]) -> list[Pod]:
    """The enabled pods, those last found up first, then by name."""
    enabled = [p for p in found if p.enabled]
    return sorted(enabled, key=lambda p: (p.health_state != "up", p.name))


async def proxy(request: Request) -> Response:
    """Any image proxy call, answered by a pod's Nova (see above)."""
    version = await proxied(request)
    path = request.url.path.removeprefix(V21)
    content = await raw_body(request)
    async with session(request) as db:
        candidates = _order(await pod_service.list_all(db))
        await idle(db)
    caller = forward.caller_for(request, version)
    headers = {"Content-Type": request.headers.get("content-type", "application/json")}
    reasons = []
    for pod in candidates:
        try:
            resp = await call(
                request.app.state.registry,
                pod,
                caller,
                request.method,
                path,
                content=content or None,
                params=list(request.query_params.multi_items()),
                headers=headers,
            )
        except PodUnavailable as exc:
            reasons.append(str(exc))
            continue  # another pod reads the same images
        if resp.status_code >= 500:
            reasons.append(f"pod {pod.name} answered {resp.status_code}")
            continue
        if resp.status_code >= 400:
            raise ComputeError(resp.status_code, pod_message(resp))
        return await forward.relay(request, None, pod, resp)
    raise ComputeError(
        503,
        "No pod's compute service can answer for the images: " + ("; ".join(reasons) or "no pod"),
    )
