"""Networking flavors and service profiles at the top (no HTTP types here), admin-only
as in Neutron. The top's routers have no flavor of their own: a flavor names one of the
service types the top serves (`SERVICE_TYPES`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cascade.db.models import NetResource
from cascade.services.network import attrs, store
from cascade.services.network.access import Caller, authorize
from cascade.services.network.errors import NeutronError

# Neutron's `service_plugin_type`: a flavor names a loaded plugin by its type. These are
# the types of what the top serves, as a pod with only the router plugin has them loaded
# (the core, the L3 router and Neutron's default service plugins)
SERVICE_TYPES = (
    "CORE",
    "L3_ROUTER_NAT",
    "FLAVORS",
    "TAG",
    "auto-allocated-topology",
    "network-ip-availability",
    "revision_plugin",
    "timestamp",
)
FLAVOR_KEYS = ("id", "name", "description", "service_type", "enabled", "service_profiles")
PROFILE_KEYS = ("id", "description", "driver", "enabled", "metainfo")

Viewer = Callable[[Caller, list[NetResource]], Awaitable[list[dict[str, Any]]]]
Updater = Callable[[Caller, NetResource, dict[str, Any]], Awaitable[None]]
Deleter = Callable[[Caller, NetResource], Awaitable[None]]

A = attrs.Attr
FLAVOR_SPEC: attrs.Spec = {
    "name": A(attrs.text(), "", put=True),
    "description": A(attrs.text(), "", put=True),
    "service_type": A(attrs.text(), attrs.REQUIRED),
    "enabled": A(attrs.boolean, True, put=True),
}
PROFILE_SPEC: attrs.Spec = {
    "description": A(attrs.text(), "", put=True),
    "driver": A(attrs.text(), "", put=True),
    "enabled": A(attrs.boolean, True, put=True),
    "metainfo": A(attrs.text(4096), "", put=True),
}


async def create_flavor(caller: Caller, body: Any) -> NetResource:
    """A new flavor (admins): 201; Neutron's 400 InvalidServiceType for a service type that
    is no plugin's."""
    authorize(caller, "create_flavor")
    given = attrs.take(FLAVOR_SPEC, body, "flavor", caller.allows, update=False)
    if given["service_type"] not in SERVICE_TYPES:
        raise NeutronError(
            f"Invalid service type: {given['service_type']}.", 400, "InvalidServiceType"
        )
    row = store.add(caller.db, store.FLAVOR, "", {**given, "service_profiles": []})
    await caller.db.commit()
    return row


async def create_profile(caller: Caller, body: Any) -> NetResource:
    """A new service profile (admins): 201; 400 without a driver or metainfo."""
    authorize(caller, "create_service_profile")
    given = attrs.take(PROFILE_SPEC, body, "service_profile", caller.allows, update=False)
    if not given["driver"] and not given["metainfo"]:
        raise NeutronError(
            "Service Profile needs either a driver or metainfo.",
            400,
            "ServiceProfileEmpty",
        )
    row = store.add(caller.db, store.SERVICE_PROFILE, "", given)
    await caller.db.commit()
    return row


def _views(keys: tuple[str, ...]) -> Viewer:
    async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
        return [{k: v for k, v in store.view(r).items() if k in keys} for r in rows]

    return views


def _update(rule: str) -> Updater:
    async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
        authorize(caller, rule)
        store.change(row, given)
        await caller.db.commit()

    return update


def _delete(rule: str) -> Deleter:
    async def delete(caller: Caller, row: NetResource) -> None:
        authorize(caller, rule)
        await caller.db.delete(row)
        await caller.db.commit()

    return delete


# flavors and service profiles are read, changed and deleted alike (admins change them)
flavor_views = _views(FLAVOR_KEYS)
update_flavor = _update("update_flavor")
delete_flavor = _delete("delete_flavor")
profile_views = _views(PROFILE_KEYS)
update_profile = _update("update_service_profile")
delete_profile = _delete("delete_service_profile")
