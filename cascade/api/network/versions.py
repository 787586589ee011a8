"""The Networking API's version documents (answered without a token, as Neutron)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.network.common import base_url, reply
from cascade.api.network.resources import COLLECTIONS

# the collections in Neutron's order, then the quotas
RESOURCES = [*((c.kind, path) for path, c in COLLECTIONS.items()), ("quota", "quotas")]


async def root(request: Request) -> Response:
    """GET /networking: the one version, v2.0, CURRENT."""
    link = {"href": base_url(request, "/v2.0/"), "rel": "self"}
    return reply({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]})


async def v2(request: Request) -> Response:
    """GET /networking/v2.0: the collections, each with its link."""
    docs = [
        {
            "name": name,
            "collection": path,
            "links": [{"href": base_url(request, f"/v2.0/{path}"), "rel": "self"}],
        }
        for name, path in RESOURCES
    ]
    return reply({"resources": docs})
