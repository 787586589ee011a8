"""Objects that live in one pod each, routed by id (no HTTP types here): intent, record,
locate, forget, mark, gone. Servers, server groups, volumes, snapshots, backups,
attachments, groups, group snapshots and transfers all go through it.

An object's id is the one its pod gave it, so the top id and the bottom id are
the same and the routing row says which pod it is in. The routing is written
twice: as an intent before the pod is asked (keyed by the request id, status
`creating`), and with the object's id once the pod answered. A routing that is
missing (a crash between the two, or objects the pod made on its own) is found
again by asking the pods for the id with the caller's own token (an admin's: every
pod; a member's: the pods its project has objects of that kind in or is bound to,
so an unknown id costs what the project uses, not every pod), and written then. A
pod's 404 for a routed object removes a routing being deleted and marks any other
`stale`, for an operator to see.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import case, delete, func, literal, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.engine import idle, now
from cascade.db.models import Binding, Pod, Routing
from cascade.pods import fanout
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.services import routings
from cascade.services.resources import BY_KIND
from cascade.services.route_cache import RouteCache

LOG = logging.getLogger(__name__)


class NotFound(Exception):
    """No routing, and no pod shows the object (or it is another project's)."""


@dataclass(frozen=True)
class Located:
    pod: Pod
    routing: Routing


# asks one pod for an object by id: its body, or None when the pod does not show it
Ask = Callable[[Pod], Awaitable[dict[str, Any] | None]]


def reader(send: Callable[[Pod, str], Awaitable[httpx.Response]], kind: str, top_id: str) -> Ask:
    """A read of object `top_id` of `kind` from one pod, `send(pod, path)` being the GET in
    that pod's API: its body, or None when that pod does not show it (down, or any answer
    but 200)."""
    path, key = BY_KIND[kind].path, BY_KIND[kind].key

    async def ask(pod: Pod) -> dict[str, Any] | None:
        try:
            resp = await send(pod, f"{path}/{top_id}")
        except PodUnavailable:
            return None
        found = resp.json().get(key) if resp.status_code == 200 else None
        return found if isinstance(found, dict) else None

    return ask


async def locate(
    db: AsyncSession,
    registry: PodRegistry,
    object_id: str,
    project_id: str | None,
    kind: str,
    ask: Ask,
    service: str,
) -> Located:
    """The pod of `object_id` (of `kind`) for a caller of `project_id` (None: an admin,
    any project).

    Another project's object is not found, without asking any pod. Without a
    routing, the pods that may hold it (`candidate_pods`) are asked (`ask`: in
    parallel within the list deadline, with the caller's token): the one that shows
    the object gets its routing written now.
    """
    # one round trip: the routing with its pod
    row = (
        await db.execute(
            select(Routing, Pod)
            .join(Pod, Pod.id == Routing.pod_id)
            .where(Routing.resource_type == kind, Routing.top_id == object_id)
        )
    ).first()
    if row is not None:
        routing, pod = row
        if project_id is not None and routing.project_id != project_id:
            raise NotFound(object_id)
        if routing.status == "active" and routing.bottom_id in (None, object_id):
            # (one moved from another pod has another id there: never the fast path's)
            registry.cache(RouteCache).put(kind, object_id, pod.id, routing.project_id)
        return Located(pod, routing)
    pods = await candidate_pods(db, project_id, kind)
    await idle(db)  # no database connection held while the pods are asked
    asked = await fanout.gather(registry, service, pods, ask)
    found = next(((pod, body) for pod, body in asked.answers if body is not None), None)
    if found is None:
        raise NotFound(object_id)
    pod, body = found
    (owner,) = await owners(db, kind, [body])
    owner = owner or str(body.get("tenant_id", body.get("project_id", "")))
    if project_id is not None and owner and owner != project_id:
        raise NotFound(object_id)  # an admin-visible object shown to a member: no
    routing = await record(db, object_id, pod.id, owner, kind=kind)
    return Located(pod, routing)


async def candidate_pods(db: AsyncSession, project_id: str | None, kind: str | None) -> list[Pod]:
    """The pods that may hold an object of `kind` (None: of any kind) of `project_id`
    (None: any project, every pod): those where its routings of that kind are (intents
    included), and those it is bound to (where it works, objects made in the pod
    directly may be), in the order pods were registered."""
    query = select(Pod).order_by(Pod.created_at, Pod.id)
    if project_id is not None:
        routed = select(Routing.pod_id).where(Routing.project_id == project_id)
        if kind is not None:
            routed = routed.where(Routing.resource_type == kind)
        bound = select(Binding.pod_id).where(Binding.project_id == project_id)
        query = query.where(or_(Pod.id.in_(routed), Pod.id.in_(bound)))
    return list((await db.scalars(query)).all())


# how much older than the page's last routing a routing may be and still stand for an
# object the pod made after that one: a routing is written before its create is sent
# (the pod stamps the object up to `[pods] timeout` later) and the pods' clocks may
# differ from the top's by a little
NEWEST_MARGIN = timedelta(minutes=5)


@dataclass
class Newest:
    """A project's pods split for its first page in the default order (`newest_pods`):
    those to ask, those known to hold nothing of it, and how many items to ask of each
    pod whose share the routing table knows (pod id -> items; the others: the list's
    own batch)."""

    asked: list[Pod]
    untouched: list[Pod]
    batches: dict[str, int]


def newest_batch(routed: int) -> int:
    """Items to ask of a pod that holds `routed` of the page's newest objects by the
    routing table: those, a tenth more and two (a pod that has more after them is read
    on when the merge reaches the end of its batch: a guess too small costs a round trip,
    never an item)."""
    return routed + routed // 10 + 2


async def newest_pods(
    db: AsyncSession, project_id: str, kind: str, count: int, pods: list[Pod]
) -> Newest:
    """`pods` (a project's candidates) split into those that may hold one of its `count`
    newest objects of `kind` and those that cannot, with a batch for each of the former
    whose routings say how many it holds.

    By the routing table: the creation time of its `count`-th newest routing of the
    project and kind, less NEWEST_MARGIN, is the cut; a pod with a routing of the
    project (of any kind) as new as that may hold one, as may a pod the project is
    bound to (objects made there directly have no routing until a list finds them).
    A pod not bound whose routings of `kind` newer than the cut are N is asked for
    `newest_batch(N)` items rather than the list's share of the page: at 1,000 pods
    each holding one of a page of 1,000, a few each rather than 100. With `count`
    routings or fewer, every candidate may hold one, in any number. Only for the
    default order (creation time, newest first) and no filter; an object moved to
    another pod must have its routing's time renewed."""
    if count <= 0:
        return Newest(pods, [], {})
    routed = (Routing.project_id == project_id, Routing.resource_type == kind)
    last = (
        await db.execute(
            select(Routing.created_at)
            .where(*routed)
            .order_by(Routing.created_at.desc())
            .offset(count - 1)
            .limit(1)
        )
    ).scalar()
    if last is None:
        return Newest(pods, [], {})
    cut = last - NEWEST_MARGIN
    # one round trip: each pod with a routing of the project (of any kind) as new as the
    # cut, with how many of them are of `kind` (a pod with a recent routing of another
    # kind may hold an object it made itself, a volume Nova created to boot a server
    # from, which has no routing until a list finds it); and the pods it is bound to (-1)
    recent = (
        select(Routing.pod_id, func.sum(case((Routing.resource_type == kind, 1), else_=0)))
        .where(Routing.project_id == project_id, Routing.created_at >= cut)
        .group_by(Routing.pod_id)
    )
    bound_rows = select(Binding.pod_id, literal(-1)).where(Binding.project_id == project_id)
    rows = (await db.execute(recent.union_all(bound_rows))).all()
    bound = {str(pod_id) for pod_id, n in rows if n == -1}
    wanted = {str(pod_id) for pod_id, _ in rows}
    batches = {
        str(pod_id): newest_batch(int(n))
        for pod_id, n in rows
        if n is not None and n > 0 and pod_id not in bound
    }
    return Newest(
        [p for p in pods if p.id in wanted], [p for p in pods if p.id not in wanted], batches
    )


async def owner(db: AsyncSession, kind: str, object_id: str) -> str | None:
    """The project of a routed object whoever asks (None: the top knows no such object),
    for the few answers a service gives before it looks at who owns the object."""
    query = select(Routing.project_id).where(
        Routing.resource_type == kind, Routing.top_id == object_id
    )
    found: str | None = (await db.execute(query.limit(1))).scalar()
    return found


async def owners(db: AsyncSession, kind: str, views: list[Any]) -> list[str | None]:
    """The project that owns each object of `kind` (its pod's view, or a create's body at
    its key) where its parent's project owns it (`Parent.owns`): the project of the
    parent's routing. None where that does not decide it (another kind, no parent
    named, a parent without a routing): the caller's rule applies. One rule for every
    routing of such objects, written at a create, found again, or healed from a list."""
    parent = BY_KIND[kind].parent if kind in BY_KIND else None
    if parent is None or not parent.owns:
        return [None for _ in views]
    ids = [
        str(view.get(parent.owns) or view.get(parent.field) or "") if isinstance(view, dict) else ""
        for view in views
    ]
    wanted = sorted({i for i in ids if i})
    found: dict[str, str] = {}
    if wanted:
        query = select(Routing.top_id, Routing.project_id).where(
            Routing.resource_type == parent.kind, Routing.top_id.in_(wanted)
        )
        found = {str(top_id): str(project) for top_id, project in (await db.execute(query)).all()}
    return [found.get(i) for i in ids]


async def intent(
    db: AsyncSession,
    kind: str,
    request_id: str,
    pod: Pod,
    project_id: str,
    reserved: Mapping[str, int] | None = None,
) -> Routing:
    """Written (and committed) before a create is sent to the pod: what is in flight,
    where, and what it holds of the project's quota (`reserved`) until completed."""
    return await routings.record_intent(db, kind, request_id, pod.id, project_id, reserved)


async def heal(
    db: AsyncSession,
    kind: str,
    listed: list[tuple[str, str, str]],
    remember: RouteCache | None = None,
) -> None:
    """Objects of `kind` listed by their pods without a routing get one (made in a pod
    directly, or a crash between a create and its routing): `(id, pod id, project)`.
    With `remember`, the active routings of what was listed are put there (a list is
    often followed by GETs of what it showed, which then need no database)."""
    ids = [object_id for object_id, _, _ in listed]
    if not ids:
        return
    query = select(
        Routing.top_id, Routing.bottom_id, Routing.pod_id, Routing.project_id, Routing.status
    ).where(
        Routing.resource_type == kind,
        # an object moved from another pod is known there by the pod's own id
        Routing.top_id.in_(ids) | Routing.bottom_id.in_(ids),
    )
    rows = (await db.execute(query)).all()
    known = {row.top_id for row in rows} | {row.bottom_id for row in rows if row.bottom_id}
    if remember is not None:
        for row in rows:
            if row.status == "active" and row.bottom_id in (None, row.top_id):
                remember.put(kind, row.top_id, row.pod_id, row.project_id)
    for object_id, pod_id, project_id in listed:
        if object_id not in known:
            known.add(object_id)
            made = await record(db, object_id, pod_id, project_id, kind=kind)
            if remember is not None:
                remember.put(kind, object_id, made.pod_id, made.project_id)


async def record(
    db: AsyncSession,
    server_id: str,
    pod_id: str,
    project_id: str,
    intent_row: Routing | None = None,
    kind: str = "server",
) -> Routing:
    """The routing of an object (a server unless `kind` says) the pod created: the
    intent row completed, or a new row."""
    existing = await routings.find_top(db, kind, server_id)
    if existing is not None:
        return existing
    row = intent_row
    if row is None:
        row = Routing(
            id=str(uuid.uuid4()),
            resource_type=kind,
            pod_id=pod_id,
            project_id=project_id,
            created_at=now(),
        )
        db.add(row)
    row.top_id = server_id
    row.bottom_id = server_id
    row.status = "active"
    row.updated_at = now()
    try:
        await db.commit()
    except IntegrityError:
        # a concurrent request (a list healing the same server) wrote it first
        await db.rollback()
        found = await routings.find_top(db, kind, server_id)
        if found is None:
            raise
        if intent_row is not None:
            await forget_intent(db, intent_row)  # its server is routed by the other row
        return found
    return row


async def sending(
    db: AsyncSession, intent_row: Routing, send: Awaitable[httpx.Response]
) -> httpx.Response:
    """The pod's answer to the create `intent_row` is the intent of. A pod that does not
    answer (or a request cancelled while waiting) leaves the intent, as the create may
    have happened there (`stale.sweep` settles it); a call that never reached the pod
    (its breaker open, no connection made) and any other failure before an answer
    remove it."""
    try:
        return await send
    except PodUnavailable as exc:
        if not exc.sent:
            await forget_intent(db, intent_row)
        raise
    except Exception:
        await forget_intent(db, intent_row)
        raise


async def forget_intent(db: AsyncSession, row: Routing) -> None:
    """The pod refused the create, or it was never sent: nothing was made, the intent goes
    (and what it reserved with it). Safe whatever state `db` is in after a failure:
    what it had not committed is rolled back first."""
    identity = sa_inspect(row).identity  # read without loading: `row` may be expired
    routing_id = identity[0] if identity is not None else row.id
    await db.rollback()
    await db.execute(delete(Routing).where(Routing.id == routing_id, Routing.status == "creating"))
    await db.commit()
    if row in db:
        db.expunge(row)


async def mark(
    db: AsyncSession, routing: Routing, status: str, routes: RouteCache | None = None
) -> None:
    """Set the routing's status; it leaves the reads-by-id memory (`routes`) unless active."""
    if routes is not None and status != "active":
        routes.drop(routing.resource_type, routing.top_id)
    routing.status = status
    routing.updated_at = now()
    await db.commit()


async def gone(
    db: AsyncSession, routing: Routing, pod: Pod, routes: RouteCache | None = None
) -> None:
    """The pod says the object does not exist: expected after a delete (the routing
    goes); otherwise the routing is stale and kept, marked, for an operator to see."""
    if routes is not None:
        routes.drop(routing.resource_type, routing.top_id)
    if routing.status == "deleting":
        await db.delete(routing)
        await db.commit()
        return
    if routing.status != "stale":
        LOG.warning(
            "routing %s: %s %s is gone from pod %s; marked stale",
            routing.id,
            routing.resource_type,
            routing.top_id,
            pod.name,
        )
        await mark(db, routing, "stale", routes)
