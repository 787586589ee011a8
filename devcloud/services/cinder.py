"""Cinder: API, scheduler and volume with a driver that needs no storage, per pod.

The driver is the devcloud's `ImageFakeVolumeDriver` (devcloud/fakedrivers), on
`cinder.tests.fake_driver.FakeLoggingVolumeDriver` shipped in Cinder's wheel: an LVM
driver whose commands do nothing, with unlimited capacity. Create, attach, detach,
snapshot and extend work; a volume from an image reads the image and keeps nothing, and
an upload to an image sends a small raw disk (the real ones need qemu-img and a block
device).
"""

from __future__ import annotations

from devcloud.commands import run
from devcloud.ini import render, write_if_changed
from devcloud.layout import Layout, Pod
from devcloud.proc import Proc
from devcloud.services.common import authtoken, once, prepare_home, service_auth, uwsgi_proc

BACKEND = "fake"


def databases(pod: Pod) -> list[str]:
    return [f"{pod.name}_cinder"]


def _conf(layout: Layout, pod: Pod) -> str:
    home = layout.pod_home(pod, "cinder")
    return render(
        {
            "DEFAULT": {
                "transport_url": layout.transport_url(pod),
                "auth_strategy": "keystone",
                "api_paste_config": str(home / "api-paste.ini"),
                "resource_query_filters_file": str(home / "resource_filters.json"),
                "state_path": str(home / "state"),
                "host": f"{pod.name}-volume",
                "my_ip": "127.0.0.1",
                "enabled_backends": BACKEND,
                "osapi_volume_workers": 1,
                # The scheduler places volumes only on back-ends whose capabilities it has
                # heard; report them at once and often, not after up to two minutes.
                "periodic_interval": 10,
                "periodic_fuzzy_delay": 0,
                "storage_availability_zone": pod.az,
                "default_availability_zone": pod.az,
                # the pod's Glance (the shared one, or an independent pod's own),
                # without a catalog lookup
                "glance_api_servers": layout.image_url(pod),
            },
            "database": {"connection": layout.db_url(f"{pod.name}_cinder")},
            "keystone_authtoken": authtoken(layout.identity_url(pod), "cinder", pod.region),
            "nova": service_auth(layout.identity_url(pod), "nova", pod.region),
            "oslo_concurrency": {"lock_path": str(home / "locks")},
            "coordination": {"backend_url": f"file://{home / 'coordination'}"},
            BACKEND: {
                "volume_driver": "devcloud_fakevolume.ImageFakeVolumeDriver",
                "volume_backend_name": BACKEND,
            },
        }
    )


def configure(layout: Layout, pod: Pod) -> bool:
    home = layout.pod_home(pod, "cinder")
    prepare_home(
        layout,
        home,
        "cinder",
        ("state", "locks", "coordination"),
        ("api-paste.ini", "resource_filters.json"),
    )
    return write_if_changed(home / "cinder.conf", _conf(layout, pod))


async def setup(layout: Layout, pod: Pod) -> None:
    home = layout.pod_home(pod, "cinder")

    async def step() -> None:
        await run(
            [
                layout.vbin("cinder-manage"),
                "--config-file",
                str(home / "cinder.conf"),
                "db",
                "sync",
            ],
            service=f"{pod.name}-cinder",
            log=layout.log / f"{pod.name}-cinder-setup.log",
        )

    await once(layout, home / ".setup-done", databases(pod), step)


def procs(layout: Layout, pod: Pod) -> list[Proc]:
    conf = str(layout.pod_home(pod, "cinder") / "cinder.conf")
    api = uwsgi_proc(
        layout,
        f"{pod.name}-cinder-api",
        port=layout.pod_port(pod, "cinder"),
        module="cinder.wsgi.api:application",
        tier="pod",
        extra=("--pyargv", f"--config-file {conf}"),
    )
    daemons = [
        Proc(
            name=f"{pod.name}-cinder-{b}",
            argv=(layout.vbin(f"cinder-{b}"), "--config-file", conf),
            tier="pod",
        )
        for b in ("scheduler", "volume")
    ]
    return [api, *daemons]
