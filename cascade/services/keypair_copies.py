"""Copies of top keypairs in the pods (no HTTP types here).

A pod gets a copy of a user's keypair the first time a server there needs
it, made with the user's own token so the pod's copy belongs to that user.
Each copy is a `keypair` routing (top id: the keypair row, bottom id: the
name in the pod, project ``""``: keypairs belong to users, not projects).
An active routing is trusted: a top keypair never changes, so its copy does
not either. When the top keypair is deleted its copies are deleted too.
`PodUnavailable` (unreachable, timed out, breaker open) is passed on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Keypair, Pod, Routing
from cascade.identity import KeystoneUnavailable
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, PodRefused, call, pod_message
from cascade.pods.registry import PodRegistry
from cascade.services import keypairs, routings

LOG = logging.getLogger(__name__)
RESOURCE = "keypair"
WITH_TYPE = "2.2"  # the first microversion that takes a keypair's `type`
WITH_USER_ID = "2.10"  # the first that takes `user_id` (delete on the owner's behalf)
WITH_RELAXED_NAMES = "2.92"  # the first that takes names with `@` and `.`
_OLD_NAME = re.compile(r"^[_\- a-zA-Z0-9]+$")  # names every microversion takes


class KeypairCopyFailed(PodRefused):
    """The pod refused a keypair call: its status and message, with the pod named."""

    what = "a keypair copy"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def _get_copy(
    registry: PodRegistry, pod: Pod, caller: Caller, name: str
) -> dict[str, Any] | None:
    resp = await call(registry, pod, caller, "GET", f"/os-keypairs/{quote(name, safe='')}")
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        raise KeypairCopyFailed(pod.name, resp.status_code, pod_message(resp))
    found: dict[str, Any] = resp.json()["keypair"]
    return found


async def _import(registry: PodRegistry, pod: Pod, caller: Caller, keypair: Keypair) -> None:
    body = {
        "keypair": {"name": keypair.name, "public_key": keypair.public_key, "type": keypair.type}
    }
    resp = await call(registry, pod, caller, "POST", "/os-keypairs", json=body)
    if resp.status_code in (200, 201):
        return
    if resp.status_code == 409:  # made meanwhile by a concurrent request: is it ours?
        copy = await _get_copy(registry, pod, caller, keypair.name)
        if copy is not None and copy.get("public_key", "").strip() == keypair.public_key.strip():
            return
    raise KeypairCopyFailed(pod.name, resp.status_code, pod_message(resp))


async def _delete_copy(
    registry: PodRegistry, pod: Pod, caller: Caller, name: str, user_id: str
) -> None:
    """DELETE the pod's copy owned by `user_id` (gone already counts as done)."""
    resp = await call(
        registry,
        pod,
        dataclasses.replace(caller, version=WITH_USER_ID),
        "DELETE",
        f"/os-keypairs/{quote(name, safe='')}",
        params={"user_id": user_id},
    )
    if resp.status_code not in (202, 204, 404):
        raise KeypairCopyFailed(pod.name, resp.status_code, pod_message(resp))


async def ensure_in_pod(
    db: AsyncSession,
    registry: PodRegistry,
    pod: Pod,
    user_id: str,
    key_name: str,
    caller: Caller,
) -> None:
    """Make sure `pod` holds the user's keypair `key_name` with the top's public key.

    `caller` carries the user's own token: the copy is made as, and owned by,
    that user. Raises `keypairs.KeypairNotFound` when the user has no such top
    keypair (a server create answers 400 "Invalid key_name provided."),
    `KeypairCopyFailed` when the pod refuses; `PodUnavailable` is passed on.
    """
    keypair = await keypairs.get(db, user_id, key_name)
    routing = await routings.find(db, RESOURCE, keypair.id, pod.id)
    if routing is not None and routing.status == "active":
        return
    if routing is None:
        routing = await routings.record_intent_once(db, RESOURCE, keypair.id, pod.id, project_id="")
    version = WITH_TYPE if _OLD_NAME.match(keypair.name) else WITH_RELAXED_NAMES
    typed = dataclasses.replace(caller, version=version)
    copy = await _get_copy(registry, pod, typed, keypair.name)
    if copy is not None and copy.get("public_key", "").strip() != keypair.public_key.strip():
        # a leftover of an earlier keypair of that name (deleted at the top while the
        # pod was down, or made in the pod directly): the top's key wins
        await _delete_copy(registry, pod, caller, keypair.name, keypair.user_id)
        copy = None
    if copy is None:
        await _import(registry, pod, typed, keypair)
    routing.bottom_id = keypair.name
    routing.status = "active"
    routing.updated_at = _now()
    await db.commit()


async def delete_copies(
    db: AsyncSession, registry: PodRegistry, keypair: Keypair, caller: Caller
) -> None:
    """Delete the copies of a (deleted) top keypair from every pod that has one.

    The calls go with `caller`'s token, on behalf of the keypair's owner. A
    copy's routing goes with it. A pod that fails is logged and its routing is
    kept, marked `stale`: the pod still holds a key the top no longer has, and
    the row is how an operator (admin routings API) or a later reconciliation
    finds it, instead of an orphan nobody knows about. A new top keypair of
    the same name replaces the stale copy anyway (`ensure_in_pod`).
    """
    query = select(Routing).where(Routing.resource_type == RESOURCE, Routing.top_id == keypair.id)
    copies = list((await db.scalars(query)).all())
    if not copies:
        return
    pods = {r.pod_id: await db.get(Pod, r.pod_id) for r in copies}

    async def remove(routing: Routing) -> BaseException | None:
        pod = pods[routing.pod_id]
        if pod is None:
            return None
        try:
            name = routing.bottom_id or keypair.name
            await _delete_copy(registry, pod, caller, name, keypair.user_id)
        except (KeypairCopyFailed, PodUnavailable, KeystoneUnavailable) as exc:
            return exc
        return None

    results = await asyncio.gather(*(remove(r) for r in copies))
    for routing, error in zip(copies, results, strict=True):
        if error is None:
            await db.delete(routing)
            continue
        LOG.warning(
            "keypair %s of user %s: copy in pod %s not deleted, routing %s marked stale: %s",
            keypair.name,
            keypair.user_id,
            routing.pod_id,
            routing.id,
            error,
        )
        routing.status = "stale"
        routing.updated_at = _now()
    await db.commit()


async def delete_with_copies(
    db: AsyncSession, registry: PodRegistry, user_id: str, name: str, caller: Caller
) -> None:
    """Delete the user's top keypair `name` (`keypairs.KeypairNotFound` if none), then
    its copies in the pods."""
    await delete_copies(db, registry, await keypairs.delete(db, user_id, name), caller)
