"""Networks at the top (no HTTP types here).

A network is `vlan` (one VLAN id from `[network] vlan_ranges` on the shared
physical network, the same in every pod) or `local` (it lives in the first
pod that uses it; `_home_pod` remembers which). The type comes from the
admin's provider attributes or `[network] default_network_type`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cascade.db.models import NetResource, Pod
from cascade.jobs import queue
from cascade.services.network import (
    attrs,
    floatingips,
    quotas,
    rbac,
    security_groups,
    segments,
    store,
    subnetpools,
)
from cascade.services.network.access import Caller, creating, shared_to, unseen
from cascade.services.network.errors import Conflict, InvalidInput
from cascade.services.network.subnets import purge_subnet

A = attrs.Attr
SPEC: attrs.Spec = {
    "name": A(attrs.text(), "", put=True),
    "description": A(attrs.text(), "", put=True),
    "admin_state_up": A(attrs.boolean, True, put=True),
    "shared": A(attrs.boolean, False, put=True, admin=True),
    "mtu": A(attrs.integer(68, 9216), None, put=True),
    "port_security_enabled": A(attrs.boolean, True, put=True),
    "router:external": A(attrs.boolean, False, put=True, admin=True, explicit=True),
    "provider:network_type": A(attrs.text(64), admin=True),
    "provider:physical_network": A(attrs.optional_text(64), admin=True),
    "provider:segmentation_id": A(attrs.integer(0, 2**32), admin=True),
    "availability_zone_hints": A(attrs.listed, list),
    # extension auto-allocated-topology: the default external network (admins set it)
    "is_default": A(attrs.boolean, False, put=True, admin=True),
}
IS_DEFAULT = "is_default"
VLAN, LOCAL, FLAT = "vlan", "local", "flat"
TYPES = (VLAN, LOCAL)
PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
RETRIES = 5  # creates that lost a VLAN id to a concurrent one
JOB_SYNC = "network.sync"
JOB_PURGE = "network.purge"


async def _segment(caller: Caller, given: dict[str, Any], network_id: str) -> dict[str, Any]:
    kind = given.pop("provider:network_type", None) or caller.conf.default_network_type
    physnet = given.pop("provider:physical_network", None)
    seg_id = given.pop("provider:segmentation_id", None)
    if kind == FLAT:
        return await _external(caller, given, physnet, seg_id)
    if kind not in TYPES:
        raise InvalidInput(
            f"network_type value '{kind}' not supported; the top builds "
            f"{' and '.join(TYPES)} networks, and flat external networks"
        )
    if kind == LOCAL:
        if physnet or seg_id is not None:
            raise InvalidInput(
                "physical_network and segmentation_id are not allowed for a local network"
            )
        return {
            "provider:network_type": LOCAL,
            "provider:physical_network": None,
            "provider:segmentation_id": None,
            "_home_pod": None,
        }
    if physnet and physnet != caller.conf.physical_network:
        raise InvalidInput(
            f"physical_network '{physnet}' unknown for VLAN provider network; the pods share "
            f"'{caller.conf.physical_network}'"
        )
    vlan = await segments.allocate(caller.db, caller.conf, network_id, seg_id)
    return {
        "provider:network_type": VLAN,
        "provider:physical_network": caller.conf.physical_network,
        "provider:segmentation_id": vlan,
    }


async def _external(
    caller: Caller, given: dict[str, Any], physnet: str | None, seg_id: int | None
) -> dict[str, Any]:
    """A flat external network is one pod's own external network (the pod of the one
    AZ in `availability_zone_hints`), adopted when first used: floating IPs and router
    gateways come from it, in that pod only."""
    if not given.get("router:external"):
        raise InvalidInput("a flat network at the top must be external (router:external)")
    if physnet != caller.conf.external_physical_network or seg_id is not None:
        raise InvalidInput(
            f"a flat external network lives on physical network "
            f"'{caller.conf.external_physical_network}', without a segmentation_id"
        )
    hints = given.get("availability_zone_hints") or []
    if len(hints) != 1:
        raise InvalidInput(
            "a flat external network needs exactly one availability zone hint: "
            "the AZ whose pod's external network it is"
        )
    query = select(Pod).where(Pod.az == hints[0], Pod.enabled.is_(True)).order_by(Pod.created_at)
    pod = (await caller.db.scalars(query)).first()
    if pod is None:
        raise InvalidInput(f"no enabled pod serves availability zone {hints[0]}")
    return {
        "provider:network_type": FLAT,
        "provider:physical_network": physnet,
        "provider:segmentation_id": None,
        "availability_zones": [pod.az],
        "_home_pod": pod.id,
    }


async def create(caller: Caller, body: Any) -> NetResource:
    """A new network: 201 with it; Neutron's 400/403/409 for bad input, quota or a
    VLAN id in use. Nothing is written unless all of it is."""
    given = attrs.take(SPEC, body, "network", caller.allows, update=False)
    project = creating(caller, body, "network", given)
    chosen = given.get("provider:segmentation_id")
    for attempt in range(RETRIES):
        try:
            return await _create_once(caller, dict(given), project)
        except IntegrityError:
            # a concurrent create took the same VLAN id; as Neutron's DB retry, a VLAN
            # the top chose is chosen again, one the admin asked for is in use
            await caller.db.rollback()
            if chosen is not None or attempt == RETRIES - 1:
                raise Conflict(
                    "Unable to create the network: its VLAN id was taken concurrently; "
                    "retry the request.",
                    type="VlanIdInUse",
                ) from None
    raise AssertionError("unreachable")


class DefaultExternalNetworkExists(Conflict):
    type = "DefaultExternalNetworkExists"

    def __init__(self, network_id: str) -> None:
        super().__init__(f"A default external network already exists: {network_id}.")


async def default_external(caller: Caller) -> NetResource | None:
    """The deployment's default external network (the oldest, should there be several
    as Neutron's `_get_default_external_network` takes the first)."""
    found = [
        n
        for n in await store.rows(caller.db, store.NETWORK)
        if n.body.get("router:external") and n.body.get(IS_DEFAULT)
    ]
    return min(found, key=lambda n: (n.created_at, n.id), default=None)


async def _default_flag(
    caller: Caller, row: NetResource | None, network_id: str, given: dict[str, Any]
) -> None:
    """`is_default` of a create or update, as Neutron's
    `_ensure_external_network_default_value_callback`: considered when the request
    names `router:external` (a create always does: its default is 'not specified') or
    the network is external; `true` is 409 DefaultExternalNetworkExists while another
    network is the default. It is kept only on an external network (Neutron keeps it in
    the network's `externalnetworks` row, which goes when the network stops being
    external, so it is false again when it is made external anew)."""
    is_default = given.pop(IS_DEFAULT, None)
    was_external = bool(row is not None and row.body.get("router:external"))
    if is_default is not None and (row is None or "router:external" in given or was_external):
        other = await default_external(caller) if is_default else None
        if other is not None and other.id != network_id:
            raise DefaultExternalNetworkExists(other.id)
    external = bool(given.get("router:external", was_external))
    if not external:
        if row is not None and row.body.get(IS_DEFAULT):
            given[IS_DEFAULT] = False
        return
    if is_default is not None:
        given[IS_DEFAULT] = is_default
    elif row is None or not was_external:
        given[IS_DEFAULT] = False


async def _create_once(caller: Caller, given: dict[str, Any], project: str) -> NetResource:
    await quotas.check(caller.db, caller.conf, project, "network")
    await security_groups.ensure_default(caller, project)
    network_id = str(uuid.uuid4())
    await _default_flag(caller, None, network_id, given)
    segment = await _segment(caller, given, network_id)
    if given.get("mtu") is None:
        given["mtu"] = caller.conf.mtu
    body_out = {
        **given,
        "status": "ACTIVE",
        "availability_zones": [],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        **segment,
    }
    row = store.add(caller.db, store.NETWORK, project, body_out, object_id=network_id)
    await rbac.follow(caller, row)
    await caller.db.commit()
    return row


async def before_listing(caller: Caller, filters: dict[str, list[str]]) -> None:
    """`is_default` is a filter Neutron accepts and ignores (no column of its networks'
    table; no query hook reads it): every network is listed, as there."""
    filters.pop(IS_DEFAULT, None)


async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    """The networks as Neutron shows them: with their subnets; provider attributes for
    admins only; `is_default` on external networks only."""
    subnets: dict[str, list[str]] = {r.id: [] for r in rows}
    for sub in await store.rows(caller.db, store.SUBNET, parent_ids=list(subnets)):
        subnets.setdefault(sub.parent_id or "", []).append(sub.id)
    hidden = unseen(caller, "network", PROVIDER)
    # the address scope of each version: its subnets' pool's (extension address-scope)
    scopes = await subnetpools.network_scopes(caller, list(subnets))
    return [
        {k: v for k, v in store.view(r).items() if k not in hidden and k != IS_DEFAULT}
        | {
            "shared": shared_to(caller.project_id, r),  # as the caller's project sees it
            "subnets": sorted(subnets[r.id]),
            "ipv4_address_scope": scopes.get(r.id, {}).get(4),
            "ipv6_address_scope": scopes.get(r.id, {}).get(6),
        }
        # Neutron's `_extend_external_network_default`: external networks only
        | ({IS_DEFAULT: bool(r.body.get(IS_DEFAULT))} if r.body.get("router:external") else {})
        for r in rows
    ]


async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """The network changed (revision bumped); pods holding a copy follow via a job.
    `is_default` as Neutron takes it (`_default_flag`: 409 for a second default)."""
    await _default_flag(caller, row, row.id, given)
    if store.change(row, given):
        await queue.enqueue(caller.db, JOB_SYNC, row.id, row.project_id, {})
    if "shared" in given or "router:external" in given:
        await rbac.follow(caller, row)  # the policies for every project, as Neutron's
    await caller.db.commit()


async def delete(caller: Caller, row: NetResource) -> None:
    """The network goes with its subnets and VLAN id; 409 NetworkInUse while ports other
    than the network's own (DHCP) are on it (a router's gateway port too) or one of its
    floating IPs is associated. As Neutron (`delete_disassociated_floatingips`), its
    free floating IPs go with it. Pods' copies go via a job."""
    ports = await store.rows(caller.db, store.PORT, parent_ids=[row.id])
    fips = [
        f
        for f in await store.rows(caller.db, store.FLOATINGIP)
        if f.body.get("floating_network_id") == row.id
    ]
    if any(f.body.get("port_id") for f in fips) or any(
        not str(p.body.get("device_owner", "")).startswith("network:dhcp") for p in ports
    ):
        raise Conflict(
            f"Unable to complete operation on network {row.id}. There are one or more ports "
            "still in use on the network.",
            type="NetworkInUse",
        )
    for fip in fips:
        await floatingips.release(caller, fip)
    for port in ports:
        await caller.db.delete(port)
    for sub in await store.rows(caller.db, store.SUBNET, parent_ids=[row.id]):
        await purge_subnet(caller.db, sub)
    await rbac.forget(caller, row.id)
    # the VLAN id stays taken until the pods' networks are gone (network.purge)
    await caller.db.delete(row)
    await queue.enqueue(caller.db, JOB_PURGE, row.id, row.project_id, {"network_id": row.id})
    await caller.db.commit()
