"""clouds.yaml for openstacksdk and the `openstack` CLI, and the shell environment to use it."""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from devcloud.ini import write_if_changed
from devcloud.layout import PASSWORD, TOP_REGION, Layout, Pod

# suffix -> (user, project): `pod1` is the demo user, `pod1-admin` the admin, `pod1-alt` alt_demo
ACCOUNTS = {"": ("demo", "demo"), "-admin": ("admin", "admin"), "-alt": ("alt_demo", "alt_demo")}


def clouds(layout: Layout, pods: list[Pod]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for region in [*(p.region for p in pods), TOP_REGION]:
        for suffix, (user, project) in ACCOUNTS.items():
            entries[region + suffix] = {
                "auth": {
                    "auth_url": layout.auth_url,
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
    return {"clouds": entries}


def write(layout: Layout, pods: list[Pod]) -> None:
    header = "# written by `devcloud up`; entries: <region>, <region>-admin, <region>-alt\n"
    write_if_changed(layout.clouds_yaml, header + yaml.safe_dump(clouds(layout, pods)))


def env(layout: Layout) -> str:
    """Shell lines that make the `openstack` CLI find the devcloud (`eval "$(devcloud env)"`)."""
    return (
        f"export OS_CLIENT_CONFIG_FILE={shlex.quote(str(layout.clouds_yaml))}\n"
        f'export PATH={shlex.quote(str(layout.bin))}:"$PATH"\n'
    )
