"""openstacksdk's own functional tests against one pod directly and through the top.

`devcloud sdk --cloud cascade` runs the functional tests of the openstacksdk release pinned
for the devcloud (`openstack/tests/functional/{compute,block_storage,network,image}`, as the
package ships them) with stestr, twice with the same configuration but the region: directly
against the pod (workspace `<root>/sdk/pod1`) and through the top (workspace
`<root>/sdk/cascade`). Each workspace gets a clouds.yaml written here, naming the clouds the
tests read from their environment (`OS_CLOUD`, `OPENSTACKSDK_DEMO_CLOUD`, ...), and keeps
`summary.json`, `results.json` and stestr's repository. The test-for-test comparison (every
test's result on both sides, with reasons) goes to `<root>/sdk/compare.json`.

The parsing and the comparison are tempest's (`devcloud.tempest`): `tempest run` is stestr
too, so both print subunit-trace lines and the same closing totals.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from devcloud import system
from devcloud.clouds import ACCOUNTS
from devcloud.commands import run
from devcloud.errors import DevcloudError
from devcloud.ini import write_if_changed
from devcloud.layout import PASSWORD, TOP_REGION, Layout, Pod
from devcloud.seed import IMAGE_NAME
from devcloud.tempest import (
    Result,
    Summary,
    compare,
    load_workspace,
    parse_totals,
    save_run,
)

# The API areas compared: the functional test packages of the services Cascade fronts
# (Compute, Block Storage, Networking) and Glance, which the top shares with the pods.
SUITES = ("compute", "block_storage", "network", "image")
SELECTION = rf"^openstack\.tests\.functional\.({'|'.join(SUITES)})\."
# The smallest seeded flavor with a disk (the tests boot servers from an image)
FLAVOR = "m1.tiny"
# The clouds.yaml entry each variable the tests read names, by the suffix after the
# region: the demo user, alt_demo, admin (project scope) and admin with system scope.
CLOUD_VARIABLES = {
    "OS_CLOUD": "-admin",  # read at import time (base.TEST_CLOUD_NAME)
    "OPENSTACKSDK_DEMO_CLOUD": "",
    "OPENSTACKSDK_DEMO_CLOUD_ALT": "-alt",
    "OPENSTACKSDK_OPERATOR_CLOUD": "-admin",
    "OPENSTACKSDK_SYSTEM_ADMIN_CLOUD": "-system-admin",
}
# Seconds: one test (the base's own default, 5, fits unit tests only; the SDK's tox
# functional environment says 600) and one wait for a resource (the base's default).
TEST_TIMEOUT = 600
WAIT_TIMEOUT = 300
COMPARE_FILE = "compare.json"
IMAGE_DATA = "Image data for openstacksdk's functional image tests (devcloud sdk).\n"


@dataclass(frozen=True)
class SdkTarget:
    """One run of the functional tests: its workspace name and the region it tests."""

    name: str
    region: str


def direct_target(pod: Pod) -> SdkTarget:
    return SdkTarget(pod.name, pod.region)


def top_target() -> SdkTarget:
    return SdkTarget(TOP_REGION, TOP_REGION)


def workspace(layout: Layout, target: SdkTarget) -> Path:
    return layout.root / "sdk" / target.name


def log_path(layout: Layout, target: SdkTarget) -> Path:
    return layout.log / f"sdk-{target.name}.log"


def clouds_config(layout: Layout, region: str) -> dict[str, Any]:
    """The clouds.yaml of a run against `region`: `<region>` (demo), `<region>-alt`
    (alt_demo), `<region>-admin` (admin, project admin) as `devcloud up` writes them, and
    `<region>-system-admin` (admin, system scope: the tests' "system admin" cloud)."""
    entries: dict[str, Any] = {}
    accounts = {**ACCOUNTS, "-system-admin": ("admin", "")}
    for suffix, (user, project) in accounts.items():
        auth: dict[str, str] = {
            "auth_url": layout.auth_url,
            "username": user,
            "password": PASSWORD,
            "user_domain_name": "Default",
        }
        if project:
            auth |= {"project_name": project, "project_domain_name": "Default"}
        else:
            auth["system_scope"] = "all"
        entries[region + suffix] = {
            "auth": auth,
            "region_name": region,
            "identity_api_version": 3,
            "interface": "public",
        }
    # what base._get_resource_value reads when the environment names no image or flavor
    return {"clouds": entries, "functional": {"image_name": IMAGE_NAME, "flavor_name": FLAVOR}}


def run_environment(clouds_yaml: Path, region: str) -> dict[str, str]:
    """The environment of the run: the clouds.yaml, the cloud each variable names, the
    image and flavor to use (the seeded ones: the base looks for cirros otherwise) and the
    timeouts."""
    env = {name: region + suffix for name, suffix in CLOUD_VARIABLES.items()}
    return env | {
        "OS_CLIENT_CONFIG_FILE": str(clouds_yaml),
        "OPENSTACKSDK_IMAGE": IMAGE_NAME,
        "OPENSTACKSDK_FLAVOR": FLAVOR,
        "OS_TEST_TIMEOUT": str(TEST_TIMEOUT),
        "OPENSTACKSDK_FUNC_TEST_TIMEOUT": str(WAIT_TIMEOUT),
    }


def stestr_argv(layout: Layout, functional: Path, suite: str, concurrency: int) -> list[str]:
    """`stestr run` of one suite of the installed functional tests: discovery from its own
    folder (discovering the whole `functional` folder fails: `functional/examples` imports a
    package the wheel does not ship), test ids from site-packages (`openstack.tests...`)."""
    top = functional.parent.parent.parent
    return [
        layout.vbin("stestr"),
        "--test-path",
        str(functional / suite),
        "--top-dir",
        str(top),
        "run",
        "--concurrency",
        str(concurrency),
    ]


def merge_totals(outputs: list[str]) -> dict[str, int]:
    """The counts of several stestr runs (one per suite), summed."""
    totals = {"passed": 0, "skipped": 0, "failed": 0}
    for output in outputs:
        for key, value in parse_totals(output).items():
            totals[key] += value
    return totals


def functional_tests(layout: Layout) -> Path:
    """The folder of the installed openstacksdk's functional tests."""
    for path in sorted(layout.venv.glob("lib/python3*/site-packages/openstack/tests/functional")):
        return path
    raise DevcloudError("sdk", f"no openstacksdk in {layout.venv}: run `up`")


async def configure(layout: Layout, target: SdkTarget) -> tuple[Path, dict[str, str]]:
    """Write the workspace's clouds.yaml; returns the workspace and the run's environment."""
    await system.ensure_clients(layout)
    ws = workspace(layout, target)
    ws.mkdir(parents=True, exist_ok=True)
    clouds_yaml = ws / "clouds.yaml"
    write_if_changed(clouds_yaml, yaml.safe_dump(clouds_config(layout, target.region)))
    # the image tests upload `CONTRIBUTING.rst` of the current directory (they expect an
    # openstacksdk checkout): the workspace has one of its own
    write_if_changed(ws / "CONTRIBUTING.rst", IMAGE_DATA)
    return ws, run_environment(clouds_yaml, target.region)


async def run_target(layout: Layout, target: SdkTarget, concurrency: int = 2) -> Summary:
    """Run the functional tests against the target's region, suite after suite; write
    `summary.json` and `results.json` in its workspace."""
    ws, env = await configure(layout, target)
    functional = functional_tests(layout)
    log = log_path(layout, target)
    started = time.monotonic()
    outputs = []
    for suite in SUITES:
        try:
            output = await run(
                stestr_argv(layout, functional, suite, concurrency),
                service="sdk",
                log=log,
                env={"HOME": str(layout.root / "home"), **env},
                timeout=2 * 3600,
                heavy=False,
                cwd=ws,
                stream=True,
            )
        except DevcloudError:
            # failed tests make `stestr run` exit non-zero: still report the counts
            output = log.read_text().rsplit("\n=== ", 1)[-1] if log.exists() else ""
            if not any(parse_totals(output).values()):
                raise
        outputs.append(output)
    summary = Summary(
        cloud=target.name,
        region=target.region,
        seconds=round(time.monotonic() - started, 1),
        concurrency=concurrency,
        **merge_totals(outputs),
    )
    save_run(ws, summary, "\n".join(outputs))
    return summary


def report(
    direct: tuple[Summary, Mapping[str, Result]], top: tuple[Summary, Mapping[str, Result]]
) -> dict[str, Any]:
    """The comparison: both runs' counts, every test's result on each side (status and
    reason; `missing` where a side has no result line) and the tests that differ."""
    (d_summary, d_results), (t_summary, t_results) = direct, top
    missing = Result("missing")
    tests = {
        test: {
            "direct": asdict(d_results.get(test, missing)),
            "top": asdict(t_results.get(test, missing)),
        }
        for test in sorted(set(d_results) | set(t_results))
    }
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "selection": SELECTION,
        "direct": asdict(d_summary),
        "top": asdict(t_summary),
        "differences": compare(d_results, t_results),
        "tests": tests,
    }


async def run_compare(
    layout: Layout, pod: Pod, concurrency: int = 2, direct: bool = True, top: bool = True
) -> dict[str, Any]:
    """The functional tests against `pod` and through the top (either one reused from its
    last run when False); the comparison, also written to `<root>/sdk/compare.json`."""
    direct_t, top_t = direct_target(pod), top_target()
    if direct:
        await run_target(layout, direct_t, concurrency)
    if top:
        await run_target(layout, top_t, concurrency)
    try:
        loaded = (
            load_workspace(workspace(layout, direct_t)),
            load_workspace(workspace(layout, top_t)),
        )
    except DevcloudError as exc:
        raise DevcloudError("sdk", exc.message) from exc
    result = report(*loaded)
    path = layout.root / "sdk" / COMPARE_FILE
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result
