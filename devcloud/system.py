"""What the devcloud needs from the machine: Debian packages and the OpenStack virtualenv."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
from pathlib import Path

from devcloud.commands import run
from devcloud.errors import DevcloudError
from devcloud.layout import Layout

HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE / "constraints.txt"
ML2_DRIVER = HERE / "ml2_bindall"
# Nova's and Cinder's fake drivers that move image data (snapshots, volumes from images)
FAKE_DRIVERS = HERE / "fakedrivers"
# the devcloud's own packages, installed into the OpenStack virtualenv
PLUGINS = (ML2_DRIVER, FAKE_DRIVERS)
# `openstack cascade ...` (docs/cli.md), installed editable into the same virtualenv: its
# code is read from the checkout, so only its pyproject.toml (the commands) asks for a reinstall
CASCADECLIENT = HERE.parent / "python-cascadeclient"

# Debian package -> a file it installs that the devcloud runs.
APT_PACKAGES = {
    "mariadb-server": "/usr/sbin/mariadbd",
    "mariadb-client": "/usr/bin/mariadb",
    "rabbitmq-server": "/usr/lib/rabbitmq/bin/rabbitmq-server",
    # cascade-api replicas behind a load balancer (tests/integration/test_replicas.py)
    "haproxy": "/usr/sbin/haproxy",
    # ApacheBench: the load of `bench --scale`'s throughput figures, in C (a Python client
    # would spend the cores the replicas are measured on)
    "apache2-utils": "/usr/bin/ab",
    # the browser of the Horizon tests (tests/integration/test_horizon*.py), with Selenium
    "chromium": "/usr/bin/chromium",
    "chromium-driver": "/usr/bin/chromedriver",
}
# The units the packages enable; the devcloud starts its own instances instead.
SYSTEM_UNITS = (
    "mariadb.service",
    "rabbitmq-server.service",
    "epmd.service",
    "epmd.socket",
    "haproxy.service",
)

# Everything the OpenStack services need, pinned by constraints.txt.
OPENSTACK_REQUIREMENTS = (
    "keystone",
    "glance",
    "openstack-placement",
    "nova",
    "neutron",
    "cinder",
    "tempest",
    "python-openstackclient",
    "uWSGI",
    "PyMySQL",
)
# What `devcloud sdk` and `devcloud ansible` run in the same virtualenv, pinned by
# constraints.txt too: openstacksdk's functional tests need oslotest (the SDK itself and its
# tests come with the pinned openstacksdk), the playbook ansible-core with the collections
# package (openstack.cloud is one of them). Installed by those commands, not by `up`.
CLIENT_REQUIREMENTS = ("oslotest", "ansible")
# The dashboard (devcloud/services/horizon.py), pinned by constraints.txt too, and Cascade's
# dashboard plugin, installed editable from the checkout like the CLI plugin.
HORIZON_REQUIREMENTS = ("horizon",)
DASHBOARD = HERE.parent / "cascade-dashboard"
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def missing_packages() -> list[str]:
    return [pkg for pkg, path in APT_PACKAGES.items() if not Path(path).exists()]


async def ensure_packages(layout: Layout) -> None:
    """Install the Debian packages that are missing, without starting or enabling their daemons."""
    missing = missing_packages()
    if not missing:
        return
    log = layout.log / "apt.log"
    if os.geteuid() != 0:
        raise DevcloudError(
            "apt", f"Debian packages missing: {' '.join(missing)}; install them as root", None
        )
    # policy-rc.d forbids the maintainer scripts to start the packaged daemons.
    own_policy = not POLICY_RC_D.exists()
    if own_policy:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        await run(["apt-get", "update", "-q"], service="apt", log=log, env=env, heavy=False)
        await run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            service="apt",
            log=log,
            env=env,
            heavy=False,
        )
    except DevcloudError as exc:
        raise DevcloudError(
            "apt", f"installing Debian packages {', '.join(missing)} failed ({exc.message})", log
        ) from exc
    finally:
        if own_policy:
            POLICY_RC_D.unlink(missing_ok=True)
    if shutil.which("systemctl"):
        # Installing enabled the system units; a devcloud must not leave boot-time daemons behind.
        # (without systemd nothing was enabled for real, and the call may fail: fine)
        with contextlib.suppress(DevcloudError):
            await run(["systemctl", "disable", *SYSTEM_UNITS], service="apt", log=log, heavy=False)
    still = missing_packages()
    if still:
        raise DevcloudError("apt", f"packages still missing after install: {still}", log)


def venv_fingerprint() -> str:
    """Changes whenever the pinned versions or the devcloud's own drivers change."""
    digest = hashlib.sha256(CONSTRAINTS.read_bytes())
    digest.update(" ".join(OPENSTACK_REQUIREMENTS).encode())
    for plugin in PLUGINS:
        for path in sorted(plugin.iterdir()):
            if path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


async def ensure_venv(layout: Layout) -> bool:
    """Create or update the OpenStack virtualenv and the CLI plugin in it; True if anything
    was installed."""
    installed = await _ensure_openstack(layout)
    installed = await ensure_cli_plugin(layout) or installed
    return await ensure_horizon(layout) or installed


async def _pip_once(
    layout: Layout, stamp_name: str, want: str, args: list[str], timeout: float
) -> bool:
    """`pip install ARGS` into the OpenStack virtualenv unless the fingerprint `want` is
    the one its stamp file (`stamp_name`, in the virtualenv) kept from the last install;
    True if installed now (the stamp written after, so a failed install runs again)."""
    stamp = layout.venv / stamp_name
    if stamp.exists() and stamp.read_text() == want:
        return False
    if not (layout.venv / "bin" / "python").exists():
        raise DevcloudError("venv", f"no OpenStack virtualenv at {layout.venv}: run `up`", None)
    pip = [layout.vbin("python"), "-m", "pip", "--disable-pip-version-check"]
    await run(
        [*pip, "install", "-q", *args],
        service="venv",
        log=layout.log / "venv.log",
        timeout=timeout,
        heavy=False,
    )
    stamp.write_text(want)
    return True


async def _ensure_openstack(layout: Layout) -> bool:
    """The OpenStack services and clients, pinned, with PLUGINS; True if installed now."""
    if not (layout.venv / "bin" / "python").exists():
        log = layout.log / "venv.log"
        await run([sys.executable, "-m", "venv", str(layout.venv)], service="venv", log=log)
    args = ["-c", str(CONSTRAINTS), *OPENSTACK_REQUIREMENTS, *map(str, PLUGINS)]
    if not await _pip_once(layout, ".devcloud-fingerprint", venv_fingerprint(), args, 1800):
        return False
    layout.bin.mkdir(parents=True, exist_ok=True)
    cli = layout.bin / "openstack"
    cli.unlink(missing_ok=True)
    cli.symlink_to(layout.venv / "bin" / "openstack")
    return True


async def ensure_cli_plugin(layout: Layout) -> bool:
    """Install python-cascadeclient editable (see `_ensure_editable`); True if installed now."""
    return await _ensure_editable(layout, CASCADECLIENT, ".devcloud-cascadeclient-fingerprint")


async def _ensure_editable(layout: Layout, source: Path, stamp: str) -> bool:
    """Install the checkout's package at `source` editable, without dependencies (osc-lib,
    keystoneauth and Horizon come with the OpenStack packages), once per change of its
    pyproject.toml; True if installed now. A devcloud run from an installed Cascade has
    no checkout to install from."""
    project = source / "pyproject.toml"
    if not project.exists():
        return False
    digest = hashlib.sha256(project.read_bytes())
    digest.update(str(source).encode())  # a checkout elsewhere: its code, not ours
    args = ["--no-deps", "-e", str(source)]
    return await _pip_once(layout, stamp, digest.hexdigest(), args, 600)


async def _ensure_pinned(layout: Layout, requirements: tuple[str, ...], stamp: str) -> bool:
    """Install `requirements` into the OpenStack virtualenv with its constraints, once per
    change of either; True if installed now."""
    digest = hashlib.sha256(CONSTRAINTS.read_bytes())
    digest.update(" ".join(requirements).encode())
    args = ["-c", str(CONSTRAINTS), *requirements]
    return await _pip_once(layout, stamp, digest.hexdigest(), args, 1800)


async def ensure_horizon(layout: Layout) -> bool:
    """Install Horizon, pinned, and the Cascade dashboard plugin (editable, without
    dependencies: Horizon and python-cascadeclient are there); True if anything was
    installed now."""
    installed = await _ensure_pinned(layout, HORIZON_REQUIREMENTS, ".devcloud-horizon-fingerprint")
    plugin = await _ensure_editable(layout, DASHBOARD, ".devcloud-dashboard-fingerprint")
    return plugin or installed


async def ensure_clients(layout: Layout) -> bool:
    """Install CLIENT_REQUIREMENTS into the OpenStack virtualenv (made by `up`), pinned;
    True if anything was installed."""
    return await _ensure_pinned(layout, CLIENT_REQUIREMENTS, ".devcloud-clients-fingerprint")
