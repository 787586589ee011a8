"""Servers: which pod holds each one (no HTTP types here).

A server's id is the one its pod's Nova gave it, so the top id and the
bottom id are the same and the routing row says which pod it is in. The
routing is written twice: as an intent before the pod is asked (keyed by the
request id, status `creating`), and with the server's id once the pod
answered. A routing that is missing (a crash between the two, or servers of
a multiple create the pod has not listed yet) is found again by asking the
pods for the id with the caller's own token, and written then.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Flavor, Pod, Routing
from cascade.pods import fanout
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, call
from cascade.pods.registry import PodRegistry
from cascade.services import routings
from cascade.services.route_cache import RouteCache

LOG = logging.getLogger(__name__)
SERVER = "server"
SERVER_GROUP = "server_group"
# what each routed compute resource is called in the pods' API: path and body key
PATHS = {SERVER: ("/servers", "server"), SERVER_GROUP: ("/os-server-groups", "server_group")}


class ServerNotFound(Exception):
    pass


@dataclass(frozen=True)
class Located:
    pod: Pod
    routing: Routing


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def pods_by_id(db: AsyncSession) -> dict[str, Pod]:
    return {p.id: p for p in (await db.scalars(select(Pod))).all()}


# asks one pod for an object by id: its body, or None when the pod does not show it
Ask = Callable[[Pod], Awaitable[dict[str, Any] | None]]


async def locate(
    db: AsyncSession,
    registry: PodRegistry,
    caller: Caller | None,
    server_id: str,
    project_id: str | None,
    kind: str = SERVER,
    ask: Ask | None = None,
    service: str = "compute",
) -> Located:
    """The pod of `server_id` (a server, or a `kind` routed the same way) for a caller of
    `project_id` (None: an admin, any project).

    Another project's server is not found, without asking any pod. Without a
    routing, the pods are asked (in parallel within the list deadline, with the
    caller's token; `ask` asks one pod of `service` for objects of other services):
    the one that shows the server gets its routing written now.
    """
    # one round trip: the routing with its pod
    row = (
        await db.execute(
            select(Routing, Pod)
            .join(Pod, Pod.id == Routing.pod_id)
            .where(Routing.resource_type == kind, Routing.top_id == server_id)
        )
    ).first()
    if row is not None:
        routing, pod = row
        if project_id is not None and routing.project_id != project_id:
            raise ServerNotFound(server_id)
        if routing.status == "active":
            registry.cache(RouteCache).put(kind, server_id, pod.id, routing.project_id)
        return Located(pod, routing)
    found = await _ask_pods(db, registry, caller, server_id, kind, ask, service)
    if found is None:
        raise ServerNotFound(server_id)
    pod, body = found
    owner = str(body.get("tenant_id", body.get("project_id", "")))
    if project_id is not None and owner and owner != project_id:
        raise ServerNotFound(server_id)  # an admin-visible object shown to a member: no
    routing = await record(db, server_id, pod.id, owner, kind=kind)
    return Located(pod, routing)


async def _ask_pods(
    db: AsyncSession,
    registry: PodRegistry,
    caller: Caller | None,
    server_id: str,
    kind: str,
    ask: Ask | None,
    service: str,
) -> tuple[Pod, dict[str, Any]] | None:
    pods = list((await pods_by_id(db)).values())
    ask_one = ask or _compute_ask(registry, caller, server_id, kind)
    found = await fanout.gather(registry, service, pods, ask_one)
    for pod, body in found.answers:
        if body is not None:
            return pod, body
    return None


def _compute_ask(registry: PodRegistry, caller: Caller | None, server_id: str, kind: str) -> Ask:
    path, key = PATHS[kind]
    if caller is None:
        raise ValueError("compute lookups are made for a caller")
    who: Caller = caller

    async def ask(pod: Pod) -> dict[str, Any] | None:
        try:
            resp = await call(registry, pod, who, "GET", f"{path}/{server_id}")
        except PodUnavailable:
            return None
        if resp.status_code != 200:
            return None
        server = resp.json().get(key)
        return server if isinstance(server, dict) else None

    return ask


async def intent(db: AsyncSession, request_id: str, pod: Pod, project_id: str) -> Routing:
    """Written before a create is sent to the pod: what is in flight, and where."""
    return await routings.record_intent(db, SERVER, request_id, pod.id, project_id)


async def record(
    db: AsyncSession,
    server_id: str,
    pod_id: str,
    project_id: str,
    intent_row: Routing | None = None,
    kind: str = SERVER,
) -> Routing:
    """The routing of a server (or `kind`) the pod created: the intent row completed,
    or a new row."""
    existing = await db.scalar(
        select(Routing).where(Routing.resource_type == kind, Routing.top_id == server_id)
    )
    if existing is not None:
        return existing
    row = intent_row
    if row is None:
        row = Routing(
            id=str(uuid.uuid4()),
            resource_type=kind,
            pod_id=pod_id,
            project_id=project_id,
            created_at=_now(),
        )
        db.add(row)
    row.top_id = server_id
    row.bottom_id = server_id
    row.status = "active"
    row.updated_at = _now()
    try:
        await db.commit()
    except IntegrityError:
        # a concurrent request (a list healing the same server) wrote it first
        await db.rollback()
        found = await db.scalar(
            select(Routing).where(Routing.resource_type == kind, Routing.top_id == server_id)
        )
        if found is None:
            raise
        if intent_row is not None:
            await forget_intent(db, intent_row)  # its server is routed by the other row
        return found
    return row


async def forget_intent(db: AsyncSession, row: Routing) -> None:
    """The pod refused the create: nothing was made, the intent goes."""
    await db.delete(row)
    await db.commit()


async def mark(
    db: AsyncSession, routing: Routing, status: str, routes: RouteCache | None = None
) -> None:
    """Set the routing's status; it leaves the reads-by-id memory (`routes`) unless active."""
    if routes is not None and status != "active":
        routes.drop(routing.resource_type, routing.top_id)
    routing.status = status
    routing.updated_at = _now()
    await db.commit()


async def gone(
    db: AsyncSession, routing: Routing, pod: Pod, routes: RouteCache | None = None
) -> None:
    """The pod says the server does not exist: expected after a delete (the routing
    goes); otherwise the routing is stale and kept, marked, for an operator to see."""
    if routes is not None:
        routes.drop(routing.resource_type, routing.top_id)
    if routing.status == "deleting":
        await db.delete(routing)
        await db.commit()
        return
    if routing.status != "stale":
        LOG.warning(
            "routing %s: server %s is gone from pod %s; marked stale",
            routing.id,
            routing.top_id,
            pod.name,
        )
        await mark(db, routing, "stale", routes)


async def routed_in(db: AsyncSession, pod_ids: list[str], project_id: str | None) -> list[Routing]:
    """Servers the routing table knows in these pods (for down-pod stubs)."""
    query = select(Routing).where(
        Routing.resource_type == SERVER,
        Routing.pod_id.in_(pod_ids),
        Routing.status.in_(("active", "stale")),
    )
    if project_id is not None:
        query = query.where(Routing.project_id == project_id)
    return list((await db.scalars(query)).all())


FLAVOR_NAMES_SECONDS = 5.0


class FlavorNames(dict[str, tuple[dict[str, tuple[str, str]], float]]):
    """Pod id -> its flavor copies' names at the top (see `flavor_names`) and until when
    they are trusted."""


def remembered_flavor_names(
    registry: PodRegistry, pod_id: str
) -> dict[str, tuple[str, str]] | None:
    """`flavor_names` as last read for the pod, while still fresh; None otherwise."""
    cached = registry.cache(FlavorNames).get(pod_id)
    if cached is not None and time.monotonic() < cached[1]:
        return cached[0]
    return None


async def flavor_names(
    db: AsyncSession, pod_id: str, registry: PodRegistry | None = None
) -> dict[str, tuple[str, str]]:
    """bottom flavor id and bottom name -> (top id, top name), for the pod's copies.

    With `registry`, kept there for FLAVOR_NAMES_SECONDS (every server shown needs it;
    a copy made by this process drops it at once, one made by another shows the
    pod's name for at most that long).
    """
    if registry is not None:
        cached = remembered_flavor_names(registry, pod_id)
        if cached is not None:
            return cached
        fresh = await flavor_names(db, pod_id)
        registry.cache(FlavorNames)[pod_id] = (fresh, time.monotonic() + FLAVOR_NAMES_SECONDS)
        return fresh
    rows = (
        await db.execute(
            select(Routing.bottom_id, Flavor.id, Flavor.name)
            .join(Flavor, Flavor.id == Routing.top_id)
            .where(Routing.resource_type == "flavor", Routing.pod_id == pod_id)
        )
    ).all()
    found: dict[str, tuple[str, str]] = {}
    for bottom_id, top_id, name in rows:
        if bottom_id:
            found[str(bottom_id)] = (top_id, name)
        found[f"cascade-{top_id}"] = (top_id, name)
    return found
