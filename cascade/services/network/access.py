"""Who sees which Networking object, and the lookups every service shares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import NetworkSection
from cascade.db.models import NetResource
from cascade.services.network import attrs, store
from cascade.services.network.errors import Forbidden, NeutronError, PolicyNotAuthorized

# Neutron's `<Kind>NotFound` messages, word for word
MISSING = {
    store.NETWORK: ("Network {} could not be found.", "NetworkNotFound"),
    store.SUBNET: ("Subnet {} could not be found.", "SubnetNotFound"),
    store.PORT: ("Port {} could not be found.", "PortNotFound"),
    store.SECURITY_GROUP: ("Security group {} does not exist", "SecurityGroupNotFound"),
    store.ROUTER: ("Router {} could not be found", "RouterNotFound"),
    store.FLOATINGIP: ("Floating IP {} could not be found", "FloatingIPNotFound"),
    store.SECURITY_GROUP_RULE: (
        "Security group rule {} does not exist",
        "SecurityGroupRuleNotFound",
    ),
    store.SUBNETPOOL: ("Subnet pool {} could not be found.", "SubnetPoolNotFound"),
    store.ADDRESS_SCOPE: ("Address scope {} could not be found.", "AddressScopeNotFound"),
    store.ADDRESS_GROUP: ("Address group {} could not be found.", "AddressGroupNotFound"),
    store.RBAC_POLICY: ("RBAC policy with ID {} not found", "RbacPolicyNotFound"),
    store.FLAVOR: ("Flavor {} could not be found.", "FlavorNotFound"),
    store.SERVICE_PROFILE: ("Service Profile {} could not be found.", "ServiceProfileNotFound"),
    store.DEFAULT_SECURITY_GROUP_RULE: (
        "Default Security Group rule {} does not exist",
        "DefaultSecurityGroupRuleNotFound",
    ),
}
# kinds another project sees when they are `shared` (a network also when external)
SHAREABLE = (store.NETWORK, store.SUBNETPOOL, store.ADDRESS_SCOPE)
# every project reads the flavors and the default security group rules (their `get_`
# rules: any reader)
PUBLIC = (store.FLAVOR, store.DEFAULT_SECURITY_GROUP_RULE)
# the kinds whose rules read their parent's owner: a subnet's and a port's network
# (`rule:network_owner`, `rule:shared`), a rule's security group (`rule:sg_owner`)
PARENT = {
    store.SUBNET: store.NETWORK,
    store.PORT: store.NETWORK,
    store.SECURITY_GROUP_RULE: store.SECURITY_GROUP,
}


class Allows(Protocol):
    """Whether the caller's policy allows `rule` on `target` (the object as the rule
    reads it: `project_id`, its attributes, its parent's owner); without a target, on
    the caller's own project. The shape of `cascade.policy.Checker`, which a request
    hands in; not imported from there: `cascade.policy` reads this package's rules."""

    def __call__(self, rule: str, target: Mapping[str, Any] | None = None) -> bool: ...


def _system(rule: str, target: Mapping[str, Any] | None = None) -> bool:
    return True  # Cascade's own work (jobs): every rule allows it


def refuse(rule: str, target: Mapping[str, Any] | None = None) -> bool:
    """No rule allows anything (a caller whose policy is not known)."""
    return False


# the rules whose caller's queries hold every project's objects, as an admin's do
SPANNING = ("context_with_global_access", "service_api")


@dataclass(frozen=True)
class Caller:
    """The project asking and whether it is an admin (policy `context_is_admin`, as
    Neutron decides it: an admin's queries span every project); what the caller's policy
    allows; the db session and settings."""

    db: AsyncSession
    conf: NetworkSection
    project_id: str
    is_admin: bool
    allows: Allows = _system

    @cached_property  # asked for each row of a list; its answer holds for the request
    def spans(self) -> bool:
        """Whether the caller's queries hold every project's objects (then the `get_`
        rules decide), as Neutron's are unscoped for an admin, a context the policy
        `context_with_global_access` allows (nobody by default) and the service role
        (`service_api`); the others' hold their project's, shared and external ones."""
        return self.is_admin or any(self.allows(rule) for rule in SPANNING)


def target(caller: Caller, row: NetResource, parent: NetResource | None = None) -> dict[str, Any]:
    """The object as Neutron's policy reads it: its attributes, `project_id` (and
    `tenant_id`), `shared` as the caller's project sees it (RBAC included); for a subnet
    or a port its network's `network:project_id`, `shared` and `router:external`; for a
    security group rule its group's `security_group:project_id`."""
    found = {**row.body, "id": row.id, "project_id": row.project_id, "tenant_id": row.project_id}
    if row.kind in SHAREABLE:
        found["shared"] = shared_to(caller.project_id, row)
    if parent is not None:
        found.update(_parent_fields(caller, parent))
    return found


def _parent_fields(caller: Caller, parent: NetResource) -> dict[str, Any]:
    if parent.kind == store.SECURITY_GROUP:
        return {"security_group:project_id": parent.project_id}
    return {
        "network_id": parent.id,
        "network:project_id": parent.project_id,
        "network:tenant_id": parent.project_id,
        "shared": shared_to(caller.project_id, parent),
        "router:external": bool(parent.body.get("router:external")),
    }


def _scoped(caller: Caller, row: NetResource, parent: NetResource | None) -> bool:
    """Whether the object is within the caller's reach before any rule is read, as
    Neutron's queries narrow a non-admin's: its own project's objects, shared or external
    networks (with their subnets), subnet pools and address scopes, and the public kinds."""
    if row.project_id == caller.project_id or row.kind in PUBLIC or caller.spans:
        return True
    if row.kind == store.PORT:
        # Neutron's port query hook: the ports on the caller's networks, whoever owns them
        return parent is not None and parent.project_id == caller.project_id
    public = parent if row.kind == store.SUBNET else row
    if public is None or public.kind not in SHAREABLE:
        return False
    return shared_to(caller.project_id, public) or bool(public.body.get("router:external"))


def unseen(caller: Caller, kind: str, names: Iterable[str]) -> list[str]:
    """The attributes of `kind` the caller may not see (`get_<kind>:<attribute>`:
    admins' by default, and services' for a port's bindings)."""
    return [name for name in names if not caller.allows(f"get_{kind}:{name}")]


def sees(caller: Caller, row: NetResource, parent: NetResource | None = None) -> bool:
    """Whether the caller sees the object: within its reach, and `get_<kind>` allows it
    (by default admins everything; a project's readers its own objects, shared and
    external networks with their subnets, shared pools, scopes and groups)."""
    return _scoped(caller, row, parent) and caller.allows(
        f"get_{row.kind}", target(caller, row, parent)
    )


def shared_to(project_id: str, row: NetResource) -> bool:
    """Whether the object is shared with the project: with every project (`shared`) or
    with it by an RBAC policy (Neutron's `shared` as each project sees it)."""
    return bool(row.body.get("shared")) or project_id in row.body.get("_shared_with", ())


async def parent_of(caller: Caller, row: NetResource) -> NetResource | None:
    """The object whose owner the rules on `row` read (`PARENT`), if any."""
    kind = PARENT.get(row.kind)
    if kind is None or not row.parent_id:
        return None
    return await store.get(caller.db, kind, row.parent_id)


async def permit(caller: Caller, rule: str, row: NetResource) -> None:
    """Neutron's 403 PolicyNotAuthorized unless `rule` allows the caller to act on the
    object (`update_<kind>`, `delete_<kind>`, `add_router_interface`, ...: by default
    its project's members and admins)."""
    if not caller.allows(rule, target(caller, row, await parent_of(caller, row))):
        raise PolicyNotAuthorized(rule)


def authorize(caller: Caller, rule: str, on: Mapping[str, Any] | None = None) -> None:
    """Neutron's 403 PolicyNotAuthorized unless the caller's policy allows `rule` (on the
    target `on`; without one, on the caller's own project: the admin-only actions,
    `policies.ADMIN_ACTIONS`, `rule:admin_only` by default)."""
    if not caller.allows(rule, on):
        raise PolicyNotAuthorized(rule)


def creating(
    caller: Caller,
    body: Any,
    kind: str,
    given: Mapping[str, Any],
    parent: NetResource | None = None,
) -> str:
    """The project a create is for (the caller's, or another only for admins: Neutron's
    400), once `create_<kind>` allows it on the new object (`given` with that project,
    and its parent's owner): Neutron's 403 PolicyNotAuthorized otherwise. A subnet or
    port on another project's network that is not shared is Neutron's own 403 first
    (its `_validate_network_tenant_ownership`, before the rule; admins may)."""
    project = attrs.owner(body, kind, caller.project_id, caller.is_admin)
    if parent is not None and parent.kind == store.NETWORK and not caller.is_admin:
        usable = parent.project_id == project or shared_to(project, parent)
        if not usable:
            raise Forbidden(
                f"Tenant {project} not allowed to create {kind} on this network",
                type="PolicyNotAuthorized",
            )
    new = {**given, "project_id": project, "tenant_id": project}
    if parent is not None:
        new.update(_parent_fields(caller, parent))
    authorize(caller, f"create_{kind}", new)
    return project


async def find(caller: Caller, kind: str, object_id: str) -> NetResource:
    """The object if the caller may see it (`sees`); Neutron's `<Kind>NotFound` 404
    otherwise, as Neutron answers a GET its policy refuses."""
    row = await store.get(caller.db, kind, object_id)
    if row is None or not sees(caller, row, await parent_of(caller, row)):
        message, type_name = MISSING[kind]
        raise NeutronError(message.format(object_id), 404, type_name)
    return row


async def parent(caller: Caller, kind: str, object_id: str, rule: str) -> NetResource:
    """The object a create names as its parent (`find`), except that an object the caller
    cannot see is Neutron's 403 for `rule` unless `rule` allows it: Neutron's policy reads
    the parent's owner whoever asks (`create_subnet` on another project's network,
    `create_security_group_rule` in its group). No such object at all is the 404."""
    row = await store.get(caller.db, kind, object_id)
    if row is not None and not sees(caller, row, await parent_of(caller, row)):
        fields = {"project_id": caller.project_id, "tenant_id": caller.project_id}
        if not caller.allows(rule, fields | _parent_fields(caller, row)):
            # the message as Neutron words it on this path (no parentheses)
            raise NeutronError(f"rule:{rule} is disallowed by policy", 403, "PolicyNotAuthorized")
        return row
    return await find(caller, kind, object_id)


async def visible(caller: Caller, kind: str) -> list[NetResource]:
    """Every object of `kind` the caller may see (`sees`)."""
    # a non-admin's query of a kind nobody shares is its project's rows (and the parents
    # of those alone); the others read every row, and every parent in one query
    narrowed = not (kind in (*PUBLIC, *SHAREABLE, store.SUBNET) or caller.spans)
    if narrowed and kind == store.PORT:
        # Neutron's port query hook: a non-admin's query holds the ports on its networks
        # too, whoever owns them (`get_port` then decides: by default the network's
        # owner reads them)
        every = await store.owned_or_under(caller.db, kind, caller.project_id, store.NETWORK)
    else:
        every = await store.rows(caller.db, kind, caller.project_id if narrowed else None)
    parents: dict[str, NetResource] = {}
    ids = {r.parent_id for r in every if r.parent_id} if kind in PARENT else set()
    if ids:
        found = await store.rows(caller.db, PARENT[kind], ids=ids if narrowed else None)
        parents = {p.id: p for p in found}
    return [r for r in every if sees(caller, r, parents.get(r.parent_id or ""))]
