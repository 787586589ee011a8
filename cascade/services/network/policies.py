"""The Networking API's policy rules, with Neutron's names and defaults.

As in Neutron, `context_is_admin` decides who is an admin of the Networking
API (whose queries span every project, who creates for another project); every
action on an object is a rule with the object as its target (`get_<resource>`,
`create_<resource>`, `update_<resource>`, `delete_<resource>`, the actions
such as `add_router_interface`, the tags' `<action>_<resource>:tags`), each
attribute only admins may set or see has its own rule
(`create_<resource>:<attribute>`, `update_<resource>:<attribute>`,
`get_<resource>:<attribute>`), and every default is Neutron's own check string
(2025.2), `field:networks:shared=True` included (`cascade.policy_checks`), so an
operator's Neutron policy file means the same at the top.
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


# Neutron's check strings (neutron/conf/policies/*.py), word for word; the one change is
# `delete_port`, whose Neutron default also keeps members from deleting a server's port
# (`rule:compute_device`, `service_roles:service`): Cascade's ports are deleted by
# their project's members as before (tests/integration/test_policy_operations.py
# compares the rest with the devcloud's Neutron)
ADMIN = "rule:admin_only"
OWNER = "project_id:%(project_id)s"
MEMBER = f"role:member and {OWNER}"
READER = "role:reader and project_id:%(project_id)s"
ADMIN_OR_MEMBER = f"({ADMIN}) or ({MEMBER})"
ADMIN_OR_READER = f"({ADMIN}) or ({READER})"
NET_MEMBER = "role:member and rule:network_owner"
NET_READER = "role:reader and rule:network_owner"
SERVICE = "(rule:service_api)"
BASE = {
    "owner": "project_id:%(project_id)s",
    "admin_or_owner": "rule:context_is_admin or rule:owner",
    "network_owner": "project_id:%(network:project_id)s",
    "sg_owner": "project_id:%(security_group:project_id)s",
    "service_api": "role:service",
    "context_with_global_access": "!",
    "context_is_advsvc": "role:advsvc",
    "shared": "field:networks:shared=True",
    "external": "field:networks:router:external=True",
    "external_network": "field:subnets:router:external=True",
    "shared_subnetpools": "field:subnetpools:shared=True",
    "shared_address_scopes": "field:address_scopes:shared=True",
    "shared_address_groups": "field:address_groups:shared=True",
    "shared_security_group": "field:security_groups:shared=True",
}
# the rules whose default is a project's members' or admins' (create, update, delete)
MEMBERS = (
    "network",
    "router",
    "floatingip",
    "security_group",
    "subnetpool",
    "address_scope",
    "address_group",
    "rbac_policy",
)
OBJECT_RULES = {
    **{f"{a}_{kind}": ADMIN_OR_MEMBER for kind in MEMBERS for a in ("create", "update", "delete")},
    "get_network": f"{ADMIN_OR_READER} or rule:service_api or rule:shared or rule:external"
    " or rule:context_is_advsvc",
    "get_router": ADMIN_OR_READER,
    "get_floatingip": ADMIN_OR_READER,
    "get_rbac_policy": ADMIN_OR_READER,
    "get_security_group": f"{ADMIN_OR_READER} or rule:shared_security_group",
    "get_subnetpool": f"{ADMIN_OR_READER} or rule:shared_subnetpools",
    "get_address_scope": f"{ADMIN} or {READER} or rule:shared_address_scopes",
    "get_address_group": f"{ADMIN_OR_READER} or rule:shared_address_groups",
    "create_subnet": f"({ADMIN}) or ({NET_MEMBER})",
    "get_subnet": f"{READER} or rule:shared or rule:external_network or ({ADMIN})"
    f" or ({NET_READER}) or rule:service_api",
    "update_subnet": f"{MEMBER} or ({ADMIN}) or ({NET_MEMBER})",
    "delete_subnet": f"{MEMBER} or ({ADMIN}) or ({NET_MEMBER})",
    "create_port": f"({ADMIN}) or {SERVICE} or {NET_MEMBER} or rule:shared",
    "get_port": f"({ADMIN}) or {SERVICE} or {NET_READER} or {READER}",
    "update_port": f"({ADMIN}) or {SERVICE} or {MEMBER}",
    "delete_port": f"({ADMIN}) or {SERVICE} or {NET_MEMBER} or {MEMBER}",
    "create_security_group_rule": f"({ADMIN}) or (role:member and rule:sg_owner)",
    "get_security_group_rule": f"({ADMIN}) or (role:reader and rule:sg_owner)",
    "delete_security_group_rule": f"({ADMIN}) or (role:member and rule:sg_owner)",
    "get_quota": f"({ADMIN}) or (role:manager and {OWNER})",
    "get_flavor": "role:reader",
    "get_service_profile": ADMIN,
    "get_default_security_group_rule": "role:reader",
    **dict.fromkeys(
        (
            "add_router_interface",
            "remove_router_interface",
            "add_extraroutes",
            "remove_extraroutes",
            "add_prefixes",
            "remove_prefixes",
            "add_addresses",
            "remove_addresses",
        ),
        ADMIN_OR_MEMBER,
    ),
    # attributes only admins see (and the services, their ports' bindings)
    **{f"get_network:{a}": ADMIN for a in networks.PROVIDER},
    **{f"get_port:{a}": f"({ADMIN}) or {SERVICE}" for a in ports.BINDING_ADMIN},
    **{f"get_router:{a}": ADMIN for a in routers.ADMIN_ONLY},
}
# the tags' rules: an object's tags are read as the object, changed by its members
TAGS = {
    f"{action}_{kind}:tags": ADMIN_OR_MEMBER
    for kind in ("network", "router", "floatingip", "security_group", "subnetpool")
    for action in ("create", "update", "delete")
} | {
    "get_network:tags": f"{ADMIN_OR_READER} or rule:shared or rule:external"
    " or rule:context_is_advsvc",
    "get_router:tags": ADMIN_OR_READER,
    "get_floatingip:tags": ADMIN_OR_READER,
    "get_security_group:tags": OBJECT_RULES["get_security_group"],
    "get_subnetpool:tags": OBJECT_RULES["get_subnetpool"],
    "create_subnet:tags": f"{MEMBER} or ({ADMIN}) or ({NET_MEMBER})",
    "get_subnet:tags": f"{READER} or rule:shared or rule:external_network or ({ADMIN})"
    f" or ({NET_READER})",
    "update_subnet:tags": f"{MEMBER} or ({ADMIN}) or ({NET_MEMBER})",
    "delete_subnet:tags": f"{MEMBER} or ({ADMIN}) or ({NET_MEMBER})",
    "create_port:tags": f"{ADMIN_OR_MEMBER} or rule:context_is_advsvc",
    "get_port:tags": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_READER}) or {READER}",
    "update_port:tags": f"{ADMIN_OR_MEMBER} or rule:context_is_advsvc",
    "delete_port:tags": f"rule:context_is_advsvc or {MEMBER} or ({ADMIN}) or ({NET_MEMBER})",
}


# admin-only actions and attributes whose Neutron default also names services or a
# project's managers; `create_port:binding:profile` and `update_port:binding:profile`,
# services' alone in Neutron 2025.2, stay admins' too at the top (as before it)
WIDER = {
    "get_network_ip_availability": f"({ADMIN}) or {SERVICE}",
    "update_port:mac_address": f"({ADMIN}) or {SERVICE} or role:manager and rule:network_owner",
    "create_floatingip:floating_ip_address": f"({ADMIN}) or (role:manager and {OWNER})",
    "create_port:binding:host_id": f"({ADMIN}) or {SERVICE}",
    "update_port:binding:host_id": f"({ADMIN}) or {SERVICE}",
}
# where Cascade's default is not Neutron's (tests/integration/test_policy_operations.py)
NOT_NEUTRON_S = ("delete_port", "create_port:binding:profile", "update_port:binding:profile")


def defaults() -> dict[str, str]:
    """Neutron's defaults for `context_is_admin` and its base rules, every action on an
    object, every admin-only attribute and every admin-only action."""
    rules = {"context_is_admin": "role:admin", "admin_only": "rule:context_is_admin"}
    rules.update(BASE)
    rules.update(OBJECT_RULES)
    rules.update(TAGS)
    rules.update(dict.fromkeys(ADMIN_ACTIONS, "rule:admin_only"))
    for resource, spec in SPECS.items():
        for key, attr in spec.items():
            if attr.admin:
                rules[f"create_{resource}:{key}"] = "rule:admin_only"
                if attr.put:
                    rules[f"update_{resource}:{key}"] = "rule:admin_only"
    rules.update(WIDER)
    return rules
