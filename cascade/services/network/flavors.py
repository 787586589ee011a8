"""Networking flavors and service profiles at the top (no HTTP types here), admin-only
as in Neutron. The top's routers have no flavor of their own: a flavor names the
service type of the providers the top lists (`L3_ROUTER_NAT`)."""

from __future__ import annotations

from typing import Any

from cascade.db.models import NetResource
from cascade.services.network import attrs, store
from cascade.services.network.access import Caller
from cascade.services.network.errors import NeutronError, PolicyNotAuthorized

SERVICE_TYPES = ("L3_ROUTER_NAT",)
FLAVOR_KEYS = ("id", "name", "description", "service_type", "enabled", "service_profiles")
PROFILE_KEYS = ("id", "description", "driver", "enabled", "metainfo")

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


def _admin(caller: Caller, rule: str) -> None:
    if not caller.is_admin:
        raise PolicyNotAuthorized(rule)


async def create_flavor(caller: Caller, body: Any) -> NetResource:
    """A new flavor (admins): 201; 400 for a service type the top does not serve."""
    _admin(caller, "create_flavor")
    given = attrs.take(FLAVOR_SPEC, body, "flavor", caller.allows, update=False)
    if given["service_type"] not in SERVICE_TYPES:
        raise NeutronError(
            f"Service type {given['service_type']} does not exist",
            400,
            "InvalidFlavorServiceType",
        )
    row = store.add(caller.db, store.FLAVOR, "", {**given, "service_profiles": []})
    await caller.db.commit()
    return row


async def flavor_views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    return [{k: v for k, v in store.view(r).items() if k in FLAVOR_KEYS} for r in rows]


async def update_flavor(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    _admin(caller, "update_flavor")
    store.change(row, given)
    await caller.db.commit()


async def delete_flavor(caller: Caller, row: NetResource) -> None:
    _admin(caller, "delete_flavor")
    await caller.db.delete(row)
    await caller.db.commit()


async def create_profile(caller: Caller, body: Any) -> NetResource:
    """A new service profile (admins): 201; 400 without a driver or metainfo."""
    _admin(caller, "create_service_profile")
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


async def profile_views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    return [{k: v for k, v in store.view(r).items() if k in PROFILE_KEYS} for r in rows]


async def update_profile(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    _admin(caller, "update_service_profile")
    store.change(row, given)
    await caller.db.commit()


async def delete_profile(caller: Caller, row: NetResource) -> None:
    _admin(caller, "delete_service_profile")
    await caller.db.delete(row)
    await caller.db.commit()
