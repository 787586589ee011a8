"""Validate Keystone tokens with a service user, and cache the answers.

A validation is kept for at most `revocation_check_interval` seconds (so a revoked
token is refused within that time: Keystone is asked again) and never past the token's
own expiry; the cache is bounded (least recently used entries go first).
The HTTP transport is injectable so tests can put a fake Keystone behind it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from cascade.conf import KeystoneSection
from cascade.context import Context


class KeystoneUnavailable(Exception):
    """Keystone could not be asked (down, timed out, or refused the service user)."""


def _why(exc: Exception) -> str:
    """What went wrong, worded even when httpx gives no words (a read timed out)."""
    return str(exc) or type(exc).__name__


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class ServiceTokenAuth(httpx.Auth):
    """Cascade's service token on a call (to Keystone or to a pod), as an httpx auth flow:
    a 401 means the token expired early or was revoked, so it is renewed once and the
    call sent again. Every call Cascade makes as itself goes through this one flow."""

    requires_request_body = True  # the call may be sent twice

    def __init__(self, validator: TokenValidator) -> None:
        self.validator = validator

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["X-Auth-Token"] = await self.validator.service_token()
        response = yield request
        if response.status_code == 401:
            request.headers["X-Auth-Token"] = await self.validator.service_token(renew=True)
            yield request


PROJECT_TOKENS = 1000  # project-scoped service tokens kept (least recently used go)
# Keystone keeps when a revocation happened to the second (a token's issued_at too): a
# token issued within the second after a password change counts as revoked
REVOCATION_RESOLUTION = 1.1


def _refresh_at(resp: httpx.Response, now: float) -> float:
    """When to renew a token Keystone just issued: a minute before it expires."""
    expires = _parse_time(resp.json()["token"]["expires_at"])
    left = (expires - datetime.now(UTC)).total_seconds()
    return now + max(left - 60, 0)


class TokenValidator:
    def __init__(
        self, conf: KeystoneSection, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.conf = conf
        self._http = httpx.AsyncClient(timeout=conf.timeout, transport=transport)
        self._service_token: tuple[str, float] | None = None  # (token, refresh after)
        self._service_lock = asyncio.Lock()
        self._cache: OrderedDict[str, tuple[Context, float]] = OrderedDict()
        self.service_auth = ServiceTokenAuth(self)
        self.service_user_id = ""
        self.service_domain_id = ""  # the domain of the service user's project
        self._project_tokens: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._project_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def service_token(self, renew: bool = False) -> str:
        """The service user's token (admin in its project): for pod calls a user cannot make,
        such as creating the top's flavors in a pod."""
        async with self._service_lock:
            now = time.monotonic()
            if self._service_token and not renew and now < self._service_token[1]:
                return self._service_token[0]
            scope = {
                "project": {
                    "name": self.conf.project_name,
                    "domain": {"name": self.conf.project_domain_name},
                }
            }
            resp = await self._issue(scope)
            if resp.status_code != 201:
                raise KeystoneUnavailable(
                    f"Keystone refused the service user {self.conf.username!r} ({resp.status_code})"
                )
            token = resp.json()["token"]
            self.service_user_id = str(token.get("user", {}).get("id", ""))
            self.service_domain_id = str(token.get("project", {}).get("domain", {}).get("id", ""))
            self._service_token = (resp.headers["X-Subject-Token"], _refresh_at(resp, now))
            return self._service_token[0]

    async def _issue(
        self, scope: dict[str, Any], user: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Keystone's answer to a password authentication for `scope`: the service
        user's, or `user`'s (`{"id": ..., "password": ...}`)."""
        user = user or {
            "name": self.conf.username,
            "domain": {"name": self.conf.user_domain_name},
            "password": self.conf.password,
        }
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": scope,
            }
        }
        try:
            return await self._http.post(f"{self.conf.auth_url}/auth/tokens?nocatalog", json=body)
        except httpx.HTTPError as exc:
            raise KeystoneUnavailable(f"Keystone at {self.conf.auth_url}: {_why(exc)}") from exc

    async def project_token(self, project_id: str, renew: bool = False) -> str:
        """A token of the service user scoped to project `project_id`: what Cascade uses to
        make objects in that project in a pod when no user's token is at hand (a server
        moved to another pod is made there in its own project). The first time, the
        service user is given `[keystone] project_role` in the project (Keystone lets the
        service user, an admin, grant it), the least role that creates servers and
        volumes. KeystoneUnavailable when Keystone does not answer or refuses."""
        await self.service_token()
        return await self._scoped(None, self.service_user_id, project_id, renew)

    async def user_token(
        self,
        user_id: str,
        password: str,
        project_id: str,
        renew: bool = False,
        role: str | None = None,
    ) -> str:
        """A token of user `user_id` (one the service user made: `ensure_user`) scoped to
        project `project_id`, the user given `role` (default `[keystone] project_role`)
        there the first time, its password set again when Keystone still refuses it (the
        secret it is made from changed)."""
        user = {"id": user_id, "password": password}
        return await self._scoped(user, user_id, project_id, renew, role)

    async def _scoped(
        self,
        user: dict[str, Any] | None,
        user_id: str,
        project_id: str,
        renew: bool,
        role: str | None = None,
    ) -> str:
        """A project-scoped token of the service user (`user` None) or of `user`, kept
        until a minute before it expires (see `project_token`, `user_token`)."""
        key = f"{user_id}/{project_id}"
        async with self._project_lock:
            now = time.monotonic()
            cached = self._project_tokens.get(key)
            if cached is not None and now < cached[1] and not renew:
                self._project_tokens.move_to_end(key)
                return cached[0]
            scope = {"project": {"id": project_id}}
            resp = await self._issue(scope, user)
            if resp.status_code == 401:  # no role in the project yet, or a new password
                await self._grant(project_id, user_id, role)
                resp = await self._issue(scope, user)
            if resp.status_code == 401 and user is not None:
                # the password (of a secret since rotated): set it again. That revokes
                # the user's tokens, and Keystone's revocations have a resolution of one
                # second: a token issued in the same second would be refused by the
                # services, so the next is asked for a second later
                await self._set_password(user_id, str(user["password"]))
                await asyncio.sleep(REVOCATION_RESOLUTION)
                resp = await self._issue(scope, user)
            if resp.status_code != 201:
                raise KeystoneUnavailable(
                    f"Keystone refused user {user_id} a token of project {project_id} "
                    f"({resp.status_code})"
                )
            self._project_tokens[key] = (resp.headers["X-Subject-Token"], _refresh_at(resp, now))
            while len(self._project_tokens) > PROJECT_TOKENS:
                self._project_tokens.popitem(last=False)
            return resp.headers["X-Subject-Token"]

    async def _grant(self, project_id: str, user_id: str, role: str | None = None) -> None:
        """User `user_id` given `role` (default `[keystone] project_role`) in the project."""
        await self.service_token()
        base = self.conf.auth_url
        role = role or self.conf.project_role
        roles = await self._as_service(f"{base}/roles", params={"name": role})
        found = roles.json().get("roles", []) if roles.status_code == 200 else []
        if not found:
            raise KeystoneUnavailable(f"Keystone has no role {role!r}")
        path = f"/projects/{quote(project_id, safe='')}/users/{quote(user_id, safe='')}"
        resp = await self._send("PUT", f"{base}{path}/roles/{found[0]['id']}")
        if resp.status_code not in (200, 204):
            raise KeystoneUnavailable(
                f"Keystone refused user {user_id} role {role!r} in "
                f"project {project_id} ({resp.status_code})"
            )

    async def _set_password(self, user_id: str, password: str) -> None:
        body = {"user": {"password": password}}
        resp = await self._send(
            "PATCH", f"{self.conf.auth_url}/users/{quote(user_id, safe='')}", json=body
        )
        if resp.status_code != 200:
            raise KeystoneUnavailable(
                f"Keystone kept user {user_id}'s password ({resp.status_code})"
            )

    async def _send(self, method: str, url: str, json: Any = None) -> httpx.Response:
        """`method` on `url` as the service user (see `ServiceTokenAuth`)."""
        try:
            return await self._http.request(method, url, json=json, auth=self.service_auth)
        except httpx.HTTPError as exc:
            raise KeystoneUnavailable(f"Keystone at {self.conf.auth_url}: {_why(exc)}") from exc

    async def ensure_user(self, name: str, description: str, password: str) -> str:
        """The id of the user named `name` (else `name-2`, ...) in the service user's
        domain whose description is `description`, made (with `password`) if there is
        none: a user made before a crash is found again, never made twice."""
        return await self._ensure("users", name, description, {"password": password})

    async def _as_service(
        self, url: str, headers: dict[str, str] | None = None, params: Any = None
    ) -> httpx.Response:
        """GET `url` with the service token (see `ServiceTokenAuth`)."""
        try:
            return await self._http.get(url, headers=headers, params=params, auth=self.service_auth)
        except httpx.HTTPError as exc:
            raise KeystoneUnavailable(f"Keystone at {self.conf.auth_url}: {_why(exc)}") from exc

    async def catalog(self) -> list[dict[str, Any]]:
        """The service catalog, as Keystone gives it to the service user."""
        resp = await self._as_service(f"{self.conf.auth_url}/auth/catalog")
        if resp.status_code != 200:
            raise KeystoneUnavailable(f"Keystone answered {resp.status_code} for the catalog")
        return list(resp.json()["catalog"])

    async def project_exists(self, project_id: str) -> bool:
        """Whether Keystone knows project `project_id` (asked as the service user)."""
        return await self.project(project_id) is not None

    async def project(self, project_id: str) -> dict[str, Any] | None:
        """Keystone's project `project_id` (asked as the service user), None if unknown."""
        return await self._one("projects", project_id)

    async def user(self, user_id: str) -> dict[str, Any] | None:
        """Keystone's user `user_id` (asked as the service user), None if unknown."""
        return await self._one("users", user_id)

    async def _one(self, collection: str, item_id: str) -> dict[str, Any] | None:
        resp = await self._as_service(
            f"{self.conf.auth_url}/{collection}/{quote(item_id, safe='')}"
        )
        if resp.status_code not in (200, 404):
            raise KeystoneUnavailable(f"Keystone answered {resp.status_code} for {collection}")
        return dict(resp.json()[collection[:-1]]) if resp.status_code == 200 else None

    async def ensure_project(self, name: str, description: str) -> str:
        """The id of the project named `name` (else `name-2`, ...) in the service user's
        domain whose description is `description`, made if there is none: a project made
        before a crash is found again, never made twice."""
        return await self._ensure("projects", name, description, {"enabled": True})

    async def _ensure(
        self, collection: str, name: str, description: str, extra: dict[str, Any]
    ) -> str:
        """See `ensure_project` and `ensure_user` (`collection`: `projects`, `users`)."""
        await self.service_token()
        base = self.conf.auth_url
        key = collection[:-1]
        attempt, tries = 1, 0
        while attempt < 10 and tries < 20:
            tries += 1
            wanted = name if attempt == 1 else f"{name}-{attempt}"
            params = {"name": wanted, "domain_id": self.service_domain_id}
            found = await self._as_service(f"{base}/{collection}", params=params)
            if found.status_code != 200:
                raise KeystoneUnavailable(f"Keystone answered {found.status_code} for {collection}")
            items = found.json().get(collection, [])
            if items and items[0].get("description") == description:
                return str(items[0]["id"])
            if items:
                attempt += 1  # the name is another one's
                continue
            body = {
                key: {
                    "name": wanted,
                    "description": description,
                    "domain_id": self.service_domain_id,
                    **extra,
                }
            }
            resp = await self._send("POST", f"{base}/{collection}", json=body)
            if resp.status_code == 201:
                return str(resp.json()[key]["id"])
            if resp.status_code != 409:  # 409: made at once by another process: read again
                raise KeystoneUnavailable(
                    f"Keystone refused to make {key} {wanted!r} ({resp.status_code})"
                )
        raise KeystoneUnavailable(f"no free {key} name for {name!r} in Keystone at {base}")

    async def validate(self, token: str) -> Context | None:
        """The context of a valid token, None if Keystone says it is not valid."""
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            if time.monotonic() < cached[1]:
                self._cache.move_to_end(key)
                return cached[0]
            del self._cache[key]
        ctx = await self._ask_keystone(token)
        if ctx is not None:
            left = (ctx.expires_at - datetime.now(UTC)).total_seconds()
            self._cache[key] = (
                ctx,
                time.monotonic() + min(self.conf.revocation_check_interval, left),
            )
            while len(self._cache) > self.conf.cache_size:
                self._cache.popitem(last=False)
        return ctx

    async def _ask_keystone(self, token: str) -> Context | None:
        resp = await self._as_service(
            f"{self.conf.auth_url}/auth/tokens?nocatalog", {"X-Subject-Token": token}
        )
        if resp.status_code == 200:
            return _context(token, resp.json()["token"])
        if resp.status_code == 404:
            return None
        raise KeystoneUnavailable(f"Keystone answered {resp.status_code} to a token validation")


def _context(token: str, body: dict[str, object]) -> Context:
    user = body["user"]
    project = body.get("project")
    roles = body.get("roles", [])
    assert isinstance(user, dict) and isinstance(roles, list)
    expires = body["expires_at"]
    assert isinstance(expires, str)
    return Context(
        token=token,
        user_id=str(user["id"]),
        user_name=str(user.get("name", "")),
        project_id=str(project["id"]) if isinstance(project, dict) else None,
        project_name=str(project.get("name", "")) if isinstance(project, dict) else None,
        roles=frozenset(str(r["name"]) for r in roles),
        expires_at=_parse_time(expires),
    )
