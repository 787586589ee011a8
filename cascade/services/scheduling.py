"""Scheduling: which pod of an availability zone a project's new resources go to.

A project is bound to one pod per AZ (a binding) the first time it needs
one there, and stays there. Policies choose the pod for a new binding among
the AZ's enabled pods whose health is not `down`:

- `newest`: the most recently registered one that has room (capacity
  expansion: when a pod is full the operator registers another, and new
  projects go there);
- `weighted`: at random, in proportion to weight x free share of memory
  (free capacity read from the pods, see cascade.services.capacity).

A binding to a pod that was disabled or went down is replaced: a disabled
pod gets no new resources, while its existing ones keep working.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import SchedulingSection
from cascade.db.engine import idle, now
from cascade.db.models import Binding, Pod
from cascade.pods import fanout
from cascade.services.capacity import Capacity

POLICIES = ("newest", "weighted")


class NoPodForAz(Exception):
    pass


class BadPolicy(Exception):
    pass


def az_policies(conf: SchedulingSection) -> dict[str, str]:
    """The per-AZ policy table; raises BadPolicy for an unknown policy or bad syntax."""
    table: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in conf.az_policies.split(","))):
        az, sep, policy = item.partition(":")
        if not sep or policy not in POLICIES:
            raise BadPolicy(f"az_policies entry {item!r}: expected AZ:{'|'.join(POLICIES)}")
        table[az] = policy
    if conf.default_policy not in POLICIES:
        raise BadPolicy(f"default_policy {conf.default_policy!r}: expected one of {POLICIES}")
    return table


def usable(pod: Pod) -> bool:
    """Whether new resources may go to the pod now: it takes new ones (enabled, not in
    maintenance nor draining) and is not found down."""
    return pod.takes_new and pod.health_state != "down"


def choose(
    pods: list[Pod],
    policy: str,
    rng: random.Random,
    room: Mapping[str, Capacity | None] | None = None,
) -> Pod:
    """`room`: each pod's free capacity where known (None: unknown, not full)."""
    room = room or {}
    if policy == "weighted":
        weighted = [p for p in pods if p.weight > 0] or pods

        def weight(pod: Pod) -> float:
            known = room.get(pod.id)
            share = known.free_share if known is not None else 1.0
            return max(pod.weight, 1) * max(share, 1e-6)

        return rng.choices(weighted, weights=[weight(p) for p in weighted])[0]
    return max(pods, key=lambda p: (p.created_at, p.id))


RoomOf = Callable[[Pod], Awaitable["Capacity | None"]]


async def with_room(
    pods: list[Pod],
    room_of: RoomOf | None,
    ram_mb: int,
    disk_gb: int,
    deadline: float | None = None,
) -> tuple[list[Pod], dict[str, Capacity | None]]:
    """The pods that have room for the flavor (unknown counts as room, so does a pod that
    has not said within `deadline`: `pods.fanout`), and what each has."""
    if room_of is None:
        return pods, {}
    found = await fanout.fan_out(pods, room_of, deadline=deadline)
    room: dict[str, Capacity | None] = {p.id: None for p in pods}
    room.update((p.id, c) for p, c in found.answers)
    fits = [p for p in pods if (c := room[p.id]) is None or c.has_room(ram_mb, disk_gb)]
    return fits, room


def binding_in(project_id: str, az: str) -> Select[Binding]:
    """The query of the project's binding in `az`."""
    return select(Binding).where(Binding.project_id == project_id, Binding.az == az)


async def _usable_in(session: AsyncSession, az: str, tag: str | None = None) -> list[Pod]:
    """The AZ's usable pods (with `tag`: those carrying it)."""
    found = (await session.scalars(select(Pod).where(Pod.az == az))).all()
    return [p for p in found if usable(p) and (tag is None or tag in (p.tags or []))]


async def bind(session: AsyncSession, project_id: str, az: str, pod_id: str) -> None:
    """Bind the project in `az` to the pod, committed; IntegrityError (rolled back) when
    the project is bound there already."""
    session.add(
        Binding(id=str(uuid.uuid4()), project_id=project_id, az=az, pod_id=pod_id, created_at=now())
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise


async def pod_for(
    session: AsyncSession,
    conf: SchedulingSection,
    project_id: str,
    az: str,
    rng: random.Random | None = None,
    tag: str | None = None,
    room_of: RoomOf | None = None,
    need: tuple[int, int] = (1, 0),
    room_deadline: float | None = None,
) -> Pod:
    """The pod for the project's new resources in `az`, binding the project if needed.

    A new binding goes to a pod with room for `need` (MiB of memory, GB of disk),
    as `room_of` tells; a project already bound stays where it is.
    With `tag` (a flavor's `cascade:pod_tag`) only pods carrying it qualify: the
    bound pod if it does, else one chosen by the policy among those that do,
    without changing the binding (the project's other resources stay put).
    """
    if tag is not None:
        home = await pod_for(session, conf, project_id, az, rng, None, room_of, need, room_deadline)
        if tag in (home.tags or []):
            return home
        in_az = await _usable_in(session, az, tag)
        await idle(session)  # no database connection held while the pods are asked
        tagged, room = await with_room(in_az, room_of, *need, room_deadline)
        if not tagged:
            raise NoPodForAz(
                f"availability zone {az} has no enabled pod with tag {tag!r} that is up "
                "and has room"
            )
        policy = az_policies(conf).get(az, conf.default_policy)
        return choose(tagged, policy, rng or random.Random(), room)
    binding = await session.scalar(binding_in(project_id, az))
    if binding is not None:
        bound = await session.get(Pod, binding.pod_id)
        if bound is not None and usable(bound) and bound.az == az:
            return bound
        await session.delete(binding)
        await session.flush()
    candidates = await _usable_in(session, az)
    if not candidates:
        raise NoPodForAz(
            f"availability zone {az} has no enabled pod that is up (and neither in "
            "maintenance nor draining)"
        )
    await idle(session)  # no database connection held while the pods are asked
    candidates, room = await with_room(candidates, room_of, *need, room_deadline)
    if not candidates:
        raise NoPodForAz(f"every enabled pod of availability zone {az} is full")
    policy = az_policies(conf).get(az, conf.default_policy)
    pod = choose(candidates, policy, rng or random.Random(), room)
    try:
        await bind(session, project_id, az, pod.id)
    except IntegrityError:
        # a concurrent request bound the project first: its binding wins
        winner = await session.scalar(binding_in(project_id, az))
        bound = await session.get(Pod, winner.pod_id) if winner is not None else None
        if bound is None:
            raise
        return bound
    return pod


async def default_az(
    session: AsyncSession, conf: SchedulingSection, project_id: str, tag: str | None = None
) -> str:
    """The AZ of a create that names none: the project's first binding's, else the
    configured default, else the first AZ (by name) with a usable pod. With `tag`,
    only AZs that have a usable pod carrying it count."""
    pods = [p for p in (await session.scalars(select(Pod))).all() if usable(p)]
    zones = {p.az for p in pods if tag is None or tag in (p.tags or [])}
    binding = await session.scalar(
        select(Binding)
        .where(Binding.project_id == project_id)
        .order_by(Binding.created_at, Binding.id)
    )
    if binding is not None and binding.az in zones:
        return binding.az
    if conf.default_az and (conf.default_az in zones or tag is None):
        return conf.default_az
    if not zones:
        wanted = f" with tag {tag!r}" if tag else ""
        raise NoPodForAz(f"no availability zone has an enabled pod{wanted} that is up")
    return sorted(zones)[0]


async def az_exists(session: AsyncSession, az: str) -> bool:
    return await session.scalar(select(Pod.id).where(Pod.az == az).limit(1)) is not None
