"""clouds.yaml for openstacksdk and the `openstack` CLI, and the shell environment to use it."""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from devcloud.ini import write_if_changed
from devcloud.layout import PASSWORD, TOP_REGION, Layout, Pod

# suffix -> (user, project): `pod1` is the demo user, `pod1-admin` the admin, `pod1-alt` alt_demo
ACCOUNTS = {"": ("demo", "demo"), "-admin": ("admin", "admin"), "-alt": ("alt_demo", "alt_demo")}


def _entry(auth_url: str, region: str, user: str, project: str) -> dict[str, Any]:
    return {
        "auth": {
            "auth_url": auth_url,
            "username": user,
            "password": PASSWORD,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "region_name": region,
        "identity_api_version": 3,
        "interface": "public",
    }


def clouds(layout: Layout, pods: list[Pod]) -> dict[str, Any]:
    """Every account of the shared Keystone for the top and each shared pod, and the
    admin of each independent pod's own Keystone (`podN-admin`, the only account there
    a person uses; Cascade makes the pod's projects)."""
    entries: dict[str, Any] = {}
    shared = [p.region for p in pods if not p.independent]
    for region in [*shared, TOP_REGION]:
        for suffix, (user, project) in ACCOUNTS.items():
            entries[region + suffix] = _entry(layout.auth_url, region, user, project)
    for pod in pods:
        if pod.independent:
            user, project = ACCOUNTS["-admin"]
            entries[f"{pod.region}-admin"] = _entry(
                layout.pod_auth_url(pod), pod.region, user, project
            )
    return {"clouds": entries}


def write(layout: Layout, pods: list[Pod]) -> None:
    header = (
        "# written by `devcloud up`; entries: <region>, <region>-admin, <region>-alt"
        " (an independent pod: <region>-admin, on its own Keystone)\n"
    )
    write_if_changed(layout.clouds_yaml, header + yaml.safe_dump(clouds(layout, pods)))


def env(layout: Layout) -> str:
    """Shell lines that make the `openstack` CLI find the devcloud (`eval "$(devcloud env)"`)."""
    return (
        f"export OS_CLIENT_CONFIG_FILE={shlex.quote(str(layout.clouds_yaml))}\n"
        f'export PATH={shlex.quote(str(layout.bin))}:"$PATH"\n'
    )
