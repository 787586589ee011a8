"""Glance: one image service (file store), shared by every pod, in the catalog of each pod."""

from __future__ import annotations

from devcloud.commands import run
from devcloud.ini import render, write_if_changed
from devcloud.layout import TOP_REGION, Layout
from devcloud.proc import Proc
from devcloud.services.common import authtoken, once, prepare_home, uwsgi_proc

DATABASES = ["glance"]


def _conf(layout: Layout) -> str:
    home = layout.home("glance")
    return render(
        {
            "DEFAULT": {
                "enabled_backends": "fs:file",
                "worker_self_reference_url": layout.url("glance"),
            },
            "glance_store": {"default_backend": "fs"},
            "fs": {"filesystem_store_datadir": str(home / "images")},
            "os_glance_staging_store": {"filesystem_store_datadir": str(home / "staging")},
            "os_glance_tasks_store": {"filesystem_store_datadir": str(home / "tasks")},
            "database": {"connection": layout.db_url("glance")},
            "keystone_authtoken": authtoken(layout, "glance", TOP_REGION),
            "paste_deploy": {
                "flavor": "keystone",
                "config_file": str(home / "glance-api-paste.ini"),
            },
            "oslo_concurrency": {"lock_path": str(home / "locks")},
        }
    )


def configure(layout: Layout) -> bool:
    home = layout.home("glance")
    prepare_home(
        layout, home, "glance", ("images", "staging", "tasks", "locks"), ("glance-api-paste.ini",)
    )
    return write_if_changed(home / "glance-api.conf", _conf(layout))


async def setup(layout: Layout) -> None:
    home = layout.home("glance")
    manage = [layout.vbin("glance-manage"), "--config-file", str(home / "glance-api.conf")]

    log = layout.log / "glance-setup.log"

    async def step() -> None:
        await run([*manage, "db_sync"], service="glance", log=log)
        # the metadata definitions Glance ships (tempest's metadefs tests read the resource
        # types they define); namespaces already loaded are skipped
        metadefs = layout.venv / "etc" / "glance" / "metadefs"
        await run([*manage, "db_load_metadefs", str(metadefs)], service="glance", log=log)

    await once(layout, home / ".setup-done", DATABASES, step)


def procs(layout: Layout) -> list[Proc]:
    return [
        uwsgi_proc(
            layout,
            "glance",
            port=layout.port("glance"),
            module="glance.wsgi.api:application",
            tier="shared",
            env={"OS_GLANCE_CONFIG_DIR": str(layout.home("glance"))},
            extra=("--http-chunked-input", "--http-raw-body"),
        )
    ]
