"""Compute quota classes (os-quota-class-sets), kept at the top, as Nova answers them.

- GET /os-quota-class-sets/{id} (admins): 200, the class's limits (its own
  over `[quota]`) with its `id`. Any id is answered, as Nova.
- PUT /os-quota-class-sets/{id} (admins): sets the class's limits, integers
  or integer strings from -1 (unlimited), with Nova's 400 for an unknown key
  or a bad value (checked before the policy, as Nova) and for an id longer
  than 255 characters; nothing is checked against usage. 200 with the
  class's limits (no `id`).

Only the class `default` is used, as in Nova: its limits are the defaults of
every project without its own (GET /os-quota-sets/{id}/defaults, /limits,
server creates); other classes are only kept. Fields per microversion, as
Nova: `server_groups` and `server_group_members` are shown from 2.50 (and
may be set before), `fixed_ips`, `floating_ips`, `security_groups` and
`security_group_rules` only before 2.50, `injected_file*` before 2.57. From
2.102 an unknown query parameter on GET is 400.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import schemas
from cascade.api.compute.limits import check_query, hidden
from cascade.api.compute.quota_sets import bad, quota_set
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, reply
from cascade.api.request import session
from cascade.services.compute import quotas
from cascade.versions import Version

V2_50 = Version(2, 50)  # network quotas gone, server group quotas shown
V2_102 = Version(2, 102)  # unknown query parameters refused
SERVER_GROUPS = ("server_groups", "server_group_members")
MAX_NAME = 255
KEY = "quota_class_set"


def settable(version: Version) -> list[str]:
    """The resources a PUT may set at `version`, in Nova's schema order."""
    return [r for r in quotas.RESOURCES if r not in hidden(version, V2_50)]


def shown(version: Version) -> list[str]:
    """The resources a quota class set has at `version`, sorted."""
    hidden = () if version >= V2_50 else SERVER_GROUPS
    return sorted(r for r in settable(version) if r not in hidden)


async def show(request: Request) -> Response:
    """GET /os-quota-class-sets/{id}: 200 with the class's limits and id (admins)."""
    version = await negotiated(request)
    check_query(request, (), version, since=V2_102)
    authorize(request, "os_compute_api:os-quota-class-sets:show")
    class_name = request.path_params["class_name"]
    async with session(request) as db:
        values = await quotas.class_limits(db, request.app.state.conf.quota, class_name)
    return reply(quota_set(values, shown(version), class_name, KEY))


async def update(request: Request) -> Response:
    """PUT /os-quota-class-sets/{id}: 200 with the class's new limits (admins)."""
    version = await negotiated(request)
    schema = schemas.quota_update(KEY, settable(version))
    given = (await schemas.body(request, schema))[KEY]
    authorize(request, "os_compute_api:os-quota-class-sets:update")
    class_name = request.path_params["class_name"]
    if len(class_name) > MAX_NAME:
        raise bad(f"quota_class_name has {len(class_name)} characters, more than {MAX_NAME}.")
    values = {k: int(v) for k, v in given.items()}
    async with session(request) as db:
        try:
            limits = await quotas.update_class(db, request.app.state.conf.quota, class_name, values)
        except quotas.InvalidQuota as exc:
            raise bad(exc.message) from exc
    return reply(quota_set(limits, shown(version), None, KEY))
