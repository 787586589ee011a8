"""Is a routing's bottom object still there? Asked of its pod with the service token.

A routing whose pod answers 404 for its bottom object is `stale`: the object
went away behind Cascade's back (deleted in the pod directly, or the pod
was rebuilt). It is marked, not dropped, so an operator sees it in the admin
API (`?status=stale`) and decides; one found again is `active` once more.
Routings still `creating` have no bottom id yet and are left as they are.
Compute kinds (servers, server groups, flavor and keypair copies) are asked of
the pod's Nova, the routed Cinder kinds (`volumes.RESOURCES`) of its Cinder.

`sweep` settles the routings of routed objects that outlived their request
(older than `[pods] timeout` times AGE_FACTOR, 5 minutes by default): a create's
intent still `creating` (its request failed or died between the intent and the
pod's answer), and a routing still `deleting` (nobody read the object after its
delete). An intent is settled by listing the project's objects of its kind in
its pod: the ones no routing knows get theirs (the create happened), and the
intent goes (if it did not happen, nothing is left behind). A `deleting` routing
goes when its pod says 404, and is `active` again when the object is there and
not being deleted (the delete did not happen: the object is shown again). A pod
that does not answer leaves its routings for the next round. It runs as a step
of the periodic health check (`health.run_periodically`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import idle, now
from cascade.db.models import Keypair, Pod, Routing
from cascade.pods import compute as pod_compute
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.services import routed
from cascade.services.compute import servers
from cascade.services.resources import BY_KIND
from cascade.services.volume import volumes
from cascade.versions import Version

LOG = logging.getLogger(__name__)

# where each kind is found in a pod's Nova, by bottom id: the routed compute resources
# and the flavors' copies
PATHS = {
    **{r.kind: f"{r.path}/{{}}" for r in servers.RESOURCES},
    "flavor": "/flavors/{}",
}
CINDER = {r.kind: r for r in volumes.RESOURCES}


class CannotTell(Exception):
    """The pod did not answer, or the kind cannot be looked up."""


def getter(
    registry: PodRegistry, pod: Pod, kind: str, request_id: str, method: str = "GET"
) -> Callable[..., Awaitable[httpx.Response]]:
    """A call (path, params) of `method` in the pod's API of `kind`, with Cascade's
    service token."""
    if kind in CINDER:
        cinder = pod_volume.Caller(None, str(max(CINDER[kind].since, Version(3, 0))), request_id)

        def in_cinder(path: str, **options: Any) -> Awaitable[httpx.Response]:
            return pod_volume.call(registry, pod, cinder, method, path, **options)

        return in_cinder
    nova = pod_compute.Caller(None, "2.10", request_id)

    def in_nova(path: str, **options: Any) -> Awaitable[httpx.Response]:
        return pod_compute.call(registry, pod, nova, method, path, **options)

    return in_nova


async def _asked(db: AsyncSession, registry: PodRegistry, routing: Routing, request_id: str) -> Any:
    """The pod's GET of the routing's bottom object, to await (no connection held by
    `db` meanwhile); CannotTell when it cannot be asked."""
    pod = await db.get(Pod, routing.pod_id)
    if pod is None:
        raise CannotTell(f"pod {routing.pod_id} is not registered")
    params: list[tuple[str, str]] | None = None
    if routing.resource_type in CINDER:
        path = f"{CINDER[routing.resource_type].path}/{routing.bottom_id}"
    elif routing.resource_type == "keypair":
        keypair = await db.get(Keypair, routing.top_id)
        if keypair is None:
            raise CannotTell(f"keypair {routing.top_id} is gone from the top")
        path = f"/os-keypairs/{routing.bottom_id}"
        params = [("user_id", keypair.user_id)]
    elif routing.resource_type in PATHS:
        path = PATHS[routing.resource_type].format(routing.bottom_id)
    else:
        raise CannotTell(f"routings of type {routing.resource_type} cannot be checked yet")
    await idle(db)
    return pod, getter(registry, pod, routing.resource_type, request_id)(path, params=params)


async def answer(pod: Pod, asked: Awaitable[httpx.Response]) -> httpx.Response:
    """The pod's answer (found, or 404); CannotTell for anything else."""
    try:
        resp = await asked
    except PodUnavailable as exc:
        raise CannotTell(str(exc)) from exc
    if not (resp.is_success or resp.status_code == 404):
        raise CannotTell(f"pod {pod.name} answered {resp.status_code}")
    return resp


async def _found(
    db: AsyncSession, registry: PodRegistry, routing: Routing, request_id: str
) -> httpx.Response:
    pod, asked = await _asked(db, registry, routing, request_id)
    return await answer(pod, asked)


async def present(
    db: AsyncSession, registry: PodRegistry, routing: Routing, request_id: str = ""
) -> bool:
    """Whether the pod has the routing's bottom object now (CannotTell: it cannot say)."""
    return (await _found(db, registry, routing, request_id)).status_code != 404


async def check(
    db: AsyncSession, registry: PodRegistry, routing: Routing, request_id: str = ""
) -> Routing:
    """Ask the pod; mark the routing `stale` (404) or `active` (found) and return it."""
    if routing.bottom_id is None or routing.status == "creating":
        return routing
    resp = await _found(db, registry, routing, request_id)
    # 404: stale; found: active, or still deleting (its delete is under way)
    status = "stale" if resp.status_code == 404 else "active"
    if status == "active" and routing.status == "deleting":
        status = "deleting"
    if status != routing.status:
        routing.status = status
        routing.updated_at = now()
        await db.commit()
    return routing


# --- the sweep of what outlived its request -----------------------------------------------

AGE_FACTOR = 10  # an intent or a delete older than this many pod timeouts outlived its request
# the kinds made through a routing intent and deleted through the routing whose pods
# list a project's objects (Nova's and Cinder's detailed lists)
SWEPT = (servers.SERVER, *(r.kind for r in volumes.LISTED.values()))


@dataclass
class Swept:
    """What a sweep settled: intents completed (objects routed) and removed, deletions
    finished and deletions undone (the object is there: `active` again)."""

    routed: int = 0
    removed: int = 0
    deleted: int = 0
    restored: int = 0


def age(registry: PodRegistry) -> timedelta:
    """How old an intent or a delete is when it has outlived any request."""
    return timedelta(seconds=AGE_FACTOR * registry.conf.timeout)


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    registry: PodRegistry,
    older_than: timedelta,
    request_id: str = "",
) -> Swept:
    """Settle the `creating` and `deleting` routings of routed objects older than
    `older_than` (see the module's docstring). No connection is held while a pod is
    asked; each settlement is its own short transaction, conditional on the routing's
    status being still what was read (a request that settled it first wins)."""
    done = Swept()
    cutoff = now() - older_than
    async with sessions() as db:
        query = select(Routing).where(
            Routing.resource_type.in_(SWEPT),
            Routing.status.in_(("creating", "deleting")),
            func.coalesce(Routing.updated_at, Routing.created_at) < cutoff,
        )
        old = list((await db.scalars(query)).all())
        # the pods of those routings only: a sweep that finds nothing (the usual case)
        # must not read 10,000 pod rows every interval
        wanted = {routing.pod_id for routing in old}
        pods = (
            {p.id: p for p in (await db.scalars(select(Pod).where(Pod.id.in_(wanted)))).all()}
            if wanted
            else {}
        )
    intents: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for routing in old:
        if routing.status == "creating":
            intents[(routing.resource_type, routing.pod_id, routing.project_id)].append(routing.id)
    for (kind, pod_id, project), ids in intents.items():
        pod = pods.get(pod_id)
        if pod is None:
            continue
        try:
            listed = await _listed(registry, pod, kind, project, request_id)
        except CannotTell as exc:
            LOG.info("sweep: %s intents in pod %s wait: %s", kind, pod.name, exc)
            continue
        async with sessions() as db:
            known = await _routed_ids(db, kind, listed)
            await routed.heal(db, kind, [(i, pod.id, project) for i in listed])
            done.routed += len(set(listed) - known)
            gone = delete(Routing).where(Routing.id.in_(ids), Routing.status == "creating")
            done.removed += (await db.execute(gone)).rowcount  # type: ignore[attr-defined]
            await db.commit()
    for routing in old:
        if routing.status == "deleting" and routing.pod_id in pods:
            await _settle_delete(sessions, registry, routing, request_id, done)
    if old:
        LOG.info("sweep: %s", done)
    return done


async def _routed_ids(db: AsyncSession, kind: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    query = select(Routing.top_id).where(Routing.resource_type == kind, Routing.top_id.in_(ids))
    return set((await db.scalars(query)).all())


async def _listed(
    registry: PodRegistry, pod: Pod, kind: str, project: str, request_id: str
) -> list[str]:
    """The ids of the project's objects of `kind` in `pod` (every page's, as an admin)."""
    owner = BY_KIND[kind].owner or "tenant_id"
    return [
        str(o["id"])
        for o in await listed(registry, pod, kind, request_id, project)
        if o.get(owner, project) == project and o.get("id")
    ]


async def listed(
    registry: PodRegistry,
    pod: Pod,
    kind: str,
    request_id: str,
    project: str | None = None,
    page_size: int = 1000,
    pace: float = 0.0,
) -> list[dict[str, Any]]:
    """The pod's objects of routed `kind` (detailed, every page's, as an admin): of one
    project, or of every project (None); after each page, a pause of `pace` times what
    the page took. CannotTell when the pod does not list them."""
    resource = BY_KIND[kind]
    get = getter(registry, pod, kind, request_id)
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {"all_tenants": "1", "limit": str(page_size)}
    if project is not None:
        params["project_id"] = project
    while True:
        asked = time.monotonic()
        resp = await answer(pod, get(f"{resource.path}/detail", params=params))
        await asyncio.sleep((time.monotonic() - asked) * pace)
        try:
            page = resp.json()[resource.collection]
        except (ValueError, KeyError, TypeError):
            raise CannotTell(f"pod {pod.name} did not list its {resource.collection}") from None
        found += [o for o in page if isinstance(o, dict)]
        if len(page) < page_size or not isinstance(page[-1], dict):
            return found
        params["marker"] = str(page[-1].get("id"))


async def _settle_delete(
    sessions: async_sessionmaker[AsyncSession],
    registry: PodRegistry,
    routing: Routing,
    request_id: str,
    done: Swept,
) -> None:
    """A `deleting` routing whose object the pod no longer has goes; one whose object
    is there and not being deleted is `active` again."""
    async with sessions() as db:
        try:
            pod, asked = await _asked(db, registry, routing, request_id)
            resp = await answer(pod, asked)
        except CannotTell as exc:
            LOG.info("sweep: routing %s waits: %s", routing.id, exc)
            return
        still = Routing.id == routing.id, Routing.status == "deleting"
        if resp.status_code == 404:
            done.deleted += (await db.execute(delete(Routing).where(*still))).rowcount  # type: ignore[attr-defined]
        elif not _being_deleted(resp, routing.resource_type):
            back = update(Routing).where(*still).values(status="active", updated_at=now())
            done.restored += (await db.execute(back)).rowcount  # type: ignore[attr-defined]
        await db.commit()


def _being_deleted(resp: httpx.Response, kind: str) -> bool:
    """Whether the pod's object says its delete is under way."""
    try:
        found = resp.json().get(BY_KIND[kind].key)
    except (ValueError, AttributeError):
        return True  # cannot tell: leave it
    if not isinstance(found, dict):
        return True
    status = str(found.get("status", "")).lower()
    return status == "deleting" or found.get("OS-EXT-STS:task_state") == "deleting"
