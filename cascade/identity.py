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

    async def _issue(self, scope: dict[str, Any]) -> httpx.Response:
        """Keystone's answer to the service user's password authentication for `scope`."""
        user = {
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
        async with self._project_lock:
            now = time.monotonic()
            cached = self._project_tokens.get(project_id)
            if cached is not None and now < cached[1] and not renew:
                self._project_tokens.move_to_end(project_id)
                return cached[0]
            scope = {"project": {"id": project_id}}
            resp = await self._issue(scope)
            if resp.status_code == 401:  # no role in the project yet
                await self._grant(project_id)
                resp = await self._issue(scope)
            if resp.status_code != 201:
                raise KeystoneUnavailable(
                    f"Keystone refused the service user a token of project {project_id} "
                    f"({resp.status_code})"
                )
            self._project_tokens[project_id] = (
                resp.headers["X-Subject-Token"],
                _refresh_at(resp, now),
            )
            while len(self._project_tokens) > PROJECT_TOKENS:
                self._project_tokens.popitem(last=False)
            return resp.headers["X-Subject-Token"]

    async def _grant(self, project_id: str) -> None:
        """The service user given `[keystone] project_role` in the project."""
        await self.service_token()
        base = self.conf.auth_url
        roles = await self._as_service(f"{base}/roles", params={"name": self.conf.project_role})
        found = roles.json().get("roles", []) if roles.status_code == 200 else []
        if not found:
            raise KeystoneUnavailable(f"Keystone has no role {self.conf.project_role!r}")
        path = f"/projects/{quote(project_id, safe='')}/users/{self.service_user_id}"
        try:
            resp = await self._http.put(
                f"{base}{path}/roles/{found[0]['id']}", auth=self.service_auth
            )
        except httpx.HTTPError as exc:
            raise KeystoneUnavailable(f"Keystone at {base}: {_why(exc)}") from exc
        if resp.status_code not in (200, 204):
            raise KeystoneUnavailable(
                f"Keystone refused the service user role {self.conf.project_role!r} in "
                f"project {project_id} ({resp.status_code})"
            )

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
        resp = await self._as_service(f"{self.conf.auth_url}/projects/{quote(project_id, safe='')}")
        if resp.status_code not in (200, 404):
            raise KeystoneUnavailable(f"Keystone answered {resp.status_code} for a project")
        return dict(resp.json()["project"]) if resp.status_code == 200 else None

    async def ensure_project(self, name: str, description: str) -> str:
        """The id of the project named `name` (else `name-2`, ...) in the service user's
        domain whose description is `description`, made if there is none: a project made
        before a crash is found again, never made twice."""
        await self.service_token()
        base = self.conf.auth_url
        attempt, tries = 1, 0
        while attempt < 10 and tries < 20:
            tries += 1
            wanted = name if attempt == 1 else f"{name}-{attempt}"
            params = {"name": wanted, "domain_id": self.service_domain_id}
            found = await self._as_service(f"{base}/projects", params=params)
            if found.status_code != 200:
                raise KeystoneUnavailable(f"Keystone answered {found.status_code} for projects")
            projects = found.json().get("projects", [])
            if projects and projects[0].get("description") == description:
                return str(projects[0]["id"])
            if projects:
                attempt += 1  # the name is another project's
                continue
            body = {
                "project": {
                    "name": wanted,
                    "description": description,
                    "domain_id": self.service_domain_id,
                    "enabled": True,
                }
            }
            try:
                resp = await self._http.post(f"{base}/projects", json=body, auth=self.service_auth)
            except httpx.HTTPError as exc:
                raise KeystoneUnavailable(f"Keystone at {base}: {_why(exc)}") from exc
            if resp.status_code == 201:
                return str(resp.json()["project"]["id"])
            if resp.status_code != 409:  # 409: made at once by another process: read again
                raise KeystoneUnavailable(
                    f"Keystone refused to make project {wanted!r} ({resp.status_code})"
                )
        raise KeystoneUnavailable(f"no free project name for {name!r} in Keystone at {base}")

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
