"""What the OpenStack services of the devcloud have in common."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from devcloud import infra
from devcloud.ini import Value
from devcloud.layout import PASSWORD, Layout, Pod
from devcloud.proc import Proc
from devcloud.system import venv_fingerprint

SERVICE_PROJECT = "service"


def scoped_name(service: str, pod: Pod | None) -> str:
    """Process (and log) name of a shared service (`keystone`) or a pod's (`pod3-keystone`).

    The `podN-` prefix is what removing a pod stops by."""
    return service if pod is None else f"{pod.name}-{service}"


def scoped_database(service: str, pod: Pod | None) -> str:
    """Database of a shared service (`glance`) or a pod's (`pod3_glance`).

    The `podN_` prefix is what removing a pod drops by."""
    return service if pod is None else f"{pod.name}_{service}"


def service_auth(identity_url: str, user: str, region: str) -> dict[str, Value]:
    """keystoneauth password options for a service user (for [placement], [neutron], ...).

    `identity_url` is the Keystone that serves the service's pod (`Layout.identity_url`):
    the shared one, or an independent pod's own.
    """
    return {
        "auth_url": identity_url,
        "auth_type": "password",
        "project_domain_name": "Default",
        "user_domain_name": "Default",
        "project_name": SERVICE_PROJECT,
        "username": user,
        "password": PASSWORD,
        "region_name": region,
    }


def authtoken(identity_url: str, user: str, region: str) -> dict[str, Value]:
    """The [keystone_authtoken] section that validates incoming tokens (issued by the
    Keystone at `identity_url`)."""
    return {
        "www_authenticate_uri": identity_url,
        **service_auth(identity_url, user, region),
    }


def uwsgi_proc(
    layout: Layout,
    name: str,
    *,
    port: int,
    module: str,
    tier: str,
    env: Mapping[str, str] | None = None,
    extra: tuple[str, ...] = (),
    path: str = "/",
    mount: str | None = None,
) -> Proc:
    """A WSGI API served by uWSGI: one process, four threads (the smallest footprint);
    at `mount` (a path prefix, given to the app as SCRIPT_NAME) if given, else at /.

    "Connection: close" because uWSGI's plain --http-socket does no keep-alive and
    clients that reuse a socket would otherwise see resets on POSTs.
    """
    app: tuple[str, ...] = ("--module", module)
    if mount:
        app = ("--mount", f"{mount}={module}", "--manage-script-name")
    argv = (
        layout.vbin("uwsgi"),
        "--http-socket",
        f"127.0.0.1:{port}",
        "--virtualenv",
        str(layout.venv),
        *app,
        "--processes",
        "1",
        "--threads",
        "4",
        "--enable-threads",
        "--die-on-term",
        "--need-app",
        "--buffer-size",
        "65535",
        "--add-header",
        "Connection: close",
        "--disable-logging",
        *extra,
    )
    return Proc(
        name=name,
        argv=argv,
        tier=tier,
        env=dict(env or {}),
        port=port,
        url=f"http://127.0.0.1:{port}{path}",
    )


def prepare_home(
    layout: Layout, home: Path, service: str, folders: tuple[str, ...], shipped: tuple[str, ...]
) -> None:
    """Create a service's folders and copy the files its wheel ships under `etc/<service>`
    (paste pipelines, filters) that are used as they are."""
    for sub in folders:
        (home / sub).mkdir(parents=True, exist_ok=True)
    for name in shipped:
        if not (home / name).exists():
            shutil.copy(layout.venv / "etc" / service / name, home / name)


async def once(
    layout: Layout, stamp: Path, databases: list[str], step: Callable[[], Awaitable[None]]
) -> bool:
    """Run a setup step (db sync, key setup) unless it already ran with these packages.

    The stamp holds the virtualenv's fingerprint, so upgrading the pinned
    versions runs the migrations again, in place. Without a stamp the step
    never finished: MySQL DDL is not transactional, so an interrupted first
    migration leaves half a schema, and the service's databases are made
    anew before it runs. Returns True if the step ran.
    """
    want = venv_fingerprint()
    if stamp.exists() and stamp.read_text() == want:
        return False
    if not stamp.exists():
        await infra.recreate_databases(layout, databases)
    await step()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(want)
    return True
