"""Every route cascade-api serves, as (method, path template) pairs.

Read from the application itself, so a route added later is fuzzed without a change
here: the top's routes, the Block Storage router's own table behind
`/volume/v3/{path:path}`, and the Networking API's `{collection}` templates expanded
into each collection it serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.routing import BaseRoute, Mount, Route

from cascade.api.network.resources import COLLECTIONS as NETWORK_COLLECTIONS
from cascade.api.volume.common import V3
from cascade.api.volume.routes import VolumeRouter

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
IMAGE = "/image"
PARAM = re.compile(r"\{([a-z_]+)(?::path)?\}")


@dataclass(frozen=True, order=True)
class Endpoint:
    """One method on one path template (`/compute/v2.1/servers/{server_id}`)."""

    method: str
    template: str

    @property
    def service(self) -> str:
        """compute, volume, network or admin: the error format its refusals use."""
        return service_of(self.template)

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.template)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def service_of(path: str) -> str:
    for prefix, name in (
        ("/compute", "compute"),
        ("/volume", "volume"),
        ("/networking", "network"),
        ("/v1", "admin"),
    ):
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return "admin"  # `/` and anything unknown: the admin API's format


def _flat(routes: Iterable[BaseRoute], prefix: str = "") -> Iterable[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _flat(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path, route


def endpoints(routes: Iterable[BaseRoute]) -> list[Endpoint]:
    """Every (method, template) of `routes` (an app's `app.routes`), HEAD left out (GET's
    twin), the volume router and the network collections expanded."""
    found: set[Endpoint] = set()
    for path, route in _flat(routes):
        if path == IMAGE or path.startswith(IMAGE + "/"):
            # the Image API relays to Glance whatever passes the input guard and the
            # auth middleware (whose refusals `test_image_api` checks in Glance's format):
            # fuzzing it would fuzz the fake Glance
            continue
        methods = sorted((route.methods or set()) - {"HEAD"})
        if isinstance(route.app, VolumeRouter) or isinstance(route.endpoint, VolumeRouter):
            inner = route.endpoint if isinstance(route.endpoint, VolumeRouter) else route.app
            assert isinstance(inner, VolumeRouter)
            if path == V3:
                found |= {Endpoint(m, V3) for m in ("GET", "POST")}
                continue
            for sub_path, sub in _flat(inner.router.routes):
                for method in sorted((sub.methods or set()) - {"HEAD"}):
                    found.add(Endpoint(method, sub_path))
            continue
        for method in methods:
            if "{collection}" in path:
                for collection in NETWORK_COLLECTIONS:
                    found.add(Endpoint(method, path.replace("{collection}", collection)))
            else:
                found.add(Endpoint(method, path))
    return sorted(found, key=lambda e: (e.template, e.method))


def slot(template: str, param: str) -> str:
    """The kind of id a parameter takes: `object_id` after `volumes` is a volume's
    (`volumes`); any other parameter is its own name (`server_id`)."""
    if param != "object_id":
        return param
    before = template.split("{object_id}")[0].rstrip("/").rsplit("/", 1)[-1]
    return before
