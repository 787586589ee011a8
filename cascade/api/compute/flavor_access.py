"""Flavor access: which projects may use a private flavor.

- GET /compute/v2.1/flavors/{flavor_id}/os-flavor-access (admin):
  `{"flavor_access": [{"flavor_id", "tenant_id"}]}`; 404 for a public flavor.
- POST /compute/v2.1/flavors/{flavor_id}/action (admin) with
  `{"addTenantAccess": {"tenant": P}}` or `{"removeTenantAccess": {"tenant": P}}`:
  200 with the new list. Adding access twice, or from 2.7 to a public
  flavor, is 409; removing access that was not given is 404. Another action
  is 400 "There is no such action: X"; a body of more than one key 400
  "Malformed request body".

The project id is not looked up in Keystone (Nova does so when it can reach
Keystone). A change reaches the pods holding a copy once the top has it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import schemas
from cascade.api.compute.flavors import bad, change, translated
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, json_body, reply
from cascade.api.request import session
from cascade.services.compute import flavors as service
from cascade.versions import Version

V2_7 = Version(2, 7)  # access to a public flavor is refused
RULE = "os_compute_api:os-flavor-access"
ACTIONS = {
    "addTenantAccess": f"{RULE}:add_tenant_access",
    "removeTenantAccess": f"{RULE}:remove_tenant_access",
}


def view(flavor_id: str, projects: list[str]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


async def index(request: Request) -> Response:
    version = await negotiated(request)
    schemas.query(request, schemas.show_query(version))
    authorize(request, RULE)
    flavor_id = request.path_params["flavor_id"]
    async with session(request) as db:
        with translated():
            projects = await service.access_list(db, flavor_id)
    return reply(view(flavor_id, projects))


async def action(request: Request) -> Response:
    version = await negotiated(request)
    body = await json_body(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise bad("Malformed request body")
    (name,) = body
    if name not in ACTIONS:
        raise bad(f"There is no such action: {name}")
    schemas.check(schemas.tenant_access(name), body)
    authorize(request, ACTIONS[name])
    tenant, refuse_public = body[name]["tenant"], version >= V2_7
    if name == "addTenantAccess":
        projects = await change(
            request, lambda db, fid: service.add_access(db, fid, tenant, refuse_public)
        )
    else:
        projects = await change(request, lambda db, fid: service.remove_access(db, fid, tenant))
    return reply(view(request.path_params["flavor_id"], projects))
