"""The Networking API's policy rules, with Neutron's names and defaults.

As in Neutron, `context_is_admin` decides who is an admin of the Networking
API (sees and changes every project's objects, creates for another project),
and each attribute only admins may set has its own rule,
`create_<resource>:<attribute>` and `update_<resource>:<attribute>`
(`rule:admin_only`), so an operator's policy file can hand, say,
`create_network:shared` to another role without code changes.
"""

from __future__ import annotations

from cascade.services.network import (
    floatingips,
    networks,
    ports,
    routers,
    security_groups,
    subnetpools,
    subnets,
)
from cascade.services.network.attrs import Spec

SPECS: dict[str, Spec] = {
    "network": networks.SPEC,
    "subnet": subnets.SPEC,
    "port": ports.SPEC,
    "router": routers.SPEC,
    "floatingip": floatingips.SPEC,
    "security_group": security_groups.GROUP_SPEC,
    "security_group_rule": security_groups.RULE_SPEC,
    "subnetpool": subnetpools.POOL_SPEC,
    "address_scope": subnetpools.SCOPE_SPEC,
}


# Actions only admins may take by default (Neutron's names; `access.authorize`)
ADMIN_ACTIONS = (
    "create_default_security_group_rule",
    "delete_default_security_group_rule",
    "create_flavor",
    "update_flavor",
    "delete_flavor",
    "create_service_profile",
    "update_service_profile",
    "delete_service_profile",
    "get_network_ip_availability",
    "update_quota",
    "delete_quota",
    "update_port:mac_address",
    "create_floatingip:floating_ip_address",
)


def defaults() -> dict[str, str]:
    """Neutron's defaults for `context_is_admin`, every admin-only attribute and every
    admin-only action."""
    rules = {"context_is_admin": "role:admin", "admin_only": "rule:context_is_admin"}
    rules.update(dict.fromkeys(ADMIN_ACTIONS, "rule:admin_only"))
    for resource, spec in SPECS.items():
        for key, attr in spec.items():
            if attr.admin:
                rules[f"create_{resource}:{key}"] = "rule:admin_only"
                if attr.put:
                    rules[f"update_{resource}:{key}"] = "rule:admin_only"
    return rules
