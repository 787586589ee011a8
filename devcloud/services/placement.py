"""Placement: one per pod (each pod's Nova schedules against its own inventory)."""

from __future__ import annotations

from devcloud.commands import run
from devcloud.ini import render, write_if_changed
from devcloud.layout import Layout, Pod
from devcloud.proc import Proc
from devcloud.services.common import authtoken, once, uwsgi_proc


def databases(pod: Pod) -> list[str]:
    return [f"{pod.name}_placement"]


def _conf(layout: Layout, pod: Pod) -> str:
    return render(
        {
            "api": {"auth_strategy": "keystone"},
            "keystone_authtoken": authtoken(layout.identity_url(pod), "placement", pod.region),
            "placement_database": {"connection": layout.db_url(f"{pod.name}_placement")},
        }
    )


def configure(layout: Layout, pod: Pod) -> bool:
    home = layout.pod_home(pod, "placement")
    return write_if_changed(home / "placement.conf", _conf(layout, pod))


async def setup(layout: Layout, pod: Pod) -> None:
    home = layout.pod_home(pod, "placement")

    async def step() -> None:
        await run(
            [
                layout.vbin("placement-manage"),
                "--config-file",
                str(home / "placement.conf"),
                "db",
                "sync",
            ],
            service=f"{pod.name}-placement",
            log=layout.log / f"{pod.name}-placement-setup.log",
        )

    await once(layout, home / ".setup-done", databases(pod), step)


def procs(layout: Layout, pod: Pod) -> list[Proc]:
    return [
        uwsgi_proc(
            layout,
            f"{pod.name}-placement",
            port=layout.pod_port(pod, "placement"),
            module="placement.wsgi.api:application",
            tier="pod",
            env={"OS_PLACEMENT_CONFIG_DIR": str(layout.pod_home(pod, "placement"))},
        )
    ]
