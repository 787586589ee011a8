"""Nova: API, conductor, scheduler and one nova-compute with the fake virt driver, per pod."""

from __future__ import annotations

import asyncio

from devcloud.commands import run
from devcloud.errors import DevcloudError
from devcloud.ini import render, write_if_changed
from devcloud.layout import Layout, Pod
from devcloud.proc import Proc
from devcloud.services.common import authtoken, once, prepare_home, service_auth, uwsgi_proc


def databases(pod: Pod) -> list[str]:
    return [f"{pod.name}_nova_api", f"{pod.name}_nova_cell0", f"{pod.name}_nova"]


# The devcloud's own starters (devcloud/fakedrivers), by Nova binary
STARTERS = {"compute": "devcloud-nova-compute"}


def compute_host(pod: Pod) -> str:
    return f"{pod.name}-compute"


def _conf(layout: Layout, pod: Pod) -> str:
    home = layout.pod_home(pod, "nova")
    auth = service_auth(layout.identity_url(pod), "nova", pod.region)
    return render(
        {
            "DEFAULT": {
                "transport_url": layout.transport_url(pod),
                # FakeDriver keeps no compute_id file and so cannot be restarted;
                # FakeDriverWithoutFakeNodes can, and the devcloud's subclass of it
                # (devcloud/fakedrivers) uploads a snapshot's image data as libvirt does;
                # `devcloud-nova-compute` puts it into nova.virt.fake, where Nova looks
                "compute_driver": "fake.SnapshotFakeDriver",
                "host": compute_host(pod),
                "my_ip": "127.0.0.1",
                "state_path": str(home / "state"),
                "instances_path": str(home / "state" / "instances"),
                # hosts outside any aggregate are in this AZ: the pod's own AZ name
                "default_availability_zone": pod.az,
                # one compute host per pod: resize and migrate can only stay on it
                "allow_resize_to_same_host": True,
            },
            "api": {"auth_strategy": "keystone"},
            "wsgi": {"api_paste_config": str(home / "api-paste.ini")},
            "api_database": {"connection": layout.db_url(f"{pod.name}_nova_api")},
            "database": {"connection": layout.db_url(f"{pod.name}_nova")},
            "keystone_authtoken": authtoken(layout.identity_url(pod), "nova", pod.region),
            "placement": auth,
            "neutron": auth,
            "cinder": {**auth, "os_region_name": pod.region},
            # found in the catalog of the Keystone that serves the pod: the shared
            # Glance for a shared pod, an independent pod's own Glance in its own catalog
            "glance": {"region_name": pod.region},
            # Cinder lets Nova delete a volume attachment only when Nova sends a service token.
            "service_user": {"send_service_user_token": True, **auth},
            "scheduler": {"workers": 1},
            "conductor": {"workers": 1},
            "oslo_concurrency": {"lock_path": str(home / "locks")},
            "vnc": {"enabled": False},
            "os_vif_ovs": {"ovsdb_connection": "tcp:127.0.0.1:6640"},
        }
    )


def configure(layout: Layout, pod: Pod) -> bool:
    home = layout.pod_home(pod, "nova")
    prepare_home(layout, home, "nova", ("state/instances", "locks"), ("api-paste.ini",))
    return write_if_changed(home / "nova.conf", _conf(layout, pod))


def _manage(layout: Layout, pod: Pod) -> list[str]:
    conf = layout.pod_home(pod, "nova") / "nova.conf"
    return [layout.vbin("nova-manage"), "--config-file", str(conf)]


async def setup(layout: Layout, pod: Pod) -> None:
    """Migrate the API and cell databases and map cell0 and cell1."""
    manage = _manage(layout, pod)
    service = f"{pod.name}-nova"
    log = layout.log / f"{pod.name}-nova-setup.log"

    async def step() -> None:
        await run([*manage, "api_db", "sync"], service=service, log=log)
        cell0 = layout.db_url(f"{pod.name}_nova_cell0")
        await run(
            [*manage, "cell_v2", "map_cell0", "--database_connection", cell0],
            service=service,
            log=log,
        )
        cells = await run([*manage, "cell_v2", "list_cells"], service=service, log=log)
        if " cell1 " not in cells:
            await run(
                [*manage, "cell_v2", "create_cell", "--name", "cell1"], service=service, log=log
            )
        await run([*manage, "db", "sync"], service=service, log=log)

    await once(layout, layout.pod_home(pod, "nova") / ".setup-done", databases(pod), step)


async def discover_host(layout: Layout, pod: Pod, timeout: float = 120.0) -> None:
    """Map the pod's compute host into cell1 so the scheduler can use it.

    Call it once nova-compute has created its compute node (the hypervisor
    shows in the API); retries until `list_hosts` shows the host.
    """
    manage = _manage(layout, pod)
    service = f"{pod.name}-nova-compute"
    log = layout.log / f"{pod.name}-nova-setup.log"
    host = compute_host(pod)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await run([*manage, "cell_v2", "discover_hosts", "--verbose"], service=service, log=log)
        hosts = await run([*manage, "cell_v2", "list_hosts"], service=service, log=log)
        if f" {host} " in hosts:
            return
        if loop.time() > deadline:
            raise DevcloudError(
                service,
                f"compute host {host} was not mapped to a cell within {timeout:.0f} s",
                layout.log / f"{service}.log",
            )
        await asyncio.sleep(1)


def procs(layout: Layout, pod: Pod) -> list[Proc]:
    home = layout.pod_home(pod, "nova")
    conf = ("--config-file", str(home / "nova.conf"))
    api = uwsgi_proc(
        layout,
        f"{pod.name}-nova-api",
        port=layout.pod_port(pod, "nova"),
        module="nova.wsgi.osapi_compute:application",
        tier="pod",
        # nova-api reads api-paste.ini and nova.conf from this folder
        env={"OS_NOVA_CONFIG_DIR": str(home)},
    )
    daemons = [
        Proc(
            name=f"{pod.name}-nova-{binary}",
            # nova-compute through the starter that registers the devcloud's driver
            argv=(layout.vbin(STARTERS.get(binary, f"nova-{binary}")), *conf),
            tier="pod",
        )
        for binary in ("conductor", "scheduler", "compute")
    ]
    return [api, *daemons]
