"""Subnet pools and address scopes at the top (no HTTP types here).

The top is the tenant's Neutron: its pools hand out the top's subnets (a subnet
made with `subnetpool_id` takes a free block of the pool, or the block its `cidr`
names), so they live only in the top's database. Checks and messages are
Neutron's (`SubnetPoolReader`, `SubnetAllocator`).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cascade.db.models import NetResource
from cascade.services.network import attrs, ipam, rbac, store
from cascade.services.network.access import Caller, creating, find, permit
from cascade.services.network.errors import BadRequest, Conflict, InvalidInput, NeutronError

SUBNETPOOL = store.SUBNETPOOL
ADDRESS_SCOPE = store.ADDRESS_SCOPE
MIN_PREFIXLEN = {4: 8, 6: 64}  # Neutron's default min_prefixlen
BITS = {4: 32, 6: 128}


def _prefixlen(name: str, value: Any) -> int:
    return int(attrs.integer(0, 128)(name, value))


A = attrs.Attr
POOL_SPEC: attrs.Spec = {
    "name": A(attrs.text(), attrs.REQUIRED, put=True),
    "description": A(attrs.text(), "", put=True),
    "prefixes": A(attrs.listed, attrs.REQUIRED, put=True),
    "default_prefixlen": A(_prefixlen, None, put=True),
    "min_prefixlen": A(_prefixlen, None, put=True),
    "max_prefixlen": A(_prefixlen, None, put=True),
    "default_quota": A(attrs.anything, None, put=True),
    "address_scope_id": A(attrs.anything, None, put=True),
    "is_default": A(attrs.boolean, False, put=True, admin=True),
    "shared": A(attrs.boolean, False, admin=True),
}
SCOPE_SPEC: attrs.Spec = {
    "name": A(attrs.text(), "", put=True),
    "ip_version": A(attrs.integer(4, 6), attrs.REQUIRED),
    "shared": A(attrs.boolean, False, put=True, admin=True),
}


def _bounds(prefix_type: str, prefixlen: int, base_type: str, base_prefixlen: int) -> NeutronError:
    return NeutronError(
        f"Illegal prefix bounds: {prefix_type}_prefixlen={prefixlen}, "
        f"{base_type}={base_prefixlen}.",
        400,
        "IllegalSubnetPoolPrefixBounds",
    )


def _compact(raw: list[Any]) -> tuple[int, list[str]]:
    """The pool's IP version and its prefixes merged as Neutron's IPSet compacts them."""
    if not raw:
        raise NeutronError("Empty subnet pool prefix list.", 400, "EmptySubnetPoolPrefixList")
    nets = []
    for prefix in raw:
        try:
            nets.append(ipaddress.ip_network(str(prefix), strict=False))
        except ValueError:
            raise InvalidInput(f"'{prefix}' is not a valid IP subnet") from None
    versions = {n.version for n in nets}
    if len(versions) != 1:
        raise NeutronError(
            "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.", 400, "PrefixVersionMismatch"
        )
    version = versions.pop()
    merged = ipaddress.collapse_addresses(nets)  # type: ignore[type-var]
    return version, [str(n) for n in merged]


def _check_bounds(body: dict[str, Any]) -> None:
    """Neutron's `_read_prefix_bounds`: min <= default <= max <= the version's bits."""
    version = body["ip_version"]
    low, high, default = body["min_prefixlen"], body["max_prefixlen"], body["default_prefixlen"]
    if high > BITS[version]:
        raise _bounds("max", high, "ip_version_max", BITS[version])
    if low > high:
        raise _bounds("min", low, "max_prefixlen", high)
    if default < low:
        raise _bounds("default", default, "min_prefixlen", low)
    if default > high:
        raise _bounds("default", default, "max_prefixlen", high)


async def _scope(caller: Caller, scope_id: Any, pool_id: str, version: int) -> str | None:
    if scope_id is None:
        return None
    scope = await find(caller, ADDRESS_SCOPE, str(scope_id))
    if scope.body["ip_version"] != version:
        raise NeutronError(
            f"Illegal subnetpool association: subnetpool {pool_id} cannot associate with "
            f"address scope {scope.id} because subnetpool ip_version is not "
            f"{scope.body['ip_version']}.",
            400,
            "IllegalSubnetPoolIpVersionAssociationToAddressScope",
        )
    if not caller.is_admin and scope.project_id != caller.project_id and not scope.body["shared"]:
        raise NeutronError(
            f"Illegal subnetpool association: subnetpool {pool_id} cannot be associated "
            f"with address scope {scope.id}.",
            400,
            "IllegalSubnetPoolAssociationToAddressScope",
        )
    return scope.id


async def _no_other_default(caller: Caller, version: int, pool_id: str) -> None:
    for other in await store.rows(caller.db, SUBNETPOOL):
        if other.id != pool_id and other.body["is_default"] and other.body["ip_version"] == version:
            raise NeutronError(
                "A default subnetpool for this IP family has already been set. Only one "
                "default may exist per IP family",
                400,
                "InvalidInput",
            )


async def create_pool(caller: Caller, body: Any) -> NetResource:
    """A new subnet pool: 201 with its compacted prefixes and Neutron's default bounds
    (min 8 for IPv4, 64 for IPv6; max the version's bits; default = min); 400 for bounds
    or prefixes Neutron refuses."""
    given = attrs.take(POOL_SPEC, body, SUBNETPOOL, caller.allows, update=False)
    project = creating(caller, body, SUBNETPOOL, given)
    version, prefixes = _compact(given["prefixes"])
    low = given["min_prefixlen"]
    low = MIN_PREFIXLEN[version] if low is None else low
    high = BITS[version] if given["max_prefixlen"] is None else given["max_prefixlen"]
    default = low if given["default_prefixlen"] is None else given["default_prefixlen"]
    row = store.add(caller.db, SUBNETPOOL, project, {})
    out = {
        **given,
        "ip_version": version,
        "prefixes": prefixes,
        "min_prefixlen": low,
        "max_prefixlen": high,
        "default_prefixlen": default,
        "address_scope_id": None,
    }
    _check_bounds(out)
    out["address_scope_id"] = await _scope(caller, given["address_scope_id"], row.id, version)
    if out["is_default"]:
        await _no_other_default(caller, version, row.id)
    row.body = out
    await rbac.follow(caller, row)
    await caller.db.commit()
    return row


async def pool_views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    return [store.view(r) for r in rows]


async def allocated(caller: Caller, pool_id: str) -> list[NetResource]:
    """The subnets allocated from the pool."""
    return [
        s
        for s in await store.rows(caller.db, store.SUBNET)
        if s.body.get("subnetpool_id") == pool_id
    ]


async def update_pool(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """The pool changed: prefixes may only grow (Neutron's IllegalSubnetPoolPrefixUpdate),
    bounds stay ordered."""
    version = row.body["ip_version"]
    if "prefixes" in given:
        new_version, prefixes = _compact(given["prefixes"])
        if new_version != version:
            raise NeutronError(
                "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.",
                400,
                "PrefixVersionMismatch",
            )
        kept = [ipaddress.ip_network(p) for p in prefixes]
        for old in row.body["prefixes"]:
            net = ipaddress.ip_network(old)
            if not any(net.subnet_of(k) for k in kept):  # type: ignore[arg-type]
                raise NeutronError(
                    "Illegal update to prefixes: Existing prefixes must be a subset of the "
                    "new prefixes.",
                    400,
                    "IllegalSubnetPoolPrefixUpdate",
                )
        given["prefixes"] = prefixes
    defaults = {"min_prefixlen": MIN_PREFIXLEN[version], "max_prefixlen": BITS[version]}
    for key, value in defaults.items():
        if key in given and given[key] is None:  # null: back to Neutron's default
            given[key] = value
    if "default_prefixlen" in given and given["default_prefixlen"] is None:
        given["default_prefixlen"] = given.get("min_prefixlen", row.body["min_prefixlen"])
    _check_bounds({**row.body, **given})
    if "address_scope_id" in given:
        given["address_scope_id"] = await _scope(caller, given["address_scope_id"], row.id, version)
    if given.get("is_default"):
        await _no_other_default(caller, version, row.id)
    store.change(row, given)
    await caller.db.commit()


async def change_prefixes(caller: Caller, pool_id: str, action: str, body: Any) -> list[str]:
    """PUT add_prefixes / remove_prefixes (extension subnetpool-prefix-ops): the pool's
    prefixes after the change. A prefix in use by a subnet cannot go (400
    IllegalSubnetPoolPrefixUpdate); none given changes nothing."""
    pool = await find(caller, SUBNETPOOL, pool_id)
    await permit(caller, action, pool)  # `add_prefixes`, `remove_prefixes`
    raw = body.get("prefixes") if isinstance(body, dict) else None
    if not isinstance(raw, list):
        raise BadRequest("Bad subnetpool request: a body {'prefixes': [...]} is required.")
    if not raw:
        return list(pool.body["prefixes"])
    if action == "add_prefixes":
        await update_pool(caller, pool, {"prefixes": [*pool.body["prefixes"], *raw]})
        return list(pool.body["prefixes"])
    version, removed = _compact(raw)
    gone = [ipaddress.ip_network(p) for p in removed]
    for sub in await allocated(caller, pool.id):
        used = ipaddress.ip_network(sub.body["cidr"])
        if any(used.overlaps(g) for g in gone):
            raise NeutronError(
                "Illegal update to prefixes: One or more the prefixes to be removed is in use "
                "by a subnet..",
                400,
                "IllegalSubnetPoolPrefixUpdate",
            )
    kept = [
        str(n) for n in _free(pool, [str(g) for g in gone if g.version == pool.body["ip_version"]])
    ]
    _, prefixes = _compact(kept) if kept else (version, [])
    store.change(pool, {"prefixes": prefixes})
    await caller.db.commit()
    return list(pool.body["prefixes"])


async def delete_pool(caller: Caller, row: NetResource) -> None:
    """The pool goes; 409 SubnetPoolInUse while subnets are allocated from it."""
    if await allocated(caller, row.id):
        raise Conflict(
            f"Unable to complete operation on subnet pool {row.id}. Subnet pool has existing "
            "allocations.",
            type="SubnetPoolInUse",
        )
    await rbac.forget(caller, row.id)
    await caller.db.delete(row)
    await caller.db.commit()


async def allocate(
    caller: Caller, pool_id: str, cidr: str | None, prefixlen: Any, ip_version: int | None
) -> tuple[NetResource, ipam.IPNetwork]:
    """The block a new subnet takes from the pool (Neutron's `SubnetAllocator`): the one
    `cidr` names if it is free in the pool, else the first free block of `prefixlen`
    (the pool's default), smallest free space first."""
    pool = await find(caller, SUBNETPOOL, pool_id)
    version = pool.body["ip_version"]
    if ip_version is not None and ip_version != version:
        raise BadRequest(
            f"Bad subnets request: Cannot allocate IPv{ip_version} subnet from IPv{version} "
            "subnet pool."
        )
    if cidr is not None:
        wanted = ipaddress.ip_network(cidr, strict=False)
        length = wanted.prefixlen
    else:
        try:
            length = int(pool.body["default_prefixlen"] if prefixlen is None else prefixlen)
        except (TypeError, ValueError):
            raise InvalidInput(f"'{prefixlen}' is not an integer") from None
    if length > pool.body["max_prefixlen"]:
        raise BadRequest(
            f"Unable to allocate subnet with prefix length {length}, maximum allowed prefix "
            f"is {pool.body['max_prefixlen']}."
        )
    if length < pool.body["min_prefixlen"]:
        raise BadRequest(
            f"Unable to allocate subnet with prefix length {length}, minimum allowed prefix "
            f"is {pool.body['min_prefixlen']}."
        )
    free = _free(pool, [s.body["cidr"] for s in await allocated(caller, pool.id)])
    if cidr is not None:
        if any(wanted.subnet_of(block) for block in free):  # type: ignore[arg-type]
            return pool, wanted
        raise Conflict(
            "Failed to allocate subnet: Cannot allocate requested subnet from the available "
            "set of prefixes.",
            type="SubnetAllocationError",
        )
    for block in free:
        if length >= block.prefixlen:
            # the block's first subnet of that length starts where the block starts
            return pool, ipaddress.ip_network(f"{block.network_address}/{length}")
    raise Conflict(
        f"Failed to allocate subnet: Insufficient prefix space to allocate subnet size /{length}.",
        type="SubnetAllocationError",
    )


def _free(pool: NetResource, used: list[str]) -> list[ipam.IPNetwork]:
    """The pool's prefixes less the blocks in use, smallest blocks first."""
    blocks: list[ipam.IPNetwork] = [ipaddress.ip_network(p) for p in pool.body["prefixes"]]
    for cidr in used:
        taken = ipaddress.ip_network(cidr)
        out: list[ipam.IPNetwork] = []
        for block in blocks:
            if block.version != taken.version or not block.overlaps(taken):
                out.append(block)
            elif taken.supernet_of(block):  # type: ignore[arg-type]
                continue
            else:
                out.extend(block.address_exclude(taken))  # type: ignore[arg-type]
        blocks = out
    return sorted(blocks, key=lambda n: (-n.prefixlen, int(n.network_address)))


# --- address scopes -------------------------------------------------------------------


async def create_scope(caller: Caller, body: Any) -> NetResource:
    """A new address scope: 201."""
    given = attrs.take(SCOPE_SPEC, body, ADDRESS_SCOPE, caller.allows, update=False)
    project = creating(caller, body, ADDRESS_SCOPE, given)
    row = store.add(caller.db, ADDRESS_SCOPE, project, given)
    await caller.db.flush()
    await rbac.follow(caller, row)
    await caller.db.commit()
    return row


async def scope_views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    return [store.view(r) for r in rows]


async def update_scope(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """The scope changed; a shared scope stays shared (Neutron's AddressScopeUpdateError)."""
    if row.body["shared"] and given.get("shared") is False:
        raise NeutronError(
            f"Unable to update address scope {row.id} : Shared address scope can't be unshared.",
            400,
            "AddressScopeUpdateError",
        )
    store.change(row, given)
    if "shared" in given:
        await rbac.follow(caller, row)
    await caller.db.commit()


async def delete_scope(caller: Caller, row: NetResource) -> None:
    """The scope goes; 409 AddressScopeInUse while a subnet pool is in it."""
    for pool in await store.rows(caller.db, SUBNETPOOL):
        if pool.body.get("address_scope_id") == row.id:
            raise Conflict(
                f"Unable to complete operation on address scope {row.id}. There are one or "
                "more subnet pools in use on the address scope.",
                type="AddressScopeInUse",
            )
    await rbac.forget(caller, row.id)
    await caller.db.delete(row)
    await caller.db.commit()


async def network_scopes(caller: Caller, network_ids: list[str]) -> dict[str, dict[int, str]]:
    """Each network's address scope per IP version, as Neutron derives it: the scope of
    the pool its subnets of that version come from."""
    pools = {p.id: p for p in await store.rows(caller.db, SUBNETPOOL)}
    out: dict[str, dict[int, str]] = {}
    if not pools:
        return out
    for sub in await store.rows(caller.db, store.SUBNET, parent_ids=network_ids):
        pool = pools.get(str(sub.body.get("subnetpool_id")))
        if pool is not None and pool.body.get("address_scope_id"):
            scopes = out.setdefault(sub.parent_id or "", {})
            scopes[pool.body["ip_version"]] = pool.body["address_scope_id"]
    return out
