"""Compute quotas owned by the top, enforced against the usage of every pod (no HTTP types).

Limits, as Nova's DB quota driver keeps them (-1 is unlimited):
- the quota class `default` (table `quota_classes`) over the `[quota]`
  options: every project's defaults. Other classes are kept and shown, but
  nothing reads them;
- a project's own limits (table `quotas`) over the defaults;
- a user's own limits within a project (table `user_quotas`, `?user_id=`)
  over the project's.

Usage: a project's is the sum over every pod of what that pod's Nova counts
for it (GET /limits: totalInstancesUsed, totalCoresUsed, totalRAMUsed,
totalServerGroupsUsed), asked with the caller's token. A user's within a
project is the sum of each pod's GET /os-quota-sets/{project}/detail?user_id=
`in_use`, asked with Cascade's service token (an admin in every pod: the
caller need not be one there). `key_pairs` is the user's keypairs, which live
at the top. A pod that does not answer is left out of the sum and named in
the result.

Setting limits checks what Nova's get_settable_quotas allows (unless forced):
a project's limit may not go below what is in use nor below the sum of its
users' own limits; a user's may not go below what the user uses nor above
what the project has left (its limit less the other users' limits). Unlike
Nova, the sum of the users' limits holds a project's limit down even when
the project was unlimited or already over-committed, and a user's unlimited
limit takes nothing from what is left for the others.

A server create is checked here before any pod is called (`count_create`,
`check_counted`), refused with Nova's own TooManyInstances message: against
the project's limits, and against the user's when the user has an own limit
for instances, cores or ram (Nova counts per user only then). The check is
made again with the routing intent, in one transaction per project
(`quota_core.reserving`): the creates in flight (their intents' `reserved`)
count as used, so concurrent creates never pass the project's limits together.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import QuotaSection
from cascade.db.engine import idle, now
from cascade.db.models import Keypair, Pod, Quota, QuotaClass, Routing, UserQuota
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, call
from cascade.pods.registry import PodRegistry
from cascade.services import quota_core
from cascade.services.quota_core import Usage

LOG = logging.getLogger(__name__)

# Nova's quota resources, by API name in its update schema's order (the order its
# errors are found in), with the [quota] option holding the default; None: the
# nova-network leftovers, always -1 by default.
RESOURCES: dict[str, str | None] = {
    "instances": "instances",
    "cores": "cores",
    "ram": "ram",
    "floating_ips": None,
    "fixed_ips": None,
    "metadata_items": "metadata_items",
    "key_pairs": "key_pairs",
    "security_groups": None,
    "security_group_rules": None,
    "injected_files": "injected_files",
    "injected_file_content_bytes": "injected_file_content_bytes",
    "injected_file_path_bytes": "injected_file_path_length",
    "server_groups": "server_groups",
    "server_group_members": "server_group_members",
}
# what each pod counts for a project, and the field of its GET /limits that says it
COUNTED: dict[str, str] = {
    "instances": "totalInstancesUsed",
    "cores": "totalCoresUsed",
    "ram": "totalRAMUsed",
    "server_groups": "totalServerGroupsUsed",
}
UNLIMITED = quota_core.UNLIMITED
SERVER = "server"  # the routings' resource type of servers (`servers.SERVER`)
MAX_LIMIT = 0x7FFFFFFF  # Nova's db MAX_INT
DEFAULT_CLASS = "default"  # the only quota class Nova reads
# the microversion a user's usage is asked at: every pod has it, and it shows every count
USAGE_VERSION = "2.1"


class QuotaError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidQuota(QuotaError):
    """A limit that cannot be set (Nova answers 400)."""


class OverQuota(QuotaError):
    """A create that would go past the project's quota (Nova answers 403 to a server create)."""


# --- limits ---------------------------------------------------------------------------


def defaults(conf: QuotaSection) -> dict[str, int]:
    """Every resource's limit from `[quota]` alone (what a quota class does not set)."""
    return {
        name: UNLIMITED if option is None else int(getattr(conf, option))
        for name, option in RESOURCES.items()
    }


async def class_limits(db: AsyncSession, conf: QuotaSection, class_name: str) -> dict[str, int]:
    """A quota class's limit for every resource: its own where set, else `[quota]`'s."""
    return quota_core.overlay(
        defaults(conf), await quota_core.rows(db, QuotaClass, {"class_name": class_name})
    )


async def default_limits(db: AsyncSession, conf: QuotaSection) -> dict[str, int]:
    """The limits of a project without its own: the class `default` over `[quota]`."""
    return await class_limits(db, conf, DEFAULT_CLASS)


async def limits(db: AsyncSession, conf: QuotaSection, project_id: str) -> dict[str, int]:
    """The project's limit for every resource: its own where set, else the default."""
    return await quota_core.limits(db, "", project_id, await default_limits(db, conf))


def _user(project_id: str, user_id: str) -> dict[str, str]:
    return {"project_id": project_id, "user_id": user_id}


async def user_limits(
    db: AsyncSession, conf: QuotaSection, project_id: str, user_id: str | None
) -> dict[str, int]:
    """The user's limit for every resource in the project: their own where set, else
    the project's (Nova's get_user_quotas); without a user, the project's."""
    found = await limits(db, conf, project_id)
    if user_id is None:
        return found
    own = await quota_core.rows(db, UserQuota, _user(project_id, user_id))
    return quota_core.overlay(found, own)


async def _users_total(
    db: AsyncSession, project_id: str, *, except_user: str | None = None
) -> dict[str, int]:
    """Per resource, the sum of the project's users' own limits (unlimited ones left out)."""
    query = (
        select(UserQuota.resource, func.sum(UserQuota.hard_limit))
        .where(UserQuota.project_id == project_id, UserQuota.hard_limit != UNLIMITED)
        .group_by(UserQuota.resource)
    )
    if except_user is not None:
        query = query.where(UserQuota.user_id != except_user)
    return {resource: int(total or 0) for resource, total in (await db.execute(query)).all()}


# --- setting limits -------------------------------------------------------------------


def check_limit(resource: str, value: int) -> None:
    """InvalidQuota unless `resource` is known and `value` from -1 to Nova's max."""
    if resource not in RESOURCES:
        raise InvalidQuota(f"Unknown quota resources {resource}.")
    if value < UNLIMITED:
        problem = f"{value} is less than the minimum of {UNLIMITED}"
    elif value > MAX_LIMIT:
        problem = f"{value} is greater than the maximum of {MAX_LIMIT}"
    else:
        return
    raise InvalidQuota(f"Invalid input for field/attribute {resource}. Value: {value}. {problem}")


def needs_usage(values: Mapping[str, int]) -> bool:
    """Whether setting `values` has to be checked against what the pods count."""
    return any(key in COUNTED and value != UNLIMITED for key, value in values.items())


def _in_use(resource: str, in_use: Mapping[str, int] | None) -> int:
    # Nova's minimum is what is in use for the resources it counts; key_pairs and
    # server_group_members are per user and never hold a limit down.
    return in_use.get(resource, 0) if in_use is not None and resource in COUNTED else 0


def _check_range(resource: str, limit: int, minimum: int, maximum: int) -> None:
    """Nova's _validate_quota_limit: -1 is infinite on every side."""

    def infinite(value: int) -> float:
        return math.inf if value == UNLIMITED else value

    if infinite(limit) < infinite(minimum):
        raise InvalidQuota(
            f"Quota limit {limit} for {resource} must be greater than or equal to "
            f"already used and reserved {minimum}."
        )
    if infinite(limit) > infinite(maximum):
        raise InvalidQuota(
            f"Quota limit {limit} for {resource} must be less than or equal to {maximum}."
        )


async def update(
    db: AsyncSession,
    conf: QuotaSection,
    project_id: str,
    values: Mapping[str, int],
    in_use: Mapping[str, int] | None = None,
    *,
    user_id: str | None = None,
    force: bool = False,
) -> dict[str, int]:
    """Set the project's own limits, or with `user_id` the user's in the project; the
    limits (the project's, or the user's) afterwards.

    Every value is checked before any is written. Unless `force`, a limit
    Nova would not allow (see the module's docstring; `in_use`: the project's
    or the user's usage, when known) is InvalidQuota, with Nova's messages.
    """
    for resource, value in values.items():
        check_limit(resource, value)
    if not force:
        # the users' own limits: all of them for a project's, the others' for a user's
        taken = await _users_total(db, project_id, except_user=user_id)
        project = await limits(db, conf, project_id)
        for resource, value in values.items():
            minimum, maximum = _in_use(resource, in_use), UNLIMITED
            if user_id is None:
                minimum = max(minimum, taken.get(resource, 0))
            elif project[resource] != UNLIMITED:
                maximum = max(project[resource] - taken.get(resource, 0), 0)
            _check_range(resource, value, minimum, maximum)
    if user_id is None:
        await quota_core.update(db, "", project_id, values)
    else:
        await quota_core.store(db, UserQuota, _user(project_id, user_id), values)
    return await user_limits(db, conf, project_id, user_id)


async def update_class(
    db: AsyncSession, conf: QuotaSection, class_name: str, values: Mapping[str, int]
) -> dict[str, int]:
    """Set a quota class's limits (any value from -1, as Nova: no usage is checked);
    the class's limits afterwards. The class `default` is every project's default."""
    for resource, value in values.items():
        check_limit(resource, value)
    await quota_core.store(db, QuotaClass, {"class_name": class_name}, values)
    return await class_limits(db, conf, class_name)


async def delete(db: AsyncSession, project_id: str, *, user_id: str | None = None) -> None:
    """The project's own limits and its users' go (the defaults apply again), as Nova;
    with `user_id` only that user's (the project's apply to them again)."""
    if user_id is not None:
        await db.execute(sql_delete(UserQuota).filter_by(**_user(project_id, user_id)))
    else:
        # only Nova's resources: the Networking quotas share the table
        await db.execute(
            sql_delete(Quota).where(
                Quota.project_id == project_id, Quota.resource.in_(list(RESOURCES))
            )
        )
        await db.execute(sql_delete(UserQuota).where(UserQuota.project_id == project_id))
    await db.commit()


# --- usage ----------------------------------------------------------------------------


async def _all_pods(db: AsyncSession) -> list[Pod]:
    """Every pod, disabled ones too: their servers count."""
    return list((await db.scalars(select(Pod).order_by(Pod.name))).all())


async def _keypairs(db: AsyncSession, user_id: str) -> int:
    query = select(func.count()).select_from(Keypair).where(Keypair.user_id == user_id)
    return int(await db.scalar(query) or 0)


def counts_in(status: int, body: Any, what: str) -> dict[str, int] | None:
    """`COUNTED` in a pod's answer: `limits` (GET /limits, the absolute totals) or
    `quota_set` (GET /os-quota-sets/{project}/detail, `in_use`); None when it is not a
    usable Nova answer (the pod is then left out, as one that is down)."""
    if status != 200:
        return None
    try:
        if what == "limits":
            absolute: Any = body["limits"]["absolute"]
            return {name: int(absolute.get(field, 0)) for name, field in COUNTED.items()}
        quota_set: Any = body["quota_set"]
        return {name: int(quota_set.get(name, {}).get("in_use", 0)) for name in COUNTED}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


async def _pod_counts(
    registry: PodRegistry,
    pods: list[Pod],
    caller: Caller,
    path: str,
    params: dict[str, str] | None,
) -> Usage:
    """What every pod counts, asked `path`, summed over every resource."""

    async def counts_of(pod: Pod) -> dict[str, int]:
        resp = await call(registry, pod, caller, "GET", path, params=params)
        try:
            body = resp.json()
        except ValueError:
            body = None
        found = counts_in(resp.status_code, body, "limits" if path == "/limits" else "quota_set")
        if found is None:
            LOG.warning(
                "quota usage: pod %s left out: GET %s is %s", pod.name, path, resp.status_code
            )
            raise PodUnavailable(pod.name, "compute", f"GET {path} is not Nova's counts")
        return found

    return await quota_core.summed(registry, "compute", pods, counts_of, RESOURCES)


async def _user_counts(
    registry: PodRegistry, pods: list[Pod], project_id: str, user_id: str, request_id: str
) -> Usage:
    """What every pod counts for the user in the project, asked with Cascade's service
    token (only an admin may ask it of any project)."""
    caller = Caller(None, USAGE_VERSION, request_id)
    path = f"/os-quota-sets/{quote(project_id, safe='')}/detail"
    return await _pod_counts(registry, pods, caller, path, {"user_id": user_id})


async def usage(
    db: AsyncSession,
    registry: PodRegistry,
    caller: Caller,
    project_id: str,
    *,
    own_project: bool = True,
    user_id: str | None = None,
) -> Usage:
    """The project's usage summed over every pod (see the module's docstring): another
    project than the caller's (`own_project=False`, an admin asking) is asked with
    `?tenant_id=`, which Nova allows admins; the caller's own token keeps the pods'
    policy and audit truthful. `key_pairs` is `user_id`'s keypairs at the top (0
    without a user: Nova counts none per project)."""
    params = None if own_project else {"tenant_id": project_id}
    pods = await _all_pods(db)
    await idle(db)  # no database connection held while the pods are asked
    found = await _pod_counts(registry, pods, caller, "/limits", params)
    if user_id is not None:
        found.counts["key_pairs"] = await _keypairs(db, user_id)
    return found


async def user_usage(
    db: AsyncSession,
    registry: PodRegistry,
    project_id: str,
    user_id: str,
    *,
    request_id: str = "",
    keypairs: bool = True,
) -> Usage:
    """What `user_id` uses in the project, summed over every pod (see the module's
    docstring); `key_pairs` is the user's keypairs at the top (0 unless `keypairs`)."""
    pods = await _all_pods(db)
    await idle(db)  # no database connection held while the pods are asked
    found = await _user_counts(registry, pods, project_id, user_id, request_id)
    if keypairs:
        found.counts["key_pairs"] = await _keypairs(db, user_id)
    return found


# --- server creates -------------------------------------------------------------------


async def _routed_servers(db: AsyncSession, project_id: str, pod_names: list[str]) -> int:
    """Servers the routing table knows for the project in these pods."""
    query = (
        select(func.count())
        .select_from(Routing)
        .join(Pod, Pod.id == Routing.pod_id)
        .where(
            Routing.resource_type == SERVER,
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
    req, in_use, limit = (", ".join(str(of[r]) for r in overs) for of in (requested, used, allowed))
    return (
        f"Quota exceeded for {names}: Requested {req}, but already used {in_use} of {limit} {names}"
    )


async def _no_usage() -> Usage:
    return Usage(dict.fromkeys(RESOURCES, 0), [])


@dataclass(frozen=True)
class Counted:
    """A server create's quota as the pods counted it (`count_create`): what it asks
    for, the project's limits and usage, the user's where they have their own, and when
    the pods were asked (creates completed since may be missing from their counts)."""

    requested: dict[str, int]
    allowed: dict[str, int]
    limited: list[str]
    used: dict[str, int]
    user_allowed: dict[str, int]
    user_limited: list[str]
    user_used: dict[str, int]
    since: datetime


async def count_create(
    db: AsyncSession,
    registry: PodRegistry,
    caller: Caller,
    project_id: str,
    count: int,
    vcpus: int,
    ram: int,
    *,
    conf: QuotaSection,
    user_id: str | None = None,
) -> Counted:
    """The limits and usage `count` more servers of `vcpus` and `ram` (MiB) are checked
    against (see the module's docstring). The pods are asked without a database
    connection held; nothing is asked of them when nothing is limited.

    For a pod that does not answer, the servers the routing table knows there
    still count as the project's instances (their cores, RAM and user cannot
    be known).
    """
    since = now()
    allowed = await limits(db, conf, project_id)
    requested = {"instances": count, "cores": count * vcpus, "ram": count * ram}
    limited = [r for r in requested if allowed[r] != UNLIMITED]
    user_allowed, user_limited = allowed, []
    if user_id is not None:
        own = await quota_core.rows(db, UserQuota, _user(project_id, user_id))
        if any(r in own for r in requested):  # Nova counts per user only then
            user_allowed = quota_core.overlay(allowed, own)
            user_limited = [r for r in requested if user_allowed[r] != UNLIMITED]
    used, user_used = dict.fromkeys(RESOURCES, 0), dict.fromkeys(RESOURCES, 0)
    if limited or user_limited:
        pods = await _all_pods(db)
        await idle(db)
        project, user = await asyncio.gather(
            _pod_counts(registry, pods, caller, "/limits", None) if limited else _no_usage(),
            _user_counts(registry, pods, project_id, user_id, caller.request_id)
            if user_limited and user_id is not None
            else _no_usage(),
        )
        used, user_used = dict(project.counts), dict(user.counts)
        if project.unavailable:
            used["instances"] += await _routed_servers(db, project_id, project.unavailable)
    return Counted(requested, allowed, limited, used, user_allowed, user_limited, user_used, since)


def check_counted(counted: Counted, held: Mapping[str, int]) -> None:
    """OverQuota (Nova's TooManyInstances message) unless the create fits what the pods
    counted plus what creates in flight hold (`held`, by quota name: the project's;
    the user's are not known per user and are left to the pods' counts)."""
    requested, allowed, user_allowed = counted.requested, counted.allowed, counted.user_allowed
    used = quota_core.plus(counted.used, {r: held.get(r, 0) for r in requested})
    overs: list[str] = []
    over_user = False
    for r in requested:  # as Nova: the project's limit first, then the user's
        if r in counted.limited and used[r] + requested[r] > allowed[r]:
            overs.append(r)
        elif r in counted.user_limited and counted.user_used[r] + requested[r] > user_allowed[r]:
            overs.append(r)
            over_user = True
    if over_user:
        raise OverQuota(
            too_many_instances(sorted(overs), requested, counted.user_used, user_allowed)
        )
    if overs:
        raise OverQuota(too_many_instances(sorted(overs), requested, used, allowed))


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
    user_id: str | None = None,
) -> None:
    """OverQuota unless `count` more servers of `vcpus` and `ram` (MiB) fit the project's
    limits, and `user_id`'s when they have their own, with the creates in flight
    counted (a check only: `server_create` reserves with `quota_core.reserving`)."""
    counted = await count_create(
        db, registry, caller, project_id, count, vcpus, ram, conf=conf, user_id=user_id
    )
    held = await quota_core.in_flight(db, project_id, [SERVER], counted.since)
    check_counted(counted, held)
