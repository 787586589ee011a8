"""An Ansible tenant workflow (openstack.cloud) against one pod directly and through the top.

`devcloud ansible --cloud cascade` runs `devcloud/playbooks/tenant.yml` twice against the
pod, then its cleanup (`cleanup.yml`), and the same through the top, each target with its
own resource names (`ansible-pod1-...`, `ansible-cascade-...`). The second run of the
tenant play must change nothing (changed=0, failed=0): the play is idempotent against the
real services. Each run's play recap, the tasks it changed and every failure (task and
message) go to `<root>/ansible/compare.json`; ansible-playbook's output to
`<root>/log/ansible-<target>.log`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devcloud import system
from devcloud.commands import run
from devcloud.errors import DevcloudError
from devcloud.ini import write_if_changed
from devcloud.layout import TOP_REGION, Layout, Pod
from devcloud.rest import Rest
from devcloud.seed import IMAGE_NAME

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
COMPARE_FILE = "compare.json"
FLAVOR = "m1.tiny"
PUBLIC_NETWORK = "public"
CIDR = "10.77.0.0/24"
# The AZs the top's two servers go to when it has them (the devcloud's pods 1 and 2)
WANTED_AZS = ("az1", "az2")
# the counts of a play recap line, in the order ansible prints them
RECAP_KEYS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
_RECAP = re.compile(r"^\S+\s*:\s*" + r"\s+".join(rf"{k}=(?P<{k}>\d+)" for k in RECAP_KEYS))
_TASK = re.compile(r"^TASK \[(?P<task>.*)\] \**$")
# `changed: [localhost]`, `changed: [localhost] => (item=az1)`,
# `fatal: [localhost]: FAILED! => {...}`, `failed: [localhost] (item=az1) => {...}`
_CHANGED = re.compile(r"^changed: \[[^\]]+\]")
_FAILED = re.compile(
    r"^(?:fatal|failed): \[[^\]]+\](?::? FAILED!| \(item=[^)]*\)) => (?P<body>.*)$"
)


@dataclass(frozen=True)
class PlayTarget:
    """Where the plays run: the clouds.yaml entry (demo user) and its resource prefix."""

    name: str
    cloud: str
    pod_az: str | None = None  # a pod: both servers in its AZ

    @property
    def prefix(self) -> str:
        return f"ansible-{self.name}"


def direct_target(pod: Pod) -> PlayTarget:
    return PlayTarget(pod.name, pod.region, pod.az)


def top_target() -> PlayTarget:
    return PlayTarget(TOP_REGION, TOP_REGION)


def choose_azs(available: Sequence[str], pod_az: str | None = None) -> list[str]:
    """The two servers' AZs: a pod's own AZ twice; through the top `az1` and `az2` when
    the top lists both, else its first AZ twice."""
    if pod_az is not None:
        return [pod_az, pod_az]
    if all(az in available for az in WANTED_AZS):
        return list(WANTED_AZS)
    if not available:
        raise DevcloudError("ansible", "the cloud lists no availability zone")
    return [available[0], available[0]]


def play_vars(target: PlayTarget, azs: Sequence[str], public_key: str) -> dict[str, Any]:
    """The variables both playbooks take (`-e @vars.json`)."""
    return {
        "cloud": target.cloud,
        "prefix": target.prefix,
        "azs": list(azs),
        "image": IMAGE_NAME,
        "flavor": FLAVOR,
        "public_network": PUBLIC_NETWORK,
        "cidr": CIDR,
        "public_key": public_key,
    }


def parse_play(output: str) -> dict[str, Any]:
    """An ansible-playbook run's recap counts (of its one host), the tasks that changed
    something and each failure (task, message), from the default callback's output."""
    counts = dict.fromkeys(RECAP_KEYS, 0)
    changed: list[str] = []
    failures: list[dict[str, str]] = []
    task = ""
    for line in output.splitlines():
        m = _TASK.match(line)
        if m:
            task = m["task"]
            continue
        if _CHANGED.match(line) and task not in changed:
            changed.append(task)
            continue
        f = _FAILED.match(line)
        if f:
            failures.append({"task": task, "reason": _failure_message(f["body"])})
            continue
        r = _RECAP.match(line)
        if r:
            counts = {k: int(r[k]) for k in RECAP_KEYS}
    return {**counts, "changed_tasks": changed, "failures": failures}


def _failure_message(body: str) -> str:
    """The `msg` of a failed task's result (JSON), else the body as it is; one line."""
    try:
        result = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(result, dict) and "msg" in result:
        return " ".join(str(result["msg"]).split())
    return body.strip()


def recap_line(play: dict[str, Any]) -> str:
    """`ok=12 changed=0 failed=0 ...` of a parsed run."""
    return " ".join(f"{k}={play[k]}" for k in RECAP_KEYS)


async def _azs(layout: Layout, target: PlayTarget) -> list[str]:
    """The AZs of the target's Compute, as its demo user sees them."""
    if target.pod_az is not None:
        return choose_azs([], target.pod_az)
    async with Rest(layout.auth_url, "demo", "demo") as rest:
        nova = rest.endpoint("compute", target.cloud)
        body = await rest.call("nova", "GET", f"{nova}/os-availability-zone")
    zones = [z["zoneName"] for z in body["availabilityZoneInfo"] if z["zoneState"]["available"]]
    return choose_azs(zones)


async def _public_key(layout: Layout, ws: Path) -> str:
    """The keypair's public key: made once with ssh-keygen and kept in the workspace."""
    key = ws / "id_ed25519"
    if not key.with_suffix(".pub").exists():
        await run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "devcloud", "-f", str(key)],
            service="ansible",
            log=layout.log / "ansible-setup.log",
            heavy=False,
        )
    return key.with_suffix(".pub").read_text().strip()


def environment(layout: Layout, ws: Path) -> dict[str, str]:
    """ansible-playbook's environment: the devcloud's clouds.yaml, the OpenStack virtualenv's
    Python for the modules (openstacksdk is there), Ansible's state in the workspace."""
    return {
        "HOME": str(layout.root / "home"),
        "OS_CLIENT_CONFIG_FILE": str(layout.clouds_yaml),
        "ANSIBLE_PYTHON_INTERPRETER": layout.vbin("python"),
        # openstack.cloud 2.5 with openstacksdk 4.22: see pythonpath/sitecustomize.py
        "PYTHONPATH": str(PLAYBOOKS / "pythonpath"),
        "ANSIBLE_HOME": str(ws / "home"),
        "ANSIBLE_LOCAL_TEMP": str(ws / "tmp"),
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_NOCOLOR": "true",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }


async def run_play(
    layout: Layout, target: PlayTarget, playbook: str, ws: Path, label: str
) -> dict[str, Any]:
    """Run one playbook against the target; its parsed result, labelled."""
    argv = [
        layout.vbin("ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"@{ws / 'vars.json'}",
        str(PLAYBOOKS / playbook),
    ]
    log = layout.log / f"ansible-{target.name}.log"
    try:
        output = await run(
            argv,
            service="ansible",
            log=log,
            env=environment(layout, ws),
            timeout=1800,
            heavy=False,
            stream=True,
        )
    except DevcloudError:
        # a failed task makes ansible-playbook exit non-zero: the recap still says what ran
        output = log.read_text().rsplit("\n=== ", 1)[-1] if log.exists() else ""
        if "PLAY RECAP" not in output:
            raise
    return {"play": label, **parse_play(output)}


async def run_target(layout: Layout, target: PlayTarget, cleanup: bool = True) -> dict[str, Any]:
    """The tenant play twice and (unless not `cleanup`) the cleanup play against the target;
    the runs, and whether the second run changed nothing."""
    await system.ensure_clients(layout)
    ws = layout.root / "ansible" / target.name
    ws.mkdir(parents=True, exist_ok=True)
    azs = await _azs(layout, target)
    variables = play_vars(target, azs, await _public_key(layout, ws))
    write_if_changed(ws / "vars.json", json.dumps(variables, indent=2) + "\n")
    runs = [
        await run_play(layout, target, "tenant.yml", ws, "first"),
        await run_play(layout, target, "tenant.yml", ws, "second"),
    ]
    if cleanup:
        runs.append(await run_play(layout, target, "cleanup.yml", ws, "cleanup"))
    second = runs[1]
    return {
        "cloud": target.cloud,
        "azs": azs,
        "runs": runs,
        "idempotent": second["changed"] == 0 and second["failed"] == 0,
    }


async def run_compare(
    layout: Layout, targets: Sequence[PlayTarget], cleanup: bool = True
) -> dict[str, Any]:
    """Each target's runs, one target after the other; also in `<root>/ansible/compare.json`."""
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": {},
    }
    for target in targets:
        report["targets"][target.name] = await run_target(layout, target, cleanup)
    path = layout.root / "ansible" / COMPARE_FILE
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report
