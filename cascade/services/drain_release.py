"""What a drained pod still holds for the top once its servers and volumes have moved:
the copies Cascade made there for them (no HTTP types here).

At the end of a drain, each copy routed to the pod that nothing staying in the pod
uses (a server that could not move keeps its ports, their networks, subnets and
security groups, the flavors and keypairs; any of Cinder's objects keeps the types)
is deleted there with its routing, in an order Neutron accepts (ports before their subnets,
subnets before their networks, security groups last of networking): copies of
networking objects (ports, DHCP ports, subnets, networks, security groups), of flavors
(and of deleted flavors), volume types, QoS specs, group types and keypairs. External
networks and their subnets stay (the pod's own, adopted: never deleted). A copy the
pod refuses to delete (a subnet a router of the pod still has an interface on) stays,
named with the pod's reason. What serves a router spanning pods (the router's copy,
its bridge, floating IPs and their shadows) stays as it is, named too: it goes when
the router is planned without the pod (`DELETE /v1/pods/{id}?force=true`), since
removing it under the router's plan would break the router for the other pods.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Keypair, Pod, Routing
from cascade.jobs.registry import JobContext
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, PodRefused, call
from cascade.services.audit.repairs import CannotRepair, delete_in_pod
from cascade.services.compute.flavors import RESOURCE as FLAVOR
from cascade.services.compute.flavors import RETIRED
from cascade.services.compute.keypair_copies import RESOURCE as KEYPAIR
from cascade.services.compute.keypair_copies import WITH_USER_ID
from cascade.services.compute.servers import SERVER, SERVER_GROUP
from cascade.services.network import materialise as m
from cascade.services.network import store
from cascade.services.resources import BY_KIND
from cascade.services.volume import (
    group_types,
    qos,
    volumes,  # noqa: F401  (describes Cinder's kinds: BY_KIND)
)
from cascade.services.volume import types as volume_types

LOG = logging.getLogger(__name__)
# deleted in this order: what uses an object before it
RELEASED = (
    m.PORT,
    m.DHCP,
    m.SUBNET,
    m.NETWORK,
    m.GROUP,
    FLAVOR,
    RETIRED,
    volume_types.KIND,
    qos.KIND,
    group_types.KIND,
    KEYPAIR,
)
# what serves a router spanning pods: planned with the router, not by a drain
KEPT = (
    m.ROUTER,
    m.FLOATINGIP,
    m.BRIDGE_NETWORK,
    m.BRIDGE_SUBNET,
    m.BRIDGE_PORT,
    m.SHADOW_NETWORK,
    m.SHADOW_SUBNET,
    m.SHADOW_INTERFACE,
    m.SHADOW_PORT,
)
ROUTER_KEPT = (
    "it serves a router spanning pods: it goes when the router is planned without the "
    "pod (delete the pod with force=true)"
)


def entry(kind: str, top_id: str, reason: str) -> dict[str, Any]:
    """An entry of a drain's `left`: what stays in the pod, and why."""
    return {"resource_type": kind, "top_id": top_id, "reason": reason}


async def release(
    ctx: JobContext, db: AsyncSession, pod: Pod, request_id: str
) -> list[dict[str, Any]]:
    """The pod's copies deleted but those what stays in the pod still uses (see the
    module's docstring); what stays of them, with why."""
    rows = list((await db.scalars(select(Routing).where(Routing.pod_id == pod.id))).all())
    hosted = [r for r in rows if r.resource_type in BY_KIND and r.status != "deleting"]
    needed = await _networking_needed(db, [r.top_id for r in hosted if r.resource_type == SERVER])
    # flavors and keypairs serve servers, types serve Cinder's objects: while any of
    # them stays, so do they
    keep = set()
    if any(r.resource_type in (SERVER, SERVER_GROUP) for r in hosted):
        keep |= {FLAVOR, RETIRED, KEYPAIR}
    if any(r.resource_type not in (SERVER, SERVER_GROUP) for r in hosted):
        keep |= {volume_types.KIND, qos.KIND, group_types.KIND}
    left: list[dict[str, Any]] = []
    for kind in RELEASED:
        if kind in keep:
            continue
        for routing in [r for r in rows if r.resource_type == kind]:
            if routing.top_id in needed:
                continue
            reason = await _deleted(ctx, db, pod, routing, request_id)
            if reason is None:
                await db.delete(routing)
                await db.commit()
            else:
                left.append(entry(kind, routing.top_id, reason))
    for routing in [r for r in rows if r.resource_type in KEPT]:
        left.append(entry(routing.resource_type, routing.top_id, ROUTER_KEPT))
    return left


async def _networking_needed(db: AsyncSession, servers: list[str]) -> set[str]:
    """Top ids of the networking objects that stay: external networks and their subnets
    (the pod's own, adopted: routers and floating IPs reach them), and what the servers
    that stay use: their ports, the ports' networks (and their DHCP ports), subnets and
    security groups."""
    external = [n.id for n in await store.rows(db, store.NETWORK) if n.body.get("router:external")]
    needed = set(external)
    needed |= {s.id for s in await store.rows(db, store.SUBNET, parent_ids=external)}
    if not servers:
        return needed
    wanted = set(servers)
    for port in await store.rows(db, store.PORT):
        if port.body.get("device_id") not in wanted:
            continue
        needed.add(port.id)
        needed.add(str(port.body.get("network_id")))
        needed |= {str(f.get("subnet_id")) for f in port.body.get("fixed_ips") or []}
        needed |= {str(g) for g in port.body.get("security_groups") or []}
    return needed


async def _deleted(
    ctx: JobContext, db: AsyncSession, pod: Pod, routing: Routing, request_id: str
) -> str | None:
    """Why the routing's copy could not be deleted in the pod (None: it is gone)."""
    if not routing.bottom_id and routing.resource_type != KEYPAIR:
        return None  # an intent whose copy was never made
    try:
        if routing.resource_type == KEYPAIR:
            await _keypair_gone(ctx, db, pod, routing, request_id)
        else:
            await delete_in_pod(
                ctx.pods, pod, routing.resource_type, str(routing.bottom_id), request_id
            )
    except (CannotRepair, PodRefused) as exc:
        LOG.info("drain of pod %s: copy %s stays: %s", pod.name, routing.id, exc)
        return str(exc)
    except PodUnavailable as exc:
        return f"pod {pod.name} could not be asked: {exc.reason}"
    return None


async def _keypair_gone(
    ctx: JobContext, db: AsyncSession, pod: Pod, routing: Routing, request_id: str
) -> None:
    """A keypair's copy belongs to its user in Nova: deleted by name for that user."""
    keypair = await db.get(Keypair, routing.top_id)
    if keypair is None:
        return  # gone at the top: its copies went with it (or are an audit's orphans)
    name = routing.bottom_id or keypair.name
    caller = Caller(None, WITH_USER_ID, request_id)
    path = f"/os-keypairs/{quote(name, safe='')}"
    resp = await call(ctx.pods, pod, caller, "DELETE", path, params={"user_id": keypair.user_id})
    if resp.status_code not in (202, 204, 404):
        raise CannotRepair(f"pod {pod.name} answered {resp.status_code} for keypair {name}")
