"""Address groups at the top (no HTTP types here): named sets of CIDRs, kept as
Neutron keeps them (each address normalised to its network, `10.0.0.1` as
`10.0.0.1/32`), changed with `add_addresses`/`remove_addresses`."""

from __future__ import annotations

import ipaddress
from typing import Any

from cascade.db.models import NetResource
from cascade.services.network import attrs, store
from cascade.services.network.access import Caller, creating, find, permit
from cascade.services.network.errors import BadRequest, NeutronError

A = attrs.Attr
SPEC: attrs.Spec = {
    "name": A(attrs.text(), "", put=True),
    "description": A(attrs.text(), "", put=True),
    "addresses": A(attrs.listed, list),
}


def _normalised(raw: Any) -> list[str]:
    """Neutron's `_process_requested_addresses`: each as `<network>/<prefixlen>`, once."""
    if not isinstance(raw, list):
        raise attrs.AttrInvalid("addresses", f"'{raw}' is not a list")
    out = set()
    for item in raw:
        try:
            net = ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            raise attrs.AttrInvalid("addresses", f"'{item}' is not a valid IP subnet") from None
        out.add(str(net))
    return sorted(out)


async def create(caller: Caller, body: Any) -> NetResource:
    """A new address group: 201 with its normalised addresses."""
    given = attrs.take(SPEC, body, "address_group", caller.allows, update=False)
    project = creating(caller, body, "address_group", given)
    given["addresses"] = _normalised(given["addresses"])
    row = store.add(caller.db, store.ADDRESS_GROUP, project, given)
    await caller.db.commit()
    return row


async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    return [store.view(r) for r in rows]


async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    store.change(row, given)
    await caller.db.commit()


async def delete(caller: Caller, row: NetResource) -> None:
    await caller.db.delete(row)
    await caller.db.commit()


async def change_addresses(caller: Caller, group_id: str, action: str, body: Any) -> dict[str, Any]:
    """PUT add_addresses / remove_addresses: 200 with the group; Neutron's 400
    AddressesAlreadyExist for an address it has, 404 AddressesNotFound for one it has not."""
    row = await find(caller, store.ADDRESS_GROUP, group_id)
    await permit(caller, action, row)  # `add_addresses`, `remove_addresses`
    if not isinstance(body, dict) or "addresses" not in body:
        raise BadRequest("Invalid input for operation: a body {'addresses': [...]} is required.")
    wanted = _normalised(body["addresses"])
    have = set(row.body.get("addresses", []))
    if action == "add_addresses":
        present = [a for a in wanted if a in have]
        if present:
            raise NeutronError(
                f"Addresses {present} already exist in the address group {row.id}.",
                400,
                "AddressesAlreadyExist",
            )
        store.change(row, {"addresses": sorted(have | set(wanted))})
    else:
        absent = [a for a in wanted if a not in have]
        if absent:
            raise NeutronError(
                f"Addresses {absent} not found in the address group {row.id}.",
                404,
                "AddressesNotFound",
            )
        store.change(row, {"addresses": sorted(have - set(wanted))})
    await caller.db.commit()
    return {"address_group": store.view(row)}
