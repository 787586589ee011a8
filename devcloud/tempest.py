"""Tempest against one pod directly: the baseline Cascade is later compared with, test for test.

`devcloud tempest [--pod pod1]` writes a workspace under `<root>/tempest/<pod>`
with a generated `etc/tempest.conf`, runs the baseline selection and writes
the pass/fail/skip counts to `summary.json` there.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from devcloud.commands import run
from devcloud.errors import DevcloudError
from devcloud.ini import render, write_if_changed
from devcloud.layout import PASSWORD, Layout, Pod
from devcloud.rest import Rest
from devcloud.seed import ALT_IMAGE_NAME, FLAVORS, IMAGE_NAME

# The baseline: compute flavors, keypairs, limits, availability zones and servers
# (create/get/list/delete); volumes (create/get/list/delete, AZs, limits); networks,
# subnets, ports, routers, security groups; images (list/get/create/delete).
BASELINE = (
    r"^tempest\.api\.("
    r"compute\.(flavors\.test_flavors|keypairs\.test_keypairs|keypairs\.test_keypairs_v22"
    r"|limits\.test_absolute_limits|servers\.test_availability_zone"
    r"|servers\.test_create_server|servers\.test_list_server_filters"
    r"|servers\.test_delete_server|servers\.test_servers)\b"
    r"|volume\.(test_volumes_get|test_volumes_list|test_availability_zone"
    r"|test_volume_absolute_limits)\b"
    r"|network\.(test_networks|test_ports|test_routers|test_security_groups)\b"
    r"|image\.v2\.test_images\b"
    r")"
)
# What a fake-driver, agent-less pod cannot do, each with its reason (docs/tempest.md).
EXCLUDED = {
    r"from_image|image_to_volume|ServersTestBootFromVolume": (
        "Cinder's fake driver cannot copy an image into a volume"
    ),
    r"test_image_web_download_import": (
        "imports an image from a public web server; this machine reaches no internet"
    ),
}


@dataclass(frozen=True)
class Summary:
    pod: str
    passed: int
    failed: int
    skipped: int
    seconds: float
    concurrency: int


def workspace(layout: Layout, pod: Pod) -> Path:
    return layout.root / "tempest" / pod.name


async def _facts(layout: Layout, pod: Pod) -> dict[str, str]:
    """Ids and extension aliases tempest.conf needs, read from the pod."""
    async with Rest(layout.auth_url) as rest:
        glance = layout.url("glance")
        images = await rest.call("glance", "GET", f"{glance}/v2/images?name={IMAGE_NAME}")
        alt = await rest.call("glance", "GET", f"{glance}/v2/images?name={ALT_IMAGE_NAME}")
        neutron = rest.endpoint("network", pod.region)
        nets = await rest.call("neutron", "GET", f"{neutron}/v2.0/networks?name=public")
        exts = await rest.call("neutron", "GET", f"{neutron}/v2.0/extensions")
    if not images["images"] or not alt["images"] or not nets["networks"]:
        raise DevcloudError("tempest", f"{pod.name} has no image or public network: run `up`")
    return {
        "image": images["images"][0]["id"],
        "image_alt": alt["images"][0]["id"],
        "public": nets["networks"][0]["id"],
        "extensions": ",".join(sorted(e["alias"] for e in exts["extensions"])),
    }


async def configure(layout: Layout, pod: Pod) -> Path:
    """Create the workspace (once) and (re)write its tempest.conf; returns the workspace."""
    ws = workspace(layout, pod)
    home = layout.root / "home"
    if not (ws / ".stestr.conf").exists():
        shutil.rmtree(ws, ignore_errors=True)
        ws.parent.mkdir(parents=True, exist_ok=True)
        await run(
            [layout.vbin("tempest"), "init", "--name", f"tempest-{pod.name}", str(ws)],
            service="tempest",
            log=layout.log / "tempest-setup.log",
            env={"HOME": str(home)},  # tempest keeps its workspace registry in ~/.tempest
        )
    facts = await _facts(layout, pod)
    flavor_ids = {name: fid for fid, name, *_ in FLAVORS}
    conf = render(
        {
            "DEFAULT": {"log_file": "tempest.log"},
            "oslo_concurrency": {"lock_path": str(ws / "lock")},
            "auth": {
                "admin_username": "admin",
                "admin_password": PASSWORD,
                "admin_project_name": "admin",
                "admin_domain_name": "Default",
                "use_dynamic_credentials": True,
            },
            "identity": {
                "uri_v3": layout.auth_url,
                "auth_version": "v3",
                "region": pod.region,
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
            "network": {
                "public_network_id": facts["public"],
                "floating_network_name": "public",
                "project_network_cidr": "10.100.0.0/16",
            },
            # IPv6 is API-only here too (no DHCP or RA agents), like everything else
            "network-feature-enabled": {
                "ipv6": True,
                "ipv6_subnet_attributes": True,
                "api_extensions": facts["extensions"],
            },
            "validation": {"run_validation": False},
            "volume": {
                "catalog_type": "block-storage",
                "build_timeout": 120,
                "min_microversion": "3.0",
                "max_microversion": "latest",
            },
            "volume-feature-enabled": {"backup": False},
            "image": {"build_timeout": 120},
            "service_available": {
                "nova": True,
                "neutron": True,
                "glance": True,
                "cinder": True,
                "swift": False,
                "horizon": False,
            },
        }
    )
    write_if_changed(ws / "etc" / "tempest.conf", conf)
    return ws


_TOTALS = re.compile(r"- (Passed|Skipped|Failed): (\d+)")


def parse_totals(output: str) -> dict[str, int]:
    """The counts from `tempest run`'s closing "Totals" block."""
    found = {k.lower(): int(v) for k, v in _TOTALS.findall(output)}
    return {k: found.get(k, 0) for k in ("passed", "skipped", "failed")}


async def run_baseline(layout: Layout, pod: Pod, concurrency: int = 2) -> Summary:
    ws = await configure(layout, pod)
    log = layout.log / f"tempest-{pod.name}.log"
    started = time.monotonic()
    argv = [
        layout.vbin("tempest"),
        "run",
        "--regex",
        BASELINE,
        "--exclude-regex",
        "|".join(f"({r})" for r in EXCLUDED),
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
    counts = parse_totals(output)
    summary = Summary(
        pod=pod.name,
        seconds=round(time.monotonic() - started, 1),
        concurrency=concurrency,
        **counts,
    )
    (ws / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


async def _run_in(ws: Path, argv: list[str], layout: Layout, log: Path) -> str:
    # `tempest run` works on the workspace in its current directory
    return await run(
        argv,
        service="tempest",
        log=log,
        env={"HOME": str(layout.root / "home")},
        timeout=3600,
        heavy=False,
        cwd=ws,
        stream=True,
    )
