"""`/v2.0/auto-allocated-topology/{project_id}` (extension auto-allocated-topology).

- GET: 200 `{"auto_allocated_topology": {"id": <network id>, "project_id"}}`, the
  project's topology built when it has none (409 AutoAllocationFailure when it cannot
  be); `?fields=dry-run` only checks that it could be (`id` "dry-run=pass"), any other
  field is 400. `None` is the caller's project; another project's is 403 NotAuthorized
  except for admins.
- DELETE: 204, the topology is gone (router interfaces, router, network).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.network.common import caller, reply
from cascade.services.network import auto_allocate


async def show(request: Request) -> Response:
    fields = [f for f in request.query_params.getlist("fields") if f]
    async with caller(request) as who:
        found = await auto_allocate.get(who, request.path_params["project_id"], fields)
    return reply({"auto_allocated_topology": found})


async def delete(request: Request) -> Response:
    async with caller(request) as who:
        await auto_allocate.delete(who, request.path_params["project_id"])
    return reply(None, 204)
