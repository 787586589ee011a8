"""Who sees which Networking object, and the lookups every service shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from cascade.conf import NetworkSection
from cascade.db.models import NetResource
from cascade.services.network import store
from cascade.services.network.errors import NeutronError, PolicyNotAuthorized

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
# rules: any user)
PUBLIC = (store.FLAVOR, store.DEFAULT_SECURITY_GROUP_RULE)


def _system(rule: str) -> bool:
    return True  # Cascade's own work (jobs): every rule allows it


@dataclass(frozen=True)
class Caller:
    """The project asking and whether it is an admin (policy `context_is_admin`, as
    Neutron decides it); what the caller's policy allows; the db session and settings."""

    db: AsyncSession
    conf: NetworkSection
    project_id: str
    is_admin: bool
    allows: Callable[[str], bool] = _system


def sees(caller: Caller, row: NetResource, network: NetResource | None = None) -> bool:
    """Admins see everything; others their own objects and shared or external networks
    (with those networks' subnets)."""
    if caller.is_admin or row.project_id == caller.project_id or row.kind in PUBLIC:
        return True
    public = network if row.kind == store.SUBNET else row
    if public is None or public.kind not in SHAREABLE:
        return False
    return shared_to(caller.project_id, public) or bool(public.body.get("router:external"))


def shared_to(project_id: str, row: NetResource) -> bool:
    """Whether the object is shared with the project: with every project (`shared`) or
    with it by an RBAC policy (Neutron's `shared` as each project sees it)."""
    return bool(row.body.get("shared")) or project_id in row.body.get("_shared_with", ())


def must_own(caller: Caller, row: NetResource, rule: str) -> None:
    """Neutron's 403 for `rule` on another project's object (admins may)."""
    if not caller.is_admin and row.project_id != caller.project_id:
        raise PolicyNotAuthorized(rule)


def authorize(caller: Caller, rule: str) -> None:
    """Neutron's 403 PolicyNotAuthorized unless the caller's policy allows `rule` (the
    admin-only actions: `policies.ADMIN_ACTIONS`, `rule:admin_only` by default)."""
    if not caller.allows(rule):
        raise PolicyNotAuthorized(rule)


async def find(caller: Caller, kind: str, object_id: str) -> NetResource:
    """The object if the caller may see it; Neutron's `<Kind>NotFound` 404 otherwise."""
    row = await store.get(caller.db, kind, object_id)
    network = None
    if row is not None and row.kind == store.SUBNET and row.parent_id:
        network = await store.get(caller.db, store.NETWORK, row.parent_id)
    if row is None or not sees(caller, row, network):
        message, type_name = MISSING[kind]
        raise NeutronError(message.format(object_id), 404, type_name)
    return row


async def parent(caller: Caller, kind: str, object_id: str, rule: str) -> NetResource:
    """The object a create names as its parent (`find`), except that another project's
    object the caller cannot see is Neutron's 403 for `rule`, not a 404: Neutron's policy
    reads the parent's owner whoever asks (`create_subnet` on another project's network,
    `create_security_group_rule` in its group). No such object at all is the 404."""
    row = await store.get(caller.db, kind, object_id)
    if row is not None and not caller.is_admin and row.project_id != caller.project_id:
        network = None
        if row.kind == store.SUBNET and row.parent_id:
            network = await store.get(caller.db, store.NETWORK, row.parent_id)
        if not sees(caller, row, network):
            raise NeutronError(f"rule:{rule} is disallowed by policy", 403, "PolicyNotAuthorized")
    return await find(caller, kind, object_id)


async def visible(caller: Caller, kind: str) -> list[NetResource]:
    """Every object of `kind` the caller may see."""
    if caller.is_admin:
        return await store.rows(caller.db, kind)
    if kind in PUBLIC:
        return await store.rows(caller.db, kind)
    if kind not in (*SHAREABLE, store.SUBNET):
        return await store.rows(caller.db, kind, caller.project_id)
    every = await store.rows(caller.db, kind)
    if kind in SHAREABLE:
        return [r for r in every if sees(caller, r)]
    networks = {n.id: n for n in await store.rows(caller.db, store.NETWORK)}
    return [r for r in every if sees(caller, r, networks.get(r.parent_id or ""))]
