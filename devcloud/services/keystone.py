"""Keystone: one identity service shared by every pod (one region per pod, plus the top)."""

from __future__ import annotations

from devcloud.commands import run
from devcloud.ini import render, write_if_changed
from devcloud.layout import PASSWORD, TOP_REGION, Layout
from devcloud.proc import Proc
from devcloud.services.common import once, uwsgi_proc

DATABASES = ["keystone"]


def _conf(layout: Layout) -> str:
    home = layout.home("keystone")
    return render(
        {
            "database": {"connection": layout.db_url("keystone")},
            "token": {"provider": "fernet"},
            "fernet_tokens": {"key_repository": str(home / "fernet-keys")},
            "credential": {"key_repository": str(home / "credential-keys")},
            # Validating a token builds its catalog from the database (~0.25 s here);
            # an in-process cache is safe because Keystone runs as one process.
            "cache": {"enabled": True, "backend": "dogpile.cache.memory"},
        }
    )


def configure(layout: Layout) -> bool:
    return write_if_changed(layout.home("keystone") / "keystone.conf", _conf(layout))


async def setup(layout: Layout) -> None:
    """Migrate the database, create the key repositories and bootstrap the admin."""
    home = layout.home("keystone")
    manage = [layout.vbin("keystone-manage"), "--config-file", str(home / "keystone.conf")]
    log = layout.log / "keystone-setup.log"
    owner = ["--keystone-user", "root", "--keystone-group", "root"]

    async def step() -> None:
        # not `heavy`: everything else waits for Keystone, so it never queues behind db syncs
        await run([*manage, "db_sync"], service="keystone", log=log, heavy=False)
        await run([*manage, "fernet_setup", *owner], service="keystone", log=log, heavy=False)
        await run([*manage, "credential_setup", *owner], service="keystone", log=log, heavy=False)
        await run(
            [
                *manage,
                "bootstrap",
                "--bootstrap-password",
                PASSWORD,
                "--bootstrap-admin-url",
                layout.auth_url,
                "--bootstrap-public-url",
                layout.auth_url,
                "--bootstrap-internal-url",
                layout.auth_url,
                "--bootstrap-region-id",
                TOP_REGION,
            ],
            service="keystone",
            log=log,
            heavy=False,
        )

    await once(layout, home / ".setup-done", DATABASES, step)


def procs(layout: Layout) -> list[Proc]:
    conf = layout.home("keystone") / "keystone.conf"
    return [
        uwsgi_proc(
            layout,
            "keystone",
            port=layout.port("keystone"),
            module="keystone.wsgi.api:application",
            tier="shared",
            env={"OS_KEYSTONE_CONFIG_FILES": str(conf)},
            path="/v3",
        )
    ]
