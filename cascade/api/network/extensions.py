"""`/v2.0/extensions`: only what the top really implements.

GET lists them; GET `/extensions/{alias}` shows one or answers 404.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.network.common import reply
from cascade.services.network.errors import NeutronError

UPDATED = "2026-11-22T00:00:00-00:00"
# alias -> (name, description)
EXTENSIONS = {
    "project-id": (
        "project_id field enabled",
        "Extension that indicates that project_id is enabled.",
    ),
    "pagination": ("Pagination support", "Extension that indicates that pagination is enabled."),
    "sorting": ("Sorting support", "Extension that indicates that sorting is enabled."),
    "filter-validation": (
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    "empty-string-filtering": (
        "Empty String Filtering Extension",
        "Allow filtering by attributes with empty string value",
    ),
    "ip-substring-filtering": (
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
    ),
    "standard-attr-description": (
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    "standard-attr-revisions": (
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    "standard-attr-timestamp": (
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have "
        "Neutron standard attributes.",
    ),
    "standard-attr-tag": (
        "Tag support for resources with standard attribute: subnet, network, port, security_group",
        "Enables to set tag on resources with standard attribute.",
    ),
    "tag-creation": ("Tag creation extension", "Allow to create multiple tags for a resource"),
    "revision-if-match": (
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    "provider": ("Provider Network", "Expose mapping of virtual networks to physical networks"),
    "external-net": (
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    "subnet-external-network": (
        "Subnet belongs to an external network",
        "Informs if the subnet belongs to an external network",
    ),
    "net-mtu": ("Network MTU", "Provides MTU attribute for a network resource."),
    "net-mtu-writable": (
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    "port-security": ("Port Security", "Provides port security"),
    "allowed-address-pairs": ("Allowed Address Pairs", "Provides allowed address pairs"),
    "extra_dhcp_opt": (
        "Neutron Extra DHCP options",
        "Extra options configuration for DHCP. For example PXE boot options to DHCP "
        "clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
    ),
    "binding": ("Port Binding", "Expose port bindings of a virtual port to external application"),
    "security-group": ("security-group", "The security groups extension."),
    "security-groups-default-rules": (
        "Default rules for security groups",
        "Configure set of security group rules used as default rules for every new security group",
    ),
    "stateful-security-group": (
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
    "security-groups-normalized-cidr": (
        "Normalized CIDR field for security group rules",
        "Add new field with normalized remote_ip_prefix cidr in SG rule",
    ),
    "security-groups-rules-belongs-to-default-sg": (
        "Security group rule belongs to the project's default security group",
        "Flag to determine if the security group rule belongs to the project's default "
        "security group",
    ),
    "port-security-groups-filtering": (
        "Port filtering on security groups",
        "Provides security groups filtering when listing ports",
    ),
    # routers' `distributed` and `ha` (admins): facts of the top router, changed while
    # it is down; the pods' copies are centralised
    "dvr": (
        "Distributed Virtual Router",
        "Enables configuration of Distributed Virtual Routers.",
    ),
    "l3-ha": ("HA Router extension", "Adds HA capability to routers."),
    "router-admin-state-down-before-update": (
        "Enforce Router's Admin State Down Before Update Extension",
        "Ensure that the admin state of a router is DOWN (admin_state_up=False) before "
        "updating the distributed attribute",
    ),
    "floatingip-pools": ("Floating IP Pools Extension", "Provides a floating IP pools API."),
    "fip-port-details": (
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
    ),
    # the top's AZs (its pods'): `/availability_zones`, networks' and routers' hints
    "availability_zone": ("Availability Zone", "The availability zone extension."),
    "availability_zone_filter": (
        "Availability Zone Filter Extension",
        "Add filter parameters to AvailabilityZone resource",
    ),
    "network_availability_zone": (
        "Network Availability Zone",
        "Availability zone support for network.",
    ),
    "router_availability_zone": (
        "Router Availability Zone",
        "Availability zone support for router.",
    ),
    # the top's own pools, scopes, groups, sharing and IP usage
    "subnet_allocation": (
        "Subnet Allocation",
        "Enables allocation of subnets from a subnet pool",
    ),
    "default-subnetpools": (
        "Default Subnetpools",
        "Provides ability to mark and use a subnetpool as the default.",
    ),
    "subnetpool-prefix-ops": (
        "Subnet Pool Prefix Operations",
        "Provides support for adjusting the prefix list of subnet pools",
    ),
    # "get me a network" from the top's own networks, pools and routers; networks'
    # `is_default` names the default external network
    "auto-allocated-topology": (
        "Auto Allocated Topology Services",
        "Auto Allocated Topology Services.",
    ),
    "address-scope": ("Address scope", "Address scopes extension."),
    "address-group": ("Address group", "Support address group"),
    "rbac-policies": (
        "RBAC Policies",
        "Allows creation and modification of policies that control project access to resources.",
    ),
    "rbac-subnetpool": ("Add subnetpool type to RBAC", "Add subnetpool type to RBAC"),
    "rbac-address-scope": ("Add address_scope type to RBAC", "Add address_scope type to RBAC"),
    "network-ip-availability": (
        "Network IP Availability",
        "Provides IP availability data for each network and subnet.",
    ),
    "service-type": (
        "Neutron Service Type Management",
        "API for retrieving service providers for Neutron advanced services",
    ),
    "flavors": (
        "Neutron Service Flavors",
        "Flavor specification for Neutron advanced services.",
    ),
    "router": (
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access "
        "to external networks via a NAT gateway.",
    ),
    "extraroute": ("Neutron Extra Route", "Extra routes configuration for L3 router"),
    "extraroute-atomic": (
        "Atomically add/remove extra routes",
        "Edit extra routes of a router on server side by atomically adding/removing extra routes",
    ),
    "ext-gw-mode": (
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on "
        "the external gateway",
    ),
    "quotas": ("Quota management support", "Expose functions for quotas management per project"),
    "quota_details": (
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
}


def _doc(alias: str) -> dict[str, object]:
    name, description = EXTENSIONS[alias]
    return {
        "name": name,
        "alias": alias,
        "description": description,
        "updated": UPDATED,
        "links": [],
    }


async def index(request: Request) -> Response:
    return reply({"extensions": [_doc(a) for a in EXTENSIONS]})


async def show(request: Request) -> Response:
    alias = request.path_params["alias"]
    if alias not in EXTENSIONS:
        raise NeutronError(f"Extension with alias {alias} does not exist", 404, "HTTPNotFound")
    return reply({"extension": _doc(alias)})
