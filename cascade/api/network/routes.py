"""The Networking API's routes, mounted under `/networking`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cascade.api.network import extensions, listings, quotas, resources, topology, versions
from cascade.api.network.common import PREFIX, not_found

# version documents: answered without a token, as Neutron does
PUBLIC = (PREFIX, f"{PREFIX}/", f"{PREFIX}/v2.0", f"{PREFIX}/v2.0/")
ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def unknown(request: Request) -> Response:
    """Any other path: Neutron's 404 body."""
    raise not_found()


def routes() -> list[BaseRoute]:
    v2 = f"{PREFIX}/v2.0"
    item = v2 + "/{collection}/{object_id}"
    return [
        Route(PREFIX, versions.root, methods=["GET"]),
        Route(f"{PREFIX}/", versions.root, methods=["GET"]),
        Route(v2, versions.v2, methods=["GET"]),
        Route(f"{v2}/", versions.v2, methods=["GET"]),
        Route(f"{v2}/extensions", extensions.index, methods=["GET"]),
        Route(v2 + "/extensions/{alias}", extensions.show, methods=["GET"]),
        Route(f"{v2}/quotas", quotas.index, methods=["GET"]),
        Route(f"{v2}/quotas/tenant", quotas.tenant, methods=["GET"]),
        Route(v2 + "/quotas/{project_id}", quotas.show, methods=["GET"]),
        Route(v2 + "/quotas/{project_id}", quotas.update, methods=["PUT"]),
        Route(v2 + "/quotas/{project_id}", quotas.delete, methods=["DELETE"]),
        Route(v2 + "/quotas/{project_id}/default", quotas.defaults, methods=["GET"]),
        Route(v2 + "/quotas/{project_id}/details", quotas.details, methods=["GET"]),
        Route(f"{v2}/availability_zones", listings.availability_zones, methods=["GET"]),
        Route(f"{v2}/service-providers", listings.service_providers, methods=["GET"]),
        Route(f"{v2}/agents", listings.agents, methods=["GET"]),
        Route(f"{v2}/floatingip_pools", listings.floatingip_pools, methods=["GET"]),
        Route(v2 + "/agents/{agent_id}", listings.agent, methods=["GET"]),
        Route(f"{v2}/network-ip-availabilities", listings.ip_availabilities, methods=["GET"]),
        Route(
            v2 + "/network-ip-availabilities/{network_id}",
            listings.ip_availability,
            methods=["GET"],
        ),
        Route(v2 + "/auto-allocated-topology/{project_id}", topology.show, methods=["GET"]),
        Route(v2 + "/auto-allocated-topology/{project_id}", topology.delete, methods=["DELETE"]),
        # a router's tags before its actions (`PUT /routers/{id}/tags` is no action)
        Route(item + "/tags", resources.tags, methods=["GET", "PUT", "POST", "DELETE"]),
        Route(item + "/tags/{tag}", resources.tag, methods=["GET", "PUT", "DELETE"]),
        Route(v2 + "/routers/{router_id}/{action}", resources.router_interface, methods=["PUT"]),
        Route(v2 + "/subnetpools/{pool_id}/{action}", resources.subnetpool_action, methods=["PUT"]),
        Route(
            v2 + "/address-groups/{group_id}/{action}",
            resources.address_group_action,
            methods=["PUT"],
        ),
        Route(v2 + "/{collection}", resources.index, methods=["GET"]),
        Route(v2 + "/{collection}", resources.create, methods=["POST"]),
        Route(item, resources.show, methods=["GET"]),
        Route(item, resources.update, methods=["PUT"]),
        Route(item, resources.delete, methods=["DELETE"]),
        Route(PREFIX + "/{path:path}", unknown, methods=ALL),
    ]
