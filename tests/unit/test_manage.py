"""`cascade-manage`: config check, pods registered from clouds.yaml entries, pod and job
status, on a real (SQLite) database."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cascade.cmd.manage import main

TOP = "http://keystone.test:5000/v3"
SECRET = "pod-secret-not-printed"


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "cascade.conf"
    path.write_text(
        f"[database]\nconnection = sqlite+aiosqlite:///{tmp_path / 'c.sqlite'}\n"
        f"[keystone]\nauth_url = {TOP}\n"
    )
    main(["--config-file", str(path), "db", "upgrade"])
    return path


@pytest.fixture
def clouds(tmp_path: Path) -> Path:
    entries = {
        "site-a": {"region_name": "siteA", "auth": {"auth_url": TOP, "username": "admin"}},
        "site-b": {
            "region_name": "RegionOne",
            "auth": {
                "auth_url": "http://ks-b.test:5000",
                "username": "cascade",
                "password": SECRET,
                "project_name": "service",
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
        },
    }
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": entries}))
    return path


def test_config_check(conf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--config-file", str(conf), "config", "check"])
    assert "are fine" in capsys.readouterr().out
    (tmp_path / "policy.yaml").write_text('"cascade:pods:list": "rule:nowhere"\n')
    text = conf.read_text() + f"[policy]\nfile = {tmp_path / 'policy.yaml'}\n"
    conf.write_text(text.replace("c.sqlite", "empty.sqlite"))
    with pytest.raises(SystemExit) as stopped:
        main(["--config-file", str(conf), "config", "check"])
    assert stopped.value.code == 1
    out = capsys.readouterr().out
    assert "policy:" in out and "undefined rules" in out
    assert "db upgrade" in out  # the new database has no schema yet


def test_pods_registered_from_clouds_yaml(
    conf: Path, clouds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config-file", str(conf), "pod", "register"]
    main([*base, "pod-a", "--cloud", "site-a", "--clouds-yaml", str(clouds), "--az", "az1"])
    main([*base, "pod-b", "--cloud", "site-b", "--clouds-yaml", str(clouds), "--az", "az2"])
    out = capsys.readouterr().out
    assert "pod pod-a" in out and "shared" in out and "independent" in out
    assert SECRET not in out
    main(["--config-file", str(conf), "pod", "list"])
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split()[:4] == ["name", "az", "state", "identity"]
    rows = {line.split()[0]: line.split() for line in listed[1:]}
    assert rows["pod-a"][1:4] == ["az1", "active", "shared"]
    assert rows["pod-b"][1:4] == ["az2", "active", "independent"]
    # the admin API's checks: a name taken is refused, nothing else written
    with pytest.raises(SystemExit):
        main([*base, "pod-a", "--cloud", "site-a", "--clouds-yaml", str(clouds), "--az", "az3"])
    with pytest.raises(SystemExit):
        main([*base, "pod-c", "--cloud", "nope", "--clouds-yaml", str(clouds), "--az", "az3"])
    assert "has no cloud 'nope'" in capsys.readouterr().err


def test_job_status(conf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--config-file", str(conf), "job", "status"])
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["type", "status", "jobs"]
    assert "(ready)" in out and "0 (oldest waiting -)" in out
