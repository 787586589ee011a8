"""The Compute API's routes, under `/compute`: one table (see `api.routing`)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from cascade.api.compute import (
    aggregates,
    assisted_snapshots,
    audit_log,
    availability_zones,
    extensions,
    external_events,
    flavor_access,
    flavors,
    flavors_extraspecs,
    hypervisors,
    images,
    keypairs,
    limits,
    migrations,
    network_proxy,
    os_hosts,
    quota_classes,
    quota_sets,
    server_groups,
    server_lists,
    servers,
    services,
    tenant_usage,
    versions,
    volume_proxy,
)
from cascade.api.routing import Declarations, declared, every_method

PREFIX = "/compute"
V20 = f"{PREFIX}/v2"
V21 = f"{PREFIX}/v2.1"
# version documents: answered without a token, as Nova does
PUBLIC = (PREFIX, f"{PREFIX}/", V20, f"{V20}/", V21, f"{V21}/")

ROUTES: Declarations = {
    "/extensions": {"GET": extensions.index},
    "/extensions/{alias}": {"GET": extensions.show},
    "/os-assisted-volume-snapshots": {"POST": assisted_snapshots.create},
    "/os-assisted-volume-snapshots/{snapshot_id}": {"DELETE": assisted_snapshots.delete},
    "/os-availability-zone": {"GET": availability_zones.index},
    "/os-availability-zone/detail": {"GET": availability_zones.detail},
    "/os-keypairs": {"GET": keypairs.index, "POST": keypairs.create},
    "/os-keypairs/{name}": {"GET": keypairs.show, "DELETE": keypairs.delete},
    "/os-server-external-events": {"POST": external_events.create},
    # Nova's image proxy (below 2.36), from a pod's Nova: the pods share one Glance
    "/images": {"GET": images.proxy},
    "/images/": every_method(images.proxy),  # no id: the pod's 404, as Nova's router
    "/images/detail": {"GET": images.proxy},
    "/images/{image_id}": {"GET": images.proxy, "DELETE": images.proxy},
    "/images/{image_id}/metadata": every_method(images.proxy, "GET", "POST", "PUT"),
    "/images/{image_id}/metadata/{key}": every_method(images.proxy, "GET", "PUT", "DELETE"),
    # Nova's network proxies (below 2.36), from the top's own Networking
    # a blank id (`DELETE /os-security-groups/`) is Nova's 404: no route matches it
    **{
        f"/{collection}/": every_method(network_proxy.no_id)
        for collection in (
            "os-security-groups",
            "os-security-group-rules",
            "os-floating-ips",
            "os-networks",
            "os-tenant-networks",
        )
    },
    "/os-security-groups": {
        "GET": network_proxy.groups_index,
        "POST": network_proxy.groups_create,
    },
    "/os-security-groups/{group_id}": {
        "GET": network_proxy.group_show,
        "PUT": network_proxy.group_update,
        "DELETE": network_proxy.group_delete,
    },
    "/os-security-group-rules": {"POST": network_proxy.rules_create},
    "/os-security-group-rules/{rule_id}": {"DELETE": network_proxy.rule_delete},
    "/os-floating-ip-pools": {"GET": network_proxy.pools_index},
    "/os-floating-ips": {
        "GET": network_proxy.floating_index,
        "POST": network_proxy.floating_create,
    },
    "/os-floating-ips/{fip_id}": {
        "GET": network_proxy.floating_show,
        "DELETE": network_proxy.floating_delete,
    },
    # nova-network's APIs Nova has removed: 410 at every microversion
    "/os-security-group-default-rules": every_method(network_proxy.removed, "GET", "POST"),
    "/os-security-group-default-rules/{rule_id}": every_method(
        network_proxy.removed, "GET", "DELETE"
    ),
    "/os-floating-ip-dns": {"GET": network_proxy.removed},
    "/os-floating-ip-dns/{domain}": every_method(network_proxy.removed, "PUT", "DELETE"),
    "/os-floating-ip-dns/{domain}/entries/{entry}": every_method(
        network_proxy.removed, "GET", "PUT", "DELETE"
    ),
    "/os-floating-ips-bulk": every_method(network_proxy.removed, "GET", "POST"),
    "/os-floating-ips-bulk/{bulk_id}": every_method(network_proxy.removed, "GET", "PUT"),
    "/os-networks": {"GET": network_proxy.networks_index, "POST": network_proxy.removed},
    "/os-networks/add": {"POST": network_proxy.removed},
    "/os-networks/{network_id}": {
        "GET": network_proxy.network_show,
        "DELETE": network_proxy.removed,
    },
    "/os-networks/{network_id}/action": {"POST": network_proxy.removed},
    "/os-tenant-networks": {
        "GET": network_proxy.tenant_networks_index,
        "POST": network_proxy.removed,
    },
    "/os-tenant-networks/{network_id}": {
        "GET": network_proxy.tenant_network_show,
        "DELETE": network_proxy.removed,
    },
    # Nova's volume proxies (below 2.36), from the top's own Block Storage
    "/os-volumes": {"GET": volume_proxy.volumes_index, "POST": volume_proxy.volume_create},
    "/os-volumes/": every_method(network_proxy.no_id),
    "/os-volumes/detail": {"GET": volume_proxy.volumes_index},
    "/os-volumes/{volume_id}": {
        "GET": volume_proxy.volume_show,
        "DELETE": volume_proxy.volume_delete,
    },
    "/os-snapshots": {"GET": volume_proxy.snapshots_index, "POST": volume_proxy.snapshot_create},
    "/os-snapshots/": every_method(network_proxy.no_id),
    "/os-snapshots/detail": {"GET": volume_proxy.snapshots_index},
    "/os-snapshots/{snapshot_id}": {
        "GET": volume_proxy.snapshot_show,
        "DELETE": volume_proxy.snapshot_delete,
    },
    "/os-server-groups": {"GET": server_groups.index, "POST": server_groups.create},
    "/os-server-groups/{group_id}": every_method(server_groups.member, "GET", "DELETE"),
    "/servers": {"GET": server_lists.index, "POST": servers.create},
    "/servers/detail": {"GET": server_lists.index},
    "/servers/{server_id}": {
        "GET": servers.show,
        **every_method(servers.member, "PUT", "DELETE", "POST", "PATCH"),
    },
    "/servers/{server_id}/{rest:path}": every_method(servers.member),
    "/flavors": {"GET": flavors.index, "POST": flavors.create},
    "/flavors/detail": {"GET": flavors.detail},
    "/flavors/{flavor_id}": {
        "GET": flavors.show,
        "PUT": flavors.update,
        "DELETE": flavors.delete,
    },
    "/flavors/{flavor_id}/os-extra_specs": {
        "GET": flavors_extraspecs.index,
        "POST": flavors_extraspecs.create,
    },
    "/flavors/{flavor_id}/os-extra_specs/{key}": {
        "GET": flavors_extraspecs.show,
        "PUT": flavors_extraspecs.update,
        "DELETE": flavors_extraspecs.delete,
    },
    "/flavors/{flavor_id}/os-flavor-access": {"GET": flavor_access.index},
    "/flavors/{flavor_id}/action": {"POST": flavor_access.action},
    "/limits": {"GET": limits.index},
    "/os-quota-sets/{project_id}": {
        "GET": quota_sets.show,
        "PUT": quota_sets.update,
        "DELETE": quota_sets.delete,
    },
    "/os-quota-sets/{project_id}/defaults": {"GET": quota_sets.defaults},
    "/os-quota-sets/{project_id}/detail": {"GET": quota_sets.detail},
    "/os-quota-class-sets/{class_name}": {
        "GET": quota_classes.show,
        "PUT": quota_classes.update,
    },
    "/os-hypervisors": {"GET": hypervisors.index},
    "/os-hypervisors/detail": {"GET": hypervisors.detail},
    "/os-hypervisors/statistics": {"GET": hypervisors.statistics},
    "/os-hypervisors/{hypervisor_id}": {"GET": hypervisors.show},
    "/os-hypervisors/{hypervisor_id}/uptime": {"GET": hypervisors.uptime},
    "/os-hypervisors/{pattern}/search": {"GET": hypervisors.search},
    "/os-hypervisors/{pattern}/servers": {"GET": hypervisors.servers},
    "/os-hosts": {"GET": os_hosts.index},
    "/os-hosts/{host_id}": {"GET": os_hosts.show, "PUT": os_hosts.update},
    "/os-hosts/{host_id}/reboot": {"GET": os_hosts.reboot},
    "/os-hosts/{host_id}/shutdown": {"GET": os_hosts.shutdown},
    "/os-hosts/{host_id}/startup": {"GET": os_hosts.startup},
    "/os-instance_usage_audit_log": {"GET": audit_log.index},
    "/os-instance_usage_audit_log/{before}": {"GET": audit_log.show},
    "/os-migrations": {"GET": migrations.index},
    "/os-services": {"GET": services.index},
    "/os-simple-tenant-usage": {"GET": tenant_usage.index},
    "/os-simple-tenant-usage/{tenant_id}": {"GET": tenant_usage.show},
    "/os-services/{service_id}": {"PUT": services.update, "DELETE": services.delete},
    "/os-aggregates": {"GET": aggregates.index, "POST": aggregates.create},
    "/os-aggregates/{aggregate_id}": {
        "GET": aggregates.show,
        "PUT": aggregates.update,
        "DELETE": aggregates.delete,
    },
    "/os-aggregates/{aggregate_id}/action": {"POST": aggregates.action},
    "/os-aggregates/{aggregate_id}/images": {"POST": aggregates.images},
    # anything else: negotiated, then 501 saying it is not served yet
    "/{path:path}": every_method(versions.not_served_yet),
}


def routes() -> list[BaseRoute]:
    return [
        *declared(PREFIX, {"": {"GET": versions.root}, "/": {"GET": versions.root}}),
        *declared(V20, {"": {"GET": versions.v20}, "/": {"GET": versions.v20}}),
        *declared(V21, {"": {"GET": versions.v21}, "/": {"GET": versions.v21}}),
        *declared(V21, ROUTES),
    ]
