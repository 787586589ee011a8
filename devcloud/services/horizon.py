"""Horizon, the OpenStack dashboard (from PyPI), in front of the top: a tenant logs in at
http://127.0.0.1:<port-base + 8080>/dashboard with a devcloud account and uses the
ordinary dashboard across the pods; an admin also sees Cascade's own panels
(cascade-dashboard/, the "Cascade" dashboard).

Horizon reads its settings from `openstack_dashboard/local/` inside its installed
package (`local_settings.py`, and `enabled/` for plugins), as devstack writes them: the
devcloud owns the virtualenv, so it writes them there. Static files are collected and
compressed once per change of the settings or the installed code, under `horizon/static`,
and uWSGI serves them.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from pathlib import Path

from devcloud.commands import run
from devcloud.ini import write_if_changed
from devcloud.layout import TOP_REGION, Layout
from devcloud.proc import Proc
from devcloud.services.common import uwsgi_proc
from devcloud.system import DASHBOARD

SERVICE = "horizon"
WEBROOT = "/dashboard"
SETTINGS_MODULE = "openstack_dashboard.settings"
# The Cascade dashboard's enabled file (Horizon's plugin mechanism): its name orders it
# after Horizon's own dashboards.
PLUGIN_ENABLED = "_9000_cascade.py"
PLUGIN_MODULE = "cascade_dashboard"


def url(layout: Layout) -> str:
    """Where a browser opens the dashboard."""
    return f"{layout.url(SERVICE)}{WEBROOT}/"


def package_dir(layout: Layout) -> Path:
    """openstack_dashboard inside the virtualenv (made by this Python's version)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return layout.venv / "lib" / version / "site-packages" / "openstack_dashboard"


def static_root(layout: Layout) -> Path:
    return layout.home(SERVICE) / "static"


def _secret_key(layout: Layout) -> str:
    """Django's signing key, made once and kept (sessions survive a restart)."""
    path = layout.home(SERVICE) / "secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def settings(layout: Layout) -> str:
    """local_settings.py: the top's Keystone, the `cascade` region, sessions in memory."""
    # Horizon takes the region of the first identity endpoint whose URL equals its
    # OPENSTACK_KEYSTONE_URL (openstack_auth/backend.py) over DEFAULT_SERVICE_REGIONS. The
    # shared pods' regions list the same Keystone URL as the top's, so the exact URL would
    # land a tenant in pod1's region, straight on pod1. The trailing slash matches no
    # catalog entry (keystoneauth treats it as the same URL), so the default applies.
    keystone = f"{layout.auth_url}/"
    lines = [
        "# written by `devcloud up` (devcloud/services/horizon.py); edits are overwritten",
        "DEBUG = False",
        "ALLOWED_HOSTS = ['127.0.0.1', 'localhost']",
        f"WEBROOT = {WEBROOT + '/'!r}",
        f"SECRET_KEY = {_secret_key(layout)!r}",
        "OPENSTACK_HOST = '127.0.0.1'",
        f"OPENSTACK_KEYSTONE_URL = {keystone!r}",
        f"DEFAULT_SERVICE_REGIONS = {{'*': {TOP_REGION!r}}}",
        "OPENSTACK_KEYSTONE_DEFAULT_ROLE = 'member'",
        # one uWSGI process: sessions and cache in its memory (a token is too big for
        # the signed-cookie default once the catalog has a few regions)
        "SESSION_ENGINE = 'django.contrib.sessions.backends.cache'",
        "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}",
        f"STATIC_ROOT = {str(static_root(layout))!r}",
        "COMPRESS_OFFLINE = True",
        # routers and floating IPs across pods are Cascade's; HA and DVR routers are not
        "OPENSTACK_NEUTRON_NETWORK = {'enable_router': True, 'enable_quotas': True, "
        "'enable_ipv6': False, 'enable_distributed_router': False, "
        "'enable_ha_router': False, 'enable_fip_topology_check': True}",
        "LOGGING = {'version': 1, 'disable_existing_loggers': False, "
        "'handlers': {'console': {'class': 'logging.StreamHandler'}}, "
        "'root': {'handlers': ['console'], 'level': 'INFO'}}",
    ]
    return "\n".join(lines) + "\n"


def plugin_enabled() -> str:
    """The enabled file of the Cascade dashboard (cascade_dashboard.enabled holds the real
    one; Horizon reads only files in its `enabled` folders)."""
    return f"from {PLUGIN_MODULE}.enabled import *  # noqa: F403\n"


def configure(layout: Layout) -> bool:
    """Write local_settings.py and the plugin's enabled file; True if either changed.
    Nothing before Horizon is installed (system.ensure_horizon)."""
    package = package_dir(layout)
    if not package.exists():
        return False
    changed = write_if_changed(package / "local" / "local_settings.py", settings(layout))
    plugin = package / "local" / "enabled" / PLUGIN_ENABLED
    changed = write_if_changed(plugin, plugin_enabled()) or changed
    # the plugin runs from the checkout (editable): an edit restarts Horizon
    code = layout.home(SERVICE) / "plugin-fingerprint"
    return write_if_changed(code, _plugin_fingerprint()) or changed


def _plugin_fingerprint() -> str:
    """Changes with any file of the Cascade dashboard's checkout."""
    digest = hashlib.sha256()
    if DASHBOARD.exists():
        for path in sorted(DASHBOARD.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _static_fingerprint(layout: Layout) -> str:
    """Changes with the settings, Horizon's installed version and the plugin's files."""
    digest = hashlib.sha256(settings(layout).encode())
    stamp = layout.venv / ".devcloud-horizon-fingerprint"
    if stamp.exists():
        digest.update(stamp.read_bytes())
    digest.update(_plugin_fingerprint().encode())
    return digest.hexdigest()


async def setup(layout: Layout) -> None:
    """collectstatic and compress (offline), unless done for these settings and code."""
    stamp = layout.home(SERVICE) / ".static-done"
    want = _static_fingerprint(layout)
    if stamp.exists() and stamp.read_text() == want:
        return
    env = {"DJANGO_SETTINGS_MODULE": SETTINGS_MODULE}
    log = layout.log / f"{SERVICE}-setup.log"
    admin = layout.vbin("django-admin")
    await run([admin, "collectstatic", "--noinput", "--clear"], service=SERVICE, log=log, env=env)
    await run([admin, "compress", "--force"], service=SERVICE, log=log, env=env)
    stamp.write_text(want)


def procs(layout: Layout) -> list[Proc]:
    """Horizon under uWSGI at /dashboard, its static files served by uWSGI."""
    static = str(static_root(layout))
    return [
        uwsgi_proc(
            layout,
            SERVICE,
            port=layout.port(SERVICE),
            module="openstack_dashboard.wsgi:application",
            mount=WEBROOT,
            tier="shared",
            # the static map sees the path after the mount point (--manage-script-name)
            extra=("--static-map", f"/static={static}"),
            path=f"{WEBROOT}/auth/login/",
        )
    ]
