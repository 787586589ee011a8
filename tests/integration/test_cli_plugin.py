"""`openstack cascade ...` (python-cascadeclient) as an operator runs it: the devcloud's
own `openstack`, the admin API found in the Keystone catalog (service type `cascade`)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcloud.layout import Layout
from tests.integration.conftest import DEVCLOUD_DIR, connect

pytestmark = pytest.mark.integration
OPENSTACK = DEVCLOUD_DIR / "venv" / "bin" / "openstack"


def cli(clouds_yaml: Path, cloud: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OPENSTACK), "--os-cloud", cloud, "cascade", *args],
        env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds_yaml)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def admin(clouds_yaml: Path, *args: str) -> Any:
    """The command's `-f json` output, as the admin of the top."""
    result = cli(clouds_yaml, "cascade-admin", *args, "-f", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def project(clouds_yaml: Path) -> Iterator[str]:
    """A throwaway project of the top's Keystone (its bindings are this test's own)."""
    conn = connect("cascade-admin")
    made = conn.create_project(f"cli-{uuid.uuid4().hex[:8]}", domain_id="default")
    yield str(made.id)
    conn.delete_project(made.id)
    conn.close()


def test_pod_list_shows_the_pods_with_their_az(clouds_yaml: Path) -> None:
    pods = {p["Name"]: p for p in admin(clouds_yaml, "pod", "list")}
    assert {"pod1", "pod2"} <= set(pods)
    assert pods["pod1"]["AZ"] and pods["pod2"]["AZ"]
    assert pods["pod1"]["Health"] in ("up", "down", "unknown", "degraded")


def test_pod_show_by_name_every_field(clouds_yaml: Path) -> None:
    listed = {p["Name"]: p for p in admin(clouds_yaml, "pod", "list")}
    shown = admin(clouds_yaml, "pod", "show", "pod1")
    assert shown["id"] == listed["pod1"]["ID"]
    assert shown["name"] == "pod1"
    assert shown["az"] == listed["pod1"]["AZ"]
    assert isinstance(shown["health"], dict) and "state" in shown["health"]


def test_endpoint_override(clouds_yaml: Path) -> None:
    url = Layout(DEVCLOUD_DIR).url("cascade") + "/v1"
    names = [p["Name"] for p in admin(clouds_yaml, "--os-cascade-url", url, "pod", "list")]
    assert "pod1" in names


def test_binding_create_list_delete(clouds_yaml: Path, project: str) -> None:
    az = admin(clouds_yaml, "pod", "show", "pod1")["az"]
    made = admin(
        clouds_yaml, "binding", "create", "--project", project, "--az", az, "--pod", "pod1"
    )
    assert (made["project_id"], made["az"]) == (project, az)
    listed = admin(clouds_yaml, "binding", "list", "--project", project)
    assert [b["ID"] for b in listed] == [made["id"]]
    deleted = cli(clouds_yaml, "cascade-admin", "binding", "delete", made["id"])
    assert deleted.returncode == 0, deleted.stderr
    assert admin(clouds_yaml, "binding", "list", "--project", project) == []


def test_routing_list_limit(clouds_yaml: Path) -> None:
    rows = admin(clouds_yaml, "routing", "list", "--limit", "5")
    assert len(rows) <= 5
    for row in rows:
        assert {"ID", "Resource Type", "Top ID", "Pod ID", "Status"} <= set(row)


def test_job_list_ids(clouds_yaml: Path) -> None:
    result = cli(
        clouds_yaml, "cascade-admin", "job", "list", "-f", "value", "-c", "id", "--limit", "3"
    )
    assert result.returncode == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) <= 3
    assert all(uuid.UUID(i) for i in ids)


def test_unknown_pod_is_the_apis_404(clouds_yaml: Path) -> None:
    result = cli(clouds_yaml, "cascade-admin", "pod", "show", "nope")
    assert result.returncode != 0
    assert "no pod with id nope (HTTP 404)" in result.stderr


def test_non_admin_gets_the_403(clouds_yaml: Path) -> None:
    result = cli(clouds_yaml, "cascade", "pod", "list")
    assert result.returncode != 0
    assert "policy does not allow cascade:pods:list" in result.stderr
    assert "(HTTP 403)" in result.stderr


def test_job_list_newest_first(clouds_yaml: Path) -> None:
    """`--sort-dir desc`: the newest jobs first, as the API's `sort_dir=desc` pages them."""
    newest = admin(clouds_yaml, "job", "list", "--sort-dir", "desc", "--limit", "3", "--long")
    assert newest
    stamps = [row["Created At"] for row in newest]
    assert stamps == sorted(stamps, reverse=True)
    oldest = admin(clouds_yaml, "job", "list", "--limit", "1", "--long")
    assert oldest[0]["Created At"] <= stamps[-1]
