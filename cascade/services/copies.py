"""Copies of top-owned objects in the pods: one protocol for every kind (no HTTP types).

Flavors, keypairs, volume types, QoS specs, group types and networking's objects
(`network.materialise`) are owned by the top; a pod gets a copy of one the first time
something there needs it. What differs per kind is a `Kind`; `ensure` is the same for
all: the copy's routing (resource type = the kind, project "" unless given) is written
as an intent before anything is made, so a retry after a crash adopts the copy it finds
by name instead of making a duplicate (in Neutron, which allows duplicate names, only
one request makes it: `claim`).
`copies` / `each_copy` reach every pod's copy of one top object. Nova and Cinder calls
go through `PodAPI.send`: a status the caller did not expect is the kind's `PodRefused`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Generic, Protocol, TypeVar, Unpack

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.engine import idle
from cascade.db.engine import now as now
from cascade.db.models import Pod, Routing
from cascade.pods import client
from cascade.pods.compute import PodRefused, pod_message
from cascade.pods.network import PodNeutron
from cascade.pods.registry import PodRegistry
from cascade.services import routed, routings

LOG = logging.getLogger(__name__)
PREFIX = "cascade-"  # copies named after the top id: the top's name may clash in a pod
WAIT_SECONDS = 30.0  # how long `claim` waits for a concurrent request's make

C = TypeVar("C", bound=client.Caller)
C_in = TypeVar("C_in", bound=client.Caller, contravariant=True)
A = TypeVar("A", "PodAPI[Any]", PodNeutron)  # a kind's pod API: Nova's or Cinder's, Neutron's
A_in = TypeVar("A_in", "PodAPI[Any]", PodNeutron, contravariant=True)
T = TypeVar("T")
T_in = TypeVar("T_in", contravariant=True)
R = TypeVar("R")


class Call(Protocol[C_in]):
    """A service's pod call (`pods.compute.call`, `pods.volume.call`)."""

    def __call__(
        self,
        registry: PodRegistry,
        pod: Pod,
        caller: C_in,
        method: str,
        path: str,
        **options: Unpack[client.CallOptions],
    ) -> Awaitable[httpx.Response]: ...


@dataclasses.dataclass
class PodAPI(Generic[C]):
    """Calls to one pod's service for `caller` (Cascade itself when it has no token)."""

    registry: PodRegistry
    pod: Pod
    caller: C
    call: Call[C]
    refused: type[PodRefused]

    async def send(
        self, method: str, path: str, ok: Collection[int], **options: Unpack[client.CallOptions]
    ) -> httpx.Response:
        """The pod's answer if its status is in `ok`, else the kind's `PodRefused`."""
        resp = await self.call(self.registry, self.pod, self.caller, method, path, **options)
        if resp.status_code not in ok:
            raise self.refused(self.pod.name, resp.status_code, pod_message(resp))
        return resp

    def as_(self, caller: C) -> PodAPI[C]:
        return dataclasses.replace(self, caller=caller)


class Kind(Protocol[T_in, A_in]):
    """How one kind of top object is copied into a pod."""

    resource: str  # the routings' resource type

    def name(self, top: T_in) -> str:
        """The copy's name in every pod."""

    async def find(self, api: A_in, top: T_in) -> dict[str, Any] | None:
        """The pod's object of the copy's name, if there is one."""

    def same(self, copy: dict[str, Any], top: T_in) -> bool:
        """Whether a found copy can be the top's (what cannot change after a create)."""

    async def create(self, api: A_in, top: T_in) -> dict[str, Any] | None:
        """Make the copy; None when the pod says its name is taken (made meanwhile)."""

    async def converge(self, api: A_in, top: T_in, copy: dict[str, Any], fresh: bool) -> None:
        """Bring the copy in line with the top (`fresh`: just made from the top)."""

    async def remove(self, api: A_in, bottom_id: str) -> None:
        """Delete a copy (gone already counts as done)."""

    def bottom_id(self, copy: dict[str, Any]) -> str:
        """The pod's id of a copy (what the routing keeps)."""


async def routing_of(
    db: AsyncSession, resource: str, top_id: str, pod: Pod, project: str = ""
) -> Routing:
    """The copy's routing in `pod`, written now as an intent if there is none (or the one
    a concurrent request wrote first)."""
    found = await routings.find(db, resource, top_id, pod.id)
    if found is None:
        try:
            found = await routings.record_intent(db, resource, top_id, pod.id, project)
        except IntegrityError:  # the unique (resource_type, top_id, pod_id) is taken
            await db.rollback()
            found = await routings.find(db, resource, top_id, pod.id)
            assert found is not None
    return found


async def reread(db: AsyncSession, resource: str, top_id: str, pod_id: str) -> Routing | None:
    """The copy's routing as the database has it now (not as `db` loaded it before)."""
    query = select(Routing).filter_by(resource_type=resource, top_id=top_id, pod_id=pod_id)
    found: Routing | None = await db.scalar(query.execution_options(populate_existing=True))
    return found


async def claim(
    db: AsyncSession, resource: str, top_id: str, pod: Pod, project: str = ""
) -> Routing:
    """The copy's routing once it is active or this request is to make the copy. The
    intent is written on a session of its own (a lost race rolls back only there, not what
    `db` has loaded); a concurrent request's is waited for until active, and taken over
    after WAIT_SECONDS (its maker died: the name finds what it made)."""
    while True:
        routing = await reread(db, resource, top_id, pod.id)
        if routing is None:
            try:
                async with AsyncSession(db.bind, expire_on_commit=False) as side:
                    await routings.record_intent(side, resource, top_id, pod.id, project)
            except IntegrityError:
                continue  # a concurrent request wrote it first: wait for that one
            routing = await reread(db, resource, top_id, pod.id)
            assert routing is not None
            return routing
        waited = (now() - routing.created_at).total_seconds()
        if (routing.status == "active" and routing.bottom_id) or waited > WAIT_SECONDS:
            return routing
        await asyncio.sleep(0.2)


async def activate(db: AsyncSession, routing: Routing, bottom_id: str) -> None:
    routing = await db.merge(routing)
    routing.bottom_id = bottom_id
    routing.status = "active"
    routing.updated_at = now()
    await db.commit()


async def adopt_or_make(api: A, kind: Kind[T, A], top: T) -> str:
    """The pod's id of the copy of `top`: found by name and converged, or made now (a
    leftover `Kind.same` refuses is replaced; a create that lost a race adopts)."""
    for _ in range(2):  # a second round only after losing a race to make it
        copy = await kind.find(api, top)
        if copy is not None and not kind.same(copy, top):
            LOG.warning(
                "pod %s: %s %s (%s), a leftover unlike the top's, is replaced",
                api.pod.name,
                kind.resource,
                kind.bottom_id(copy),
                kind.name(top),
            )
            await kind.remove(api, kind.bottom_id(copy))
            copy = None
        if copy is not None:
            await kind.converge(api, top, copy, fresh=False)
            return kind.bottom_id(copy)
        made = await kind.create(api, top)
        if made is not None:
            await kind.converge(api, top, made, fresh=True)
            return kind.bottom_id(made)
    raise api.refused(api.pod.name, 409, f"{kind.name(top)} exists and cannot be adopted")


async def ensure(
    db: AsyncSession, api: A, kind: Kind[T, A], top: T, top_id: str, project: str = ""
) -> str:
    """The pod's id of its copy of `top` (top id `top_id`), made or adopted now if the
    routing (of `project`) is not active yet: in a pod's Neutron, which allows duplicate
    names, by the one request that `claim`s it."""
    find = claim if isinstance(api, PodNeutron) else routing_of
    routing = await find(db, kind.resource, top_id, api.pod, project)
    if routing.bottom_id and routing.status == "active":
        return routing.bottom_id
    await idle(db)  # no database connection held while the pod makes the copy
    try:
        bottom = await adopt_or_make(api, kind, top)
    except client.PodUnavailable as exc:
        if not exc.sent and not routing.bottom_id:  # nothing was asked of the pod
            await routed.forget_intent(db, routing)
        raise
    await activate(db, routing, bottom)
    return bottom


async def copies(
    db: AsyncSession, resource: str, top_id: str, intents: bool = False
) -> list[Routing]:
    """The routings of every pod's copy of one top object (with a bottom id; `intents`:
    also those of copies that may be half made)."""
    query = select(Routing).where(Routing.resource_type == resource, Routing.top_id == top_id)
    if not intents:
        query = query.where(Routing.bottom_id.is_not(None))
    return list((await db.scalars(query)).all())


async def in_pods(
    db: AsyncSession, resource: str, top_id: str, intents: bool = False
) -> list[tuple[Routing, Pod]]:
    """`copies` whose pod still exists, each with its pod."""
    return [
        (routing, pod)
        for routing in await copies(db, resource, top_id, intents)
        if (pod := await db.get(Pod, routing.pod_id)) is not None
    ]


async def each_copy(
    db: AsyncSession,
    resource: str,
    top_id: str,
    work: Callable[[Pod, Routing], Awaitable[R]],
    parallel: bool = False,
    intents: bool = False,
) -> list[tuple[Routing, R | BaseException]]:
    """`work` on every copy whose pod still exists: in parallel (then each failure is
    returned, not raised; `work` must not use `db`) or one after another (the first
    failure is raised)."""
    found = await in_pods(db, resource, top_id, intents)
    if not parallel:
        return [(routing, await work(pod, routing)) for routing, pod in found]
    results = await asyncio.gather(
        *(work(pod, routing) for routing, pod in found), return_exceptions=True
    )
    return list(zip((routing for routing, _ in found), results, strict=True))
