"""The handlers of a top-owned type with key/value specs, made from its description
(`services.volume.spec_types.SpecType`): volume types with their extra specs (`/types`)
and group types with their group specs (`/group_types`), with Cinder's rules and
messages; the pods' copies follow each change through the `<kind>.sync` job.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.routing import Declarations, Handler
from cascade.api.volume import asking
from cascade.api.volume.common import authorize, json_body, negotiated, reply
from cascade.api.volume.errors import VolumeError
from cascade.jobs import queue
from cascade.pods.registry import PodRegistry
from cascade.services.volume.spec_types import SpecType, T, check_specs
from cascade.services.volume.type_copies import TypeCopyFailed

P = ParamSpec("P")
R = TypeVar("R")


def translated(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Service refusals in Cinder's body (`asking.refusals`)."""

    @functools.wraps(handler)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        async with asking.refusals():
            return await handler(*args, **kwargs)

    return wrapped


def parse_bool(raw: Any, name: str) -> bool | None:
    if raw is None or str(raw).lower() == "none":
        return None
    text = str(raw).lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise VolumeError(400, f"Invalid {name} filter [{raw}]")


def scope(request: Request) -> str | None:
    """Whose private types the caller may use: its project's, or (admins: None) all."""
    ctx = context(request)
    return None if ctx.is_admin else ctx.project_id or ""


async def synced(request: Request, job: str, object_id: str) -> None:
    """The pods' copies follow (a job: the latest request wins)."""
    async with session(request) as db:
        await queue.enqueue(db, job, object_id, None, {})
        await db.commit()


Push = Callable[[Request, T, dict[str, str] | None], Awaitable[None]]
Check = Callable[[Request, AsyncSession, T], Awaitable[None]]
Copies = Callable[[AsyncSession, PodRegistry, str], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class Handlers(Generic[T]):
    """The handlers of `type`: `delete_copies` removes the pods' copies before a delete,
    `deletable` may refuse one first, and `push` takes a spec change to the copies
    before the top takes it (Cinder refuses changes to a volume type in use).
    `looked_up_first`: the spec operations (`index`, `show`, `delete`) in which Cinder
    finds the type for the caller before its policy refuses: a private type the caller
    may not use is its 404 there, not the policy's 403 that says the type exists."""

    type: SpecType[T]
    delete_copies: Copies
    deletable: Check[T] | None = None
    push: Push[T] | None = None
    looked_up_first: frozenset[str] = frozenset()

    def routes(self, collection: str, index: Handler) -> Declarations:
        """Its routes: `collection` (listed by `index`), one type, its specs and one spec."""
        one, specs = collection + "/{type_id}", self.type.specs
        return {
            collection: {"GET": index, "POST": self.create},
            one: {"GET": self.show, "PUT": self.update, "DELETE": self.delete},
            f"{one}/{specs}": {"GET": self.specs_index, "POST": self.specs_create},
            f"{one}/{specs}/{{key}}": {
                "GET": self.spec_show,
                "PUT": self.spec_update,
                "DELETE": self.spec_delete,
            },
        }

    async def allowed(self, request: Request, rule: str, operation: str = "") -> None:
        """The microversion (Cinder's 404 below the type's first), then the type as the
        caller may use it where Cinder looks it up first (`looked_up_first`), then the
        policy."""
        await negotiated(request, self.type.since)
        if operation in self.looked_up_first:
            async with session(request) as db:
                await self.type.get(db, request.path_params["type_id"], scope(request))
        authorize(request, rule)

    async def found(self, db: AsyncSession, request: Request) -> T:
        return await self.type.get(db, request.path_params["type_id"], None)

    def _entity(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get(self.type.kind), dict):
            raise VolumeError(400, f"'{self.type.kind}' is a required property")
        entity: dict[str, Any] = body[self.type.kind]
        return entity

    def _answer(self, row: T, hidden: tuple[str, ...]) -> dict[str, Any]:
        view = self.type.view(row, True)
        for key in hidden:
            view.pop(key)
        return {self.type.kind: view}

    async def _set(self, request: Request, specs: dict[str, str]) -> None:
        """`specs` set on the URL's type (the pods' copies first, with `push`)."""
        async with session(request) as db:
            found = await self.found(db, request)
            if self.push is not None:
                await self.push(request, found, {**self.type.specs_of(found), **specs})
            await self.type.set_specs(db, found, specs)
        await synced(request, f"{self.type.kind}.sync", found.id)

    @translated
    async def show(self, request: Request) -> Response:
        """GET /{id}: the type if the caller may use it (a private one: admins and, for
        a volume type, the projects given access), else 404."""
        await negotiated(request, self.type.since)
        type_id = request.path_params["type_id"]
        if type_id == "default" and self.type.no_default:
            raise VolumeError(404, self.type.no_default)
        async with session(request) as db:
            found = await self.type.get(db, type_id, scope(request))
        return reply({self.type.kind: self.type.view(found, context(request).is_admin)})

    @translated
    async def create(self, request: Request) -> Response:
        """POST (admin): the new type (public unless the body says not); 409 for a name
        in use."""
        await self.allowed(request, self.type.rules.format("create"))
        entity = self._entity(await json_body(request))
        public = parse_bool(entity.get(self.type.public, True), "is_public")
        async with session(request) as db:
            made = await self.type.create(
                db,
                entity.get("name"),
                entity.get("description"),
                entity.get(self.type.specs),
                True if public is None else public,
            )
        return reply(self._answer(made, self.type.hidden[0]), self.type.created)

    @translated
    async def update(self, request: Request) -> Response:
        """PUT /{id} (admin): the name, description or is_public given; the type."""
        await self.allowed(request, self.type.rules.format("update"))
        entity = self._entity(await json_body(request))
        public = parse_bool(entity.get("is_public"), "is_public")
        async with session(request) as db:
            found = await self.found(db, request)
            await self.type.update(db, found, entity.get("name"), entity.get("description"), public)
            answer = self._answer(found, self.type.hidden[1])
        await synced(request, f"{self.type.kind}.sync", found.id)
        return reply(answer)

    @translated
    async def delete(self, request: Request) -> Response:
        """DELETE /{id} (admin): 202 once the pods' copies are gone; a pod whose volumes
        or groups use its copy refuses: 400 `Target <volume|group> type is still in use.`
        (any other refusal keeps its status, with the pod named)."""
        await self.allowed(request, self.type.rules.format("delete"))
        async with session(request) as db:
            found = await self.found(db, request)
            if self.deletable is not None:
                await self.deletable(request, db, found)
            try:
                await self.delete_copies(db, request.app.state.registry, found.id)
            except TypeCopyFailed as exc:
                if exc.status == 400:
                    what = self.type.kind.split("_")[0]
                    raise VolumeError(400, f"Target {what} type is still in use.") from exc
                raise VolumeError(exc.status if exc.status < 500 else 502, str(exc)) from exc
            await db.delete(found)
            await db.commit()
        return reply(None, 202)

    @translated
    async def specs_index(self, request: Request) -> Response:
        """GET /{id}/<specs> (admin): every spec of the type."""
        await self.allowed(request, self.type.spec_rules.format(self.type.reads[0]), "index")
        async with session(request) as db:
            found = await self.found(db, request)
        return reply({self.type.specs: self.type.specs_of(found)})

    @translated
    async def specs_create(self, request: Request) -> Response:
        """POST /{id}/<specs> (admin): the specs given set, the others kept; answers
        what was given."""
        await self.allowed(request, self.type.spec_rules.format("create"))
        body = await json_body(request)
        if not isinstance(body, dict) or self.type.specs not in body:
            raise VolumeError(400, f"'{self.type.specs}' is a required property")
        specs = check_specs(body[self.type.specs])
        await self._set(request, specs)
        return reply({self.type.specs: specs}, self.type.created)

    @translated
    async def spec_show(self, request: Request) -> Response:
        """GET /{id}/<specs>/{key} (admin): `{key: value}`, 404 when the type has none."""
        await self.allowed(request, self.type.spec_rules.format(self.type.reads[1]), "show")
        key = request.path_params["key"]
        async with session(request) as db:
            specs = self.type.specs_of(await self.found(db, request))
        if key not in specs:
            type_id = request.path_params["type_id"]
            raise VolumeError(404, self.type.no_spec[0].format(id=type_id, key=key))
        return reply({key: specs[key]})

    @translated
    async def spec_update(self, request: Request) -> Response:
        """PUT /{id}/<specs>/{key} (admin): `{key: value}` set and answered."""
        await self.allowed(request, self.type.spec_rules.format("update"))
        key = request.path_params["key"]
        body = await json_body(request)
        if not isinstance(body, dict) or len(body) != 1 or key not in body:
            raise VolumeError(400, "Request body and URI mismatch")
        specs = check_specs(body)
        await self._set(request, specs)
        return reply(specs)

    @translated
    async def spec_delete(self, request: Request) -> Response:
        """DELETE /{id}/<specs>/{key} (admin): 202; 404 when the type has no such key."""
        await self.allowed(request, self.type.spec_rules.format("delete"), "delete")
        key = request.path_params["key"]
        async with session(request) as db:
            found = await self.found(db, request)
            specs = self.type.specs_of(found)
            if self.push is not None and key in specs:
                await self.push(request, found, {k: v for k, v in specs.items() if k != key})
            await self.type.unset_spec(db, found, key)
        await synced(request, f"{self.type.kind}.sync", found.id)
        return reply(None, 202)
