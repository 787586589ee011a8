"""Tempest against one pod directly (the baseline), and compute through Cascade next to it.

`devcloud tempest [--pod 1]` writes a workspace under `<root>/tempest/pod1`
with a generated `etc/tempest.conf`, runs the baseline selection and writes
the pass/fail/skip counts to `summary.json` there.

`devcloud tempest --cloud cascade` runs the compute selection twice with one
configuration that differs only in the region: directly against the pod
(workspace `pod1-compute`) and through the top (workspace `cascade`), then
writes the test-for-test comparison to `<root>/tempest/compare.json`.
`--service network` and `--service volume` do the same with the Networking and the
Block Storage selections (workspaces `pod1-network` and `cascade-network`,
comparison `compare-network.json`; `pod1-volume`, `cascade-volume`,
`compare-volume.json`); `--direct-only` runs only the direct half.
`--service image` compares the Image API: the top's own Glance directly (workspace
`glance-image`: the pod's region, whose image endpoint is the top's Glance) and through
Cascade's `/image` (`cascade-image`), in `compare-image.json`.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devcloud.commands import run
from devcloud.errors import DevcloudError
from devcloud.ini import Sections, render, write_if_changed
from devcloud.layout import PASSWORD, TOP_REGION, Layout, Pod
from devcloud.rest import Rest
from devcloud.seed import ALT_IMAGE_NAME, FLAVORS, IMAGE_NAME

# The compute part of the baseline: flavors, keypairs, limits, availability zones and
# servers (create/get/list/delete).
_COMPUTE_BASELINE = (
    r"flavors\.test_flavors|keypairs\.test_keypairs|keypairs\.test_keypairs_v22"
    r"|limits\.test_absolute_limits|servers\.test_availability_zone"
    r"|servers\.test_create_server|servers\.test_list_server_filters"
    r"|servers\.test_delete_server|servers\.test_servers"
)
# The baseline: compute as above; volumes (create/get/list/delete, AZs, limits); networks,
# subnets, ports, routers, security groups; images (list/get/create/delete).
BASELINE = (
    r"^tempest\.api\.("
    rf"compute\.({_COMPUTE_BASELINE})\b"
    r"|volume\.(test_volumes_get|test_volumes_list|test_availability_zone"
    r"|test_volume_absolute_limits)\b"
    r"|network\.(test_networks|test_ports|test_routers|test_security_groups)\b"
    r"|image\.v2\.test_images\b"
    r")"
)
# What is compared through the top: the compute part of the baseline, quotas (project and
# admin, with the negative quota tests), the admin flavor APIs (flavors, access, extra
# specs, microversions, and their negative tests) and server groups.
COMPUTE = (
    r"^tempest\.api\.compute\.("
    rf"{_COMPUTE_BASELINE}"
    r"|test_quotas|admin\.test_quotas\w*|admin\.test_flavors\w*|servers\.test_server_group"
    r")\b"
)
# What a fake-driver, agent-less pod cannot do, each with its reason (docs/tempest.md).
# (Volumes from images, server snapshots and uploads to images work: the devcloud's fake
# drivers, devcloud/fakedrivers, move image data.)
EXCLUDED = {
    r"test_image_web_download_import": (
        "imports an image from a public web server; this machine reaches no internet"
    ),
}
# The Networking API compared through the top (`--service network`): networks and subnets,
# ports, security groups, routers, floating IPs (each with its negative tests), the
# extension list, IPv6 subnet modes, tags, allowed address pairs and extra DHCP options.
# All API-only: none needs a DHCP or L3 agent to answer (the pods have none).
NETWORK = (
    r"^tempest\.api\.network\.("
    r"test_networks|test_ports|test_security_groups|test_security_groups_negative"
    r"|test_routers|test_routers_negative|test_floating_ips|test_floating_ips_negative"
    r"|test_extensions|test_networks_negative|test_dhcp_ipv6|test_tags"
    r"|test_allowed_address_pair|test_extra_dhcp_options"
    r")\b"
)
# The Block Storage API compared through the top (`--service volume`): volumes (get, list,
# actions, extend, metadata, clone and their negative tests), snapshots, availability
# zones, limits, versions, and the admin APIs for volume types (extra specs, access),
# quotas, QoS specs, volume/snapshot actions, group types (+ specs), groups, group
# snapshots, services, hosts, backend capabilities, pools and manage-existing. Servers they
# attach to boot without a NIC.
VOLUME = (
    r"^tempest\.api\.volume\.("
    r"test_volumes_get|test_volumes_list|test_volumes_actions|test_volumes_extend"
    r"|test_volumes_negative|test_volume_metadata|test_volumes_snapshots"
    r"|test_volumes_snapshots_list|test_volumes_snapshots_negative|test_snapshot_metadata"
    r"|test_availability_zone|test_volume_absolute_limits|test_versions|test_volumes_clone"
    r"|test_volumes_clone_negative"
    r"|admin\.(test_volume_types|test_volume_types_negative|test_volume_types_extra_specs"
    r"|test_volume_types_extra_specs_negative|test_volume_type_access|test_volume_quotas"
    r"|test_volume_quotas_negative|test_volume_snapshot_quotas_negative|test_volumes_actions"
    r"|test_snapshots_actions|test_volumes_list|test_qos|test_group_types|test_group_type_specs"
    r"|test_groups|test_group_snapshots|test_volume_services|test_volume_services_negative"
    r"|test_volume_hosts|test_backends_capabilities|test_volume_pools|test_volume_manage"
    r"|test_snapshot_manage)"
    r")\b"
)
# The Image API compared through the top (`--service image`): every test of
# `tempest.api.image` (Glance v2: images and their data, members, tags, schemas, versions,
# imports, tasks, caching, metadefs), directly against the top's own Glance and through
# Cascade's `/image`, which relays it.
IMAGE = r"^tempest\.api\.image\."
# What the devcloud's Glance (one `fs` store, no internet, no second Glance) cannot do in
# the image selection (docs/tempest.md, "Images: the top's Glance directly and through
# Cascade"): `EXCLUDED`'s web download, but only it (`EXCLUDED`'s pattern also matches
# `test_image_web_download_import_with_bad_url`, which fetches nothing), and copy-image.
IMAGE_EXCLUDED = {
    r"test_image_web_download_import\b": EXCLUDED[r"test_image_web_download_import"],
    r"test_image_copy_image_import": (
        "copy-image copies an image into the stores that lack it; the devcloud's Glance has "
        "one (`fs`): Glance exits the copy at once ('image is available in all configured "
        "stores') and tempest waits for a copy that never starts until it times out"
    ),
}
# `[image] disk_formats` of the image comparison: Glance accepts any bytes for these
# (`raw`, and formats its format inspector does not know), see `_conf`
LIST_DISK_FORMATS = ("raw", "ami", "ari", "aki", "ploop")
COMPARE_FILE = "compare.json"
# The four API suites compared whole (`--whole`): every test of `tempest.api.<suite>`, with
# only the machine's exclusions (EXCLUDED); compute's servers get networks and volumes.
WHOLE_SUITES = ("compute", "volume", "network", "image")


@dataclass(frozen=True)
class Target:
    """One tempest workspace: which region it tests, with which selection.

    `full` runs the baseline with Neutron and Cinder. Otherwise compute only: the
    projects tempest makes get no network (the top serves no networking yet), so their
    servers boot without a NIC, and no Cinder (nor volumes through the top yet); see
    docs/tempest.md, "Through Cascade (compute)". `network` (with `full` False) configures
    Neutron as the baseline does, without Cinder: the network selection.
    """

    name: str
    region: str
    selection: str
    full: bool
    excluded: Mapping[str, str] = field(default_factory=lambda: EXCLUDED)
    network: bool = False
    volume: bool = False
    # the Image API compared: tempest.conf names the region whose image endpoint tempest
    # talks to (`[image] region`: directly the top's Glance, through the top Cascade's)
    image: bool = False
    # directly against an independent pod: tempest signs in to that pod's own Keystone
    # (its admin makes tempest's projects there), and its images are Cascade's copies of
    # the top's (same ids) in the pod's Glance, made ahead by the admin API
    own_cloud: Pod | None = None
    # through the top in place of an independent pod: the pod whose top AZ cascade-api
    # must place creates in (`devcloud up --default-az`), since tempest names no AZ
    pinned: Pod | None = None

    @property
    def networking(self) -> bool:
        """Whether tempest.conf describes the region's Networking API."""
        return self.full or self.network

    @property
    def block_storage(self) -> bool:
        """Whether tempest.conf describes the region's Block Storage API (Cinder on)."""
        return self.full or self.volume


@dataclass(frozen=True)
class Service:
    """What `--cloud cascade --service NAME` compares, and where the comparison goes."""

    selection: str
    compare_file: str
    network: bool
    volume: bool = False
    whole: bool = False
    excluded: Mapping[str, str] = field(default_factory=lambda: EXCLUDED)
    # the direct half's workspace when it is not `<pod>-<service>`
    direct: str = ""
    image: bool = False


SERVICES: Mapping[str, Service] = {
    "compute": Service(COMPUTE, COMPARE_FILE, network=False),
    "network": Service(NETWORK, "compare-network.json", network=True),
    "volume": Service(VOLUME, "compare-volume.json", network=False, volume=True),
    # directly: the top's own Glance (not a pod's), hence the workspace's name
    "image": Service(
        IMAGE,
        "compare-image.json",
        network=False,
        volume=True,  # test_images_dependency boots a server from a volume of an image
        excluded=IMAGE_EXCLUDED,
        direct="glance-image",
        image=True,
    ),
}
# `--whole`: the suite `tempest.api.<name>` whole, with every service described (as the
# baseline is), compared in `compare-<name>-whole.json`.
WHOLE: Mapping[str, Service] = {
    name: Service(rf"^tempest\.api\.{name}\.", f"compare-{name}-whole.json", True, True, whole=True)
    for name in WHOLE_SUITES
}


def service(name: str, whole: bool = False) -> Service:
    """What `--service NAME` (with `--whole`: the whole suite) compares."""
    return (WHOLE if whole else SERVICES)[name]


def baseline(pod: Pod) -> Target:
    return Target(name=pod.name, region=pod.region, selection=BASELINE, full=True)


def direct_target(pod: Pod, name: str = "compute", whole: bool = False) -> Target:
    """The service's selection directly against `pod` (workspace `pod1-compute`, ...;
    `pod1-compute-whole` for the whole suite)."""
    s = service(name, whole)
    suffix = "-whole" if whole else ""
    return Target(
        s.direct or f"{pod.name}-{name}{suffix}",
        pod.region,
        s.selection,
        whole,
        excluded=s.excluded,
        network=s.network,
        volume=s.volume,
        image=s.image,
        own_cloud=pod if pod.independent else None,
    )


def top_target(name: str = "compute", whole: bool = False, pod: Pod | None = None) -> Target:
    """The service's selection through the top (workspace `cascade`, `cascade-network`;
    `cascade-compute-whole` for the whole suite). Compared with an independent `pod`, the
    servers go to its AZ and the workspace is its own (`cascade-pod3`, ...)."""
    s = service(name, whole)
    if whole:
        ws = f"{TOP_REGION}-{name}-whole"
    else:
        ws = TOP_REGION if name == "compute" else f"{TOP_REGION}-{name}"
    pinned = pod if pod is not None and pod.independent else None
    if pinned is not None:
        ws += f"-{pinned.name}"
    return Target(
        ws,
        TOP_REGION,
        s.selection,
        whole,
        excluded=s.excluded,
        network=s.network,
        volume=s.volume,
        image=s.image,
        pinned=pinned,
    )


def compare_path(layout: Layout, name: str, whole: bool, pod: Pod) -> Path:
    """Where the comparison of the service with `pod` goes: the service's compare file,
    `compare-pod3.json` (... `-pod3`) for an independent pod."""
    file = service(name, whole).compare_file
    if pod.independent:
        file = file.removesuffix(".json") + f"-{pod.name}.json"
    return layout.root / "tempest" / file


def compute_direct(pod: Pod) -> Target:
    return direct_target(pod, "compute")


def compute_top() -> Target:
    return top_target("compute")


@dataclass(frozen=True)
class Summary:
    cloud: str
    region: str
    passed: int
    failed: int
    skipped: int
    seconds: float
    concurrency: int


@dataclass(frozen=True)
class Result:
    """One test's outcome: `ok`, `FAILED` or `SKIPPED`, and why (skip reason, failure)."""

    status: str
    reason: str = ""


def workspace(layout: Layout, target: Target) -> Path:
    return layout.root / "tempest" / target.name


def log_path(layout: Layout, target: Target) -> Path:
    return layout.log / f"tempest-{target.name}.log"


async def _facts(layout: Layout, target: Target) -> dict[str, str]:
    """Ids and extension aliases tempest.conf needs, read from Glance and the region."""
    async with Rest(layout.auth_url) as rest:
        glance = layout.url("glance")
        images = await rest.call("glance", "GET", f"{glance}/v2/images?name={IMAGE_NAME}")
        alt = await rest.call("glance", "GET", f"{glance}/v2/images?name={ALT_IMAGE_NAME}")
        if not images["images"] or not alt["images"]:
            raise DevcloudError("tempest", f"Glance has no image {IMAGE_NAME}: run `up`")
        facts = {"image": images["images"][0]["id"], "image_alt": alt["images"][0]["id"]}
        if target.image:
            facts["image_region"] = image_region(rest.catalog, target.region, glance)
    if not target.networking:
        return facts
    # a pod must answer; the top may not serve Networking (yet): then no public
    # network (the floating IP tests skip) and no extensions (their tests skip)
    strict = target.region != TOP_REGION
    async with Rest(identity_uri(layout, target)) as rest:
        nets = await _neutron_list(rest, target.region, "networks?name=public", strict)
        exts = await _neutron_list(rest, target.region, "extensions", strict)
    if not nets and strict:
        raise DevcloudError("tempest", f"{target.region} has no public network: run `up`")
    facts["public"] = str(nets[0]["id"]) if nets else ""
    facts["extensions"] = ",".join(sorted(str(e["alias"]) for e in exts))
    return facts


def identity_uri(layout: Layout, target: Target) -> str:
    """The Keystone tempest signs in to: the shared one, or an independent pod's own."""
    return layout.pod_auth_url(target.own_cloud) if target.own_cloud else layout.auth_url


async def copy_images(layout: Layout, pod: Pod, images: list[str], timeout: float = 600) -> None:
    """Have Cascade copy the top `images` into an independent `pod`'s Glance ahead
    (`POST /v1/images/{id}/copies`), and wait until every copy is active there."""
    base = layout.url("cascade") + "/v1"
    async with Rest(layout.auth_url) as rest:
        pods = (await rest.call("cascade", "GET", f"{base}/pods"))["pods"]
        found = [p["id"] for p in pods if p["name"] == pod.name]
        if not found:
            raise DevcloudError("tempest", f"Cascade has no pod {pod.name}: run `up`")
        body = {"copies": {"pods": found}}
        for image in images:
            url = f"{base}/images/{image}/copies"
            await rest.call("cascade", "POST", url, body, ok=(202,))
            deadline = time.monotonic() + timeout
            while True:
                copies = (await rest.call("cascade", "GET", url))["copies"]
                mine = [c for c in copies if c["pod_id"] == found[0]]
                if mine and mine[0]["status"] == "active":
                    break
                if time.monotonic() > deadline:
                    raise DevcloudError(
                        "tempest", f"image {image} not copied into {pod.name}: {mine}"
                    )
                await asyncio.sleep(1)


def _image_endpoints(catalog: list[dict[str, Any]]) -> dict[str, str]:
    """Each region's public image endpoint in a Keystone catalog, without a trailing `/`."""
    return {
        str(ep["region_id"]): str(ep["url"]).rstrip("/")
        for service in catalog
        if service.get("type") == "image"
        for ep in service.get("endpoints", [])
        if ep.get("interface") == "public"
    }


def image_region(catalog: list[dict[str, Any]], region: str, glance: str) -> str:
    """The region whose image endpoint tempest talks to, for `[image] region`.

    Through the top (`region` is the top's): the top's own, which must not be the top's
    Glance itself (it is Cascade's `/image`). Directly: the top's Glance (`glance`), by
    `region` if its image endpoint is that Glance (a pod sharing the top's Keystone and
    Glance), else by the first region whose is.
    """
    endpoints = _image_endpoints(catalog)
    glance = glance.rstrip("/")
    if region == TOP_REGION:
        url = endpoints.get(region)
        if url is None or url == glance:
            raise DevcloudError(
                "tempest",
                f"the {region} region's image endpoint is {url or 'missing'}, not the "
                "top's /image: run `up`",
            )
        return region
    found = [r for r, url in endpoints.items() if url == glance and r != TOP_REGION]
    if not found:
        raise DevcloudError("tempest", f"no region's image endpoint is the top's Glance {glance}")
    return region if region in found else sorted(found)[0]


async def _neutron_list(rest: Rest, region: str, query: str, strict: bool) -> list[Any]:
    """`GET /v2.0/{query}` of the region's Neutron, e.g. `networks?name=public`: the listed
    resources. Unless `strict`, no endpoint, an error or an unexpected body is an empty
    list."""
    key = query.split("?", 1)[0]
    try:
        neutron = rest.endpoint("network", region)
        return list((await rest.call("neutron", "GET", f"{neutron}/v2.0/{query}"))[key])
    except (DevcloudError, KeyError, TypeError):
        if strict:
            raise
        return []


def _conf(layout: Layout, target: Target, ws: Path, facts: Mapping[str, str]) -> Sections:
    flavor_ids = {name: fid for fid, name, *_ in FLAVORS}
    sections: dict[str, dict[str, str | int | bool]] = {
        # debug: tempest.log keeps every request and response with headers and body
        "DEFAULT": {"log_file": "tempest.log", "debug": True},
        "oslo_concurrency": {"lock_path": str(ws / "lock")},
        "auth": {
            "admin_username": "admin",
            "admin_password": PASSWORD,
            "admin_project_name": "admin",
            "admin_domain_name": "Default",
            "use_dynamic_credentials": True,
            # compute only (not `networking`): the projects tempest makes get no network,
            # their servers no NIC (Neutron stays "available": tempest skips most server
            # classes without it)
            "create_isolated_networks": target.networking,
        },
        "identity": {
            "uri_v3": identity_uri(layout, target),
            "auth_version": "v3",
            "region": target.region,
        },
        "identity-feature-enabled": {"api_v2": False},
        "compute": {
            "image_ref": facts["image"],
            "image_ref_alt": facts["image_alt"],
            "flavor_ref": flavor_ids["m1.tiny"],
            "flavor_ref_alt": flavor_ids["m1.small"],
            "min_compute_nodes": 1,
            "min_microversion": "2.1",
            "max_microversion": "latest",
            "build_timeout": 120,
        },
        "compute-feature-enabled": {
            "console_output": True,
            "vnc_console": False,
            "spice_console": False,
            "serial_console": False,
            "live_migration": False,
            "cold_migration": False,
            "resize": True,
        },
    }
    if target.networking:
        sections["network"] = {
            "public_network_id": facts["public"],
            "floating_network_name": "public",
            "project_network_cidr": "10.100.0.0/16",
        }
        if target.network:
            # tempest's defaults, said out loud: project networks are not reachable from
            # here (no L3 agent, no namespaces), each project's subnets come out of
            # 10.100.0.0/16 as /28s and 2001:db8::/48 as /64s
            sections["network"] |= {
                "project_networks_reachable": False,
                "project_network_mask_bits": 28,
                "project_network_v6_cidr": "2001:db8::/48",
                "project_network_v6_mask_bits": 64,
            }
        # IPv6 is API-only here too (no DHCP or RA agents), like everything else
        sections["network-feature-enabled"] = {
            "ipv6": True,
            "ipv6_subnet_attributes": True,
            "api_extensions": facts["extensions"],
        }
    sections["validation"] = {"run_validation": False}
    if target.block_storage:
        sections["volume"] = {
            "catalog_type": "block-storage",
            "build_timeout": 120,
            "min_microversion": "3.0",
            "max_microversion": "latest",
        }
        sections["volume-feature-enabled"] = {"backup": False}
    sections["image"] = {"build_timeout": 120}
    if target.image:
        sections["image"]["region"] = facts["image_region"]
        # ListUserImagesTest (the list filters, sorting, paging) uploads random bytes under
        # the first six (container, disk) format pairs, and skips when told that Glance
        # enforces formats. Glance does, but only for formats it can inspect: random bytes
        # pass as `raw` and as the uninspectable `ami`, `ari`, `aki` and `ploop`, so with
        # these disk formats (pairs: bare/each, ami/raw) the class runs, directly too
        sections["image"]["disk_formats"] = ",".join(LIST_DISK_FORMATS)
        sections["image-feature-enabled"] = {"image_format_enforcement": False}
    sections["service_available"] = {
        "nova": True,
        "neutron": True,
        "glance": True,
        "cinder": target.block_storage,
        "swift": False,
        "horizon": False,
    }
    return sections


async def configure(layout: Layout, target: Target) -> Path:
    """Create the workspace (once) and (re)write its tempest.conf; returns the workspace."""
    if target.pinned is not None and layout.default_az != f"az{target.pinned.number}":
        az = f"az{target.pinned.number}"
        raise DevcloudError(
            "tempest",
            f"through the top in place of {target.pinned.name}, Cascade must place servers "
            f"in {az} (tempest names no AZ): run `bin/devcloud up --default-az {az}` first "
            "(and `--default-az ''` after)",
        )
    ws = workspace(layout, target)
    home = layout.root / "home"
    if not (ws / ".stestr.conf").exists():
        shutil.rmtree(ws, ignore_errors=True)
        ws.parent.mkdir(parents=True, exist_ok=True)
        await run(
            [layout.vbin("tempest"), "init", "--name", f"tempest-{target.name}", str(ws)],
            service="tempest",
            log=layout.log / "tempest-setup.log",
            env={"HOME": str(home)},  # tempest keeps its workspace registry in ~/.tempest
        )
    facts = await _facts(layout, target)
    if target.own_cloud is not None:
        await copy_images(layout, target.own_cloud, [facts["image"], facts["image_alt"]])
    write_if_changed(ws / "etc" / "tempest.conf", render(_conf(layout, target, ws, facts)))
    return ws


# -- reading tempest's output -------------------------------------------------------

_TOTALS = re.compile(r"- (Passed|Skipped|Failed): (\d+)")
# `{0} tempest.api...Class.test_x[id-...,smoke] [0.5s] ... ok` (also `... SKIPPED: why`);
# a class whose set-up failed or skipped is the "test" `setUpClass (tempest.api...Class)`.
_LINE = re.compile(
    r"^\{\d+\} (?P<test>\S.*?)(?: \[[\d.]+s\])? \.\.\. (?P<status>ok|FAILED|SKIPPED)"
    r"(?:: (?P<reason>.*))?$"
)
_ATTRS = re.compile(r"\[[^\]]*\]$")
_SET_UP_CLASS = re.compile(r"^setUpClass \((?P<cls>[\w.]+)\)$")


def parse_totals(output: str) -> dict[str, int]:
    """The counts from `tempest run`'s closing "Totals" block."""
    found = {k.lower(): int(v) for k, v in _TOTALS.findall(output)}
    return {k: found.get(k, 0) for k in ("passed", "skipped", "failed")}


def parse_results(output: str) -> dict[str, Result]:
    """Every test's result line of a `tempest run` output, by test id without its tags.

    A failed test's reason is filled in from its captured traceback (`failure_reasons`).
    """
    results: dict[str, Result] = {}
    for line in output.splitlines():
        m = _LINE.match(line.rstrip())
        if m:
            test = _ATTRS.sub("", m["test"])
            results[test] = Result(m["status"], (m["reason"] or "").strip())
    for test, reason in failure_reasons(output).items():
        if test in results and results[test].status == "FAILED":
            results[test] = Result("FAILED", reason)
    return results


# subunit-trace prints a failed test's details after its result line, in blocks headed
# `Captured traceback:` and `Captured pythonlogging:`, each underlined with `~`; errors in
# the test's clean-ups (tearDown, addCleanup) follow as `Captured traceback-1:`, `-2`, ...
_BLOCK = re.compile(r"^\s*Captured (?P<kind>[\w ]+?)(?P<more>-\d+)?:\s*$")
_REQUEST = re.compile(r"Request \([^)]*\): (?P<code>\d{3}) (?P<method>[A-Z]+) (?P<url>\S+)")
# `tempest.lib.exceptions.BadRequest: Bad request`, `AssertionError: ...`
_EXCEPTION = re.compile(
    r"^\s*(?P<exc>(?:[a-z_]\w*\.)+[A-Z]\w*|[A-Z]\w*(?:Error|Exception)): ?(?P<msg>.*)$"
)


def failure_reasons(output: str) -> dict[str, str]:
    """Why each failed test failed, in one line: the exception and the request behind it.

    The exception is the last line of the captured traceback that names an exception
    (tempest's REST exceptions carry the response body on a following `Details:` line),
    of the test's own traceback rather than its clean-ups' (`traceback-1`, ...) when it
    has one;
    the request is the first one in the captured log that got a 4xx/5xx answer, or else
    the last one (an assertion on a successful answer).
    """
    reasons: dict[str, str] = {}
    lines = output.splitlines()
    current: str | None = None
    kind = ""
    exc = ""
    cleanup = False  # in a clean-up's traceback (`traceback-1`, ...)
    request = ""
    last = ""

    def close() -> None:
        req = request or (f"last request: {last}" if last else "")
        if current is not None and (exc or req):
            reasons[current] = "; ".join(p for p in (exc, req) if p)

    for i, line in enumerate(lines):
        if line.startswith("====="):  # the closing blocks repeat the failures: stop here
            close()
            current = None
            continue
        m = _LINE.match(line.rstrip())
        if m:
            close()
            current = _ATTRS.sub("", m["test"]) if m["status"] == "FAILED" else None
            kind, exc, request, last, cleanup = "", "", "", "", False
            continue
        if current is None:
            continue
        block = _BLOCK.match(line)
        if block:
            kind = block["kind"]
            cleanup = block["more"] is not None
            continue
        if kind == "traceback":
            e = _EXCEPTION.match(line)
            if e and not (cleanup and exc):  # the test's own error first
                exc = f"{e['exc'].rsplit('.', 1)[-1]}: {e['msg']}".rstrip(": ")
                nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
                if nxt.startswith("Details:"):
                    exc += " " + nxt
        elif kind == "pythonlogging" and not request:
            r = _REQUEST.search(line)
            if r:
                last = f"{r['method']} {r['url']} -> {r['code']}"
                if int(r["code"]) >= 400:
                    request = last
    close()
    return reasons


def class_results(results: Mapping[str, Result]) -> dict[str, Result]:
    """Class set-ups that failed or were skipped, by class path: their tests have no
    result line of their own."""
    out: dict[str, Result] = {}
    for test, result in results.items():
        m = _SET_UP_CLASS.match(test)
        if m and result.status != "ok":
            out[m["cls"]] = result
    return out


def compare(direct: Mapping[str, Result], top: Mapping[str, Result]) -> list[dict[str, str]]:
    """The tests whose result differs, test for test, sorted by test id.

    A test missing from one run whose class set-up failed or was skipped there takes the
    class's result; one missing otherwise is `missing` (not selected or not run).
    """

    def status(results: Mapping[str, Result], classes: Mapping[str, Result], test: str) -> Result:
        if test in results:
            return results[test]
        cls = classes.get(test.rsplit(".", 1)[0])
        if cls is None:
            return Result("missing")
        if cls.status == "FAILED":
            return Result("FAILED", f"setUpClass failed: {cls.reason}")
        return cls

    classes_direct, classes_top = class_results(direct), class_results(top)
    rows = []
    for test in sorted(set(direct) | set(top)):
        d = status(direct, classes_direct, test)
        t = status(top, classes_top, test)
        if d.status == t.status:
            continue
        reason = t.reason or d.reason
        rows.append({"test": test, "direct": d.status, "top": t.status, "reason": reason})
    return rows


# -- running ----------------------------------------------------------------------


async def run_target(layout: Layout, target: Target, concurrency: int = 2) -> Summary:
    """Run the target's selection; write `summary.json` and `results.json` in its workspace."""
    ws = await configure(layout, target)
    log = log_path(layout, target)
    started = time.monotonic()
    argv = [
        layout.vbin("tempest"),
        "run",
        "--regex",
        target.selection,
        "--exclude-regex",
        "|".join(f"({r})" for r in target.excluded),
        "--concurrency",
        str(concurrency),
    ]
    try:
        output = await _run_in(ws, argv, layout, log)
    except DevcloudError as exc:
        # failed tests make `tempest run` exit non-zero: still report the counts
        output = log.read_text().rsplit("\n=== ", 1)[-1] if log.exists() else ""
        if not _TOTALS.search(output):
            raise exc
    summary = Summary(
        cloud=target.name,
        region=target.region,
        seconds=round(time.monotonic() - started, 1),
        concurrency=concurrency,
        **parse_totals(output),
    )
    save_run(ws, summary, output)
    return summary


def save_run(ws: Path, summary: Summary, output: str) -> None:
    """Write a finished stestr run's `summary.json` and `results.json` (every test's result,
    parsed from `output`) into its workspace `ws`."""
    (ws / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    results = {test: asdict(r) for test, r in sorted(parse_results(output).items())}
    (ws / "results.json").write_text(json.dumps(results, indent=2) + "\n")


async def run_baseline(layout: Layout, pod: Pod, concurrency: int = 2) -> Summary:
    return await run_target(layout, baseline(pod), concurrency)


def load_run(layout: Layout, target: Target) -> tuple[Summary, dict[str, Result]]:
    """A finished run's summary and results, as `run_target` left them."""
    return load_workspace(workspace(layout, target))


def load_workspace(ws: Path) -> tuple[Summary, dict[str, Result]]:
    """The summary and results `save_run` left in the workspace `ws`."""
    try:
        summary = Summary(**json.loads((ws / "summary.json").read_text()))
        raw = json.loads((ws / "results.json").read_text())
    except (OSError, ValueError, TypeError) as exc:
        raise DevcloudError("tempest", f"no finished run in {ws}: run it first ({exc})") from exc
    return summary, {test: Result(**r) for test, r in raw.items()}


async def run_compare(
    layout: Layout,
    pod: Pod,
    concurrency: int = 2,
    direct: bool = True,
    name: str = "compute",
    whole: bool = False,
    top: bool = True,
) -> dict[str, Any]:
    """The service's selection directly against `pod` (unless `direct` is False: the last
    direct run is reused) and through the top (unless `top` is False: the last run through
    the top is reused); the comparison, also in the service's compare file (`compare.json`
    for compute)."""
    direct_t, top_t = direct_target(pod, name, whole), top_target(name, whole, pod)
    if direct:
        await run_target(layout, direct_t, concurrency)
    if top:
        await run_target(layout, top_t, concurrency)
    direct_summary, direct_results = load_run(layout, direct_t)
    top_summary, top_results = load_run(layout, top_t)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "selection": top_t.selection,
        "excluded": list(top_t.excluded),
        "direct": asdict(direct_summary),
        "top": asdict(top_summary),
        "differences": compare(direct_results, top_results),
    }
    path = compare_path(layout, name, whole, pod)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report


async def _run_in(ws: Path, argv: list[str], layout: Layout, log: Path) -> str:
    # `tempest run` works on the workspace in its current directory
    return await run(
        argv,
        service="tempest",
        log=log,
        env={"HOME": str(layout.root / "home")},
        timeout=4 * 3600,  # a whole compute suite at concurrency 2 takes over an hour
        heavy=False,
        cwd=ws,
        stream=True,
    )
