"""A small async OpenStack REST client for the devcloud's own set-up calls.

It authenticates once with Keystone (password, project scope), keeps the
token and catalog, and finds endpoints by service type and region. Every
unexpected answer becomes a `DevcloudError` naming the service and the call.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

import httpx

from devcloud.errors import DevcloudError
from devcloud.layout import PASSWORD


class Rest:
    def __init__(self, auth_url: str, user: str = "admin", project: str = "admin") -> None:
        self.auth_url = auth_url
        self.user = user
        self.project = project
        self.token = ""
        self.project_id = ""
        self.catalog: list[dict[str, Any]] = []
        self._http = httpx.AsyncClient(timeout=120.0)

    async def __aenter__(self) -> Rest:
        await self.authenticate()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def authenticate(self) -> None:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.user,
                            "domain": {"id": "default"},
                            "password": PASSWORD,
                        }
                    },
                },
                "scope": {"project": {"name": self.project, "domain": {"id": "default"}}},
            }
        }
        resp = await self._send("keystone", "POST", f"{self.auth_url}/auth/tokens", body, (201,))
        self.token = resp.headers["X-Subject-Token"]
        token = resp.json()["token"]
        self.project_id = token["project"]["id"]
        self.catalog = token.get("catalog", [])

    def endpoint(self, service_type: str, region: str) -> str:
        for service in self.catalog:
            if service["type"] != service_type:
                continue
            for ep in service["endpoints"]:
                if ep["region_id"] == region and ep["interface"] == "public":
                    return str(ep["url"]).replace("%(project_id)s", self.project_id).rstrip("/")
        raise DevcloudError(service_type, f"no public {service_type} endpoint in region {region}")

    async def _send(
        self,
        service: str,
        method: str,
        url: str,
        body: Any = None,
        ok: Iterable[int] = (200, 201, 202, 204),
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        hdrs = {"X-Auth-Token": self.token} if self.token else {}
        hdrs.update(headers or {})
        try:
            resp = await self._http.request(method, url, json=body, headers=hdrs, content=content)
        except httpx.HTTPError as exc:
            raise DevcloudError(service, f"{method} {url} failed: {exc!r}") from exc
        if resp.status_code not in tuple(ok):
            raise DevcloudError(
                service, f"{method} {url} answered {resp.status_code}: {resp.text[:500]}"
            )
        return resp

    async def call(
        self,
        service: str,
        method: str,
        url: str,
        body: Any = None,
        ok: Iterable[int] = (200, 201, 202, 204),
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> Any:
        """Send a request; return the decoded JSON body (None when there is none)."""
        resp = await self._send(service, method, url, body, ok, headers, content)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            return None

    async def exists(self, service: str, url: str) -> bool:
        """True if GET `url` answers 200, False on 404; anything else is an error."""
        resp = await self._send(service, "GET", url, ok=(200, 404))
        return resp.status_code == 200
