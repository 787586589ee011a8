"""Compute quotas owned by the top, enforced against the usage of every pod (no HTTP types).

A project's limits are its own rows (table `quotas`) over the `[quota]`
defaults; -1 is unlimited. Its usage is the sum over every pod of what that
pod's Nova counts for it (GET /limits: totalInstancesUsed, totalCoresUsed,
totalRAMUsed, totalServerGroupsUsed), plus the user's keypairs, which live
at the top. A pod that does not answer is left out of the sum and named in
the result. A server create is checked here before any pod is called
(`check_create`), refused with Nova's own TooManyInstances message.

The check and the create are not one transaction (Nova re-checks after the
build; Cascade does not yet): two creates racing for the last unit of quota
may both pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import QuotaSection
from cascade.db.models import Keypair, Pod, Quota, Routing
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, call
from cascade.pods.registry import PodRegistry

LOG = logging.getLogger(__name__)

# Nova's quota resources (nova/quota.py QUOTAS), by API name, with the [quota]
# option holding the default; None: the nova-network leftovers, always -1 by default.
RESOURCES: dict[str, str | None] = {
    "cores": "cores",
    "fixed_ips": None,
    "floating_ips": None,
    "injected_file_content_bytes": "injected_file_content_bytes",
    "injected_file_path_bytes": "injected_file_path_length",
    "injected_files": "injected_files",
    "instances": "instances",
    "key_pairs": "key_pairs",
    "metadata_items": "metadata_items",
    "ram": "ram",
    "security_group_rules": None,
    "security_groups": None,
    "server_group_members": "server_group_members",
    "server_groups": "server_groups",
}
# what each pod counts for a project, and the field of its GET /limits that says it
COUNTED: dict[str, str] = {
    "instances": "totalInstancesUsed",
    "cores": "totalCoresUsed",
    "ram": "totalRAMUsed",
    "server_groups": "totalServerGroupsUsed",
}
UNLIMITED = -1
MAX_LIMIT = 0x7FFFFFFF  # Nova's db MAX_INT


class QuotaError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidQuota(QuotaError):
    """A limit that cannot be set (Nova answers 400)."""


class OverQuota(QuotaError):
    """A create that would go past the project's quota (Nova answers 403 to a server create)."""


class Usage(NamedTuple):
    counts: dict[str, int]  # every resource of RESOURCES; 0 where nothing is counted
    unavailable: list[str]  # names of the pods that did not answer: their usage is missing


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def defaults(conf: QuotaSection) -> dict[str, int]:
    """Every resource's default limit, from `[quota]`."""
    return {
        name: UNLIMITED if option is None else int(getattr(conf, option))
        for name, option in RESOURCES.items()
    }


async def limits(db: AsyncSession, conf: QuotaSection, project_id: str) -> dict[str, int]:
    """The project's limit for every resource: its own where set, else the default."""
    found = defaults(conf)
    for row in await db.scalars(select(Quota).where(Quota.project_id == project_id)):
        if row.resource in found:
            found[row.resource] = row.hard_limit
    return found


def check_limit(resource: str, value: int) -> None:
    """InvalidQuota unless `resource` is known and `value` an integer from -1 to Nova's max."""
    if resource not in RESOURCES:
        raise InvalidQuota(f"Unknown quota resources {resource}.")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuota(
            f"Invalid input for field/attribute {resource}. Value: {value}. "
            f"{value!r} is not of type 'integer', 'string'"
        )
    if value < UNLIMITED:
        raise InvalidQuota(
            f"Invalid input for field/attribute {resource}. Value: {value}. "
            f"{value} is less than the minimum of {UNLIMITED}"
        )
    if value > MAX_LIMIT:
        raise InvalidQuota(
            f"Invalid input for field/attribute {resource}. Value: {value}. "
            f"{value} is greater than the maximum of {MAX_LIMIT}"
        )


def needs_usage(values: Mapping[str, int]) -> bool:
    """Whether setting `values` has to be checked against what the pods count."""
    return any(key in COUNTED and value != UNLIMITED for key, value in values.items())


def _below_usage(resource: str, limit: int, in_use: Mapping[str, int]) -> None:
    # Nova's minimum is what is in use for the resources it counts per project;
    # key_pairs and server_group_members are per user and never hold a limit down.
    minimum = in_use.get(resource, 0) if resource in COUNTED else 0
    if limit != UNLIMITED and limit < minimum:
        raise InvalidQuota(
            f"Quota limit {limit} for {resource} must be greater than or equal to "
            f"already used and reserved {minimum}."
        )


async def update(
    db: AsyncSession,
    conf: QuotaSection,
    project_id: str,
    values: Mapping[str, int],
    in_use: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Set the project's own limits; its limits afterwards.

    Every value is checked before any is written. With `in_use` (the usage,
    when not forced), a limit below it is InvalidQuota, with Nova's message.
    """
    for resource, value in values.items():
        check_limit(resource, value)
        if in_use is not None:
            _below_usage(resource, value, in_use)
    for attempt in (1, 2):
        rows = {
            row.resource: row
            for row in await db.scalars(select(Quota).where(Quota.project_id == project_id))
        }
        now = _now()
        for resource, value in values.items():
            row = rows.get(resource)
            if row is None:
                db.add(
                    Quota(
                        project_id=project_id, resource=resource, hard_limit=value, created_at=now
                    )
                )
            else:
                row.hard_limit = value
                row.updated_at = now
        try:
            await db.commit()
            break
        except IntegrityError:
            await db.rollback()  # another request added the row first: update it now
            if attempt == 2:
                raise
    return await limits(db, conf, project_id)


async def delete(db: AsyncSession, project_id: str) -> None:
    """The project's own limits go: the defaults apply again."""
    await db.execute(sql_delete(Quota).where(Quota.project_id == project_id))
    await db.commit()


async def _pod_usage(
    registry: PodRegistry, pod: Pod, caller: Caller, params: dict[str, str] | None
) -> dict[str, int] | None:
    """What the pod counts for the project, or None when it gives no usable answer."""
    try:
        resp = await call(registry, pod, caller, "GET", "/limits", params=params)
    except PodUnavailable as exc:
        LOG.warning("quota usage: pod %s left out: %s", pod.name, exc.reason)
        return None
    if resp.status_code != 200:
        LOG.warning("quota usage: pod %s left out: GET /limits is %s", pod.name, resp.status_code)
        return None
    try:
        absolute: Any = resp.json()["limits"]["absolute"]
        return {name: int(absolute.get(field, 0)) for name, field in COUNTED.items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        LOG.warning("quota usage: pod %s left out: GET /limits is not Nova's body", pod.name)
        return None


async def usage(
    db: AsyncSession,
    registry: PodRegistry,
    caller: Caller,
    project_id: str,
    *,
    own_project: bool = True,
    user_id: str | None = None,
) -> Usage:
    """The project's usage summed over every pod (disabled ones too: their servers count).

    Each pod is asked its GET /limits, in parallel, with the caller's own token:
    for the caller's own project as it is, for another one (`own_project=False`,
    an admin asking) with `?tenant_id=`, which Nova allows admins. The user's
    own token rather than Cascade's service token keeps the pods' policy and
    audit truthful, and one request and one body serve both cases. `key_pairs`
    is `user_id`'s keypairs at the top (0 without a user: Nova counts none per
    project).
    """
    pods = list((await db.scalars(select(Pod).order_by(Pod.name))).all())
    params = None if own_project else {"tenant_id": project_id}
    answers = await asyncio.gather(*(_pod_usage(registry, p, caller, params) for p in pods))
    counts = dict.fromkeys(RESOURCES, 0)
    unavailable: list[str] = []
    for pod, found in zip(pods, answers, strict=True):
        if found is None:
            unavailable.append(pod.name)
            continue
        for name, value in found.items():
            counts[name] += value
    if user_id is not None:
        query = select(func.count()).select_from(Keypair).where(Keypair.user_id == user_id)
        counts["key_pairs"] = int(await db.scalar(query) or 0)
    return Usage(counts, unavailable)


async def _routed_servers(db: AsyncSession, project_id: str, pod_names: list[str]) -> int:
    """Servers the routing table knows for the project in these pods."""
    query = (
        select(func.count())
        .select_from(Routing)
        .join(Pod, Pod.id == Routing.pod_id)
        .where(
            Routing.resource_type == "server",
            Routing.project_id == project_id,
            Routing.status == "active",
            Pod.name.in_(pod_names),
        )
    )
    return int(await db.scalar(query) or 0)


def too_many_instances(
    overs: list[str],
    requested: Mapping[str, int],
    used: Mapping[str, int],
    allowed: Mapping[str, int],
) -> str:
    """Nova's TooManyInstances message, e.g. `Quota exceeded for instances: Requested 1,
    but already used 10 of 10 instances`."""
    names = ", ".join(overs)
    req = ", ".join(str(requested[r]) for r in overs)
    in_use = ", ".join(str(used[r]) for r in overs)
    limit = ", ".join(str(allowed[r]) for r in overs)
    return (
        f"Quota exceeded for {names}: Requested {req}, but already used {in_use} of {limit} {names}"
    )


async def check_create(
    db: AsyncSession,
    registry: PodRegistry,
    caller: Caller,
    project_id: str,
    count: int,
    vcpus: int,
    ram: int,
    *,
    conf: QuotaSection,
) -> None:
    """OverQuota unless `count` more servers of `vcpus` and `ram` (MiB) fit the project's
    instances, cores and ram quotas, given what every pod counts now.

    For a pod that does not answer, the servers the routing table knows there
    still count as instances (their cores and RAM cannot be known). Nothing is
    asked of the pods when none of the three is limited.
    """
    allowed = await limits(db, conf, project_id)
    requested = {"instances": count, "cores": count * vcpus, "ram": count * ram}
    limited = [r for r in requested if allowed[r] != UNLIMITED]
    if not limited:
        return
    found = await usage(db, registry, caller, project_id)
    used = dict(found.counts)
    if found.unavailable:
        used["instances"] += await _routed_servers(db, project_id, found.unavailable)
    overs = sorted(r for r in limited if used[r] + requested[r] > allowed[r])
    if overs:
        raise OverQuota(too_many_instances(overs, requested, used, allowed))
