"""Copies of top volume types, group types and QoS specs in the pods' Cinder (no HTTP).

A pod gets a copy of a top volume type the first time a volume there needs it
(`ensure_in_pod`, on the `copies` protocol), made with Cascade's service token
(only admins may make types) and named `cascade-<top id>`; the top's
`__DEFAULT__` is the pod's own default type, adopted. The copy has the top's extra
specs (without the top's own `cascade:` keys), encryption, QoS specs (the pod's
copy of the top's) and, for a private type, the access of every project that has
it. `sync` brings every copy in line with the top (a job after each change); a
pod's refusal is `TypeCopyFailed`, `PodUnavailable` is passed on.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import GroupType, Pod, QosSpecs, Routing, VolumeType
from cascade.pods import volume as pod_volume
from cascade.pods.compute import PodRefused
from cascade.pods.registry import PodRegistry
from cascade.services import copies
from cascade.services.copies import PREFIX, PodAPI
from cascade.services.volume import encryption as volume_encryption
from cascade.services.volume import group_types
from cascade.services.volume import qos as volume_qos
from cascade.services.volume import types as volume_types

VERSION = "3.0"
TOP = object()  # `_converge`: what the top has
Cinder = PodAPI[pod_volume.Caller]


class TypeCopyFailed(PodRefused):
    what = "a volume type copy"


def cinder(registry: PodRegistry, pod: Pod, request_id: str = "", version: str = VERSION) -> Cinder:
    """Calls to the pod's Cinder as Cascade's service user."""
    caller = pod_volume.Caller(None, version, request_id)
    return PodAPI(registry, pod, caller, pod_volume.call, TypeCopyFailed)


TopT = TypeVar("TopT", VolumeType, GroupType, QosSpecs)


class CinderCopy(Generic[TopT]):
    """What the copies of top types and QoS specs in a pod's Cinder share (`copies.Kind`):
    named `cascade-<top id>`, found by that name in the pod's list at `path`, made
    from `fields`, deleted at `path` (gone already: done)."""

    resource: str  # the routings' resource type
    path: str  # the pod's collection
    key: str  # the body's key of one (its list's: `<key>s`)
    made: int = 200  # the status of a create
    version: str = VERSION

    def name(self, top: TopT) -> str:
        return f"{PREFIX}{top.id}"

    def bottom_id(self, copy: dict[str, Any]) -> str:
        return str(copy["id"])

    def same(self, copy: dict[str, Any], top: TopT) -> bool:
        return True

    def fields(self, top: TopT) -> dict[str, Any]:
        """The body of the copy's create."""
        raise NotImplementedError

    async def converge(self, api: Cinder, top: TopT, copy: dict[str, Any], fresh: bool) -> None:
        raise NotImplementedError

    async def find(self, api: Cinder, top: TopT) -> dict[str, Any] | None:
        listed = await api.send("GET", self.path, (200,), params={"is_public": "None"})
        copies = listed.json().get(f"{self.key}s", [])
        return next((dict(c) for c in copies if c.get("name") == self.name(top)), None)

    async def create(self, api: Cinder, top: TopT) -> dict[str, Any] | None:
        body = {self.key: self.fields(top)}
        resp = await api.send("POST", self.path, (self.made, 409), json=body)
        return None if resp.status_code == 409 else dict(resp.json()[self.key])

    async def remove(self, api: Cinder, bottom_id: str) -> None:
        await api.send("DELETE", f"{self.path}/{bottom_id}", (202, 404))


@dataclasses.dataclass
class VolumeTypeCopy(CinderCopy[VolumeType]):
    """A top volume type's copy in a pod's Cinder (`copies.Kind`): its extra specs
    (`specs`, else the top's), encryption (`encryption`, else the top's), QoS specs
    (the pod's copy of the top's) and the access of `projects`; the top's
    `__DEFAULT__` is the pod's own default type, adopted and left as it is."""

    db: AsyncSession
    projects: list[str]
    specs: dict[str, str] | None = None
    encryption: Any = TOP
    resource: str = volume_types.KIND
    path: str = "/types"
    key: str = "volume_type"

    def name(self, top: VolumeType) -> str:
        return volume_types.DEFAULT if top.name == volume_types.DEFAULT else super().name(top)

    def fields(self, top: VolumeType) -> dict[str, Any]:
        return {
            "name": self.name(top),
            "description": top.name,
            "extra_specs": volume_types.pod_specs(top),
            "os-volume-type-access:is_public": top.is_public,
        }

    async def find(self, api: Cinder, top: VolumeType) -> dict[str, Any] | None:
        if self.name(top) != volume_types.DEFAULT:
            return await super().find(api, top)
        found = await api.send("GET", "/types/default", (200, 404))
        body = found.json().get("volume_type") if found.status_code == 200 else None
        return body if isinstance(body, dict) else None

    async def remove(self, api: Cinder, bottom_id: str) -> None:
        found = await api.send("GET", f"/types/{bottom_id}", (200, 404))
        if found.status_code == 200 and found.json()["volume_type"]["name"].startswith(PREFIX):
            await super().remove(api, bottom_id)

    async def converge(
        self, api: Cinder, top: VolumeType, copy: dict[str, Any], fresh: bool
    ) -> None:
        if top.name == volume_types.DEFAULT:
            return
        bottom = str(copy["id"])
        path = f"/types/{bottom}"
        await _associate(api, bottom, await qos_in_pod(self.db, api, top.qos_specs_id))
        want_encryption = volume_encryption.spec(top) if self.encryption is TOP else self.encryption
        await _encryption(api, path, want_encryption)
        have = (await api.send("GET", f"{path}/extra_specs", (200,))).json()["extra_specs"]
        want = volume_types.pod_specs(top) if self.specs is None else self.specs
        if want and any(have.get(k) != v for k, v in want.items()):
            await api.send("POST", f"{path}/extra_specs", (200,), json={"extra_specs": want})
        for key in set(have) - set(want):
            await api.send("DELETE", f"{path}/extra_specs/{key}", (202, 404))
        if top.is_public:
            return
        found = await api.send("GET", f"{path}/os-volume-type-access", (200,))
        granted = {a["project_id"] for a in found.json().get("volume_type_access", [])}
        for project in sorted(set(self.projects) - granted):
            body = {"addProjectAccess": {"project": project}}
            await api.send("POST", f"{path}/action", (202, 409), json=body)
        for project in sorted(granted - set(self.projects)):
            body = {"removeProjectAccess": {"project": project}}
            await api.send("POST", f"{path}/action", (202, 404), json=body)


async def _associate(api: Cinder, bottom: str, qos: str | None) -> None:
    """The pod's type associated with the pod's copy of the top's QoS specs, or none."""
    shown = (await api.send("GET", f"/types/{bottom}", (200,))).json()["volume_type"]
    current = shown.get("qos_specs_id")
    if current == qos:
        return
    params = {"vol_type_id": bottom}
    if current:
        await api.send("GET", f"/qos-specs/{current}/disassociate", (202,), params=params)
    if qos:
        await api.send("GET", f"/qos-specs/{qos}/associate", (202,), params=params)


async def _encryption(api: Cinder, path: str, want: dict[str, Any] | None) -> None:
    have = (await api.send("GET", f"{path}/encryption", (200,))).json()
    have_spec = {k: have.get(k) for k in volume_encryption.FIELDS} if have else None
    if have_spec == want:
        return
    if want is None:
        await api.send("DELETE", f"{path}/encryption/{have['encryption_id']}", (202, 404))
    elif not have:
        await api.send("POST", f"{path}/encryption", (200,), json={"encryption": want})
    else:
        url = f"{path}/encryption/{have['encryption_id']}"
        await api.send("PUT", url, (200,), json={"encryption": want})


class QosCopy(CinderCopy[QosSpecs]):
    """Top QoS specs' copy in a pod's Cinder (`copies.Kind`): the top's consumer and
    specs."""

    resource = volume_qos.KIND
    path = "/qos-specs"
    key = "qos_specs"

    def fields(self, top: QosSpecs) -> dict[str, Any]:
        return {"name": self.name(top), "consumer": top.consumer, **top.specs}

    async def find(self, api: Cinder, top: QosSpecs) -> dict[str, Any] | None:
        listed = (await api.send("GET", "/qos-specs", (200,))).json()["qos_specs"]
        return next((q for q in listed if q.get("name") == self.name(top)), None)

    async def remove(self, api: Cinder, bottom_id: str) -> None:
        url = f"/qos-specs/{bottom_id}"
        await api.send("DELETE", url, (202, 404), params={"force": "True"})

    async def converge(self, api: Cinder, top: QosSpecs, copy: dict[str, Any], fresh: bool) -> None:
        bottom = str(copy["id"])
        have = (await api.send("GET", f"/qos-specs/{bottom}", (200,))).json()["qos_specs"]
        want = {**top.specs, "consumer": top.consumer}
        current = {**(have.get("specs") or {}), "consumer": have.get("consumer")}
        if any(current.get(k) != v for k, v in want.items()):
            await api.send("PUT", f"/qos-specs/{bottom}", (200,), json={"qos_specs": want})
        extra = sorted(set(have.get("specs") or {}) - set(top.specs))
        if extra:
            body = {"keys": extra}
            await api.send("PUT", f"/qos-specs/{bottom}/delete_keys", (202,), json=body)


class GroupTypeCopy(CinderCopy[GroupType]):
    """A top group type's copy in a pod's Cinder (`copies.Kind`): the top's specs and
    visibility (its name and description stay the copy's own: `cascade-<id>`, the top
    name)."""

    resource = group_types.KIND
    path = "/group_types"
    key = "group_type"
    made = 202
    version = group_types.MICROVERSION

    def fields(self, top: GroupType) -> dict[str, Any]:
        return {
            "name": self.name(top),
            "description": top.name,
            "group_specs": dict(top.group_specs or {}),
            "is_public": top.is_public,
        }

    async def converge(
        self, api: Cinder, top: GroupType, copy: dict[str, Any], fresh: bool
    ) -> None:
        path = f"/group_types/{copy['id']}"
        if fresh:
            return
        shown = (await api.send("GET", path, (200,))).json()["group_type"]
        if shown.get("is_public") != top.is_public:
            body = {"group_type": {"is_public": top.is_public}}
            await api.send("PUT", path, (200,), json=body)
        have = shown.get("group_specs") or {}
        want = dict(top.group_specs or {})
        if any(have.get(k) != v for k, v in want.items()):
            await api.send("POST", f"{path}/group_specs", (202,), json={"group_specs": want})
        for key in sorted(set(have) - set(want)):
            await api.send("DELETE", f"{path}/group_specs/{key}", (202, 404))


async def qos_in_pod(db: AsyncSession, api: Cinder, qos_id: str | None) -> str | None:
    """The pod's copy of top QoS specs `qos_id`, made or brought in line with the top
    now; None for none."""
    qos = await db.get(QosSpecs, qos_id) if qos_id else None
    if qos is None:
        return None
    kind = QosCopy()
    routing = await copies.routing_of(db, kind.resource, qos.id, api.pod)
    if routing.bottom_id and routing.status == "active":
        await kind.converge(api, qos, {"id": routing.bottom_id}, fresh=False)
        return routing.bottom_id
    return await copies.ensure(db, api, kind, qos, qos.id)


async def _kind(db: AsyncSession, vtype: VolumeType, **changes: Any) -> VolumeTypeCopy:
    return VolumeTypeCopy(db, await volume_types.projects_of(db, vtype.id), **changes)


async def ensure_in_pod(
    db: AsyncSession,
    registry: PodRegistry,
    pod: Pod,
    top: VolumeType | GroupType,
    request_id: str = "",
) -> str:
    """The pod's id of its copy of a top volume or group type, made (or adopted) now if
    there is none."""
    if isinstance(top, GroupType):
        api = cinder(registry, pod, request_id, group_types.MICROVERSION)
        return await copies.ensure(db, api, GroupTypeCopy(), top, top.id)
    kind = await _kind(db, top)
    return await copies.ensure(db, cinder(registry, pod, request_id), kind, top, top.id)


async def converge_in_pod(
    db: AsyncSession, registry: PodRegistry, pod: Pod, top: VolumeType, bottom_id: str
) -> None:
    """One pod's copy of a top volume type made like the top's now (an audit's repair)."""
    kind = await _kind(db, top)
    await kind.converge(cinder(registry, pod), top, {"id": bottom_id}, False)


async def converged(
    db: AsyncSession, registry: PodRegistry, kind: CinderCopy[TopT], top: TopT, top_id: str
) -> None:
    """Every pod's copy of `top` brought in line with it (a pod that refuses stops it with
    its `TypeCopyFailed`)."""

    async def one(pod: Pod, routing: Routing) -> None:
        api = cinder(registry, pod, "", kind.version)
        await kind.converge(api, top, {"id": routing.bottom_id}, False)

    await copies.each_copy(db, kind.resource, top_id, one)


async def removed(
    db: AsyncSession, registry: PodRegistry, kind: CinderCopy[Any], top_id: str
) -> None:
    """Every pod's copy of a top object that goes, and its routing (a pod that refuses
    stops it with its `TypeCopyFailed`)."""

    async def one(pod: Pod, routing: Routing) -> None:
        await kind.remove(cinder(registry, pod, "", kind.version), str(routing.bottom_id))
        await db.delete(routing)
        await db.commit()

    await copies.each_copy(db, kind.resource, top_id, one)


async def sync(db: AsyncSession, registry: PodRegistry, type_id: str) -> None:
    """Every copy of the type brought in line with the top (a deleted type's copies went
    with its delete)."""
    vtype = await db.get(VolumeType, type_id)
    if vtype is not None:
        await push(db, registry, vtype)


async def push(
    db: AsyncSession,
    registry: PodRegistry,
    vtype: VolumeType,
    specs: dict[str, str] | None = None,
    encryption: Any = TOP,
) -> None:
    """The extra specs (or encryption) a type is about to have (default: what it has), in
    every copy first: a pod that refuses (Cinder refuses changes to a type its volumes
    use) stops the change with its TypeCopyFailed; copies changed before it are set
    back by the next sync."""
    wanted = None
    if specs is not None:
        wanted = {k: v for k, v in specs.items() if not k.startswith(volume_types.TOP_ONLY)}
    kind = await _kind(db, vtype, specs=wanted, encryption=encryption)
    await converged(db, registry, kind, vtype, vtype.id)


async def delete_copies(db: AsyncSession, registry: PodRegistry, type_id: str) -> None:
    """The pods' copies of a top type that goes (not the pods' own default type)."""
    await removed(db, registry, VolumeTypeCopy(db, []), type_id)


async def sync_qos(db: AsyncSession, registry: PodRegistry, qos_id: str) -> None:
    """Every pod's copy of top QoS specs brought in line with the top (a deleted one's
    copies go, disassociated)."""
    qos = await db.get(QosSpecs, qos_id)
    if qos is None:
        await removed(db, registry, QosCopy(), qos_id)
    else:
        await converged(db, registry, QosCopy(), qos, qos_id)


async def sync_group(db: AsyncSession, registry: PodRegistry, type_id: str) -> None:
    """Every copy of the group type brought in line with the top."""
    gtype = await db.get(GroupType, type_id)
    if gtype is not None:
        await converged(db, registry, GroupTypeCopy(), gtype, type_id)


async def delete_group_copies(db: AsyncSession, registry: PodRegistry, type_id: str) -> None:
    """The pods' copies of a group type that goes."""
    await removed(db, registry, GroupTypeCopy(), type_id)
