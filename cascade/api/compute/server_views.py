"""How servers from a pod are shown at the top.

Links point at the top, the pod's AZ name becomes the top AZ (where the server
is and, 2.96+, where it is pinned), and the flavor
is the top flavor (by id before microversion 2.47, by name in the embedded
flavor after it). Also: which response field each Nova sort key reads, and
the stubs Nova shows for servers of a cell that is down (2.69+).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

from cascade.db.models import Pod, Routing
from cascade.services.listing import Getter, Item

# Nova's sort keys, as the fields of a server in /servers/detail
SORT_FIELDS: dict[str, str] = {
    "access_ip_v4": "accessIPv4",
    "access_ip_v6": "accessIPv6",
    "auto_disk_config": "OS-DCF:diskConfig",
    "availability_zone": "OS-EXT-AZ:availability_zone",
    "config_drive": "config_drive",
    "created_at": "created",
    "display_description": "description",
    "display_name": "name",
    "host": "OS-EXT-SRV-ATTR:host",
    "hostname": "OS-EXT-SRV-ATTR:hostname",
    "kernel_id": "OS-EXT-SRV-ATTR:kernel_id",
    "key_name": "key_name",
    "launch_index": "OS-EXT-SRV-ATTR:launch_index",
    "launched_at": "OS-SRV-USG:launched_at",
    "locked": "locked",
    "locked_by": "locked_by",
    "node": "OS-EXT-SRV-ATTR:hypervisor_hostname",
    "power_state": "OS-EXT-STS:power_state",
    "progress": "progress",
    "project_id": "tenant_id",
    "ramdisk_id": "OS-EXT-SRV-ATTR:ramdisk_id",
    "root_device_name": "OS-EXT-SRV-ATTR:root_device_name",
    "task_state": "OS-EXT-STS:task_state",
    "terminated_at": "OS-SRV-USG:terminated_at",
    "updated_at": "updated",
    "user_id": "user_id",
    "uuid": "id",
    "vm_state": "OS-EXT-STS:vm_state",
}
# Nova ignores these sort keys (and `locked` before 2.73)
IGNORED_SORT_KEYS = frozenset(
    [
        "architecture",
        "cell_name",
        "cleaned",
        "default_ephemeral_device",
        "default_swap_device",
        "deleted",
        "deleted_at",
        "disable_terminate",
        "ephemeral_gb",
        "ephemeral_key_uuid",
        "id",
        "key_data",
        "launched_on",
        "memory_mb",
        "os_type",
        "reservation_id",
        "root_gb",
        "shutdown_terminate",
        "user_data",
        "vcpus",
        "vm_mode",
    ]
)
ADMIN_SORT_KEYS = ("host", "node")


def _field(name: str) -> Getter:
    return lambda item: item.get(name)


def _image_id(item: Item) -> Any:
    image = item.get("image")
    return image.get("id") if isinstance(image, dict) else None


def getters() -> dict[str, Getter]:
    found: dict[str, Getter] = {key: _field(name) for key, name in SORT_FIELDS.items()}
    found["image_ref"] = _image_id
    return found


def rewrite_urls(value: Any, pod_root: str, top_root: str) -> Any:
    """Every string that starts with the pod's compute root, moved to the top's."""
    if isinstance(value, str):
        return top_root + value[len(pod_root) :] if value.startswith(pod_root) else value
    if isinstance(value, list):
        return [rewrite_urls(v, pod_root, top_root) for v in value]
    if isinstance(value, dict):
        return {k: rewrite_urls(v, pod_root, top_root) for k, v in value.items()}
    return value


def pod_json(text: str, pod_root: str, top_root: str) -> Any:
    """A pod's JSON text decoded, with every string value that starts with the pod's
    compute root moved to the top's (as `rewrite_urls`, but on the text before decoding:
    one C-speed substitution instead of a walk over every value of a long list)."""
    quoted = '"' + pod_root
    if "\\" + quoted in text:  # an escaped quote before the root: inside a string value
        start = re.compile(r'(?<!\\)"' + re.escape(pod_root))
        moved = start.sub(lambda _: '"' + top_root, text)
    else:  # then every occurrence starts a value: a plain replacement is the same
        moved = text.replace(quoted, '"' + top_root)
    return fast_json(moved)


def fast_json(text: str) -> Any:
    """`text` decoded by orjson (a merged list decodes every pod's page: at 1,000 pods,
    json's decoder was a sixth of the list's CPU); what orjson refuses and json takes
    (NaN, integers past 64 bits) is decoded by json."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


FlavorNames = Callable[[str], tuple[str, str] | None]


def server(item: Item, pod: Pod, top_flavor: FlavorNames) -> Item:
    """The top's view of one server dict from `pod` (links already rewritten).

    `top_flavor(bottom_id_or_name)` gives (top id, top name) for a flavor copy.
    """
    # the AZ it is in, and (2.96+) the AZ it is pinned to: the pod's is the top's
    for key in ("OS-EXT-AZ:availability_zone", "pinned_availability_zone"):
        if item.get(key) == pod.pod_az:
            item[key] = pod.az
    flavor = item.get("flavor")
    if isinstance(flavor, dict):
        if "id" in flavor:
            found = top_flavor(str(flavor["id"]))
            if found is not None:
                old = str(flavor["id"])
                flavor["id"] = found[0]
                for link in flavor.get("links", []):
                    href = str(link.get("href", ""))
                    if href.endswith("/flavors/" + old):
                        link["href"] = href[: -len(old)] + found[0]
        elif "original_name" in flavor:
            found = top_flavor(str(flavor["original_name"]))
            if found is not None:
                flavor["original_name"] = found[1]
    return item


def stub(routing: Routing, top_root: str = "") -> Item:
    """What Nova shows for a server whose cell is down (2.69+): the routing's facts, with
    links at `top_root` (none without it)."""
    server_id = routing.top_id
    links = [
        {"rel": "self", "href": f"{top_root}v2.1/servers/{server_id}"},
        {"rel": "bookmark", "href": f"{top_root}servers/{server_id}"},
    ]
    return {
        "id": server_id,
        "status": "UNKNOWN",
        "tenant_id": routing.project_id,
        "created": routing.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links if top_root else [],
    }
