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

import dataclasses
import logging
import re
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Keypair, Pod, Routing
from cascade.identity import KeystoneUnavailable
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, PodRefused, call
from cascade.pods.registry import PodRegistry
from cascade.services import copies
from cascade.services.compute import keypairs
from cascade.services.copies import PodAPI

LOG = logging.getLogger(__name__)
RESOURCE = "keypair"
WITH_TYPE = "2.2"  # the first microversion that takes a keypair's `type`
WITH_USER_ID = "2.10"  # the first that takes `user_id` (delete on the owner's behalf)
WITH_RELAXED_NAMES = "2.92"  # the first that takes names with `@` and `.`
_OLD_NAME = re.compile(r"^[_\- a-zA-Z0-9]+$")  # names every microversion takes


class KeypairCopyFailed(PodRefused):
    """The pod refused a keypair call: its status and message, with the pod named."""

    what = "a keypair copy"


@dataclasses.dataclass
class KeypairCopy:
    """A user's keypair in a pod's Nova (`copies.Kind`): named as at the top, owned by
    the user whose token the calls carry; a top keypair never changes, nor its copy."""

    user_id: str
    resource: str = RESOURCE

    def name(self, top: Keypair) -> str:
        return top.name

    def bottom_id(self, copy: dict[str, Any]) -> str:
        return str(copy["name"])

    async def find(self, api: PodAPI[Caller], top: Keypair) -> dict[str, Any] | None:
        resp = await api.send("GET", _path(top.name), (200, 404))
        found: dict[str, Any] | None = resp.json()["keypair"] if resp.status_code == 200 else None
        return found

    def same(self, copy: dict[str, Any], top: Keypair) -> bool:
        """A copy with another public key is a leftover of an earlier keypair of that name
        (deleted at the top while the pod was down, or made in the pod directly): the
        top's key wins."""
        return str(copy.get("public_key", "")).strip() == top.public_key.strip()

    async def create(self, api: PodAPI[Caller], top: Keypair) -> dict[str, Any] | None:
        body = {"keypair": {"name": top.name, "public_key": top.public_key, "type": top.type}}
        resp = await api.send("POST", "/os-keypairs", (200, 201, 409), json=body)
        return None if resp.status_code == 409 else {"name": top.name}

    async def converge(
        self, api: PodAPI[Caller], top: Keypair, copy: dict[str, Any], fresh: bool
    ) -> None:
        return None

    async def remove(self, api: PodAPI[Caller], bottom_id: str) -> None:
        await _delete_copy(api, bottom_id, self.user_id)


def _path(name: str) -> str:
    return f"/os-keypairs/{quote(name, safe='')}"


def _api(registry: PodRegistry, pod: Pod, caller: Caller) -> PodAPI[Caller]:
    return PodAPI(registry, pod, caller, call, KeypairCopyFailed)


async def _delete_copy(api: PodAPI[Caller], name: str, user_id: str) -> None:
    """DELETE the pod's copy owned by `user_id` (gone already counts as done)."""
    owner = api.as_(dataclasses.replace(api.caller, version=WITH_USER_ID))
    await owner.send("DELETE", _path(name), (202, 204, 404), params={"user_id": user_id})


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
    version = WITH_TYPE if _OLD_NAME.match(keypair.name) else WITH_RELAXED_NAMES
    api = _api(registry, pod, dataclasses.replace(caller, version=version))
    await copies.ensure(db, api, KeypairCopy(keypair.user_id), keypair, keypair.id)


async def delete_with_copies(
    db: AsyncSession, registry: PodRegistry, user_id: str, name: str, caller: Caller
) -> None:
    """Delete the user's top keypair `name` (`keypairs.KeypairNotFound` if none), then its
    copies in every pod that has one.

    The calls go with `caller`'s token, on behalf of the keypair's owner. A
    copy's routing goes with it. A pod that fails is logged and its routing is
    kept, marked `stale`: the pod still holds a key the top no longer has, and
    the row is how an operator (admin routings API) or a later reconciliation
    finds it, instead of an orphan nobody knows about. A new top keypair of
    the same name replaces the stale copy anyway (`ensure_in_pod`).
    """
    keypair = await keypairs.delete(db, user_id, name)

    async def remove(pod: Pod, routing: Routing) -> None:
        bottom = routing.bottom_id or keypair.name
        await _delete_copy(_api(registry, pod, caller), bottom, keypair.user_id)

    done = await copies.each_copy(db, RESOURCE, keypair.id, remove, parallel=True, intents=True)
    for routing, error in done:
        if error is None:
            await db.delete(routing)
            continue
        if not isinstance(error, KeypairCopyFailed | PodUnavailable | KeystoneUnavailable):
            raise error
        LOG.warning(
            "keypair %s of user %s: copy in pod %s not deleted, routing %s marked stale: %s",
            keypair.name,
            keypair.user_id,
            routing.pod_id,
            routing.id,
            error,
        )
        routing.status = "stale"
        routing.updated_at = copies.now()
    await db.commit()
