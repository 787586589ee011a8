"""Keystone's content: regions, projects, users, roles and the service catalog.

The shared Keystone holds the top and every shared pod; an independent pod's own
Keystone holds that pod only (`register_pod`).

Everything is find-or-create, so it runs on every `up`; endpoints that no
longer match the layout (another port base, a pod removed) are corrected.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from devcloud.layout import PASSWORD, TOP_REGION, Layout, Pod
from devcloud.rest import Rest
from devcloud.services.common import SERVICE_PROJECT

Tenants = tuple[tuple[str, str], ...]
# Tenant users of the devcloud, each with the member role in its own project: (user, project).
TENANTS: Tenants = (("demo", "demo"), ("alt_demo", "alt_demo"))
# the service users of a pod's services (in the shared Keystone, or an independent pod's own)
POD_SERVICE_USERS = ("glance", "placement", "nova", "neutron", "cinder")
CASCADE_USER = "cascade"
SERVICE_USERS = (*POD_SERVICE_USERS, CASCADE_USER)
# every Keystone of the devcloud has these (bootstrap makes admin, member and reader)
ROLES = ("admin", "member", "reader", "service")
INTERFACES = ("public", "internal", "admin")
CASCADE_PATHS = {
    "compute": "/compute/v2.1",
    "volumev3": "/volume/v3/%(project_id)s",
    "block-storage": "/volume/v3/%(project_id)s",
    "network": "/networking",
    # Cascade's Image API, which fronts the top's own Glance (the shared one here)
    "image": "/image",
    # the admin API, for `openstack cascade ...` (docs/cli.md)
    "cascade": "/v1",
}
# catalog service type -> service name (the names devstack uses)
SERVICE_NAMES = {
    "identity": "keystone",
    "image": "glance",
    "placement": "placement",
    "compute": "nova",
    "network": "neutron",
    "volumev3": "cinderv3",
    "block-storage": "cinder",
    "cascade": "cascade",
}


@dataclass(frozen=True)
class Endpoint:
    service_type: str
    region: str
    url: str


def pod_endpoints(layout: Layout, pod: Pod) -> list[Endpoint]:
    """The pod's own endpoints in region `podN`, with the Keystone and Glance serving it
    (the shared ones for a shared pod, its own for an independent pod)."""
    cinder = layout.pod_url(pod, "cinder") + "/v3/%(project_id)s"
    return [
        Endpoint("identity", pod.region, layout.pod_auth_url(pod)),
        Endpoint("image", pod.region, layout.image_url(pod)),
        Endpoint("placement", pod.region, layout.pod_url(pod, "placement")),
        Endpoint("compute", pod.region, layout.pod_url(pod, "nova") + "/v2.1"),
        Endpoint("network", pod.region, layout.pod_url(pod, "neutron")),
        Endpoint("volumev3", pod.region, cinder),
        Endpoint("block-storage", pod.region, cinder),
    ]


def catalog(layout: Layout, pods: list[Pod]) -> list[Endpoint]:
    """The endpoints the shared Keystone's catalog must hold (each for every interface).

    Independent pods are not in it: their endpoints are in their own Keystone only.
    """
    eps = [Endpoint("identity", TOP_REGION, layout.auth_url)]
    cascade = layout.url("cascade")
    eps += [Endpoint(t, TOP_REGION, cascade + path) for t, path in CASCADE_PATHS.items()]
    for pod in pods:
        if not pod.independent:
            eps += pod_endpoints(layout, pod)
    return eps


class Identity:
    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self.base = rest.auth_url

    async def _find_or_create(
        self, collection: str, key: str, query: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        found = await self.rest.call("keystone", "GET", f"{self.base}/{collection}?{query}")
        if found[collection]:
            return dict(found[collection][0])
        made = await self.rest.call("keystone", "POST", f"{self.base}/{collection}", {key: body})
        return dict(made[key])

    async def role(self, name: str) -> str:
        return str(
            (await self._find_or_create("roles", "role", f"name={name}", {"name": name}))["id"]
        )

    async def project(self, name: str) -> str:
        body = {"name": name, "domain_id": "default"}
        return str(
            (
                await self._find_or_create(
                    "projects", "project", f"name={name}&domain_id=default", body
                )
            )["id"]
        )

    async def user(self, name: str, project_id: str) -> str:
        body = {
            "name": name,
            "domain_id": "default",
            "password": PASSWORD,
            "default_project_id": project_id,
        }
        return str(
            (await self._find_or_create("users", "user", f"name={name}&domain_id=default", body))[
                "id"
            ]
        )

    async def grant(self, project_id: str, user_id: str, role_id: str) -> None:
        url = f"{self.base}/projects/{project_id}/users/{user_id}/roles/{role_id}"
        await self.rest.call("keystone", "PUT", url)

    async def regions(self, names: list[str]) -> None:
        """Create the regions that do not exist yet."""
        found = await self.rest.call("keystone", "GET", f"{self.base}/regions")
        have = {r["id"] for r in found["regions"]}
        for name in names:
            if name not in have:
                await self.rest.call(
                    "keystone", "POST", f"{self.base}/regions", {"region": {"id": name}}
                )

    async def service(self, service_type: str) -> str:
        made = await self._find_or_create(
            "services",
            "service",
            f"type={service_type}",
            {"type": service_type, "name": SERVICE_NAMES[service_type]},
        )
        return str(made["id"])

    async def sync_endpoints(self, service_id: str, wanted: list[Endpoint]) -> None:
        """Make the service's endpoints exactly `wanted` (all three interfaces each)."""
        have = (
            await self.rest.call(
                "keystone", "GET", f"{self.base}/endpoints?service_id={service_id}"
            )
        )["endpoints"]
        want = {(e.region, iface): e.url for e in wanted for iface in INTERFACES}
        calls = []
        for ep in have:
            key = (ep["region_id"], ep["interface"])
            if want.get(key) == ep["url"]:
                want.pop(key)
            else:
                calls.append(
                    self.rest.call("keystone", "DELETE", f"{self.base}/endpoints/{ep['id']}")
                )
        for (region, iface), url in want.items():
            body = {"service_id": service_id, "interface": iface, "url": url, "region_id": region}
            calls.append(
                self.rest.call("keystone", "POST", f"{self.base}/endpoints", {"endpoint": body})
            )
        await asyncio.gather(*calls)


async def ensure_accounts(
    ident: Identity, regions: list[str], service_users: tuple[str, ...], tenants: Tenants
) -> None:
    """Regions, the roles, project `service` with its service users (admin and service
    roles), and tenants (member of their own project)."""
    # One request before any concurrent ones: a fresh Keystone loads its policy
    # rules on first use, and requests racing that load are refused with 403.
    await ident.regions(regions)
    admin_role, member_role, _, service_role = await asyncio.gather(
        *(ident.role(name) for name in ROLES)
    )
    service_project = await ident.project(SERVICE_PROJECT)

    async def service_user(name: str) -> None:
        uid = await ident.user(name, service_project)
        await ident.grant(service_project, uid, admin_role)
        await ident.grant(service_project, uid, service_role)

    async def tenant(user: str, project: str) -> None:
        pid = await ident.project(project)
        uid = await ident.user(user, pid)
        await ident.grant(pid, uid, member_role)

    await asyncio.gather(
        *(service_user(u) for u in service_users),
        *(tenant(u, p) for u, p in tenants),
    )


async def sync_catalog(ident: Identity, endpoints: list[Endpoint]) -> None:
    """Make every service type's endpoints exactly `endpoints` (stale ones are removed)."""

    async def one_service(service_type: str) -> None:
        sid = await ident.service(service_type)
        await ident.sync_endpoints(sid, [e for e in endpoints if e.service_type == service_type])

    await asyncio.gather(*(one_service(t) for t in SERVICE_NAMES))


async def register(layout: Layout, pods: list[Pod]) -> None:
    """Create the devcloud's accounts and catalog in the shared Keystone (idempotent).

    Only the shared pods have a region and endpoints there.
    """
    regions = [TOP_REGION, *(p.region for p in pods if not p.independent)]
    async with Rest(layout.auth_url) as rest:
        ident = Identity(rest)
        await ensure_accounts(ident, regions, SERVICE_USERS, TENANTS)
        await sync_catalog(ident, catalog(layout, pods))


async def register_pod(layout: Layout, pod: Pod) -> None:
    """Accounts and catalog in an independent pod's own Keystone (idempotent).

    Its service users, no tenants (Cascade makes the projects it needs), and the
    user `cascade` with the admin role on `service`, so that Cascade can create
    projects and grant roles there.
    """
    async with Rest(layout.pod_auth_url(pod)) as rest:
        ident = Identity(rest)
        await ensure_accounts(ident, [pod.region], POD_SERVICE_USERS, ())
        service_project = await ident.project(SERVICE_PROJECT)
        cascade_user = await ident.user(CASCADE_USER, service_project)
        await ident.grant(service_project, cascade_user, await ident.role("admin"))
        await sync_catalog(ident, pod_endpoints(layout, pod))


async def remove_regions(layout: Layout, regions: list[str]) -> None:
    """Delete regions of removed pods (their endpoints must be gone already)."""
    async with Rest(layout.auth_url) as rest:
        for region in regions:
            url = f"{layout.auth_url}/regions/{region}"
            await rest.call("keystone", "DELETE", url, ok=(204, 404))
