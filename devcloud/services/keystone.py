"""Keystone: the one shared by every shared pod (one region per pod, plus the top), and
an independent pod's own (`pod` given: region `podN` only, in the pod's folders,
database and port)."""

from __future__ import annotations

from devcloud.commands import run
from devcloud.ini import render, write_if_changed
from devcloud.layout import PASSWORD, TOP_REGION, Layout, Pod
from devcloud.proc import Proc
from devcloud.services.common import once, scoped_database, scoped_name, uwsgi_proc

SERVICE = "keystone"


def databases(pod: Pod | None = None) -> list[str]:
    return [scoped_database(SERVICE, pod)]


def auth_url(layout: Layout, pod: Pod | None = None) -> str:
    """The `/v3` this Keystone serves (and registers as its own identity endpoint)."""
    return layout.service_url(SERVICE, pod) + "/v3"


def region(pod: Pod | None) -> str:
    """The region of this Keystone's own endpoint: the top's, or the pod's own."""
    return TOP_REGION if pod is None else pod.region


def _conf(layout: Layout, pod: Pod | None) -> str:
    home = layout.service_home(SERVICE, pod)
    return render(
        {
            "database": {"connection": layout.db_url(databases(pod)[0])},
            "token": {"provider": "fernet"},
            "fernet_tokens": {"key_repository": str(home / "fernet-keys")},
            "credential": {"key_repository": str(home / "credential-keys")},
            # Validating a token builds its catalog from the database (~0.25 s here);
            # an in-process cache is safe because Keystone runs as one process.
            "cache": {"enabled": True, "backend": "dogpile.cache.memory"},
        }
    )


def configure(layout: Layout, pod: Pod | None = None) -> bool:
    home = layout.service_home(SERVICE, pod)
    return write_if_changed(home / "keystone.conf", _conf(layout, pod))


async def setup(layout: Layout, pod: Pod | None = None) -> None:
    """Migrate the database, create the key repositories and bootstrap the admin."""
    home = layout.service_home(SERVICE, pod)
    manage = [layout.vbin("keystone-manage"), "--config-file", str(home / "keystone.conf")]
    service = scoped_name(SERVICE, pod)
    log = layout.log / f"{service}-setup.log"
    owner = ["--keystone-user", "root", "--keystone-group", "root"]
    url = auth_url(layout, pod)

    async def step() -> None:
        # not `heavy`: everything else waits for Keystone, so it never queues behind db syncs
        await run([*manage, "db_sync"], service=service, log=log, heavy=False)
        await run([*manage, "fernet_setup", *owner], service=service, log=log, heavy=False)
        await run([*manage, "credential_setup", *owner], service=service, log=log, heavy=False)
        await run(
            [
                *manage,
                "bootstrap",
                "--bootstrap-password",
                PASSWORD,
                "--bootstrap-admin-url",
                url,
                "--bootstrap-public-url",
                url,
                "--bootstrap-internal-url",
                url,
                "--bootstrap-region-id",
                region(pod),
            ],
            service=service,
            log=log,
            heavy=False,
        )

    await once(layout, home / ".setup-done", databases(pod), step)


def procs(layout: Layout, pod: Pod | None = None) -> list[Proc]:
    conf = layout.service_home(SERVICE, pod) / "keystone.conf"
    return [
        uwsgi_proc(
            layout,
            scoped_name(SERVICE, pod),
            port=layout.service_port(SERVICE, pod),
            module="keystone.wsgi.api:application",
            tier="shared" if pod is None else "pod",
            env={"OS_KEYSTONE_CONFIG_FILES": str(conf)},
            path="/v3",
        )
    ]
