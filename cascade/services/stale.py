"""Is a routing's bottom object still there? Asked of its pod with the service token.

A routing whose pod answers 404 for its bottom object is `stale`: the object
went away behind Cascade's back (deleted in the pod directly, or the pod
was rebuilt). It is marked, not dropped, so an operator sees it in the admin
API (`?status=stale`) and decides; one found again is `active` once more.
Routings still `creating` have no bottom id yet and are left as they are.
Compute kinds (servers, server groups, flavor and keypair copies) are asked of
the pod's Nova, the routed Cinder kinds (`volumes.RESOURCES`) of its Cinder.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.engine import now
from cascade.db.models import Keypair, Pod, Routing
from cascade.pods import compute as pod_compute
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.services.compute import servers
from cascade.services.volume import volumes
from cascade.versions import Version

# where each kind is found in a pod's Nova, by bottom id: the routed compute resources
# and the flavors' copies
PATHS = {
    **{r.kind: f"{r.path}/{{}}" for r in servers.RESOURCES},
    "flavor": "/flavors/{}",
}
CINDER = {r.kind: r for r in volumes.RESOURCES}


class CannotTell(Exception):
    """The pod did not answer, or the kind cannot be looked up."""


async def check(
    db: AsyncSession, registry: PodRegistry, routing: Routing, request_id: str = ""
) -> Routing:
    """Ask the pod; mark the routing `stale` (404) or `active` (found) and return it."""
    if routing.bottom_id is None or routing.status == "creating":
        return routing
    pod = await db.get(Pod, routing.pod_id)
    if pod is None:
        raise CannotTell(f"pod {routing.pod_id} is not registered")
    params: list[tuple[str, str]] | None = None
    if routing.resource_type in CINDER:
        resource = CINDER[routing.resource_type]
        caller = pod_volume.Caller(None, str(max(resource.since, Version(3, 0))), request_id)
        path = f"{resource.path}/{routing.bottom_id}"
        asked = pod_volume.call(registry, pod, caller, "GET", path)
    else:
        if routing.resource_type == "keypair":
            keypair = await db.get(Keypair, routing.top_id)
            if keypair is None:
                raise CannotTell(f"keypair {routing.top_id} is gone from the top")
            path = f"/os-keypairs/{routing.bottom_id}"
            params = [("user_id", keypair.user_id)]
        elif routing.resource_type in PATHS:
            path = PATHS[routing.resource_type].format(routing.bottom_id)
        else:
            raise CannotTell(f"routings of type {routing.resource_type} cannot be checked yet")
        nova = pod_compute.Caller(None, "2.10", request_id)
        asked = pod_compute.call(registry, pod, nova, "GET", path, params=params)
    try:
        resp = await asked
    except PodUnavailable as exc:
        raise CannotTell(str(exc)) from exc
    if not (resp.is_success or resp.status_code == 404):
        raise CannotTell(f"pod {pod.name} answered {resp.status_code}")
    # 404: stale; found: active, or still deleting (its delete is under way)
    status = "stale" if resp.status_code == 404 else "active"
    if status == "active" and routing.status == "deleting":
        status = "deleting"
    if status != routing.status:
        routing.status = status
        routing.updated_at = now()
        await db.commit()
    return routing
