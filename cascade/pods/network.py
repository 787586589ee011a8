"""Calls to one pod's Neutron with Cascade's service token (no HTTP types leak out).

The top builds bottom networks as an admin: provider VLAN attributes, fixed
addresses and MACs need it. Every object is created for the tenant's project
(`project_id` in the body), so the pod's ownership and RBAC stay true and Nova
boots the tenant's servers on the tenant's ports. `PodUnavailable` (pod down,
breaker open) is passed on; a refusal raises `PodNetworkRefused` with the pod's
own Neutron message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from cascade.db.models import Pod
from cascade.pods.calls import pod_request
from cascade.pods.compute import PodRefused
from cascade.pods.registry import PodRegistry


class PodNetworkRefused(PodRefused):
    what = "a network call"


def neutron_message(resp: httpx.Response) -> str:
    """The message of a Neutron error body, else the start of the text."""
    try:
        body: Any = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("NeutronError"), dict):
        return str(body["NeutronError"].get("message", ""))
    return resp.text.strip()[:500] or f"HTTP {resp.status_code}"


@dataclass(frozen=True)
class PodNeutron:
    registry: PodRegistry
    pod: Pod
    request_id: str = ""
    refused = PodNetworkRefused  # what a refused call raises, as `services.copies.PodAPI`

    async def call(
        self, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        url = (await self.registry.endpoint(self.pod, "network")).rstrip("/") + "/v2.0" + path
        headers = {"Accept": "application/json"}
        if self.request_id:
            headers["X-OpenStack-Request-ID"] = self.request_id
        return await pod_request(
            self.registry, self.pod, "network", method, url, headers, json=json, params=params
        )

    async def ok(
        self, method: str, path: str, what: str, *, json: Any = None, params: Any = None
    ) -> Any:
        """The decoded answer of a call that must succeed; `PodNetworkRefused` otherwise."""
        resp = await self.call(method, path, json=json, params=params)
        if resp.status_code >= 400:
            raise PodNetworkRefused(self.pod.name, resp.status_code, neutron_message(resp), what)
        return resp.json() if resp.content else None

    async def named(self, collection: str, name: str, field: str = "name") -> list[dict[str, Any]]:
        """The pod's objects of `collection` (e.g. `networks`) whose `field` is `name`."""
        key = collection.replace("-", "_")
        found = await self.ok("GET", f"/{collection}", f"a {key} lookup", params={field: name})
        items: list[dict[str, Any]] = found[key]
        return items

    async def delete(self, collection: str, bottom_id: str) -> None:
        """DELETE one object; already gone counts as done."""
        resp = await self.call("DELETE", f"/{collection}/{bottom_id}")
        if resp.status_code not in (204, 404):
            message = neutron_message(resp)
            raise PodNetworkRefused(
                self.pod.name, resp.status_code, message, f"a {collection} delete"
            )
