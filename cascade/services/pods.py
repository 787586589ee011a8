"""Pods: registering, changing and removing the bottom clouds (no HTTP types here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.engine import now
from cascade.db.models import Binding, Pod, Routing
from cascade.jobs import queue
from cascade.pods.identities import SHARED, independent
from cascade.services import routings

ROUTER, ROUTER_BUILD = "router", "router.build"  # networking's routing type and job


class PodNotFound(Exception):
    pass


class PodConflict(Exception):
    pass


class PodDraining(Exception):
    """The pod drains: its state is the drain's until the drain ends or is cancelled."""


class PodInUse(Exception):
    pass


@dataclass(frozen=True)
class PodSpec:
    """Validated fields of a create (all) or an update (those given)."""

    values: dict[str, Any]


class PodInvalid(Exception):
    """The pod's fields do not fit together (a 400)."""


def check_identity(pod: Pod) -> None:
    """PodInvalid unless an independent pod has its Keystone's URL and credentials, and a
    shared one neither."""
    given = [f for f in ("auth_url", "credentials") if getattr(pod, f) is not None]
    if independent(pod) and len(given) < 2:
        raise PodInvalid("an independent pod needs 'auth_url' and 'credentials'")
    if pod.catalog_region is not None:
        given.append("catalog_region")
    if not independent(pod) and given:
        raise PodInvalid(f"a shared pod takes no {' or '.join(repr(f) for f in given)}")


async def create(session: AsyncSession, spec: PodSpec) -> Pod:
    values = dict(spec.values)
    values.setdefault("pod_az", values["az"])
    pod = Pod(
        id=str(uuid.uuid4()),
        enabled=values.pop("enabled", True),
        weight=values.pop("weight", 1),
        tags=values.pop("tags", []),
        health_state="unknown",
        created_at=now(),
        **{"identity": SHARED, **values},
    )
    check_identity(pod)
    session.add(pod)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise PodConflict(
            f"a pod named {spec.values['name']!r} or for region "
            f"{spec.values['region_name']!r} exists already"
        ) from exc
    return pod


async def get(session: AsyncSession, pod_id: str) -> Pod:
    pod = await session.get(Pod, pod_id)
    if pod is None:
        raise PodNotFound(f"no pod with id {pod_id}")
    return pod


async def list_all(session: AsyncSession) -> list[Pod]:
    return list((await session.scalars(select(Pod).order_by(Pod.created_at, Pod.id))).all())


async def update(session: AsyncSession, pod_id: str, spec: PodSpec) -> Pod:
    pod = await get(session, pod_id)
    if "state" in spec.values and pod.state == "draining":
        raise PodDraining(f"pod {pod.name} is draining: cancel its drain to change its state")
    for key, value in spec.values.items():
        setattr(pod, key, value)
    try:
        check_identity(pod)
    except PodInvalid:
        await session.rollback()  # nothing of the refused change stays in the session
        raise
    pod.updated_at = now()
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        # the fields named, never their values (a pod's credentials are a secret)
        raise PodConflict(
            f"another pod already has that name or region ({', '.join(sorted(spec.values))})"
        ) from exc
    return pod


async def delete(session: AsyncSession, pod_id: str, force: bool = False) -> None:
    """Remove a pod; refused while routings say it hosts resources, unless `force`
    (then its routings go too: the top forgets those resources)."""
    pod = await get(session, pod_id)
    hosted = await routings.count_in_pod(session, pod_id)
    if hosted and not force:
        raise PodInUse(
            f"pod {pod.name} still hosts {hosted} resource(s); move or delete them, "
            "or delete the pod with force=true"
        )
    if hosted:
        # routers with a bottom router there are planned again without the pod
        query = select(Routing.top_id).where(
            Routing.pod_id == pod_id, Routing.resource_type == ROUTER
        )
        for router_id in sorted(set((await session.scalars(query)).all())):
            await queue.enqueue(session, ROUTER_BUILD, router_id, None, {})
        await session.execute(sa_delete(Routing).where(Routing.pod_id == pod_id))
    # bindings only say where new resources would go: they go with the pod
    await session.execute(sa_delete(Binding).where(Binding.pod_id == pod_id))
    await session.delete(pod)
    await session.commit()
