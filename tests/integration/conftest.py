"""Integration fixtures: a real devcloud, reused when it runs, brought up when it does not."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openstack
import pytest
from openstack.connection import Connection

CHECKOUT = Path(__file__).resolve().parents[2]
DEVCLOUD_DIR = Path(os.environ.get("DEVCLOUD_DIR", CHECKOUT / ".devcloud"))
PODS = ("pod1", "pod2")


def devcloud(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devcloud", "--dir", str(DEVCLOUD_DIR), *args],
        cwd=CHECKOUT,
        text=True,
        capture_output=True,
        check=False,
    )


@pytest.fixture(scope="session")
def clouds_yaml() -> Path:
    """Run `devcloud up`: it starts the devcloud, repairs a broken one, restarts
    cascade-api when Cascade's code changed, and only looks (seconds) otherwise."""
    # CASCADE_DEVCLOUD_REUSE=1: use the running devcloud as it is (no `up`, so no restart
    # of cascade-api), for a checkout other than the one the devcloud runs from
    result = (
        subprocess.CompletedProcess([], 0, "", "")
        if os.environ.get("CASCADE_DEVCLOUD_REUSE") == "1"
        else devcloud("up")
    )
    if result.returncode != 0:
        pytest.fail(f"devcloud up failed:\n{result.stdout}\n{result.stderr}")
    path = DEVCLOUD_DIR / "clouds.yaml"
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(path)
    return path


def connect(cloud: str) -> Connection:
    return openstack.connect(cloud=cloud, compute_api_version="2.79")


@pytest.fixture(scope="session")
def conns(clouds_yaml: Path) -> Iterator[dict[str, Connection]]:
    made = {
        f"{pod}{suffix}": connect(f"{pod}{suffix}")
        for pod in PODS
        for suffix in ("", "-admin", "-alt")
    }
    yield made
    for conn in made.values():
        conn.close()


@pytest.fixture(scope="module")
def top(clouds_yaml: Path) -> Iterator[dict[str, Connection]]:
    """The demo, admin and alt_demo users at the top (the `cascade` region)."""
    made = {name: connect(name) for name in ("cascade", "cascade-admin", "cascade-alt")}
    yield made
    for conn in made.values():
        conn.close()
