"""Glance (file store): the one shared by every shared pod, in the catalog of each, and an
independent pod's own (`pod` given: its folders, database and port, tokens of the pod's
own Keystone; it starts empty)."""

from __future__ import annotations

from devcloud.commands import run
from devcloud.ini import render, write_if_changed
from devcloud.layout import Layout, Pod
from devcloud.proc import Proc
from devcloud.services import keystone
from devcloud.services.common import (
    authtoken,
    once,
    prepare_home,
    scoped_database,
    scoped_name,
    uwsgi_proc,
)

SERVICE = "glance"


def databases(pod: Pod | None = None) -> list[str]:
    return [scoped_database(SERVICE, pod)]


def _conf(layout: Layout, pod: Pod | None) -> str:
    home = layout.service_home(SERVICE, pod)
    # the Keystone beside this Glance: the shared one, or the independent pod's own
    identity = layout.service_url("keystone", pod)
    return render(
        {
            "DEFAULT": {
                "enabled_backends": "fs:file",
                "worker_self_reference_url": layout.service_url(SERVICE, pod),
            },
            "glance_store": {"default_backend": "fs"},
            "fs": {"filesystem_store_datadir": str(home / "images")},
            "os_glance_staging_store": {"filesystem_store_datadir": str(home / "staging")},
            "os_glance_tasks_store": {"filesystem_store_datadir": str(home / "tasks")},
            "database": {"connection": layout.db_url(databases(pod)[0])},
            "keystone_authtoken": authtoken(identity, "glance", keystone.region(pod)),
            "paste_deploy": {
                "flavor": "keystone",
                "config_file": str(home / "glance-api-paste.ini"),
            },
            "oslo_concurrency": {"lock_path": str(home / "locks")},
        }
    )


def configure(layout: Layout, pod: Pod | None = None) -> bool:
    home = layout.service_home(SERVICE, pod)
    prepare_home(
        layout, home, "glance", ("images", "staging", "tasks", "locks"), ("glance-api-paste.ini",)
    )
    return write_if_changed(home / "glance-api.conf", _conf(layout, pod))


async def setup(layout: Layout, pod: Pod | None = None) -> None:
    home = layout.service_home(SERVICE, pod)
    manage = [layout.vbin("glance-manage"), "--config-file", str(home / "glance-api.conf")]
    service = scoped_name(SERVICE, pod)
    log = layout.log / f"{service}-setup.log"

    async def step() -> None:
        await run([*manage, "db_sync"], service=service, log=log)
        # the metadata definitions Glance ships (tempest's metadefs tests read the resource
        # types they define); namespaces already loaded are skipped
        metadefs = layout.venv / "etc" / "glance" / "metadefs"
        await run([*manage, "db_load_metadefs", str(metadefs)], service=service, log=log)

    await once(layout, home / ".setup-done", databases(pod), step)


def procs(layout: Layout, pod: Pod | None = None) -> list[Proc]:
    home = layout.service_home(SERVICE, pod)
    return [
        uwsgi_proc(
            layout,
            scoped_name(SERVICE, pod),
            port=layout.service_port(SERVICE, pod),
            module="glance.wsgi.api:application",
            tier="shared" if pod is None else "pod",
            env={"OS_GLANCE_CONFIG_DIR": str(home)},
            extra=("--http-chunked-input", "--http-raw-body"),
        )
    ]
