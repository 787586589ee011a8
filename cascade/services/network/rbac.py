"""RBAC policies at the top (no HTTP types here): the top's own sharing of its networks,
subnet pools and address scopes, as Neutron's `rbac-policies` API shows and changes it.

A policy for every project (`target_tenant` "*") is the object's `shared` (or, with
`access_as_external`, a network's `router:external`), so setting the attribute makes
the policy and deleting the policy clears the attribute, as in Neutron. A policy for
one project lets that project see the object (`_shared_with`).
"""

from __future__ import annotations

from typing import Any

from cascade.db.models import NetResource
from cascade.jobs import queue
from cascade.services.network import attrs, store
from cascade.services.network.access import Caller, creating, find
from cascade.services.network.errors import Conflict, InvalidInput, NeutronError

SHARED = "access_as_shared"
EXTERNAL = "access_as_external"
# object_type -> (kind, actions)
TYPES = {
    "network": (store.NETWORK, (SHARED, EXTERNAL)),
    "subnetpool": (store.SUBNETPOOL, (SHARED,)),
    "address_scope": (store.ADDRESS_SCOPE, (SHARED,)),
}
# the attribute a policy for every project stands for
FLAG = {SHARED: "shared", EXTERNAL: "router:external"}
KEYS = ("id", "project_id", "tenant_id", "object_type", "object_id", "action", "target_tenant")


def _object_type(name: str, value: Any) -> str:
    if value not in TYPES:
        raise attrs.AttrInvalid(name, f"{value} is not in valid_values")
    return str(value)


A = attrs.Attr
SPEC: attrs.Spec = {
    "object_type": A(_object_type, attrs.REQUIRED),
    "object_id": A(attrs.uuid_text, attrs.REQUIRED),
    "action": A(attrs.text(255), attrs.REQUIRED),
    "target_tenant": A(attrs.text(255), attrs.REQUIRED, put=True),
}


async def policies_of(caller: Caller, object_id: str) -> list[NetResource]:
    return [
        p
        for p in await store.rows(caller.db, store.RBAC_POLICY)
        if p.body["object_id"] == object_id
    ]


async def _apply(caller: Caller, obj: NetResource) -> None:
    """The object's sharing follows its policies (in the caller's transaction)."""
    policies = [p.body for p in await policies_of(caller, obj.id)]
    changes: dict[str, Any] = {
        "_shared_with": sorted({p["target_tenant"] for p in policies if p["target_tenant"] != "*"})
    }
    for action, flag in FLAG.items():
        if flag in obj.body:
            changes[flag] = any(
                p["action"] == action and p["target_tenant"] == "*" for p in policies
            )
    if store.change(obj, changes) and obj.kind == store.NETWORK:
        # the pods' copies follow the network's sharing (networks.JOB_SYNC)
        await queue.enqueue(caller.db, "network.sync", obj.id, obj.project_id, {})


async def follow(caller: Caller, obj: NetResource) -> None:
    """The object's `shared` (and a network's `router:external`) was set or changed:
    its policies for every project follow, as Neutron makes and removes them (in the
    caller's transaction)."""
    object_type = next(t for t, (kind, _) in TYPES.items() if kind == obj.kind)
    policies = await policies_of(caller, obj.id)
    for action in TYPES[object_type][1]:
        wanted = bool(obj.body.get(FLAG[action]))
        found = [
            p for p in policies if p.body["action"] == action and p.body["target_tenant"] == "*"
        ]
        if wanted and not found:
            body = {
                "object_type": object_type,
                "object_id": obj.id,
                "action": action,
                "target_tenant": "*",
            }
            store.add(caller.db, store.RBAC_POLICY, obj.project_id, body)
        for policy in found if not wanted else []:
            await caller.db.delete(policy)


async def forget(caller: Caller, object_id: str) -> None:
    """The object is being deleted: its policies go with it (caller's transaction)."""
    for policy in await policies_of(caller, object_id):
        await caller.db.delete(policy)


async def _object(caller: Caller, object_type: str, object_id: str) -> NetResource:
    kind = TYPES[object_type][0]
    try:
        obj = await find(caller, kind, object_id)
    except NeutronError:
        raise NeutronError(
            f"RBAC policy of type {object_type} with ID {object_id} not found",
            404,
            "RbacPolicyNotFound",
        ) from None
    if not caller.is_admin and obj.project_id != caller.project_id:
        raise InvalidInput(f"Only admins can manipulate policies on {object_type}s they do not own")
    return obj


async def create(caller: Caller, body: Any) -> NetResource:
    """A new policy on an object the caller owns (admins: any): 201; 409
    DuplicateRbacPolicy for one that exists; 400 for an action the type has not."""
    given = attrs.take(SPEC, body, "rbac_policy", caller.allows, update=False)
    project = creating(caller, body, "rbac_policy", given)
    object_type = given["object_type"]
    if given["action"] not in TYPES[object_type][1]:
        raise InvalidInput(
            f"Invalid action '{given['action']}' for object type '{object_type}'. Valid "
            f"actions: {list(TYPES[object_type][1])}"
        )
    obj = await _object(caller, object_type, given["object_id"])
    for other in await policies_of(caller, obj.id):
        if all(other.body[k] == given[k] for k in ("action", "target_tenant")):
            raise Conflict(
                "An RBAC policy already exists with those values.", type="DuplicateRbacPolicy"
            )
    row = store.add(caller.db, store.RBAC_POLICY, project, given)
    await caller.db.flush()
    await _apply(caller, obj)
    await caller.db.commit()
    return row


async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    """Policies as Neutron shows them (no tags, timestamps or revision)."""
    return [{k: v for k, v in store.view(r).items() if k in KEYS} for r in rows]


async def _in_use(caller: Caller, policy: NetResource, obj: NetResource) -> None:
    """Neutron's 409 RbacPolicyInUse: another project still has a port on the network
    that the policy (for it or for everyone) shares; the default external network's
    policy for everyone stays (Neutron's `_validate_ext_not_in_use_by_project`)."""
    if (
        policy.body["object_type"] == "network"
        and policy.body["action"] == EXTERNAL
        and policy.body["target_tenant"] == "*"
        and obj.body.get("is_default")
        and obj.body.get("router:external")
    ):
        raise Conflict(
            f"RBAC policy on object {obj.id} cannot be removed because other objects "
            "depend on it.\nDetails: Default external networks must be shared to everyone.",
            type="RbacPolicyInUse",
        )
    if policy.body["object_type"] != "network" or policy.body["action"] != SHARED:
        return
    target = policy.body["target_tenant"]
    for port in await store.rows(caller.db, store.PORT, parent_ids=[obj.id]):
        if port.project_id not in (obj.project_id, "") and target in ("*", port.project_id):
            raise Conflict(
                f"RBAC policy on object {obj.id} cannot be removed because other objects "
                "depend on it.\nDetails: Unable to reconfigure sharing settings for network "
                f"{obj.id}. Multiple tenants are using it.",
                type="RbacPolicyInUse",
            )


async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """A new target for the policy (the old target must not be in use)."""
    obj = await _object(caller, row.body["object_type"], row.body["object_id"])
    if given.get("target_tenant", row.body["target_tenant"]) != row.body["target_tenant"]:
        await _in_use(caller, row, obj)
    store.change(row, given)
    await caller.db.flush()
    await _apply(caller, obj)
    await caller.db.commit()


async def delete(caller: Caller, row: NetResource) -> None:
    """The policy goes; the object is no longer shared that way."""
    obj = await _object(caller, row.body["object_type"], row.body["object_id"])
    await _in_use(caller, row, obj)
    await caller.db.delete(row)
    await caller.db.flush()
    await _apply(caller, obj)
    await caller.db.commit()
