"""clouds.yaml entries and the env helper."""

from __future__ import annotations

from pathlib import Path

import yaml

from devcloud import clouds
from devcloud.layout import Layout


def test_entries_for_every_pod_and_the_top(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    clouds.write(layout, layout.pods(2))
    entries = yaml.safe_load(layout.clouds_yaml.read_text())["clouds"]
    assert sorted(entries) == sorted(
        f"{region}{suffix}"
        for region in ("pod1", "pod2", "cascade")
        for suffix in ("", "-admin", "-alt")
    )
    assert entries["pod2-alt"]["region_name"] == "pod2"
    assert entries["pod2-alt"]["auth"]["username"] == "alt_demo"
    assert entries["cascade-admin"]["auth"]["project_name"] == "admin"
    assert entries["cascade"]["auth"]["auth_url"] == layout.auth_url


def test_an_independent_pod_has_only_its_admin_on_its_own_keystone(tmp_path: Path) -> None:
    layout = Layout(tmp_path, independent=frozenset({3}))
    clouds.write(layout, layout.pods(3))
    entries = yaml.safe_load(layout.clouds_yaml.read_text())["clouds"]
    assert sorted(entries) == sorted(
        [
            *(f"{r}{s}" for r in ("pod1", "pod2", "cascade") for s in ("", "-admin", "-alt")),
            "pod3-admin",
        ]
    )
    pod3 = entries["pod3-admin"]
    assert pod3["auth"]["auth_url"] == layout.pod_auth_url(layout.pod(3))
    assert (pod3["auth"]["username"], pod3["auth"]["project_name"]) == ("admin", "admin")
    assert pod3["region_name"] == "pod3"
    assert entries["pod2-admin"]["auth"]["auth_url"] == layout.auth_url


def test_env_exports_the_config_file_and_cli(tmp_path: Path) -> None:
    text = clouds.env(Layout(tmp_path))
    assert f"export OS_CLIENT_CONFIG_FILE={tmp_path}/clouds.yaml" in text
    assert f"export PATH={tmp_path}/bin:" in text
