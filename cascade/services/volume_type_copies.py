"""Copies of top volume types in the pods (no HTTP types here).

A pod gets a copy of a top volume type the first time a volume there needs
it (`ensure_in_pod`). Only admins may create types, so the copy is made with
Cascade's service token and named `cascade-<top id>` (the top name may clash
with the pod's own types); the top's `__DEFAULT__` is the pod's own default
type, adopted. The copy has the top's extra specs (without the top's own
`cascade:` keys), visibility and, for a private type, the access of every
project that has it.

Each copy is a `volume_type` routing (project "": types are shared) written
before the copy is made; without a bottom id the name is looked up first, so
a retry after a crash never makes a duplicate. `sync` brings every copy in line
with the top (a job after each change). A pod's refusal is `PodRefused`;
`PodUnavailable` is passed on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Pod, QosSpecs, Routing, VolumeType
from cascade.pods import volume as pod_volume
from cascade.pods.compute import PodRefused, pod_message
from cascade.pods.registry import PodRegistry
from cascade.services import routings, volume_encryption, volume_qos, volume_types

VERSION = "3.0"
PREFIX = "cascade-"
TOP = object()  # `_converge`: what the top has


class TypeCopyFailed(PodRefused):
    what = "a volume type copy"


def bottom_name(vtype: VolumeType) -> str:
    return volume_types.DEFAULT if vtype.name == volume_types.DEFAULT else f"{PREFIX}{vtype.id}"


@dataclasses.dataclass
class PodCinder:
    """Calls to one pod's Cinder as Cascade's service user."""

    registry: PodRegistry
    pod: Pod
    caller: pod_volume.Caller

    @classmethod
    async def open(cls, registry: PodRegistry, pod: Pod, request_id: str = "") -> PodCinder:
        return cls(registry, pod, pod_volume.Caller(None, VERSION, request_id))

    async def send(
        self, method: str, path: str, ok: Collection[int], **kwargs: Any
    ) -> httpx.Response:
        """The pod's answer if its status is in `ok`, else TypeCopyFailed."""
        resp = await pod_volume.call(self.registry, self.pod, self.caller, method, path, **kwargs)
        if resp.status_code not in ok:
            raise TypeCopyFailed(self.pod.name, resp.status_code, pod_message(resp))
        return resp

    async def find(self, name: str) -> dict[str, Any] | None:
        if name == volume_types.DEFAULT:
            found = await self.send("GET", "/types/default", (200, 404))
            body = found.json().get("volume_type") if found.status_code == 200 else None
            return body if isinstance(body, dict) else None
        listed = await self.send("GET", "/types", (200,), params={"is_public": "None"})
        for vtype in listed.json().get("volume_types", []):
            if vtype.get("name") == name:
                return dict(vtype)
        return None


async def _converge(
    cinder: PodCinder,
    vtype: VolumeType,
    projects: list[str],
    bottom: str,
    specs: dict[str, str] | None = None,
    encryption: Any = TOP,
    qos: str | None = None,
) -> None:
    """The copy's extra specs (`specs`, else the top's), encryption (`encryption`, else
    the top's), QoS specs (the pod's copy `qos`) and access as the top's (the default
    type is the pod's own)."""
    if vtype.name == volume_types.DEFAULT:
        return
    path = f"/types/{bottom}"
    await _associate(cinder, bottom, qos)
    want_encryption = volume_encryption.spec(vtype) if encryption is TOP else encryption
    await _encryption(cinder, path, want_encryption)
    have = (await cinder.send("GET", f"{path}/extra_specs", (200,))).json()["extra_specs"]
    want = volume_types.pod_specs(vtype) if specs is None else specs
    if want and any(have.get(k) != v for k, v in want.items()):
        await cinder.send("POST", f"{path}/extra_specs", (200,), json={"extra_specs": want})
    for key in set(have) - set(want):
        await cinder.send("DELETE", f"{path}/extra_specs/{key}", (202, 404))
    if vtype.is_public:
        return
    found = await cinder.send("GET", f"{path}/os-volume-type-access", (200,))
    granted = {a["project_id"] for a in found.json().get("volume_type_access", [])}
    for project in sorted(set(projects) - granted):
        body = {"addProjectAccess": {"project": project}}
        await cinder.send("POST", f"{path}/action", (202, 409), json=body)
    for project in sorted(granted - set(projects)):
        body = {"removeProjectAccess": {"project": project}}
        await cinder.send("POST", f"{path}/action", (202, 404), json=body)


async def _associate(cinder: PodCinder, bottom: str, qos: str | None) -> None:
    """The pod's type associated with the pod's copy of the top's QoS specs, or none."""
    shown = (await cinder.send("GET", f"/types/{bottom}", (200,))).json()["volume_type"]
    current = shown.get("qos_specs_id")
    if current == qos:
        return
    params = {"vol_type_id": bottom}
    if current:
        await cinder.send("GET", f"/qos-specs/{current}/disassociate", (202,), params=params)
    if qos:
        await cinder.send("GET", f"/qos-specs/{qos}/associate", (202,), params=params)


async def qos_in_pod(db: AsyncSession, cinder: PodCinder, qos_id: str | None) -> str | None:
    """The pod's copy of top QoS specs `qos_id` (named `cascade-<id>`), made or brought in
    line with the top now; None for none."""
    if not qos_id:
        return None
    qos = await db.get(QosSpecs, qos_id)
    if qos is None:
        return None
    pod = cinder.pod
    routing = await routings.find(db, volume_qos.KIND, qos.id, pod.id)
    if routing is None:
        routing = await routings.record_intent_once(db, volume_qos.KIND, qos.id, pod.id, "")
    bottom = routing.bottom_id if routing.status == "active" else None
    if bottom is None:
        name = f"{PREFIX}{qos.id}"
        listed = (await cinder.send("GET", "/qos-specs", (200,))).json()["qos_specs"]
        found = next((q for q in listed if q.get("name") == name), None)
        if found is None:
            body = {"qos_specs": {"name": name, "consumer": qos.consumer, **qos.specs}}
            found = (await cinder.send("POST", "/qos-specs", (200,), json=body)).json()["qos_specs"]
        bottom = str(found["id"])
        await _activate(db, routing, bottom)
    await converge_qos(cinder, qos, bottom)
    return bottom


async def converge_qos(cinder: PodCinder, qos: QosSpecs, bottom: str) -> None:
    """A pod's copy of QoS specs with the top's consumer and specs."""
    have = (await cinder.send("GET", f"/qos-specs/{bottom}", (200,))).json()["qos_specs"]
    want = {**qos.specs, "consumer": qos.consumer}
    current = {**(have.get("specs") or {}), "consumer": have.get("consumer")}
    if any(current.get(k) != v for k, v in want.items()):
        await cinder.send("PUT", f"/qos-specs/{bottom}", (200,), json={"qos_specs": want})
    extra = sorted(set(have.get("specs") or {}) - set(qos.specs))
    if extra:
        await cinder.send("PUT", f"/qos-specs/{bottom}/delete_keys", (202,), json={"keys": extra})


async def _encryption(cinder: PodCinder, path: str, want: dict[str, Any] | None) -> None:
    have = (await cinder.send("GET", f"{path}/encryption", (200,))).json()
    have_spec = {k: have.get(k) for k in volume_encryption.FIELDS} if have else None
    if have_spec == want:
        return
    if want is None:
        await cinder.send("DELETE", f"{path}/encryption/{have['encryption_id']}", (202, 404))
    elif not have:
        await cinder.send("POST", f"{path}/encryption", (200,), json={"encryption": want})
    else:
        url = f"{path}/encryption/{have['encryption_id']}"
        await cinder.send("PUT", url, (200,), json={"encryption": want})


async def ensure_in_pod(
    db: AsyncSession, registry: PodRegistry, pod: Pod, vtype: VolumeType, request_id: str = ""
) -> str:
    """The pod's id of its copy of `vtype`, made (or adopted) now if there is none."""
    routing = await routings.find(db, volume_types.KIND, vtype.id, pod.id)
    if routing is not None and routing.bottom_id and routing.status == "active":
        return routing.bottom_id
    if routing is None:
        routing = await routings.record_intent_once(db, volume_types.KIND, vtype.id, pod.id, "")
    cinder = await PodCinder.open(registry, pod, request_id)
    name = bottom_name(vtype)
    found = await cinder.find(name)
    projects = await volume_types.projects_of(db, vtype.id)
    if found is None:
        body = {
            "volume_type": {
                "name": name,
                "description": vtype.name,
                "extra_specs": volume_types.pod_specs(vtype),
                "os-volume-type-access:is_public": vtype.is_public,
            }
        }
        found = (await cinder.send("POST", "/types", (200,), json=body)).json()["volume_type"]
    bottom = str(found["id"])
    qos = await qos_in_pod(db, cinder, vtype.qos_specs_id)
    await _converge(cinder, vtype, projects, bottom, qos=qos)
    await _activate(db, routing, bottom)
    return bottom


async def _activate(db: AsyncSession, routing: Routing, bottom: str) -> None:
    routing = await db.merge(routing)
    routing.bottom_id = bottom
    routing.status = "active"
    routing.updated_at = datetime.now(UTC).replace(tzinfo=None)
    await db.commit()


async def sync(db: AsyncSession, registry: PodRegistry, vtype: VolumeType) -> None:
    """Every copy of `vtype` brought in line with the top."""
    projects = await volume_types.projects_of(db, vtype.id)
    for routing in await volume_types.copies(db, vtype.id):
        pod = await db.get(Pod, routing.pod_id)
        if pod is None or not routing.bottom_id:
            continue
        cinder = await PodCinder.open(registry, pod)
        qos = await qos_in_pod(db, cinder, vtype.qos_specs_id)
        await _converge(cinder, vtype, projects, routing.bottom_id, qos=qos)


async def push(
    db: AsyncSession,
    registry: PodRegistry,
    vtype: VolumeType,
    specs: dict[str, str] | None = None,
    encryption: Any = TOP,
) -> None:
    """The extra specs (or encryption) a type is about to have, in every copy first: a
    pod that refuses (Cinder refuses changes to a type its volumes use) stops the
    change with its TypeCopyFailed; copies changed before it are set back by the next
    sync."""
    projects = await volume_types.projects_of(db, vtype.id)
    wanted = None
    if specs is not None:
        wanted = {k: v for k, v in specs.items() if not k.startswith(volume_types.TOP_ONLY)}
    for routing in await volume_types.copies(db, vtype.id):
        pod = await db.get(Pod, routing.pod_id)
        if pod is not None and routing.bottom_id:
            cinder = await PodCinder.open(registry, pod)
            qos = await qos_in_pod(db, cinder, vtype.qos_specs_id)
            await _converge(cinder, vtype, projects, routing.bottom_id, wanted, encryption, qos)


async def delete_copies(db: AsyncSession, registry: PodRegistry, type_id: str) -> None:
    """The pods' copies of a top type that goes (not the pods' own default type)."""
    for routing in await volume_types.copies(db, type_id):
        pod = await db.get(Pod, routing.pod_id)
        if pod is not None and routing.bottom_id:
            cinder = await PodCinder.open(registry, pod)
            found = await cinder.send("GET", f"/types/{routing.bottom_id}", (200, 404))
            if found.status_code == 200 and found.json()["volume_type"]["name"].startswith(PREFIX):
                await cinder.send("DELETE", f"/types/{routing.bottom_id}", (202, 404))
        await db.delete(routing)
        await db.commit()


async def top_of(db: AsyncSession, pod: Pod, bottom_id: str) -> str | None:
    """The top type id of a pod's copy."""
    found = await routings.find_bottom(db, volume_types.KIND, pod.id, bottom_id)
    return found.top_id if found is not None else None


async def sync_qos(db: AsyncSession, registry: PodRegistry, qos_id: str) -> None:
    """Every pod's copy of top QoS specs brought in line with the top (a deleted one's
    copies go, disassociated)."""
    qos = await db.get(QosSpecs, qos_id)
    query = select(Routing).where(
        Routing.resource_type == volume_qos.KIND, Routing.top_id == qos_id
    )
    for routing in list((await db.scalars(query)).all()):
        pod = await db.get(Pod, routing.pod_id)
        if pod is None or not routing.bottom_id:
            continue
        cinder = await PodCinder.open(registry, pod)
        if qos is not None:
            await converge_qos(cinder, qos, routing.bottom_id)
            continue
        url = f"/qos-specs/{routing.bottom_id}"
        await cinder.send("DELETE", url, (202, 404), params={"force": "True"})
        await db.delete(routing)
        await db.commit()
