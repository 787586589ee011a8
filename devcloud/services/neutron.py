"""Neutron: the API server with ML2 (flat + vlan), routers and security groups, no agents, per pod.

All pods share the physical network `physnet1`. Each pod allocates its own
tenant VLANs from `TENANT_VLANS`; ids outside that range stay free for
provider networks whose id the top chooses (the same id in every pod, so the
L2 segment spans pods). The flat physical network `external` carries each
pod's own external network.
"""

from __future__ import annotations

from devcloud.commands import run
from devcloud.ini import render, write_if_changed
from devcloud.layout import Layout, Pod
from devcloud.proc import Proc
from devcloud.services.common import authtoken, once, prepare_home, service_auth, uwsgi_proc

PHYSNET = "physnet1"
TENANT_VLANS = (100, 199)
EXTERNAL_PHYSNET = "external"
MECHANISM_DRIVER = "bindall"  # devcloud/ml2_bindall: binds every port, no agents needed


def databases(pod: Pod) -> list[str]:
    return [f"{pod.name}_neutron"]


def _conf(layout: Layout, pod: Pod) -> str:
    home = layout.pod_home(pod, "neutron")
    return render(
        {
            "DEFAULT": {
                "core_plugin": "ml2",
                "service_plugins": "router",
                "auth_strategy": "keystone",
                "transport_url": layout.transport_url(pod),
                "api_paste_config": str(home / "api-paste.ini"),
                "state_path": str(home / "state"),
                "notify_nova_on_port_status_changes": True,
                "notify_nova_on_port_data_changes": True,
                # no DHCP or L3 agents exist: do not send them RPC casts
                "dhcp_agent_notification": False,
                "api_workers": 1,
                "rpc_workers": 0,
            },
            "database": {"connection": layout.db_url(f"{pod.name}_neutron")},
            "keystone_authtoken": authtoken(layout.identity_url(pod), "neutron", pod.region),
            "nova": service_auth(layout.identity_url(pod), "nova", pod.region),
            "oslo_concurrency": {"lock_path": str(home / "locks")},
        }
    )


def _ml2_conf() -> str:
    low, high = TENANT_VLANS
    return render(
        {
            "ml2": {
                "type_drivers": "flat,vlan",
                "tenant_network_types": "vlan",
                "mechanism_drivers": MECHANISM_DRIVER,
                "extension_drivers": "port_security",
            },
            "ml2_type_flat": {"flat_networks": EXTERNAL_PHYSNET},
            "ml2_type_vlan": {"network_vlan_ranges": f"{PHYSNET}:{low}:{high}"},
        }
    )


def configure(layout: Layout, pod: Pod) -> bool:
    home = layout.pod_home(pod, "neutron")
    prepare_home(layout, home, "neutron", ("state", "locks"), ("api-paste.ini",))
    changed = write_if_changed(home / "neutron.conf", _conf(layout, pod))
    return write_if_changed(home / "plugins" / "ml2" / "ml2_conf.ini", _ml2_conf()) or changed


async def setup(layout: Layout, pod: Pod) -> None:
    home = layout.pod_home(pod, "neutron")

    async def step() -> None:
        await run(
            [
                layout.vbin("neutron-db-manage"),
                "--config-file",
                str(home / "neutron.conf"),
                "--config-file",
                str(home / "plugins" / "ml2" / "ml2_conf.ini"),
                "upgrade",
                "head",
            ],
            service=f"{pod.name}-neutron",
            log=layout.log / f"{pod.name}-neutron-setup.log",
        )

    await once(layout, home / ".setup-done", databases(pod), step)


def procs(layout: Layout, pod: Pod) -> list[Proc]:
    home = layout.pod_home(pod, "neutron")
    return [
        uwsgi_proc(
            layout,
            f"{pod.name}-neutron-api",
            port=layout.pod_port(pod, "neutron"),
            module="neutron.wsgi.api:application",
            tier="pod",
            env={
                "OS_NEUTRON_CONFIG_DIR": str(home),
                "OS_NEUTRON_CONFIG_FILES": "neutron.conf;plugins/ml2/ml2_conf.ini",
            },
        )
    ]
