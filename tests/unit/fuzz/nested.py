"""Wrong JSON types in the nested fields of the bodies the top reads: a table of
(method, path, body) over the world's objects, each field given each of `ODD`.

A deterministic sweep beside the generated requests: a handler that indexes, iterates
or hashes a nested value without checking its type fails here on the first run."""

from __future__ import annotations

from typing import Any

Json = Any
ODD: tuple[Json, ...] = (1, "x", [], {}, [1], [[1]], [{}], {"x": [1]}, None, True)


def cases(world: dict[str, list[str]]) -> list[tuple[str, str, Json]]:
    """Every (method, path, body) of the sweep."""
    w = world
    vol, net, port = w["volumes"][0], w["networks"][0], w["ports"][0]
    rule, srv = w["security-group-rules"][0], w["server_id"][0]
    router, subnet, fip, pod = w["routers"][0], w["subnets"][0], w["floatingips"][0], w["pod_id"][0]
    vtype, gtype, qos = w["type_id"][0], w["type_id"][1], w["qos_id"][0]
    server = {"name": "a", "flavorRef": "1"}
    cases: list[tuple[str, str, Json]] = []
    for v in ODD:
        cases.append(
            (
                "POST",
                "/compute/v2.1/servers",
                {"server": {**server, "networks": "none", "block_device_mapping_v2": v}},
            )
        )
        cases.append(
            (
                "POST",
                "/compute/v2.1/servers",
                {
                    "server": {
                        **server,
                        "networks": "none",
                        "block_device_mapping_v2": [
                            {
                                "boot_index": 0,
                                "uuid": v,
                                "source_type": "volume",
                                "destination_type": "volume",
                            }
                        ],
                    }
                },
            )
        )
        cases.append(("POST", "/compute/v2.1/servers", {"server": {**server, "networks": v}}))
        cases.append(
            ("POST", "/compute/v2.1/servers", {"server": {**server, "networks": [{"uuid": v}]}})
        )
        cases.append(
            ("POST", "/compute/v2.1/servers", {"server": {**server, "networks": [{"port": v}]}})
        )
        cases.append(
            (
                "POST",
                "/compute/v2.1/servers",
                {"server": {**server, "networks": [{"uuid": net, "fixed_ip": v}]}},
            )
        )
        cases.append(
            (
                "POST",
                "/compute/v2.1/servers",
                {"server": {**server, "networks": "none", "security_groups": v}},
            )
        )
        cases.append(
            (
                "POST",
                "/compute/v2.1/servers",
                {"server": {"name": "a", "flavorRef": v, "networks": "none"}},
            )
        )
        cases.append(
            (
                "POST",
                "/compute/v2.1/servers",
                {"server": {**server, "networks": "none", "availability_zone": v}},
            )
        )
        cases.append(
            (
                "POST",
                "/compute/v2.1/servers",
                {"server": {**server, "networks": "none", "key_name": v}},
            )
        )
        cases.append(
            (
                "POST",
                "/compute/v2.1/servers",
                {"server": {**server, "networks": "none", "min_count": v}},
            )
        )
        cases.append(
            (
                "POST",
                "/compute/v2.1/servers",
                {"server": {**server, "networks": "none"}, "os:scheduler_hints": v},
            )
        )
        cases.append(("PUT", f"/networking/v2.0/security-group-rules/{rule}/tags", {"tags": v}))
        cases.append(("PUT", f"/networking/v2.0/security-group-rules/{rule}/tags", v))
        cases.append(("PUT", f"/networking/v2.0/ports/{port}/tags", {"tags": v}))
        cases.append(("PUT", f"/networking/v2.0/ports/{port}", {"port": {"fixed_ips": v}}))
        cases.append(
            ("PUT", f"/networking/v2.0/ports/{port}", {"port": {"fixed_ips": [{"subnet_id": v}]}})
        )
        cases.append(("PUT", f"/networking/v2.0/ports/{port}", {"port": {"security_groups": v}}))
        cases.append(
            ("PUT", f"/networking/v2.0/ports/{port}", {"port": {"allowed_address_pairs": v}})
        )
        cases.append(("PUT", f"/networking/v2.0/ports/{port}", {"port": {"binding:profile": v}}))
        cases.append(("PUT", f"/networking/v2.0/ports/{port}", {"port": {"extra_dhcp_opts": v}}))
        cases.append(
            (
                "POST",
                "/networking/v2.0/ports",
                {"port": {"network_id": net, "fixed_ips": [{"ip_address": v}]}},
            )
        )
        cases.append(
            ("POST", f"/compute/v2.1/servers/{srv}/os-interface", {"interfaceAttachment": v})
        )
        cases.append(
            (
                "POST",
                f"/compute/v2.1/servers/{srv}/os-interface",
                {"interfaceAttachment": {"net_id": v}},
            )
        )
        cases.append(
            (
                "POST",
                f"/compute/v2.1/servers/{srv}/os-interface",
                {"interfaceAttachment": {"port_id": v}},
            )
        )
        cases.append(
            (
                "POST",
                f"/compute/v2.1/servers/{srv}/os-interface",
                {"interfaceAttachment": {"net_id": net, "fixed_ips": v}},
            )
        )
        cases.append(
            ("POST", f"/compute/v2.1/servers/{srv}/os-volume_attachments", {"volumeAttachment": v})
        )
        cases.append(
            (
                "POST",
                f"/compute/v2.1/servers/{srv}/os-volume_attachments",
                {"volumeAttachment": {"volumeId": v}},
            )
        )
        cases.append(("POST", f"/compute/v2.1/servers/{srv}/action", {"resize": {"flavorRef": v}}))
        cases.append(("POST", f"/compute/v2.1/servers/{srv}/action", {"resize": v}))
        cases.append(
            (
                "POST",
                f"/compute/v2.1/servers/{srv}/action",
                {"rebuild": {"imageRef": "x", "key_name": v}},
            )
        )
        cases.append(("POST", f"/compute/v2.1/servers/{srv}/action", {"rebuild": v}))
        cases.append(("POST", f"/compute/v2.1/servers/{srv}/action", v))
        cases.append(("POST", f"/volume/v3/volumes/{vol}/action", {"os-extend": {"new_size": v}}))
        cases.append(("POST", f"/volume/v3/volumes/{vol}/action", {"os-extend": v}))
        cases.append(("POST", f"/volume/v3/volumes/{vol}/action", {"os-attach": v}))
        cases.append(("POST", f"/volume/v3/volumes/{vol}/action", {"os-retype": {"new_type": v}}))
        cases.append(("POST", f"/volume/v3/volumes/{vol}/action", v))
        cases.append(
            (
                "POST",
                "/volume/v3/attachments",
                {"attachment": {"volume_uuid": v, "instance_uuid": srv}},
            )
        )
        cases.append(
            (
                "POST",
                "/volume/v3/attachments",
                {"attachment": {"volume_uuid": vol, "instance_uuid": v}},
            )
        )
        cases.append(
            (
                "POST",
                "/volume/v3/attachments",
                {"attachment": {"volume_uuid": vol, "instance_uuid": srv, "connector": v}},
            )
        )
        cases.append(("POST", "/volume/v3/volume-transfers", {"transfer": {"volume_id": v}}))
        cases.append(
            ("POST", f"/volume/v3/os-volume-transfer/{vol}/accept", {"accept": {"auth_key": v}})
        )
        cases.append(("POST", f"/volume/v3/backups/{vol}/restore", {"restore": v}))
        cases.append(("POST", f"/volume/v3/backups/{vol}/restore", {"restore": {"volume_id": v}}))
        cases.append(
            ("POST", "/volume/v3/groups", {"group": {"group_type": v, "volume_types": [vtype]}})
        )
        cases.append(
            ("POST", "/volume/v3/groups", {"group": {"group_type": gtype, "volume_types": v}})
        )
        cases.append(
            ("POST", "/volume/v3/groups/action", {"create-from-src": {"source_group_id": v}})
        )
        cases.append(("PUT", "/volume/v3/os-quota-sets/p1", {"quota_set": v}))
        cases.append(("PUT", "/volume/v3/os-quota-sets/p1", {"quota_set": {"volumes": v}}))
        cases.append(("PUT", "/compute/v2.1/os-quota-sets/p1", {"quota_set": {"instances": v}}))
        cases.append(("PUT", "/networking/v2.0/quotas/p1", {"quota": v}))
        cases.append(("PUT", "/networking/v2.0/quotas/p1", {"quota": {"network": v}}))
        cases.append(("PUT", f"/networking/v2.0/routers/{router}", {"router": {"routes": v}}))
        cases.append(
            ("PUT", f"/networking/v2.0/routers/{router}", {"router": {"external_gateway_info": v}})
        )
        cases.append(("PUT", f"/networking/v2.0/routers/{router}/add_router_interface", v))
        cases.append(
            ("PUT", f"/networking/v2.0/routers/{router}/add_router_interface", {"subnet_id": v})
        )
        cases.append(
            ("PUT", f"/networking/v2.0/routers/{router}/remove_router_interface", {"port_id": v})
        )
        cases.append(
            ("PUT", f"/networking/v2.0/subnets/{subnet}", {"subnet": {"allocation_pools": v}})
        )
        cases.append(("PUT", f"/networking/v2.0/subnets/{subnet}", {"subnet": {"host_routes": v}}))
        cases.append(
            ("PUT", f"/networking/v2.0/subnets/{subnet}", {"subnet": {"dns_nameservers": v}})
        )
        cases.append(("POST", "/networking/v2.0/networks", {"networks": v}))
        cases.append(
            ("POST", "/networking/v2.0/networks", {"network": {"availability_zone_hints": v}})
        )
        cases.append(("PUT", f"/networking/v2.0/floatingips/{fip}", {"floatingip": {"port_id": v}}))
        cases.append(
            ("POST", "/v1/pods", {"pod": {"name": "z", "region_name": "z", "az": "az9", "tags": v}})
        )
        cases.append(("PATCH", f"/v1/pods/{pod}", {"pod": v}))
        cases.append(("PATCH", f"/v1/pods/{pod}", {"pod": {"tags": v}}))
        cases.append(("POST", "/v1/bindings", {"binding": v}))
        cases.append(("POST", "/compute/v2.1/os-server-external-events", {"events": v}))
        cases.append(
            (
                "POST",
                "/compute/v2.1/os-server-external-events",
                {"events": [{"name": "network-changed", "server_uuid": v}]},
            )
        )
        cases.append(("POST", "/compute/v2.1/flavors/1/action", {"addTenantAccess": v}))
        cases.append(("POST", "/compute/v2.1/os-aggregates/1/action", {"add_host": v}))
        cases.append(("POST", f"/volume/v3/types/{vtype}/action", {"addProjectAccess": v}))
        cases.append(("PUT", f"/volume/v3/qos-specs/{qos}", {"qos_specs": v}))
        cases.append(("POST", f"/volume/v3/types/{vtype}/encryption", {"encryption": v}))
        cases.append(("PUT", "/volume/v3/default-types/p1", {"default_type": v}))
        cases.append(("POST", "/volume/v3/os-volume-manage", {"volume": v}))
        cases.append(("POST", "/volume/v3/os-volume-manage", {"volume": {"host": v, "ref": v}}))
        cases.append(("PUT", "/volume/v3/os-services/disable", v))
        cases.append(("PUT", "/compute/v2.1/os-services/1", v))
    return cases
