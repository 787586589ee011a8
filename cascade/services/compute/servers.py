"""Servers and server groups: routed by id as every object of one pod is (`routed`),
looked up in the pods' Novas; and the names the pods' flavor copies stand for
(no HTTP types here)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import idle
from cascade.db.models import Flavor, Pod, RetiredFlavor, Routing
from cascade.pods import fanout
from cascade.pods.compute import Caller, call
from cascade.pods.registry import PodRegistry
from cascade.services import routed
from cascade.services.remembered import Remembered
from cascade.services.resources import Resource, described
from cascade.services.route_cache import RouteCache

LOG = logging.getLogger(__name__)
SERVER = "server"
SERVER_GROUP = "server_group"
# the routed compute resources (their routes are `api/compute/routes.py`'s)
RESOURCES = (
    Resource(SERVER, "servers", "server", "Instance {id} could not be found."),
    Resource(
        SERVER_GROUP, "os-server-groups", "server_group", "Server group {id} could not be found."
    ),
)
described(RESOURCES)


async def locate(
    db: AsyncSession,
    registry: PodRegistry,
    caller: Caller,
    server_id: str,
    project_id: str | None,
    kind: str = SERVER,
) -> routed.Located:
    """The pod of a server (or server group) for a caller of `project_id` (None: an
    admin): `routed.locate`, asking the pods' Novas with the caller's token."""
    ask = ask_pod(registry, caller, server_id, kind)
    return await routed.locate(db, registry, server_id, project_id, kind, ask, "compute")


def ask_pod(registry: PodRegistry, caller: Caller, server_id: str, kind: str) -> routed.Ask:
    """A read of the object from one pod: its body, or None when that pod does not show it
    (down, or any answer but 200)."""

    async def send(pod: Pod, path: str) -> httpx.Response:
        return await call(registry, pod, caller, "GET", path)

    return routed.reader(send, kind, server_id)


async def unrouted_answer(
    db: AsyncSession,
    registry: PodRegistry,
    caller: Caller,
    path: str,
    params: list[tuple[str, str]],
) -> tuple[Pod, httpx.Response] | None:
    """The first pod (in pod order) whose Nova answers GET `path` of a server the top does
    not route other than 404, with its answer; None when every pod that answered said 404.

    For what Nova still serves of a deleted server (its instance actions, from 2.21),
    whose routing went with it: every pod is asked with the caller's token, so the
    pod's own rules say who may see them. Nothing is recorded, so the server itself
    stays gone."""
    pods = (await db.scalars(select(Pod).order_by(Pod.created_at, Pod.id))).all()
    await idle(db)  # no database connection held while the pods are asked

    async def ask(pod: Pod) -> httpx.Response:
        return await call(registry, pod, caller, "GET", path, params=params)

    asked = await fanout.gather(registry, "compute", pods, ask)
    return next(((pod, resp) for pod, resp in asked.answers if resp.status_code != 404), None)


async def heal(
    db: AsyncSession,
    kind: str,
    listed: list[tuple[Pod, dict[str, Any]]],
    remember: RouteCache | None = None,
) -> None:
    """Compute objects listed without a routing get one, in their owner's project (see
    `routed.heal` for `remember`)."""
    owners = [
        (str(i["id"]), p.id, str(i.get("tenant_id", i.get("project_id", "")))) for p, i in listed
    ]
    await routed.heal(db, kind, owners, remember)


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
FLAVOR_NAMES_STALE_SECONDS = 60.0  # older than this (the pod unused): read inline


class FlavorNames(Remembered[str, dict[str, tuple[str, str]]]):
    """Pod id -> its flavor copies' names at the top (see `flavor_names`)."""

    def __init__(self) -> None:
        super().__init__(FLAVOR_NAMES_SECONDS, FLAVOR_NAMES_STALE_SECONDS)


async def flavor_names(
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncSession | None,
    pod_id: str,
    registry: PodRegistry,
) -> dict[str, tuple[str, str]]:
    """bottom flavor id and bottom name -> (top id, top name), for the pod's copies, as
    `registry` keeps them: read again in the background once FLAVOR_NAMES_SECONDS old
    (every server shown needs them; a copy made by this process drops them at once, one
    made by another shows the pod's name for that long, and one request more). Read on
    `db` when the request has one (it may hold the copy it just made), on a session of
    their own in the background."""

    async def read_on(on: AsyncSession) -> dict[str, tuple[str, str]]:
        return (await _flavor_names_of(on, [pod_id]))[pod_id]

    async def again() -> dict[str, tuple[str, str]]:
        async with sessions() as fresh:
            return await read_on(fresh)

    async def read() -> dict[str, tuple[str, str]]:
        return await read_on(db) if db is not None else await again()

    return await registry.cache(FlavorNames).get(pod_id, read, again)


async def remember_flavor_names(
    db: AsyncSession, registry: PodRegistry, pod_ids: list[str]
) -> dict[str, dict[str, tuple[str, str]]]:
    """`flavor_names` of every pod of `pod_ids`: those not fresh in `registry` read in
    one go (a page merged from 1,000 pods needs them all) and kept there."""
    return await registry.cache(FlavorNames).many(
        pod_ids, lambda missing: _flavor_names_of(db, missing), {}
    )


async def _flavor_names_of(
    db: AsyncSession, pod_ids: list[str]
) -> dict[str, dict[str, tuple[str, str]]]:
    """Pod id -> `flavor_names` of that pod, for every pod of `pod_ids`."""
    live = (
        select(Routing.pod_id, Routing.bottom_id, Flavor.id, Flavor.name)
        .join(Flavor, Flavor.id == Routing.top_id)
        .where(Routing.resource_type == "flavor", Routing.pod_id.in_(pod_ids))
    )
    # copies of deleted flavors: their servers still show them, as Nova's embed them
    retired = (
        select(Routing.pod_id, Routing.bottom_id, RetiredFlavor.id, RetiredFlavor.name)
        .join(RetiredFlavor, RetiredFlavor.id == Routing.top_id)
        .where(Routing.resource_type == "flavor-retired", Routing.pod_id.in_(pod_ids))
    )
    found: dict[str, dict[str, tuple[str, str]]] = {pod_id: {} for pod_id in pod_ids}
    # retired first, so that a live flavor of the same id wins its copy's name
    for rows in ((await db.execute(retired)).all(), (await db.execute(live)).all()):
        for pod_id, bottom_id, top_id, name in rows:
            names = found[pod_id]
            if bottom_id:
                names[str(bottom_id)] = (top_id, name)
            names[f"cascade-{top_id}"] = (top_id, name)
    return found
