"""The isolation matrix: `alt_demo` tries every operation on `demo`'s objects, through the top.

`demo` makes one object of each kind through the top (a server in each AZ, a volume, a
snapshot, a transfer, a network with a subnet and a port, a security group and a rule, a
router, a floating IP, a keypair, a server group; admin makes a private flavor and a private
volume type that only demo's project may use). Then `alt_demo`, another project's member,
tries each operation of `MATRIX` on them: show, lists with and without filters (by name, by
id, `all_tenants`, demo's project), update, delete, actions, sub-resources and the admin API.

Each row says how the real service refuses alt_demo (or, for a list, that it answers 200).
Where the kind exists in a pod, the same request is made to the pod as `alt_demo` on a twin
(the same server, volume, snapshot and keypair, which the pods hold under the top's id or
name; a pod-native object of demo's otherwise) and the pod's answer must be the row's: the
row's expectation is the service's, not a guess. Rows marked `pod=False` are Cascade's own
API (`/v1`) or kinds whose answer a pod cannot show (a backup: the devcloud runs no
cinder-backup, so no backup can exist; the rows use an id that is no backup).

Counted and asserted: operations tried, leaks (a 2xx where the service refuses; a body that
names one of demo's objects not named in the request; a demo object changed after a refused
write), wrong refusals (another status or another error format than the service's), rows
whose expectation the pod contradicts. `KNOWN_WRONG` holds rows where Cascade is known to
answer otherwise, for the lead to decide: they are tried, printed and counted apart.

`pod_objects` / `unknown_to_top` are the reusable state check: demo's objects in the pods
that the top does not know (orphans), compared with a baseline taken before.

Against a running devcloud, without restarting anything (about 3 minutes):

    CASCADE_DEVCLOUD_REUSE=1 pytest -q -s tests/integration/test_isolation.py
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from keystoneauth1.exceptions import ConnectFailure
from openstack.connection import Connection

from tests.integration.conftest import PODS
from tests.integration.test_cascade_compute import unique, wait_gone, wait_status

pytestmark = pytest.mark.integration
MV = "2.79"
VOLUME_MV = "3.60"
ADMIN_URL = "http://127.0.0.1:20080"
RETRIES = 30
NOT_A_BACKUP = "4c1d7f22-5e0f-4a8e-9a53-0b0ac0000000"

# the error body's key for each status, per service
NOVA_FAULTS = {
    400: "badRequest",
    403: "forbidden",
    404: "itemNotFound",
    405: "computeFault",
    409: "conflictingRequest",
    410: "computeFault",
    413: "overLimit",
}


@dataclass(frozen=True)
class Op:
    """One request alt_demo makes: `expect` is the real service's answer to it (2xx only
    for lists and creates of alt_demo's own, which must not reveal demo's objects)."""

    service: str  # compute, volume, network, admin
    kind: str  # which of demo's objects it aims at (checked unchanged after a write)
    method: str
    path: str  # a template: {server1}, {volume}, {demo_project}, ...
    expect: int
    body: Any = None
    pod: bool = True  # the same request to a pod must get the same answer
    version: str | None = None  # a microversion other than the default

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.service, self.method, self.path)


def nova(kind: str, method: str, path: str, expect: int, body: Any = None, **kw: Any) -> Op:
    return Op("compute", kind, method, path, expect, body, **kw)


def cinder(kind: str, method: str, path: str, expect: int, body: Any = None, **kw: Any) -> Op:
    return Op("volume", kind, method, path, expect, body, **kw)


def neutron(kind: str, method: str, path: str, expect: int, body: Any = None, **kw: Any) -> Op:
    return Op("network", kind, method, path, expect, body, **kw)


def admin(kind: str, method: str, path: str, expect: int, body: Any = None) -> Op:
    return Op("admin", kind, method, path, expect, body, pod=False)


def server_ops(s: str) -> list[Op]:
    base = f"/servers/{{{s}}}"
    action = f"{base}/action"
    actions: list[tuple[Any, int]] = [
        ({"reboot": {"type": "SOFT"}}, 404),
        ({"os-stop": None}, 404),
        ({"os-start": None}, 404),
        ({"lock": None}, 404),
        ({"unlock": None}, 404),
        ({"pause": None}, 404),
        ({"unpause": None}, 404),
        ({"suspend": None}, 404),
        ({"resume": None}, 404),
        ({"shelve": None}, 404),
        ({"unshelve": None}, 404),
        ({"createImage": {"name": "iso-image"}}, 404),
        ({"createBackup": {"name": "iso", "backup_type": "daily", "rotation": 1}}, 404),
        ({"os-getConsoleOutput": {"length": 5}}, 404),
        ({"os-getVNCConsole": {"type": "novnc"}}, 404),
        ({"resize": {"flavorRef": "2"}}, 404),
        ({"confirmResize": None}, 404),
        ({"revertResize": None}, 404),
        ({"rebuild": {"imageRef": "{image}"}}, 404),
        ({"changePassword": {"adminPass": "iso-pass"}}, 404),
        ({"addSecurityGroup": {"name": "default"}}, 404),
        ({"removeSecurityGroup": {"name": "default"}}, 404),
        ({"rescue": None}, 404),
        ({"unrescue": None}, 404),
        ({"trigger_crash_dump": None}, 404),
        ({"os-resetState": {"state": "error"}}, 404),
        ({"migrate": None}, 404),
        ({"os-migrateLive": {"host": None, "block_migration": "auto"}}, 404),
        ({"injectNetworkInfo": None}, 404),
        ({"resetNetwork": None}, 410),  # removed from Nova: 410 before any lookup,
        ({"forceDelete": None}, 404),
        ({"restore": None}, 404),
    ]
    return [
        nova(s, "GET", base, 404),
        nova(s, "GET", f"/servers?name={{{s}_name}}", 200),
        nova(s, "GET", f"/servers/detail?name={{{s}_name}}", 200),
        nova(s, "GET", f"/servers/detail?uuid={{{s}}}", 200),
        nova(s, "GET", "/servers/detail?all_tenants=1", 403),
        nova(s, "GET", f"/servers?all_tenants=1&name={{{s}_name}}", 403),
        nova(s, "GET", "/servers/detail?project_id={demo_project}", 200),
        nova(s, "GET", "/servers/detail?tenant_id={demo_project}", 200),
        nova(s, "GET", f"{base}/metadata", 404),
        nova(s, "GET", f"{base}/metadata/role", 404),
        nova(s, "GET", f"{base}/ips", 404),
        nova(s, "GET", f"{base}/ips/{{network_name}}", 404),
        nova(s, "GET", f"{base}/os-interface", 404),
        nova(s, "GET", f"{base}/os-interface/{{port}}", 404),
        nova(s, "GET", f"{base}/os-volume_attachments", 404),
        nova(s, "GET", f"{base}/os-volume_attachments/{{volume}}", 404),
        nova(s, "GET", f"{base}/os-instance-actions", 404),
        nova(s, "GET", f"{base}/os-instance-actions/req-00000000-0000-0000-0000-000000000000", 404),
        nova(s, "GET", f"{base}/tags", 403),
        nova(s, "GET", f"{base}/tags/iso", 403),
        nova(s, "GET", f"{base}/os-server-password", 404),
        nova(s, "GET", f"{base}/os-security-groups", 404),
        nova(s, "GET", f"{base}/diagnostics", 404),
        nova(s, "GET", f"{base}/topology", 404),
        nova(s, "GET", f"{base}/migrations", 404),
        nova(s, "PUT", base, 404, {"server": {"name": "iso-renamed"}}),
        nova(s, "POST", f"{base}/metadata", 404, {"metadata": {"iso": "x"}}),
        nova(s, "PUT", f"{base}/metadata", 404, {"metadata": {}}),
        nova(s, "PUT", f"{base}/metadata/role", 404, {"meta": {"role": "iso"}}),
        nova(s, "DELETE", f"{base}/metadata/role", 404),
        nova(s, "POST", f"{base}/os-interface", 404, {"interfaceAttachment": {}}),
        nova(s, "DELETE", f"{base}/os-interface/{{port}}", 404),
        nova(
            s,
            "POST",
            f"{base}/os-volume_attachments",
            404,
            {"volumeAttachment": {"volumeId": "{volume}"}},
        ),
        nova(s, "DELETE", f"{base}/os-volume_attachments/{{volume}}", 404),
        nova(s, "PUT", f"{base}/tags", 403, {"tags": ["iso"]}),
        nova(s, "PUT", f"{base}/tags/iso", 403),
        nova(s, "DELETE", f"{base}/tags/demo", 403),
        nova(s, "DELETE", f"{base}/tags", 403),
        nova(s, "DELETE", f"{base}/os-server-password", 404),
        nova(
            s,
            "POST",
            f"{base}/remote-consoles",
            404,
            {"remote_console": {"protocol": "vnc", "type": "novnc"}},
        ),
        *[nova(s, "POST", action, status, body) for body, status in actions],
        nova(s, "DELETE", base, 404),
    ]


def volume_ops() -> list[Op]:
    base = "/volumes/{volume}"
    action = f"{base}/action"
    actions: list[tuple[Any, int]] = [
        ({"os-extend": {"new_size": 2}}, 404),
        ({"os-reset_status": {"status": "error"}}, 404),
        ({"os-set_bootable": {"bootable": True}}, 404),
        ({"os-update_readonly_flag": {"readonly": True}}, 404),
        ({"os-reserve": None}, 404),
        ({"os-unreserve": None}, 404),
        ({"os-begin_detaching": None}, 404),
        ({"os-roll_detaching": None}, 404),
        ({"os-attach": {"instance_uuid": "{server1}", "mountpoint": "/dev/vdb"}}, 404),
        ({"os-detach": {}}, 404),
        ({"os-force_detach": {}}, 404),
        ({"os-initialize_connection": {"connector": {}}}, 404),
        ({"os-terminate_connection": {"connector": {}}}, 404),
        ({"os-retype": {"new_type": "{vtype}"}}, 404),
        ({"os-volume_upload_image": {"image_name": "iso-image"}}, 404),
        ({"os-migrate_volume": {"host": "x"}}, 404),
        ({"os-show_image_metadata": None}, 404),
        ({"os-set_image_metadata": {"metadata": {"iso": "x"}}}, 404),
        ({"os-unset_image_metadata": {"key": "iso"}}, 404),
        ({"revert": {"snapshot_id": "{snapshot}"}}, 404),
        ({"os-force_delete": None}, 404),
    ]
    return [
        cinder("volume", "GET", base, 404),
        cinder("volume", "GET", "/volumes?name={volume_name}", 200),
        cinder("volume", "GET", "/volumes/detail?name={volume_name}", 200),
        cinder("volume", "GET", "/volumes/detail?all_tenants=1", 200),
        # project_id is an admin's filter: Cinder's 400 "Invalid filters" for members
        cinder("volume", "GET", "/volumes/detail?all_tenants=1&project_id={demo_project}", 400),
        cinder("volume", "GET", "/volumes/detail?project_id={demo_project}", 400),
        cinder("volume", "GET", f"{base}/metadata", 404),
        cinder("volume", "GET", f"{base}/metadata/role", 404),
        cinder("volume", "GET", f"{base}/encryption", 404),
        cinder("volume", "PUT", base, 404, {"volume": {"name": "iso-renamed"}}),
        cinder("volume", "POST", f"{base}/metadata", 404, {"metadata": {"iso": "x"}}),
        cinder("volume", "PUT", f"{base}/metadata", 404, {"metadata": {}}),
        cinder("volume", "PUT", f"{base}/metadata/role", 404, {"meta": {"role": "iso"}}),
        cinder("volume", "DELETE", f"{base}/metadata/role", 404),
        *[cinder("volume", "POST", action, status, body) for body, status in actions],
        # demo's volume as the source of alt_demo's new objects
        cinder("volume", "POST", "/snapshots", 404, {"snapshot": {"volume_id": "{volume}"}}),
        cinder(
            "volume", "POST", "/volumes", 404, {"volume": {"size": 1, "source_volid": "{volume}"}}
        ),
        cinder("volume", "POST", "/backups", 404, {"backup": {"volume_id": "{volume}"}}),
        cinder(
            "volume", "POST", "/os-volume-transfer", 404, {"transfer": {"volume_id": "{volume}"}}
        ),
        cinder(
            "volume",
            "POST",
            "/attachments",
            404,
            {"attachment": {"volume_uuid": "{volume}", "instance_uuid": "{server1}"}},
        ),
        cinder("volume", "DELETE", base, 404),
        cinder("volume", "DELETE", f"{base}?cascade=true", 404),
    ]


def snapshot_ops() -> list[Op]:
    base = "/snapshots/{snapshot}"
    return [
        cinder("snapshot", "GET", base, 404),
        cinder("snapshot", "GET", "/snapshots?name={snapshot_name}", 200),
        cinder("snapshot", "GET", "/snapshots/detail?all_tenants=1", 200),
        cinder("snapshot", "GET", "/snapshots/detail?volume_id={volume}", 200),
        cinder("snapshot", "GET", "/snapshots/detail?project_id={demo_project}", 400),
        cinder("snapshot", "GET", f"{base}/metadata", 404),
        cinder("snapshot", "GET", f"{base}/metadata/role", 404),
        cinder("snapshot", "PUT", base, 404, {"snapshot": {"name": "iso-renamed"}}),
        cinder("snapshot", "POST", f"{base}/metadata", 404, {"metadata": {"iso": "x"}}),
        cinder("snapshot", "PUT", f"{base}/metadata", 404, {"metadata": {}}),
        cinder("snapshot", "PUT", f"{base}/metadata/role", 404, {"meta": {"role": "iso"}}),
        cinder("snapshot", "DELETE", f"{base}/metadata/role", 404),
        cinder("snapshot", "POST", f"{base}/action", 404, {"os-reset_status": {"status": "error"}}),
        cinder(
            "snapshot",
            "POST",
            f"{base}/action",
            404,
            {"os-update_snapshot_status": {"status": "error"}},
        ),
        cinder("snapshot", "POST", f"{base}/action", 404, {"os-force_delete": None}),
        cinder(
            "snapshot",
            "POST",
            "/volumes",
            404,
            {"volume": {"size": 1, "snapshot_id": "{snapshot}"}},
        ),
        cinder("snapshot", "DELETE", base, 404),
    ]


def backup_ops() -> list[Op]:
    base = "/backups/{backup}"
    return [
        cinder("backup", "GET", base, 404, pod=False),
        cinder("backup", "GET", "/backups/detail?all_tenants=1", 200, pod=False),
        cinder("backup", "GET", "/backups/detail?project_id={demo_project}", 400, pod=False),
        cinder("backup", "POST", f"{base}/restore", 404, {"restore": {}}, pod=False),
        cinder(
            "backup",
            "POST",
            f"{base}/action",
            404,
            {"os-reset_status": {"status": "error"}},
            pod=False,
        ),
        cinder("backup", "DELETE", base, 404, pod=False),
    ]


def transfer_ops() -> list[Op]:
    ops: list[Op] = []
    for prefix, version in (("/os-volume-transfer", None), ("/volume-transfers", "3.57")):
        base = prefix + "/{transfer}"
        ops += [
            cinder("transfer", "GET", base, 404, version=version),
            cinder("transfer", "GET", prefix, 200, version=version),
            cinder("transfer", "GET", f"{prefix}/detail?all_tenants=1", 200, version=version),
            cinder(
                "transfer",
                "POST",
                f"{base}/accept",
                400,
                {"accept": {"auth_key": "0000000000000000"}},
                version=version,
            ),
            cinder("transfer", "DELETE", base, 404, version=version),
        ]
    return ops


def neutron_object_ops(
    kind: str, collection: str, resource: str, update: dict[str, Any], by_name: int = 200
) -> list[Op]:
    base = f"/{collection}/{{{kind}}}"
    return [
        neutron(kind, "GET", base, 404),
        neutron(kind, "GET", f"/{collection}?id={{{kind}}}", 200),
        neutron(kind, "GET", f"/{collection}?name={{{kind}_name}}", by_name),
        neutron(kind, "GET", f"/{collection}?tenant_id={{demo_project}}", 200),
        neutron(kind, "GET", f"/{collection}?project_id={{demo_project}}", 200),
        # Neutron has no all_tenants filter (400); its tags API reads the object whoever
        # asks, then asks the policy: 403 for another project's
        neutron(kind, "GET", f"/{collection}?all_tenants=1", 400),
        neutron(kind, "GET", f"{base}/tags", 403),
        neutron(kind, "GET", f"{base}/tags/demo", 403),
        neutron(kind, "PUT", base, 404, {resource: update}),
        neutron(kind, "PUT", f"{base}/tags", 403, {"tags": ["iso"]}),
        neutron(kind, "PUT", f"{base}/tags/iso", 403),
        neutron(kind, "DELETE", f"{base}/tags/demo", 403),
        neutron(kind, "DELETE", f"{base}/tags", 403),
    ]


def cross_ops() -> list[Op]:
    """alt_demo's own objects pointed at demo's: an interface on demo's subnet, a floating
    IP on demo's port, a port in demo's group or subnet, a rule naming demo's group."""
    routes = "/routers/{alt_router}/add_router_interface"
    tags = "/networks/{public}/tags"
    return [
        # admin's external network, which every project sees: its tags are admin's
        neutron("public", "GET", tags, 403),
        neutron("public", "PUT", f"{tags}/iso", 403),
        neutron("public", "PUT", tags, 403, {"tags": ["iso"]}),
        neutron("public", "DELETE", tags, 403),
        neutron("subnet", "PUT", routes, 404, {"subnet_id": "{subnet}"}),
        neutron("port", "PUT", routes, 404, {"port_id": "{port}"}),
        neutron(
            "port", "PUT", "/floatingips/{alt_fip}", 404, {"floatingip": {"port_id": "{port}"}}
        ),
        neutron(
            "port",
            "POST",
            "/floatingips",
            404,
            {"floatingip": {"floating_network_id": "{public}", "port_id": "{port}"}},
        ),
        neutron(
            "sg",
            "POST",
            "/ports",
            404,
            {"port": {"network_id": "{alt_network}", "security_groups": ["{sg}"]}},
        ),
        neutron(
            "subnet",
            "POST",
            "/ports",
            404,
            {"port": {"network_id": "{alt_network}", "fixed_ips": [{"subnet_id": "{subnet}"}]}},
        ),
        neutron(
            "sg",
            "POST",
            "/security-group-rules",
            404,
            {
                "security_group_rule": {
                    "security_group_id": "{alt_sg}",
                    "direction": "ingress",
                    "remote_group_id": "{sg}",
                }
            },
        ),
        neutron(
            "network",
            "POST",
            "/routers",
            404,
            {"router": {"name": "iso-alt", "external_gateway_info": {"network_id": "{network}"}}},
        ),
    ]


def network_ops() -> list[Op]:
    named = {"name": "iso-renamed"}
    return [
        *neutron_object_ops("network", "networks", "network", named),
        neutron(
            "network",
            "POST",
            "/subnets",
            403,  # the policy reads the network's owner whoever asks
            {"subnet": {"network_id": "{network}", "cidr": "10.250.0.0/24", "ip_version": 4}},
        ),
        neutron("network", "POST", "/ports", 404, {"port": {"network_id": "{network}"}}),
        neutron("network", "DELETE", "/networks/{network}", 404),
        *neutron_object_ops("subnet", "subnets", "subnet", named),
        neutron("subnet", "GET", "/subnets?network_id={network}", 200),
        neutron("subnet", "DELETE", "/subnets/{subnet}", 404),
        *neutron_object_ops("port", "ports", "port", named),
        neutron("port", "GET", "/ports?network_id={network}", 200),
        neutron("port", "GET", "/ports?device_id={server1}", 200),
        neutron("port", "DELETE", "/ports/{port}", 404),
        *neutron_object_ops("sg", "security-groups", "security_group", named),
        neutron(
            "sg",
            "POST",
            "/security-group-rules",
            403,  # the policy reads the group's owner whoever asks
            {"security_group_rule": {"security_group_id": "{sg}", "direction": "ingress"}},
        ),
        neutron("sg", "DELETE", "/security-groups/{sg}", 404),
        neutron("rule", "GET", "/security-group-rules/{rule}", 404),
        neutron("rule", "GET", "/security-group-rules?id={rule}", 200),
        neutron("rule", "GET", "/security-group-rules?security_group_id={sg}", 200),
        neutron("rule", "GET", "/security-group-rules?tenant_id={demo_project}", 200),
        neutron("rule", "GET", "/security-group-rules?all_tenants=1", 400),
        neutron(
            "rule",
            "PUT",
            "/security-group-rules/{rule}",
            404,
            {"security_group_rule": {"description": "iso"}},
        ),
        neutron("rule", "DELETE", "/security-group-rules/{rule}", 404),
        *neutron_object_ops("router", "routers", "router", named),
        neutron(
            "router",
            "PUT",
            "/routers/{router}/add_router_interface",
            404,
            {"subnet_id": "{subnet}"},
        ),
        neutron(
            "router",
            "PUT",
            "/routers/{router}/remove_router_interface",
            404,
            {"subnet_id": "{subnet}"},
        ),
        neutron(
            "router",
            "PUT",
            "/routers/{router}/add_extraroutes",
            404,
            {"router": {"routes": [{"destination": "10.9.9.0/24", "nexthop": "10.251.0.9"}]}},
        ),
        neutron(
            "router",
            "PUT",
            "/routers/{router}/remove_extraroutes",
            404,
            {"router": {"routes": [{"destination": "10.9.9.0/24", "nexthop": "10.251.0.9"}]}},
        ),
        neutron("router", "DELETE", "/routers/{router}", 404),
        # floating IPs have no name: Neutron's 400 for the filter
        *neutron_object_ops("fip", "floatingips", "floatingip", {"description": "iso"}, 400),
        neutron("fip", "GET", "/floatingips?floating_ip_address={fip_address}", 200),
        neutron("fip", "PUT", "/floatingips/{fip}", 404, {"floatingip": {"port_id": None}}),
        neutron("fip", "DELETE", "/floatingips/{fip}", 404),
    ]


def keypair_ops() -> list[Op]:
    base = "/os-keypairs/{keypair}"
    return [
        nova("keypair", "GET", base, 404),
        nova("keypair", "GET", "/os-keypairs", 200),
        nova("keypair", "GET", "/os-keypairs?user_id={demo_user}", 403),
        nova("keypair", "GET", base + "?user_id={demo_user}", 403),
        nova(
            "keypair",
            "POST",
            "/os-keypairs",
            403,
            {"keypair": {"name": "{keypair}", "user_id": "{demo_user}"}},
        ),
        nova(
            "keypair",
            "POST",
            "/servers",
            400,
            {
                "server": {
                    "name": "iso",
                    "imageRef": "{image}",
                    "flavorRef": "1",
                    "networks": "none",
                    "key_name": "{keypair}",
                }
            },
        ),
        nova("keypair", "DELETE", base + "?user_id={demo_user}", 403),
        nova("keypair", "DELETE", base, 404),
    ]


def boot(**server: Any) -> dict[str, Any]:
    """alt_demo's server create naming one of demo's objects."""
    return {
        "server": {
            "name": "iso-alt",
            "imageRef": "{image}",
            "flavorRef": "1",
            "networks": "none",
            **server,
        }
    }


def attach_ops() -> list[Op]:
    """demo's objects attached to alt_demo's own server (the same server in pod1)."""
    mine = "/servers/{alt_server}"
    return [
        nova(
            "volume",
            "POST",
            f"{mine}/os-volume_attachments",
            404,
            {"volumeAttachment": {"volumeId": "{volume}"}},
        ),
        nova(
            "port",
            "POST",
            f"{mine}/os-interface",
            404,
            {"interfaceAttachment": {"port_id": "{port}"}},
        ),
        nova(
            "network",
            "POST",
            f"{mine}/os-interface",
            404,
            {"interfaceAttachment": {"net_id": "{network}"}},
        ),
        nova("sg", "POST", f"{mine}/action", 404, {"addSecurityGroup": {"name": "{sg_name}"}}),
        nova(
            "keypair",
            "POST",
            f"{mine}/action",
            400,
            {"rebuild": {"imageRef": "{image}", "key_name": "{keypair}"}},
        ),
        cinder(
            "volume",
            "POST",
            "/attachments",
            404,
            {"attachment": {"volume_uuid": "{volume}", "instance_uuid": "{alt_server}"}},
        ),
    ]


def use_ops() -> list[Op]:
    """demo's objects named in alt_demo's own server creates: Nova's refusals."""
    volume = {
        "uuid": "{volume}",
        "source_type": "volume",
        "destination_type": "volume",
        "boot_index": 1,
    }
    return [
        nova("network", "POST", "/servers", 400, boot(networks=[{"uuid": "{network}"}])),
        nova("port", "POST", "/servers", 400, boot(networks=[{"port": "{port}"}])),
        nova("volume", "POST", "/servers", 400, boot(block_device_mapping_v2=[volume])),
        nova(
            "group",
            "POST",
            "/servers",
            400,
            {**boot(), "os:scheduler_hints": {"group": "{group}"}},
        ),
    ]


def server_group_ops() -> list[Op]:
    base = "/os-server-groups/{group}"
    return [
        nova("group", "GET", base, 404),
        nova("group", "GET", "/os-server-groups", 200),
        nova("group", "GET", "/os-server-groups?all_projects=True", 200),
        nova("group", "GET", "/os-server-groups?project_id={demo_project}", 400),
        nova("group", "DELETE", base, 404),
    ]


def flavor_ops() -> list[Op]:
    base = "/flavors/{flavor}"
    return [
        nova("flavor", "GET", base, 404),
        nova("flavor", "GET", "/flavors/detail", 200),
        nova("flavor", "GET", "/flavors/detail?is_public=None", 200),
        nova("flavor", "GET", "/flavors?is_public=false", 200),
        nova("flavor", "GET", f"{base}/os-extra_specs", 404),
        nova("flavor", "GET", f"{base}/os-extra_specs/hw:cpu_policy", 404),
        nova("flavor", "GET", f"{base}/os-flavor-access", 403),
        nova("flavor", "PUT", base, 403, {"flavor": {"description": "iso"}}),
        nova("flavor", "POST", f"{base}/os-extra_specs", 403, {"extra_specs": {"iso": "x"}}),
        nova("flavor", "PUT", f"{base}/os-extra_specs/iso", 403, {"iso": "x"}),
        nova("flavor", "DELETE", f"{base}/os-extra_specs/hw:cpu_policy", 403),
        nova(
            "flavor",
            "POST",
            f"{base}/action",
            403,
            {"addTenantAccess": {"tenant": "{alt_project}"}},
        ),
        nova(
            "flavor",
            "POST",
            f"{base}/action",
            403,
            {"removeTenantAccess": {"tenant": "{demo_project}"}},
        ),
        nova(
            "flavor",
            "POST",
            "/servers",
            400,
            {
                "server": {
                    "name": "iso",
                    "imageRef": "{image}",
                    "flavorRef": "{flavor}",
                    "networks": "none",
                }
            },
        ),
        nova("flavor", "DELETE", base, 403),
    ]


def volume_type_ops() -> list[Op]:
    base = "/types/{vtype}"
    return [
        cinder("vtype", "GET", base, 404),
        cinder("vtype", "GET", "/types", 200),
        cinder("vtype", "GET", "/types?is_public=None", 200),
        cinder("vtype", "GET", "/types?is_public=false", 200),
        cinder("vtype", "GET", f"{base}/extra_specs", 404),
        cinder("vtype", "GET", f"{base}/extra_specs/custom:tier", 404),
        cinder("vtype", "GET", f"{base}/os-volume-type-access", 403),
        cinder("vtype", "GET", f"{base}/encryption", 403),
        cinder("vtype", "PUT", base, 403, {"volume_type": {"description": "iso"}}),
        cinder("vtype", "POST", f"{base}/extra_specs", 403, {"extra_specs": {"iso": "x"}}),
        cinder("vtype", "PUT", f"{base}/extra_specs/custom:tier", 403, {"custom:tier": "x"}),
        cinder("vtype", "DELETE", f"{base}/extra_specs/custom:tier", 404),
        cinder(
            "vtype",
            "POST",
            f"{base}/action",
            403,
            {"addProjectAccess": {"project": "{alt_project}"}},
        ),
        cinder(
            "vtype",
            "POST",
            f"{base}/action",
            403,
            {"removeProjectAccess": {"project": "{demo_project}"}},
        ),
        cinder("vtype", "POST", "/volumes", 404, {"volume": {"size": 1, "volume_type": "{vtype}"}}),
        cinder("vtype", "DELETE", base, 403),
    ]


def quota_ops() -> list[Op]:
    return [
        nova("quota", "GET", "/os-quota-sets/{demo_project}", 403),
        nova("quota", "GET", "/os-quota-sets/{demo_project}/detail", 403),
        nova("quota", "GET", "/limits?tenant_id={demo_project}", 403),
        nova("quota", "GET", "/os-simple-tenant-usage/{demo_project}", 403),
        nova("quota", "PUT", "/os-quota-sets/{demo_project}", 403, {"quota_set": {"instances": 1}}),
        nova("quota", "DELETE", "/os-quota-sets/{demo_project}", 403),
        cinder("quota", "GET", "/os-quota-sets/{demo_project}", 403),
        cinder("quota", "GET", "/os-quota-sets/{demo_project}?usage=True", 403),
        cinder("quota", "PUT", "/os-quota-sets/{demo_project}", 403, {"quota_set": {"volumes": 1}}),
        cinder("quota", "DELETE", "/os-quota-sets/{demo_project}", 403),
        neutron("quota", "GET", "/quotas/{demo_project}", 403),
        neutron("quota", "GET", "/quotas/{demo_project}/details", 403),
        neutron("quota", "PUT", "/quotas/{demo_project}", 403, {"quota": {"network": 1}}),
        neutron("quota", "DELETE", "/quotas/{demo_project}", 403),
    ]


def admin_ops() -> list[Op]:
    return [
        # routings: members list and show their own project's only (cascade/policy.py)
        admin("routing", "GET", "/v1/routings", 200),
        admin("routing", "GET", "/v1/routings?top_id={server1}", 200),
        admin("routing", "GET", "/v1/routings?project_id={demo_project}", 403),
        admin("routing", "GET", "/v1/routings/{routing}", 404),
        admin("routing", "POST", "/v1/routings/{routing}/check", 403),
        admin("routing", "DELETE", "/v1/routings/{routing}", 403),
        admin("job", "GET", "/v1/jobs", 403),
        admin("job", "GET", "/v1/jobs?project_id={demo_project}", 403),
        admin("job", "GET", "/v1/jobs/{job}", 403),
        admin("job", "POST", "/v1/jobs/{job}/redo", 403),
        admin("job", "DELETE", "/v1/jobs/{job}", 403),
        admin("pod", "GET", "/v1/pods", 403),
        admin("pod", "GET", "/v1/pods/{pod}", 403),
        admin(
            "pod",
            "POST",
            "/v1/pods",
            403,
            {"pod": {"name": "iso", "region_name": "iso", "az": "iso"}},
        ),
        admin("pod", "PATCH", "/v1/pods/{pod}", 403, {"pod": {"name": "iso"}}),
        admin("pod", "DELETE", "/v1/pods/{pod}", 403),
        admin("binding", "GET", "/v1/bindings", 403),
        admin("binding", "GET", "/v1/bindings/{binding}", 403),
        admin(
            "binding",
            "POST",
            "/v1/bindings",
            403,
            {"binding": {"project_id": "{alt_project}", "pod_id": "{pod}"}},
        ),
        admin("binding", "DELETE", "/v1/bindings/{binding}", 403),
    ]


MATRIX: list[Op] = [
    *server_ops("server1"),
    *server_ops("server2"),
    *volume_ops(),
    *snapshot_ops(),
    *backup_ops(),
    *transfer_ops(),
    *network_ops(),
    *cross_ops(),
    *keypair_ops(),
    *server_group_ops(),
    *use_ops(),
    *attach_ops(),
    *flavor_ops(),
    *volume_type_ops(),
    *quota_ops(),
    *admin_ops(),
]

# (service, method, path template) -> what Cascade answers instead of the service, and why
# (empty: os-simple-tenant-usage, the last one, is served since issue 12)
KNOWN_WRONG: dict[tuple[str, str, str], str] = {}


# --- talking to the top and the pods -------------------------------------------------------


def fill(template: Any, values: dict[str, str]) -> Any:
    """`template` with its {placeholders} filled in, through dicts and lists."""
    if isinstance(template, str):
        return template.format_map(values)
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def send(conn: Connection, op: Op, values: dict[str, str]) -> Any:
    """alt_demo's (or any user's) request for `op`, answered whatever the status."""
    path, body = fill(op.path, values), fill(op.body, values)
    kwargs: dict[str, Any] = {"raise_exc": False}
    if body is not None:
        kwargs["json"] = body
    for attempt in range(RETRIES):  # cascade-api may be restarted: seconds of refusals
        try:
            if op.service == "compute":
                return conn.compute.request(
                    path, op.method, microversion=op.version or MV, **kwargs
                )
            if op.service == "volume":
                version = {"OpenStack-API-Version": f"volume {op.version or VOLUME_MV}"}
                return conn.block_storage.request(path, op.method, headers=version, **kwargs)
            if op.service == "network":
                return conn.network.request(path, op.method, **kwargs)
            return conn.session.request(ADMIN_URL + path, op.method, **kwargs)
        except ConnectFailure:
            if attempt == RETRIES - 1:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def fault_key(service: str, status: int) -> str | None:
    """The key of the service's error body for `status` (None: no error body)."""
    if status < 400:
        return None
    if service == "network":
        return "NeutronError"
    if service == "admin":
        return "errors"
    return NOVA_FAULTS.get(status)


def fault_of(resp: Any) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return next(iter(body), None) if isinstance(body, dict) and len(body) == 1 else None


def answer(resp: Any) -> str:
    return f"{resp.status_code} {resp.text[:160]}"


# --- demo's objects ---------------------------------------------------------------------


@dataclass
class Demo:
    """demo's objects at the top (`values`), their pods' twins (`pod_values`), what must not
    change (`fingerprints`), and how to read each kind as its owner (`readers`)."""

    values: dict[str, str] = field(default_factory=dict)
    pod_values: dict[str, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    readers: dict[str, list[Callable[[], Any]]] = field(default_factory=dict)
    fingerprints: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    alt: set[str] = field(default_factory=set)  # alt_demo's own objects' ids

    def read(self, kind: str, timeout: float = 90) -> list[Any]:
        """What demo (or admin) reads of `kind` now, once every pod answers: a pod that
        is briefly down (another test's fault injection) is no change."""
        deadline = time.monotonic() + timeout
        while True:
            found = [reader() for reader in self.readers.get(kind, [])]
            if readable(found) or time.monotonic() > deadline:
                return found
            time.sleep(1)


def readable(found: Any) -> bool:
    """No 5xx answer and no server shown as UNKNOWN (its pod down) in a read."""
    if isinstance(found, int):
        return found < 500
    if isinstance(found, list):
        return all(readable(item) for item in found)
    if isinstance(found, dict):
        return found.get("status") != "UNKNOWN"
    return True


def body_of(resp: Any, key: str) -> Any:
    assert resp.status_code < 300, resp.text
    return resp.json()[key]


def vcall(conn: Connection, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"OpenStack-API-Version": f"volume {VOLUME_MV}", **kwargs.pop("headers", {})}
    return conn.block_storage.request(path, method, headers=headers, raise_exc=False, **kwargs)


def wait_for(
    read: Callable[[], Any], until: Callable[[Any], bool], what: str, timeout: float = 120
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if until(found):
            return found
        assert time.monotonic() < deadline, f"{what}: {found}"
        time.sleep(0.5)


def volume_status(conn: Connection, path: str, key: str) -> Callable[[], Any]:
    return lambda: vcall(conn, "GET", path).json().get(key, {}).get("status")


SERVER_KEYS = ("status", "name", "locked", "metadata", "tags", "OS-EXT-STS:task_state")
VOLUME_KEYS = ("status", "name", "size", "bootable", "metadata", "volume_type", "attachments")
NET_KEYS = ("name", "description", "tags", "revision_number")


def getter(proxy: Any, path: str, **kwargs: Any) -> Callable[[], Any]:
    """A GET of `path` through `proxy`, answered whatever the status."""
    return lambda: proxy.get(path, raise_exc=False, **kwargs)


def delete_servers(conn: Connection, servers: list[str]) -> None:
    for server in servers:
        conn.compute.delete(f"/servers/{server}", raise_exc=False)
    for server in servers:
        wait_gone(conn, server)


def without_health(pods: dict[str, Any]) -> list[dict[str, Any]]:
    """The pods as configured (their health moves by itself)."""
    return [{k: x for k, x in pod.items() if k != "health"} for pod in pods["pods"]]


def pick(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda found: {k: found.get(k) for k in keys}


def reader(fetch: Callable[[], Any], key: str, keys: tuple[str, ...] | None) -> Callable[[], Any]:
    """What a GET answers (status and the `keys` of its `key` object): equal before and after."""

    def read() -> Any:
        resp = fetch()
        if resp.status_code != 200:
            return resp.status_code
        found = resp.json()[key]
        return {k: found.get(k) for k in keys} if keys else found

    return read


def delete_network_when_free(conn: Connection, network_id: str, timeout: float = 120) -> None:
    """Delete a network once the ports of its deleted servers are gone (409 until then)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = conn.network.delete(f"/networks/{network_id}", raise_exc=False)
        if resp.status_code in (204, 404):
            return
        assert resp.status_code == 409 and time.monotonic() < deadline, resp.text
        time.sleep(1)


def alt_objects(
    alt: Connection, values: dict[str, str], undo: list[Callable[[], Any]], cidr: str
) -> set[str]:
    """alt_demo's network (with a subnet), security group, router and floating IP, where
    `alt` points (the top or a pod); their ids in `values` as alt_<kind>."""
    public = next(alt.network.networks(name="public"))
    network = alt.network.create_network(name=unique("iso-alt-net"))
    undo.append(lambda: delete_network_when_free(alt, network.id))
    alt.network.create_subnet(network_id=network.id, cidr=cidr, ip_version=4)
    group = alt.network.create_security_group(name=unique("iso-alt-sg"))
    undo.append(lambda: alt.network.delete_security_group(group.id, ignore_missing=True))
    router = alt.network.create_router(name=unique("iso-alt-router"))
    undo.append(lambda: alt.network.delete_router(router.id, ignore_missing=True))
    fip = alt.network.create_ip(floating_network_id=public.id)
    undo.append(lambda: alt.network.delete_ip(fip.id, ignore_missing=True))
    values.update(
        public=public.id,
        alt_network=network.id,
        alt_sg=group.id,
        alt_router=router.id,
        alt_fip=fip.id,
    )
    return {network.id, group.id, router.id, fip.id}


@pytest.fixture(scope="module")
def baseline(conns: dict[str, Connection], top: dict[str, Connection]) -> set[tuple[str, str, str]]:
    """demo's objects in the pods before the matrix: they are not the matrix's to judge."""
    return pod_objects(conns, top["cascade"])


@pytest.fixture
def demo(
    top: dict[str, Connection], conns: dict[str, Connection], baseline: set[tuple[str, str, str]]
) -> Iterator[Demo]:
    conn, adm, alt = top["cascade"], top["cascade-admin"], top["cascade-alt"]
    pod1, pod1_admin = conns["pod1"], conns["pod1-admin"]
    made = Demo()
    v = made.values
    undo: list[Callable[[], Any]] = []  # run last-in first-out
    try:
        v["demo_project"] = str(conn.current_project_id)
        v["demo_user"] = str(conn.current_user_id)
        v["alt_project"] = str(alt.current_project_id)
        v["image"] = str(conn.image.find_image("tiny", ignore_missing=False).id)
        v["backup"] = NOT_A_BACKUP
        made.notes.append(
            "backup: the devcloud runs no cinder-backup; its rows use an id of no backup"
        )

        # networking: a network with a subnet and a port, a group and a rule, a router
        network = conn.network.create_network(name=unique("iso-net"))
        undo.append(lambda: delete_network_when_free(conn, network.id))
        subnet = conn.network.create_subnet(
            network_id=network.id, cidr="10.251.0.0/24", ip_version=4, name=unique("iso-sub")
        )
        port = conn.network.create_port(network_id=network.id, name=unique("iso-port"))
        undo.append(lambda: conn.network.delete_port(port.id, ignore_missing=True))
        group = conn.network.create_security_group(name=unique("iso-sg"))
        undo.append(lambda: conn.network.delete_security_group(group.id, ignore_missing=True))
        rule = conn.network.create_security_group_rule(
            security_group_id=group.id,
            direction="ingress",
            protocol="tcp",
            port_range_min=2201,
            port_range_max=2201,
            remote_ip_prefix="192.0.2.0/24",
        )
        external = next(conn.network.networks(name="public"))
        router = conn.network.create_router(
            name=unique("iso-router"), external_gateway_info={"network_id": external.id}
        )
        undo.append(lambda: conn.network.delete_router(router.id, ignore_missing=True))
        conn.network.add_interface_to_router(router, subnet=subnet.id)
        undo.append(lambda: conn.network.remove_interface_from_router(router, subnet=subnet.id))
        fip = conn.network.create_ip(floating_network_id=external.id, description=unique("iso-fip"))
        undo.append(lambda: conn.network.delete_ip(fip.id, ignore_missing=True))
        for name, obj in (
            ("network", network),
            ("subnet", subnet),
            ("port", port),
            ("sg", group),
            ("router", router),
        ):
            v[name], v[f"{name}_name"] = obj.id, obj.name
        v["rule"], v["fip"], v["fip_address"] = rule.id, fip.id, fip.floating_ip_address
        v["fip_name"] = fip.description
        for name in ("network", "subnet", "port", "sg", "router", "fip", "rule"):
            collection = {
                "sg": "security-groups",
                "fip": "floatingips",
                "rule": "security-group-rules",
            }.get(name, f"{name}s")
            key = {"sg": "security_group", "fip": "floatingip", "rule": "security_group_rule"}.get(
                name, name
            )
            path = f"/{collection}/{v[name]}"
            keys = ("id", "revision_number") if name == "rule" else NET_KEYS
            made.readers[name] = [reader(getter(conn.network, path), key, keys)]
        made.readers["router"].append(
            lambda: sorted(p.id for p in conn.network.ports(device_id=router.id))
        )
        made.readers["fip"].append(
            reader(
                lambda: conn.network.get(f"/floatingips/{fip.id}"),
                "floatingip",
                ("port_id", "status"),
            )
        )

        # a keypair, a server group, and a server in each AZ on the network
        keypair = conn.compute.create_keypair(name=unique("iso-key"))
        undo.append(lambda: conn.compute.delete_keypair(keypair.name, ignore_missing=True))
        v["keypair"] = keypair.name
        made.readers["keypair"] = [
            reader(
                lambda: conn.compute.get(
                    f"/os-keypairs/{keypair.name}", microversion=MV, raise_exc=False
                ),
                "keypair",
                ("name", "fingerprint", "public_key"),
            )
        ]
        sgroup = body_of(
            conn.compute.post(
                "/os-server-groups",
                json={"server_group": {"name": unique("iso-group"), "policy": "anti-affinity"}},
                microversion=MV,
                raise_exc=False,
            ),
            "server_group",
        )
        undo.append(
            lambda: conn.compute.delete(f"/os-server-groups/{sgroup['id']}", raise_exc=False)
        )
        v["group"], v["group_name"] = sgroup["id"], sgroup["name"]
        made.readers["group"] = [
            reader(
                lambda: conn.compute.get(
                    f"/os-server-groups/{sgroup['id']}", microversion=MV, raise_exc=False
                ),
                "server_group",
                None,
            )
        ]
        servers: list[str] = []
        undo.append(lambda: delete_servers(conn, servers))
        for n, az in ((1, "az1"), (2, "az2")):
            body = {
                "server": {
                    "name": unique(f"iso-vm{n}"),
                    "imageRef": v["image"],
                    "flavorRef": "1",
                    "availability_zone": az,
                    "networks": [{"uuid": network.id}],
                    "key_name": keypair.name,
                    "metadata": {"role": "demo"},
                    "tags": ["demo"],
                }
            }
            resp = conn.compute.post("/servers", json=body, microversion=MV, raise_exc=False)
            assert resp.status_code == 202, resp.text
            servers.append(resp.json()["server"]["id"])
            v[f"server{n}"], v[f"server{n}_name"] = servers[-1], body["server"]["name"]
        # alt_demo's own server in az1, to attach demo's objects to
        alt_servers: list[str] = []
        undo.append(lambda: delete_servers(alt, alt_servers))
        body = {
            "server": {
                "name": unique("iso-alt-vm"),
                "imageRef": v["image"],
                "flavorRef": "1",
                "availability_zone": "az1",
                "networks": "none",
            }
        }
        resp = alt.compute.post("/servers", json=body, microversion=MV, raise_exc=False)
        assert resp.status_code == 202, resp.text
        alt_servers.append(resp.json()["server"]["id"])
        v["alt_server"] = alt_servers[0]

        # a volume with a snapshot (az1), another volume offered for transfer (az2)
        volume = body_of(
            vcall(
                conn,
                "POST",
                "/volumes",
                json={
                    "volume": {
                        "size": 1,
                        "name": unique("iso-vol"),
                        "availability_zone": "az1",
                        "metadata": {"role": "demo"},
                    }
                },
            ),
            "volume",
        )
        undo.append(lambda: vcall(conn, "DELETE", f"/volumes/{volume['id']}"))
        moving = body_of(
            vcall(
                conn,
                "POST",
                "/volumes",
                json={
                    "volume": {"size": 1, "name": unique("iso-moving"), "availability_zone": "az2"}
                },
            ),
            "volume",
        )
        undo.append(lambda: vcall(conn, "DELETE", f"/volumes/{moving['id']}"))
        for vol in (volume, moving):
            wait_for(
                volume_status(conn, f"/volumes/{vol['id']}", "volume"),
                lambda s: s == "available",
                "the volume",
            )
        snapshot = body_of(
            vcall(
                conn,
                "POST",
                "/snapshots",
                json={
                    "snapshot": {
                        "volume_id": volume["id"],
                        "name": unique("iso-snap"),
                        "metadata": {"role": "demo"},
                    }
                },
            ),
            "snapshot",
        )
        undo.append(
            lambda: wait_for(
                lambda: vcall(conn, "GET", f"/snapshots/{snapshot['id']}").status_code,
                lambda s: s == 404,
                "the snapshot gone",
            )
        )
        undo.append(lambda: vcall(conn, "DELETE", f"/snapshots/{snapshot['id']}"))
        wait_for(
            volume_status(conn, f"/snapshots/{snapshot['id']}", "snapshot"),
            lambda s: s == "available",
            "the snapshot",
        )
        transfer = body_of(
            vcall(
                conn,
                "POST",
                "/os-volume-transfer",
                json={"transfer": {"volume_id": moving["id"], "name": unique("iso-tr")}},
            ),
            "transfer",
        )
        undo.append(lambda: vcall(conn, "DELETE", f"/os-volume-transfer/{transfer['id']}"))
        v["volume"], v["volume_name"] = volume["id"], volume["name"]
        v["snapshot"], v["snapshot_name"] = snapshot["id"], snapshot["name"]
        v["transfer"], v["transfer_name"], v["moving"] = (
            transfer["id"],
            transfer["name"],
            moving["id"],
        )
        made.readers["volume"] = [
            reader(lambda: vcall(conn, "GET", f"/volumes/{volume['id']}"), "volume", VOLUME_KEYS)
        ]
        made.readers["snapshot"] = [
            reader(
                lambda: vcall(conn, "GET", f"/snapshots/{snapshot['id']}"),
                "snapshot",
                ("status", "name", "metadata", "size"),
            )
        ]
        made.readers["transfer"] = [
            reader(
                lambda: vcall(conn, "GET", f"/os-volume-transfer/{transfer['id']}"),
                "transfer",
                ("id", "name", "volume_id"),
            ),
            reader(lambda: vcall(conn, "GET", f"/volumes/{moving['id']}"), "volume", VOLUME_KEYS),
        ]
        made.readers["backup"] = [
            lambda: [b["id"] for b in vcall(conn, "GET", "/backups").json()["backups"]]
        ]

        # admin's private flavor and private volume type, demo's project only
        flavor = adm.compute.create_flavor(
            name=unique("iso-flavor"), ram=64, vcpus=1, disk=1, is_public=False
        )
        undo.append(lambda: adm.compute.delete_flavor(flavor.id, ignore_missing=True))
        adm.compute.create_flavor_extra_specs(flavor, {"hw:cpu_policy": "shared"})
        grant = {"addTenantAccess": {"tenant": v["demo_project"]}}
        assert (
            adm.compute.post(
                f"/flavors/{flavor.id}/action", json=grant, microversion=MV
            ).status_code
            == 200
        )
        v["flavor"], v["flavor_name"] = flavor.id, flavor.name
        made.readers["flavor"] = [
            reader(
                lambda: adm.compute.get(f"/flavors/{flavor.id}", microversion=MV, raise_exc=False),
                "flavor",
                ("name", "description", "ram", "extra_specs"),
            ),
            reader(
                lambda: adm.compute.get(
                    f"/flavors/{flavor.id}/os-flavor-access", microversion=MV, raise_exc=False
                ),
                "flavor_access",
                None,
            ),
        ]
        vtype = body_of(
            vcall(
                adm,
                "POST",
                "/types",
                json={
                    "volume_type": {
                        "name": unique("iso-type"),
                        "extra_specs": {"custom:tier": "gold"},
                        "os-volume-type-access:is_public": False,
                    }
                },
            ),
            "volume_type",
        )
        undo.append(lambda: vcall(adm, "DELETE", f"/types/{vtype['id']}"))
        access = {"addProjectAccess": {"project": v["demo_project"]}}
        assert vcall(adm, "POST", f"/types/{vtype['id']}/action", json=access).status_code == 202
        v["vtype"], v["vtype_name"] = vtype["id"], vtype["name"]
        made.readers["vtype"] = [
            reader(
                lambda: vcall(adm, "GET", f"/types/{vtype['id']}"),
                "volume_type",
                ("name", "description", "extra_specs", "is_public"),
            ),
            reader(
                lambda: vcall(adm, "GET", f"/types/{vtype['id']}/os-volume-type-access"),
                "volume_type_access",
                None,
            ),
        ]

        # the servers ACTIVE; then their routing, a job, a pod and a binding for the admin API
        for n in (1, 2):
            wait_status(conn, v[f"server{n}"], "ACTIVE")
            wait_status(alt, v["alt_server"], "ACTIVE")
            made.readers[f"server{n}"] = [
                reader(
                    getter(conn.compute, f"/servers/{v[f'server{n}']}", microversion=MV),
                    "server",
                    SERVER_KEYS,
                )
            ]
        made.readers["volume"].append(
            lambda: vcall(conn, "GET", f"/volumes/{volume['id']}/metadata").json()
        )
        routings = adm.session.get(f"{ADMIN_URL}/v1/routings?top_id={v['server1']}").json()[
            "routings"
        ]
        v["routing"], v["pod"] = routings[0]["id"], routings[0]["pod_id"]
        jobs = adm.session.get(
            f"{ADMIN_URL}/v1/jobs?project_id={v['demo_project']}&limit=1"
        ).json()["jobs"]
        v["job"] = jobs[0]["id"] if jobs else str(uuid.uuid4())
        bindings = adm.session.get(f"{ADMIN_URL}/v1/bindings").json()["bindings"]
        v["binding"] = bindings[0]["id"] if bindings else str(uuid.uuid4())
        made.readers["routing"] = [
            reader(
                lambda: adm.session.get(f"{ADMIN_URL}/v1/routings/{v['routing']}", raise_exc=False),
                "routing",
                None,
            )
        ]
        made.readers["job"] = [
            reader(
                lambda: adm.session.get(f"{ADMIN_URL}/v1/jobs/{v['job']}", raise_exc=False),
                "job",
                None,
            )
        ]
        made.readers["pod"] = [
            lambda: without_health(adm.session.get(f"{ADMIN_URL}/v1/pods").json())
        ]
        made.readers["binding"] = [
            lambda: [
                b
                for b in adm.session.get(f"{ADMIN_URL}/v1/bindings").json()["bindings"]
                if b["project_id"] in (v["demo_project"], v["alt_project"])
            ]
        ]
        made.readers["quota"] = [
            lambda: conn.compute.get(f"/os-quota-sets/{v['demo_project']}", microversion=MV).json(),
            lambda: vcall(conn, "GET", f"/os-quota-sets/{v['demo_project']}").json(),
            lambda: conn.network.get(f"/quotas/{v['demo_project']}").json(),
        ]
        # what alt_demo must never be shown: demo's ids and names (not the projects, the
        # image, the pods, nor alt_demo's own objects)
        shown = ("demo_project", "demo_user", "alt_project", "image", "backup", "pod", "binding")
        made.secrets = {
            value for name, value in v.items() if name not in shown and not name.startswith("alt_")
        }

        # alt_demo's own network, group, router and floating IP, to point at demo's
        made.alt = alt_objects(alt, v, undo, "10.253.0.0/24")
        public = f"/networks/{v['public']}"
        tagged = adm.network.get(f"{public}/tags").json()["tags"]
        undo.append(lambda: adm.network.put(f"{public}/tags", json={"tags": tagged}))
        made.readers["public"] = [reader(getter(adm.network, public), "network", NET_KEYS)]

        # the pods' twins: the same servers, volume, snapshot and keypair; pod-native
        # objects of demo's in pod1 for the rest (demo's own, made in the pod directly)
        p = made.pod_values
        p.update(
            {
                k: v[k]
                for k in (
                    "demo_project",
                    "demo_user",
                    "alt_project",
                    "image",
                    "backup",
                    "server1",
                    "server2",
                    "alt_server",
                    "server1_name",
                    "server2_name",
                    "volume",
                    "volume_name",
                    "snapshot",
                    "snapshot_name",
                    "keypair",
                    "routing",
                    "job",
                    "pod",
                    "binding",
                )
            }
        )
        pnet = pod1.network.create_network(name=unique("iso-pnet"))
        undo.append(lambda: pod1.network.delete_network(pnet.id, ignore_missing=True))
        psub = pod1.network.create_subnet(
            network_id=pnet.id, cidr="10.252.0.0/24", ip_version=4, name=unique("iso-psub")
        )
        pport = pod1.network.create_port(network_id=pnet.id, name=unique("iso-pport"))
        undo.append(lambda: pod1.network.delete_port(pport.id, ignore_missing=True))
        pgroup = pod1.network.create_security_group(name=unique("iso-psg"))
        undo.append(lambda: pod1.network.delete_security_group(pgroup.id, ignore_missing=True))
        prule = pod1.network.create_security_group_rule(
            security_group_id=pgroup.id,
            direction="ingress",
            protocol="tcp",
            port_range_min=2201,
            port_range_max=2201,
        )
        pexternal = next(pod1.network.networks(name="public"))
        prouter = pod1.network.create_router(
            name=unique("iso-prouter"), external_gateway_info={"network_id": pexternal.id}
        )
        undo.append(lambda: pod1.network.delete_router(prouter.id, ignore_missing=True))
        pod1.network.add_interface_to_router(prouter, subnet=psub.id)
        undo.append(lambda: pod1.network.remove_interface_from_router(prouter, subnet=psub.id))
        pfip = pod1.network.create_ip(
            floating_network_id=pexternal.id, description=unique("iso-pfip")
        )
        undo.append(lambda: pod1.network.delete_ip(pfip.id, ignore_missing=True))
        for name, obj in (
            ("network", pnet),
            ("subnet", psub),
            ("port", pport),
            ("sg", pgroup),
            ("router", prouter),
        ):
            p[name], p[f"{name}_name"] = obj.id, obj.name
        p["network_name"] = pnet.name
        p["rule"], p["fip"], p["fip_address"], p["fip_name"] = (
            prule.id,
            pfip.id,
            pfip.floating_ip_address,
            pfip.description,
        )
        # the server's addresses in pod1 are labelled with the bottom network's name, the top id
        v["network_name"], p["network_name"] = network.name, network.id
        pgroup_c = body_of(
            pod1.compute.post(
                "/os-server-groups",
                json={"server_group": {"name": unique("iso-pgroup"), "policy": "anti-affinity"}},
                microversion=MV,
                raise_exc=False,
            ),
            "server_group",
        )
        undo.append(
            lambda: pod1.compute.delete(f"/os-server-groups/{pgroup_c['id']}", raise_exc=False)
        )
        p["group"], p["group_name"] = pgroup_c["id"], pgroup_c["name"]
        pflavor = pod1_admin.compute.create_flavor(
            name=unique("iso-pflavor"), ram=64, vcpus=1, disk=1, is_public=False
        )
        undo.append(lambda: pod1_admin.compute.delete_flavor(pflavor.id, ignore_missing=True))
        pod1_admin.compute.create_flavor_extra_specs(pflavor, {"hw:cpu_policy": "shared"})
        pod1_admin.compute.post(f"/flavors/{pflavor.id}/action", json=grant, microversion=MV)
        p["flavor"], p["flavor_name"] = pflavor.id, pflavor.name
        ptype = body_of(
            vcall(
                pod1_admin,
                "POST",
                "/types",
                json={
                    "volume_type": {
                        "name": unique("iso-ptype"),
                        "extra_specs": {"custom:tier": "gold"},
                        "os-volume-type-access:is_public": False,
                    }
                },
            ),
            "volume_type",
        )
        undo.append(lambda: vcall(pod1_admin, "DELETE", f"/types/{ptype['id']}"))
        vcall(pod1_admin, "POST", f"/types/{ptype['id']}/action", json=access)
        p["vtype"], p["vtype_name"] = ptype["id"], ptype["name"]
        pmoving = body_of(
            vcall(
                pod1, "POST", "/volumes", json={"volume": {"size": 1, "name": unique("iso-pmov")}}
            ),
            "volume",
        )
        undo.append(lambda: vcall(pod1, "DELETE", f"/volumes/{pmoving['id']}"))
        wait_for(
            volume_status(pod1, f"/volumes/{pmoving['id']}", "volume"),
            lambda s: s == "available",
            "the pod's volume",
        )
        ptransfer = body_of(
            vcall(
                pod1, "POST", "/os-volume-transfer", json={"transfer": {"volume_id": pmoving["id"]}}
            ),
            "transfer",
        )
        undo.append(lambda: vcall(pod1, "DELETE", f"/os-volume-transfer/{ptransfer['id']}"))
        p["transfer"], p["moving"] = ptransfer["id"], pmoving["id"]
        alt_objects(conns["pod1-alt"], p, undo, "10.254.0.0/24")
        for kind in made.readers:
            made.fingerprints[kind] = made.read(kind)
        yield made
    finally:
        errors = []
        for step in reversed(undo):
            try:
                step()
            except Exception as error:
                errors.append(repr(error))
        assert not errors, errors


# --- the matrix -------------------------------------------------------------------------


@dataclass
class Tally:
    tried: int = 0
    verified: int = 0  # rows whose answer a pod gave too
    leaks: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # the pod answers otherwise than the row
    known: list[str] = field(default_factory=list)
    fixed_known: list[str] = field(default_factory=list)  # KNOWN_WRONG rows now right
    created: list[tuple[Connection, Op, str]] = field(default_factory=list)


def revealed(resp: Any, secrets: set[str], asked: str) -> set[str]:
    """demo's ids and names in an answer that the request did not name itself."""
    return {s for s in secrets if s in resp.text and s not in asked}


def judge(op: Op, resp: Any, demo: Demo) -> tuple[list[str], list[str]]:
    """What is wrong with Cascade's answer to `op`: (how it leaks, how else it is wrong)."""
    asked = fill(op.path, demo.values) + json.dumps(fill(op.body, demo.values))
    leaks: list[str] = []
    problems: list[str] = []
    named = revealed(resp, demo.secrets, asked)
    if named:
        leaks.append(f"names demo's {sorted(named)}: {answer(resp)}")
    if resp.status_code < 300 and op.expect >= 400:
        leaks.append(f"{answer(resp)} (the service refuses: {op.expect})")
    elif resp.status_code != op.expect:
        problems.append(f"{answer(resp)} (the service answers {op.expect})")
    elif fault_of(resp) != fault_key(op.service, op.expect) and op.expect >= 400:
        problems.append(f"{answer(resp)} (not the service's error format)")
    return leaks, problems


def created_id(resp: Any) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    inner = next(iter(body.values()), None) if isinstance(body, dict) and len(body) == 1 else None
    return str(inner["id"]) if isinstance(inner, dict) and "id" in inner else None


def undo_created(tally: Tally) -> list[str]:
    """Delete what a wrongly accepted create made (as the user who made it)."""
    left = []
    for conn, op, made_id in tally.created:
        gone = Op(op.service, op.kind, "DELETE", op.path.split("?")[0] + f"/{made_id}", 204)
        resp = send(conn, gone, {})
        if resp.status_code >= 300 and resp.status_code != 404:
            left.append(f"{gone.path}: {answer(resp)}")
        elif op.path.startswith("/servers"):
            wait_gone(conn, made_id)
    return left


def test_alt_demo_can_neither_see_nor_touch_demo_s_objects(
    top: dict[str, Connection], conns: dict[str, Connection], demo: Demo
) -> None:
    alt = top["cascade-alt"]
    tally = Tally()
    started = time.monotonic()
    try:
        for op in MATRIX:
            tally.tried += 1
            resp = send(alt, op, demo.values)
            if op.method == "POST" and resp.status_code < 300 and (made := created_id(resp)):
                tally.created.append((alt, op, made))
            leaks, problems = judge(op, resp, demo)
            if op.method != "GET":
                now = demo.read(op.kind)
                if now != demo.fingerprints.get(op.kind, []):
                    leaks.append(
                        f"changed {op.kind}, not alt_demo's: "
                        f"{demo.fingerprints.get(op.kind)} -> {now}"
                    )
                    demo.fingerprints[op.kind] = now  # one change is counted once
            label = f"{op.method} {fill(op.path, demo.values)} {json.dumps(op.body)[:60]}: "
            if leaks:  # one leaking operation, however many ways
                tally.leaks.append(label + "; ".join(leaks))
            problems = [label + problem for problem in problems]
            if op.key in KNOWN_WRONG:
                (tally.known if problems else tally.fixed_known).append(
                    f"{op.method} {op.path}: {KNOWN_WRONG[op.key]}"
                )
            else:
                tally.wrong += problems
            if op.pod:
                pod = "pod2" if "{server2}" in op.path else "pod1"
                reference = send(conns[f"{pod}-alt"], op, demo.pod_values)
                if (
                    op.method == "POST"
                    and reference.status_code < 300
                    and (made := created_id(reference))
                ):
                    tally.created.append((conns[f"{pod}-alt"], op, made))
                expected = (op.expect, fault_key(op.service, op.expect))
                got = (reference.status_code, fault_of(reference) if op.expect >= 400 else None)
                if got == expected:
                    tally.verified += 1
                else:
                    tally.unverified.append(
                        f"{op.method} {op.path} {json.dumps(op.body)[:60]}: "
                        f"{pod} answers {answer(reference)}, the row {op.expect}"
                    )
    finally:
        left = undo_created(tally)
        took = time.monotonic() - started
        print(
            f"\nisolation matrix: {tally.tried} operations tried in {took:.0f} s, "
            f"{tally.verified} answered the same by a pod"
        )
        for title, rows in (
            ("leaks", tally.leaks),
            ("wrong refusals", tally.wrong),
            ("rows the pod contradicts", tally.unverified),
            ("known wrong (KNOWN_WRONG, for the lead)", tally.known),
            ("KNOWN_WRONG rows now right", tally.fixed_known),
            ("objects a wrongly accepted create left behind", left),
        ):
            print(f"{title}: {len(rows)}")
            for row in rows:
                print(f"  {row}")
        for note in demo.notes:
            print(f"note: {note}")
    assert not tally.leaks
    assert not tally.wrong
    assert not tally.unverified
    assert not tally.fixed_known, "take these rows out of KNOWN_WRONG"
    assert not left


# --- the state check: demo's objects in the pods that the top does not know ----------------


def _listed(resp: Any, key: str) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()[key]
    return found


def pod_objects(conns: dict[str, Connection], owner: Connection) -> set[tuple[str, str, str]]:
    """(pod, kind, the top id it stands for) of every object of `owner`'s project in the pods:
    servers, volumes, snapshots, backups, transfers and server groups by id, keypairs by name,
    Neutron's copies by their name (the top id; `dhcp-` + a subnet's id for its DHCP port),
    floating IPs by description (the top id). Ports Neutron makes itself for routers are left
    out (their router is counted)."""
    project, user = owner.current_project_id, owner.current_user_id
    found: set[tuple[str, str, str]] = set()
    for pod in PODS:
        adm = conns[f"{pod}-admin"]
        every = f"all_tenants=1&project_id={project}"
        for server in _listed(
            adm.compute.get(f"/servers/detail?{every}", microversion=MV), "servers"
        ):
            found.add((pod, "server", server["id"]))
        for kp in _listed(
            adm.compute.get(f"/os-keypairs?user_id={user}", microversion=MV), "keypairs"
        ):
            found.add((pod, "keypair", kp["keypair"]["name"]))
        groups = adm.compute.get("/os-server-groups?all_projects=True", microversion=MV)
        for group in _listed(groups, "server_groups"):
            if group.get("project_id") == project:
                found.add((pod, "server_group", group["id"]))
        for kind, path, key in (
            ("volume", f"/volumes/detail?{every}", "volumes"),
            ("snapshot", f"/snapshots/detail?{every}", "snapshots"),
            ("backup", f"/backups/detail?{every}", "backups"),
        ):
            for item in _listed(vcall(adm, "GET", path), key):
                found.add((pod, kind, item["id"]))
        for item in _listed(
            vcall(adm, "GET", "/os-volume-transfer/detail?all_tenants=1"), "transfers"
        ):
            if item.get("volume_id") and (pod, "volume", item["volume_id"]) in found:
                found.add((pod, "transfer", item["id"]))
        for kind, collection in (
            ("network", "networks"),
            ("subnet", "subnets"),
            ("port", "ports"),
            ("security_group", "security-groups"),
            ("router", "routers"),
            ("floatingip", "floatingips"),
        ):
            key = collection.replace("-", "_")
            for item in _listed(adm.network.get(f"/{collection}?project_id={project}"), key):
                if kind == "port" and str(item.get("device_owner", "")).startswith(
                    "network:router"
                ):
                    continue
                name = item.get("description") if kind == "floatingip" else item.get("name")
                found.add((pod, kind, str(name or item["id"]).removeprefix("dhcp-")))
    return found


def top_ids(owner: Connection) -> set[str]:
    """Every id (and keypair name) `owner` sees at the top, of the kinds `pod_objects` counts."""
    known: set[str] = set()
    for path, key in (("/servers", "servers"), ("/os-server-groups", "server_groups")):
        known |= {s["id"] for s in _listed(owner.compute.get(path, microversion=MV), key)}
    known |= {
        k["keypair"]["name"]
        for k in _listed(owner.compute.get("/os-keypairs", microversion=MV), "keypairs")
    }
    for path, key in (
        ("/volumes", "volumes"),
        ("/snapshots", "snapshots"),
        ("/backups", "backups"),
        ("/os-volume-transfer", "transfers"),
    ):
        known |= {item["id"] for item in _listed(vcall(owner, "GET", path), key)}
    for collection in ("networks", "subnets", "ports", "security-groups", "routers", "floatingips"):
        key = collection.replace("-", "_")
        known |= {item["id"] for item in _listed(owner.network.get(f"/{collection}"), key)}
    return known


def unknown_to_top(
    conns: dict[str, Connection],
    owner: Connection,
    baseline: set[tuple[str, str, str]],
    timeout: float = 90,
) -> set[tuple[str, str, str]]:
    """`owner`'s objects in the pods, not in `baseline`, that the top does not know: asked
    again until none is left or `timeout` passes (a delete reaches the pod by a job)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            in_pods = pod_objects(conns, owner) - baseline
            known = top_ids(owner)  # after the pods': what they hold, the top has recorded
            orphans = {item for item in in_pods if item[2] not in known}
        except ConnectFailure:  # a pod's API restarted by another test: ask again
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
            continue
        if not orphans or time.monotonic() > deadline:
            return orphans
        time.sleep(2)


def test_no_object_of_demo_in_a_pod_that_the_top_does_not_know(
    top: dict[str, Connection], conns: dict[str, Connection], baseline: set[tuple[str, str, str]]
) -> None:
    """After the matrix (and its clean-up): 0 orphans of demo's in either pod."""
    orphans = unknown_to_top(conns, top["cascade"], baseline)
    print(f"\norphans of demo's in the pods: {len(orphans)} {sorted(orphans)}")
    assert not orphans
