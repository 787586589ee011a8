"""Block Storage quotas owned by the top, enforced against the usage of every pod.

Limits: the defaults (the quota class `default`'s, rows of `quota_classes`
named `cinder:<resource>`, over `[volume] quota_*`), and a project's own (rows
of `quotas` named `cinder:<resource>`). As Cinder shows them, every top volume type adds
`volumes_<type>`, `gigabytes_<type>` and `snapshots_<type>` (default -1:
unlimited); a volume create is checked against its type's `volumes_` and
`gigabytes_` limits too.

Usage: a project's is the sum over every pod of what that pod's Cinder counts
for it (GET /os-quota-sets/{project}?usage=True, `in_use`), asked with
Cascade's service token (an admin in every pod, so an admin may ask for any
project); a pod that does not answer is left out and named.

A create is checked here before any pod is called (`check`), refused with
Cinder's own 413 messages, and checked again with its routing intent in one
transaction of the project's (`volume_create.create_in`, `quota_core.reserving`):
the creates in flight count as used, so creates racing for the last unit do not
all pass.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import VolumeSection
from cascade.db.engine import idle
from cascade.db.models import Pod, QuotaClass, VolumeType
from cascade.pods import volume as pod_volume
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.services import pods as pod_service
from cascade.services import quota_core
from cascade.services.quota_core import Usage

PREFIX = "cinder:"
RESOURCES = (
    "volumes",
    "snapshots",
    "gigabytes",
    "backups",
    "backup_gigabytes",
    "groups",
    "per_volume_gigabytes",
)
PER_TYPE = ("volumes", "gigabytes", "snapshots")
DEFAULT_TYPE = "__DEFAULT__"
DEFAULT_CLASS = "default"  # the quota class whose limits are every project's defaults
COPY_PREFIX = "cascade-"  # the pods' name of a top type's copy: cascade-<top id>
UNLIMITED = quota_core.UNLIMITED
MAX = 2**31 - 1
# what each pod counts (the rest of the quota names are limits, not counts)
USED = ("volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes", "groups")


class OverQuota(Exception):
    """Cinder's 413: the exception name and its message."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.message = f"{name}: {message}"


async def keys(db: AsyncSession) -> list[str]:
    """Every quota name, the per-type ones of every top type included."""
    names = list((await db.scalars(select(VolumeType.name).order_by(VolumeType.name))).all())
    return [*RESOURCES, *(f"{kind}_{name}" for name in names for kind in PER_TYPE)]


async def defaults(db: AsyncSession, conf: VolumeSection) -> dict[str, int]:
    """A project's limits when it has none of its own: the quota class `default` where it
    sets them (Cinder's `use_default_quota_class`), else `[volume] quota_*` (-1 for the
    per-type ones)."""
    found = {name: UNLIMITED for name in await keys(db)}
    for name in RESOURCES:
        found[name] = int(getattr(conf, f"quota_{name}"))
    return quota_core.overlay(found, await _class_rows(db, DEFAULT_CLASS))


async def _class_rows(db: AsyncSession, class_name: str) -> dict[str, int]:
    """What a quota class sets itself (the compute quotas share the table: ours are
    `cinder:<name>`)."""
    found = await quota_core.rows(db, QuotaClass, {"class_name": class_name})
    return {k.removeprefix(PREFIX): v for k, v in found.items() if k.startswith(PREFIX)}


async def class_limits(db: AsyncSession, conf: VolumeSection, class_name: str) -> dict[str, int]:
    """A quota class's limit of every quota name: its own where set, else the defaults
    (Cinder's `get_class_quotas`)."""
    return quota_core.overlay(await defaults(db, conf), await _class_rows(db, class_name))


async def update_class(
    db: AsyncSession, conf: VolumeSection, class_name: str, values: dict[str, int]
) -> dict[str, int]:
    """Set a quota class's limits (as Cinder, no usage is checked: the class `default`
    is then every project's default); its limits afterwards."""
    named = {PREFIX + name: value for name, value in values.items()}
    await quota_core.store(db, QuotaClass, {"class_name": class_name}, named)
    return await class_limits(db, conf, class_name)


async def limits(db: AsyncSession, conf: VolumeSection, project_id: str) -> dict[str, int]:
    return await quota_core.limits(db, PREFIX, project_id, await defaults(db, conf))


async def type_names(db: AsyncSession) -> dict[str, str]:
    """A pod's name of each top type's copy -> the top name (the default type is the
    pods' own, of the same name)."""
    rows = (await db.execute(select(VolumeType.id, VolumeType.name))).all()
    return {(name if name == DEFAULT_TYPE else f"{COPY_PREFIX}{i}"): name for i, name in rows}


async def usage(
    db: AsyncSession, registry: PodRegistry, project_id: str, request_id: str = ""
) -> Usage:
    """The project's usage summed over every pod, the per-type usage (`volumes_<top
    type>`, ...) included."""
    pods = await pod_service.list_all(db)
    names = await type_names(db)
    caller = pod_volume.Caller(None, "3.0", request_id)
    path = f"/os-quota-sets/{quote(project_id, safe='')}"

    async def counts_of(pod: Pod) -> dict[str, int]:
        resp = await pod_volume.call(registry, pod, caller, "GET", path, params={"usage": "True"})
        if resp.status_code != 200:
            raise PodUnavailable(pod.name, pod_volume.SERVICE, f"answered {resp.status_code}")
        try:
            found: dict[str, Any] = resp.json()["quota_set"]
        except (ValueError, KeyError, TypeError):
            raise PodUnavailable(pod.name, pod_volume.SERVICE, "not Cinder's quota set") from None
        counts = {name: _in_use(found.get(name)) for name in USED}
        for key, item in found.items():
            kind, _, bottom = key.partition("_")
            top_name = names.get(bottom)
            if kind in PER_TYPE and top_name is not None:
                counts[f"{kind}_{top_name}"] = _in_use(item)
        return counts

    await idle(db)  # no database connection held while the pods are asked
    return await quota_core.summed(registry, pod_volume.SERVICE, pods, counts_of, USED)


def _in_use(item: Any) -> int:
    return int(item.get("in_use") or 0) if isinstance(item, dict) else 0


# the error Cinder names when one more object passes a count
LIMIT_EXCEEDED = {
    "volumes": "VolumeLimitExceeded",
    "snapshots": "SnapshotLimitExceeded",
    "backups": "BackupLimitExceeded",
}
# what each kind counts against: its number and its size
COUNTED = {
    "volume": ("volumes", "gigabytes"),
    "snapshot": ("snapshots", "gigabytes"),
    "backup": ("backups", "backup_gigabytes"),
}


def _count(limit: dict[str, int], used: dict[str, int], key: str) -> None:
    """Cinder's refusal when one more object passes `key` (`volumes`, `volumes_<type>`,
    `snapshots` or `backups`)."""
    noun = key.partition("_")[0]
    allowed = limit.get(key, UNLIMITED)
    if 0 <= allowed < used.get(key, 0) + 1:
        named = f" for quota '{key}'." if noun == "volumes" else ""
        message = f"Maximum number of {noun} allowed ({allowed}) exceeded{named}"
        raise OverQuota(LIMIT_EXCEEDED[noun], message)


def _size(limit: dict[str, int], used: dict[str, int], key: str, size: int | None) -> None:
    """Cinder's refusal when `size` GB more pass `key` (`gigabytes`, `gigabytes_<type>` or
    `backup_gigabytes`)."""
    quota, consumed = limit.get(key, UNLIMITED), used.get(key, 0)
    if size is not None and 0 <= quota < consumed + size:
        error, what = "VolumeSizeExceedsAvailableQuota", f"volume or snapshot exceeds allowed {key}"
        if key == "backup_gigabytes":
            error, what = (
                "VolumeBackupSizeExceedsAvailableQuota",
                "backup exceeds allowed Backup gigabytes",
            )
        raise OverQuota(
            error,
            f"Requested {what} quota. Requested {size}G, quota is {quota}G and {consumed}G "
            "has been consumed.",
        )


def _per_volume(limit: dict[str, int], size: int | None) -> None:
    """Cinder's refusal of a volume larger than `per_volume_gigabytes`."""
    allowed = limit.get("per_volume_gigabytes", UNLIMITED)
    if size is not None and 0 <= allowed < size:
        raise OverQuota(
            "VolumeSizeExceedsLimit",
            f"Requested volume size {size}G is larger than maximum allowed limit {allowed}G.",
        )


def check_type(
    limit: dict[str, int], used: dict[str, int], type_name: str, size: int | None
) -> None:
    """Cinder's refusal when one more volume of the type passes `volumes_<type>` or
    `gigabytes_<type>`."""
    _count(limit, used, f"volumes_{type_name}")
    _size(limit, used, f"gigabytes_{type_name}", size)


def check(limit: dict[str, int], used: dict[str, int], kind: str, size: int | None) -> None:
    """Cinder's refusal when one more volume, snapshot or backup (of `size` GB, if known)
    passes the project's limits."""
    if kind not in COUNTED:
        return
    if kind == "volume":
        _per_volume(limit, size)
    count, gigabytes = COUNTED[kind]
    _count(limit, used, count)
    _size(limit, used, gigabytes, size)


def check_extend(limit: dict[str, int], used: dict[str, int], new_size: int, grow: int) -> None:
    """Cinder's refusal when a volume grown by `grow` GB to `new_size` passes the limits."""
    _per_volume(limit, new_size)
    _size(limit, used, "gigabytes", grow if grow > 0 else None)


def checked_values(known: list[str], body: Any) -> dict[str, int]:
    """A PUT's `quota_set` as Cinder takes it: known keys only, integers -1..2**31-1;
    ValueError with Cinder's message otherwise."""
    if not isinstance(body, dict) or not isinstance(body.get("quota_set"), dict):
        raise ValueError("Missing required element 'quota_set' in request body.")
    values = {k: v for k, v in body["quota_set"].items() if k not in ("id", "tenant_id")}
    bad = sorted(k for k in values if k not in known)
    if bad:
        raise ValueError(f"Invalid input received: Bad key(s) in quota set: {','.join(bad)}")
    out: dict[str, int] = {}
    for key, value in values.items():
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid input for field/attribute {key}. Value: {value}.") from None
        if isinstance(value, bool) or not UNLIMITED <= number <= MAX:
            raise ValueError(
                f"Invalid input for field/attribute {key}. Value: {value}. {value} is not in "
                f"range {UNLIMITED} through {MAX}."
            )
        out[key] = number
    return out
