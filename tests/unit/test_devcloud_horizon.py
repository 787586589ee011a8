"""The devcloud's Horizon: its settings point at the top, its plugin is enabled, uWSGI
mounts it at /dashboard and serves its static files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from devcloud.layout import Layout
from devcloud.services import horizon


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


def test_settings_point_at_the_top_region(layout: Layout) -> None:
    values = {}
    for node in ast.parse(horizon.settings(layout)).body:
        assert isinstance(node, ast.Assign)
        (target,) = node.targets
        assert isinstance(target, ast.Name)
        values[target.id] = ast.literal_eval(node.value)
    # the trailing slash: no pod region's identity endpoint equals it (see settings())
    assert values["OPENSTACK_KEYSTONE_URL"] == layout.auth_url + "/"
    assert values["DEFAULT_SERVICE_REGIONS"] == {"*": "cascade"}
    assert values["WEBROOT"] == "/dashboard/"
    assert values["DEBUG"] is False and values["COMPRESS_OFFLINE"] is True
    assert values["STATIC_ROOT"] == str(layout.home("horizon") / "static")
    # the signing key is made once and kept
    assert horizon.settings(layout) == horizon.settings(layout)


def test_configure_writes_settings_and_the_plugin_once(layout: Layout) -> None:
    assert horizon.configure(layout) is False  # Horizon not installed: nothing to write
    package = horizon.package_dir(layout)
    (package / "local" / "enabled").mkdir(parents=True)
    assert horizon.configure(layout) is True
    assert horizon.configure(layout) is False
    enabled = (package / "local" / "enabled" / horizon.PLUGIN_ENABLED).read_text()
    assert "from cascade_dashboard.enabled import *" in enabled


def test_uwsgi_mounts_it_at_dashboard_with_static_files(layout: Layout) -> None:
    (proc,) = horizon.procs(layout)
    argv = list(proc.argv)
    mount = argv[argv.index("--mount") + 1]
    assert mount == "/dashboard=openstack_dashboard.wsgi:application"
    assert "--manage-script-name" in argv and "--module" not in argv
    assert argv[argv.index("--static-map") + 1] == f"/static={horizon.static_root(layout)}"
    assert proc.url == f"http://127.0.0.1:{layout.port('horizon')}/dashboard/auth/login/"
    assert horizon.url(layout) == f"http://127.0.0.1:{layout.port('horizon')}/dashboard/"
