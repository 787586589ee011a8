"""Which URL each pod service has (from the Keystone catalog, by the pod's region),
and the one client per pod service that every call to it goes through."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any, TypeVar, cast

import httpx

from cascade.conf import PodsSection
from cascade.db.models import Pod
from cascade.identity import KeystoneUnavailable, TokenValidator
from cascade.pods.client import PodClient, PodUnavailable, tls_context
from cascade.pods.identities import PodIdentities, ProjectMap, independent
from cascade.pods.transport import PodTransport

C = TypeVar("C")
LOG = logging.getLogger(__name__)
CATALOG_MISS_SECONDS = 10.0  # a region not in the catalog: read again at most this often


def region_endpoints(catalog: list[dict[str, Any]], region: str) -> dict[str, str]:
    """Public endpoint URL per service type in `region`."""
    return index_catalog(catalog).get(region, {})


def index_catalog(catalog: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Region -> service type -> public URL, in one pass over the catalog (a pod call
    then finds its URL without scanning a catalog of thousands of regions)."""
    index: dict[str, dict[str, str]] = {}
    for service in catalog:
        for ep in service.get("endpoints", []):
            if ep.get("interface") == "public":
                region = str(ep.get("region_id", ep.get("region")))
                index.setdefault(region, {})[str(service["type"])] = str(ep["url"])
    return index


class PodRegistry:
    """The pods' endpoints (the Keystone catalog, indexed by region) and one client per
    pod service.

    The catalog is read once and shared: concurrent first calls wait for one read (no
    stampede on Keystone after a restart); it is read again in the background once it is
    `[pods] catalog_ttl` old, and when a pod's region is not in it, at most once per
    CATALOG_MISS_SECONDS (a pod with a wrong region does not make every call read it), at
    once after the pods changed (`forget_catalog`)."""

    def __init__(
        self,
        conf: PodsSection,
        validator: TokenValidator,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.conf = conf
        self.validator = validator
        self.service_auth = validator.service_auth  # calls made as Cascade itself
        # every pod call's wire: a test's fake pods, or one `PodTransport` for the process
        # (made on the first call, in the running loop; see `pods.transport`)
        self.transport = transport
        self._own_transport: PodTransport | None = None
        self._index: dict[str, dict[str, str]] | None = None
        self._read_at = -math.inf  # monotonic time of the last read (-inf: read on a miss)
        self._reading = asyncio.Lock()
        self._background: asyncio.Task[Any] | None = None
        self._clients: dict[tuple[str, str], PodClient] = {}
        self._caches: dict[type, object] = {}
        # independent pods: their own Keystones (sign-in, catalog) and the top projects
        # mapped into them (set by the process that has the database: `services.pod_projects`)
        self._identities: PodIdentities | None = None
        self.projects: ProjectMap | None = None
        self._pod_catalogs: dict[str, tuple[dict[str, str], float]] = {}

    async def endpoints(self, region: str) -> dict[str, str]:
        """The region's endpoints (service type -> URL; empty: none in the catalog)."""
        index = self._index if self._index is not None else await self._read()
        age = time.monotonic() - self._read_at
        found = index.get(region)
        if found is None and age >= CATALOG_MISS_SECONDS:
            found = (await self._read()).get(region)
        elif age >= self.conf.catalog_ttl and self._background is None:
            self._background = asyncio.create_task(self._refresh())
        return dict(found or {})

    async def _read(self) -> dict[str, dict[str, str]]:
        """The catalog read now, or by the concurrent caller this one waited for."""
        asked = time.monotonic()
        async with self._reading:
            if self._index is not None and self._read_at >= asked:
                return self._index
            self._index = index_catalog(await self.validator.catalog())
            self._read_at = time.monotonic()
            return self._index

    async def _refresh(self) -> None:
        try:
            await self._read()
        except Exception:
            LOG.warning("reading the Keystone catalog again failed", exc_info=True)
        finally:
            self._background = None

    def forget_catalog(self) -> None:
        """The pods changed: a region not in the catalog makes the next call read it (and
        an independent pod's own catalog is read again)."""
        self._read_at = -math.inf
        self._pod_catalogs.clear()

    @property
    def identities(self) -> PodIdentities:
        """The independent pods' sign-ins (made on first use; as the top's, but their own
        Keystones)."""
        if self._identities is None:
            self._identities = PodIdentities(self.validator.conf, self.transport)
        return self._identities

    async def pod_endpoints(self, pod: Pod) -> dict[str, str]:
        """The pod's endpoints (service type -> URL): its region in the top's catalog, or
        for an independent pod in its own Keystone's catalog (read again once it is
        `[pods] catalog_ttl` old); `PodUnavailable` when that Keystone does not answer."""
        if not independent(pod):
            return await self.endpoints(pod.region_name)
        kept = self._pod_catalogs.get(pod.id)
        if kept is not None and time.monotonic() - kept[1] < self.conf.catalog_ttl:
            return kept[0]
        try:
            catalog = await self.identities.of(pod).catalog()
        except KeystoneUnavailable as exc:
            if kept is not None:  # the last catalog read serves while Keystone is away
                return kept[0]
            raise PodUnavailable(pod.name, "identity", str(exc), sent=False) from exc
        found = index_catalog(catalog).get(pod.catalog_region or pod.region_name, {})
        self._pod_catalogs[pod.id] = (found, time.monotonic())
        return found

    async def endpoint(self, pod: Pod, service: str, *types: str) -> str:
        """The pod's URL of the first catalog type of `types` (default: `service`) in its
        region; `PodUnavailable` (503-worthy) when there is none."""
        found = await self.pod_endpoints(pod)
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

    @property
    def fanout_in_flight(self) -> int:
        """Calls one answer made of every pod's has in flight at once (see `pods.fanout`)."""
        return self.conf.fanout_in_flight

    def late(self, pod: str, service: str) -> None:
        """A call to the pod's `service` outlasted its deadline: its breaker counts a failure."""
        self.client(pod, service).breaker.failure()

    def client(self, pod: str, service: str) -> PodClient:
        """The pod service's client (made on first use; a breaker, limits and a pace:
        the connections are the shared transport's)."""
        key = (pod, service)
        found = self._clients.get(key)
        if found is None:
            transport = self.transport
            if transport is None:
                if self._own_transport is None:
                    self._own_transport = PodTransport(tls_context())
                transport = self._own_transport
            found = self._clients[key] = PodClient(pod, service, self.conf, transport)
        return found

    def clients(self) -> list[tuple[tuple[str, str], PodClient]]:
        """Every pod service's client made so far, by (pod, service)."""
        return list(self._clients.items())

    async def aclose(self) -> None:
        if self._background is not None:
            self._background.cancel()
        for client in self._clients.values():
            await client.aclose()
        if self._own_transport is not None:
            await self._own_transport.aclose()
        if self._identities is not None:
            await self._identities.aclose()
