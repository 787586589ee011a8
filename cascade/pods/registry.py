"""Which URL each pod service has (from the Keystone catalog, by the pod's region),
and the one client per pod service that every call to it goes through."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import httpx

from cascade.conf import PodsSection
from cascade.db.models import Pod
from cascade.identity import TokenValidator
from cascade.pods.client import PodClient, PodUnavailable

C = TypeVar("C")


def region_endpoints(catalog: list[dict[str, Any]], region: str) -> dict[str, str]:
    """Public endpoint URL per service type in `region`."""
    found: dict[str, str] = {}
    for service in catalog:
        for ep in service.get("endpoints", []):
            if ep.get("interface") == "public" and ep.get("region_id", ep.get("region")) == region:
                found[str(service["type"])] = str(ep["url"])
    return found


class PodRegistry:
    def __init__(
        self,
        conf: PodsSection,
        validator: TokenValidator,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.conf = conf
        self.validator = validator
        self.service_auth = validator.service_auth  # calls made as Cascade itself
        self.transport = transport
        self._catalog: list[dict[str, Any]] | None = None
        self._clients: dict[tuple[str, str], PodClient] = {}
        self._caches: dict[type, object] = {}

    async def endpoints(self, region: str, refresh: bool = False) -> dict[str, str]:
        """The region's endpoints; the catalog is read again when a region is not in it."""
        if self._catalog is None or refresh:
            self._catalog = await self.validator.catalog()
        found = region_endpoints(self._catalog, region)
        if not found and not refresh:
            return await self.endpoints(region, refresh=True)
        return found

    async def endpoint(self, pod: Pod, service: str, *types: str) -> str:
        """The pod's URL of the first catalog type of `types` (default: `service`) in its
        region; `PodUnavailable` (503-worthy) when there is none."""
        found = await self.endpoints(pod.region_name)
        for kind in types or (service,):
            if kind in found:
                return found[kind]
        wanted = types[0] if types else service
        raise PodUnavailable(pod.name, service, f"no {wanted} endpoint in region {pod.region_name}")

    def cache(self, kind: type[C]) -> C:
        """This process's one instance of a service's cache class (made on first use): the
        services keep what the pods answered, the registry only gives it a place."""
        found = self._caches.get(kind)
        if found is None:
            found = self._caches[kind] = kind()
        return cast(C, found)

    @property
    def list_deadline(self) -> float:
        """Seconds an answer made of every pod's waits for them (see `pods.fanout`)."""
        return self.conf.list_deadline

    def late(self, pod: str, service: str) -> None:
        """A call to the pod's `service` outlasted its deadline: its breaker counts a failure."""
        self.client(pod, service).breaker.failure()

    def client(self, pod: str, service: str) -> PodClient:
        key = (pod, service)
        if key not in self._clients:
            self._clients[key] = PodClient(pod, service, self.conf, self.transport)
        return self._clients[key]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
