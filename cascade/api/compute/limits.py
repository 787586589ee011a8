"""GET /limits: a project's compute limits and what it uses, as Nova answers them.

200 with `{"limits": {"rate": [], "absolute": {...}}}`. The limits are the
top's (the project's own over the defaults: the quota class `default` over
`[quota]`); the used totals are
summed over every pod, each asked with the caller's own token. `?tenant_id=`
asks about another project and needs `os_compute_api:limits:other_project`
(admins), as in Nova, even when it names the caller's own project. Fields
follow Nova's view per microversion: the nova-network limits (-1, used 0)
only before 2.36, `maxImageMeta` before 2.39, `maxPersonality` and
`maxPersonalitySize` before 2.57; from 2.75 an unknown query parameter is
400. Pods that did not answer are named in `X-Cascade-Unavailable-Pods`, and
what they hold is missing from the totals.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import schemas
from cascade.api.compute.forward import caller_for
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, reply
from cascade.api.request import session
from cascade.pods.fanout import unavailable_header
from cascade.services.compute import quotas
from cascade.versions import Version

V2_36 = Version(2, 36)  # nova-network limits and quotas gone
V2_39 = Version(2, 39)  # maxImageMeta gone
V2_57 = Version(2, 57)  # personality limits and injected_file* quotas gone
V2_75 = Version(2, 75)  # unknown query parameters refused

# Nova's view (nova/api/openstack/compute/views/limits.py): limit field -> quota
LIMIT_FIELDS: dict[str, str] = {
    "maxTotalRAMSize": "ram",
    "maxTotalInstances": "instances",
    "maxTotalCores": "cores",
    "maxTotalKeypairs": "key_pairs",
    "maxTotalFloatingIps": "floating_ips",
    "maxServerMeta": "metadata_items",
    "maxImageMeta": "metadata_items",  # before 2.39
    "maxPersonality": "injected_files",
    "maxPersonalitySize": "injected_file_content_bytes",
    "maxSecurityGroups": "security_groups",
    "maxSecurityGroupRules": "security_group_rules",
    "maxServerGroups": "server_groups",
    "maxServerGroupMembers": "server_group_members",
}
USED_FIELDS: dict[str, str] = {
    "totalRAMUsed": "ram",
    "totalCoresUsed": "cores",
    "totalInstancesUsed": "instances",
    "totalFloatingIpsUsed": "floating_ips",
    "totalSecurityGroupsUsed": "security_groups",
    "totalServerGroupsUsed": "server_groups",
}
NETWORK = ("fixed_ips", "floating_ips", "security_group_rules", "security_groups")
INJECTED = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")


def hidden(version: Version, network_gone: Version = V2_36) -> tuple[str, ...]:
    """The quota resources Nova no longer shows at `version`: nova-network's from
    `network_gone` (2.36 for limits and quota sets), the injected files' from 2.57."""
    if version >= V2_57:
        return (*NETWORK, *INJECTED)
    return NETWORK if version >= network_gone else ()


def check_query(
    request: Request, allowed: Collection[str], version: Version, since: Version = V2_75
) -> None:
    """From `since` (2.75 for most resources), Nova's 400 for a query parameter it does
    not know."""
    if version >= since:
        known = {"properties": {key: {} for key in allowed}, "additionalProperties": False}
        schemas.check(known, dict(request.query_params))


def absolute(limits: dict[str, int], used: dict[str, int], version: Version) -> dict[str, int]:
    """Nova's `absolute` limits at `version`."""
    gone = hidden(version)
    found = {k: limits[r] for k, r in LIMIT_FIELDS.items() if r not in gone}
    if version >= V2_39:
        del found["maxImageMeta"]
    found.update({k: used.get(r, 0) for k, r in USED_FIELDS.items() if r not in gone})
    return found


async def index(request: Request) -> Response:
    """GET /limits[?tenant_id=]: 200 with the project's limits and usage over all pods."""
    version = await negotiated(request)
    check_query(request, ("tenant_id",), version)
    ctx = authorize(request, "os_compute_api:limits")
    project_id = ctx.project_id or ""
    if "tenant_id" in request.query_params:
        authorize(request, "os_compute_api:limits:other_project")
        project_id = request.query_params["tenant_id"]
    own = project_id == ctx.project_id
    async with session(request) as db:
        limits = await quotas.limits(db, request.app.state.conf.quota, project_id)
        caller = caller_for(request, version)
        found = await quotas.usage(
            db, request.app.state.registry, caller, project_id, own_project=own
        )
    body: dict[str, Any] = {
        "limits": {"rate": [], "absolute": absolute(limits, found.counts, version)}
    }
    return reply(body, headers=unavailable_header(found.unavailable))
