"""Bindings as the admin API manages them (no HTTP types here)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import SchedulingSection
from cascade.db.models import Binding, Pod
from cascade.services import scheduling


class BindingNotFound(Exception):
    pass


class BindingConflict(Exception):
    pass


class BadBinding(Exception):
    pass


async def list_all(session: AsyncSession, project_id: str | None, az: str | None) -> list[Binding]:
    query = select(Binding).order_by(Binding.created_at, Binding.id)
    if project_id is not None:
        query = query.where(Binding.project_id == project_id)
    if az is not None:
        query = query.where(Binding.az == az)
    return list((await session.scalars(query)).all())


async def get(session: AsyncSession, binding_id: str) -> Binding:
    found = await session.get(Binding, binding_id)
    if found is None:
        raise BindingNotFound(f"no binding with id {binding_id}")
    return found


async def create(
    session: AsyncSession,
    conf: SchedulingSection,
    project_id: str,
    az: str,
    pod_id: str | None,
) -> Binding:
    """Bind explicitly to `pod_id`, or let the AZ's scheduling policy choose."""
    existing = await session.scalar(scheduling.binding_in(project_id, az))
    if existing is not None:
        raise BindingConflict(f"project {project_id} is already bound in {az}: {existing.id}")
    if pod_id is None:
        try:
            await scheduling.pod_for(session, conf, project_id, az)
        except scheduling.NoPodForAz as exc:
            raise BindingConflict(str(exc)) from exc
    else:
        pod = await session.get(Pod, pod_id)
        if pod is None:
            raise BadBinding(f"no pod with id {pod_id}")
        if pod.az != az:
            raise BadBinding(f"pod {pod.name} serves {pod.az}, not {az}")
        if not pod.takes_new:
            state = "disabled" if not pod.enabled else f"in state {pod.state}"
            raise BindingConflict(f"pod {pod.name} is {state} and takes no new resources")
        try:
            await scheduling.bind(session, project_id, az, pod_id)
        except IntegrityError as exc:
            raise BindingConflict(f"project {project_id} is already bound in {az}") from exc
    found = await session.scalar(scheduling.binding_in(project_id, az))
    assert found is not None
    return found


async def delete(session: AsyncSession, binding_id: str) -> None:
    await session.delete(await get(session, binding_id))
    await session.commit()
