"""What `etc/` ships: the samples generated from the code (never out of step with it)
and the service units naming commands `pip install .` installs."""

from __future__ import annotations

import configparser
import subprocess
import sys
import tomllib
from pathlib import Path

from cascade.conf import sample

ROOT = Path(__file__).resolve().parents[2]
ETC = ROOT / "etc"


def test_the_config_sample_is_the_codes() -> None:
    shipped = (ETC / "cascade.conf.sample").read_text()
    assert shipped.rstrip("\n") == sample().rstrip("\n"), (
        "etc/cascade.conf.sample is stale: cascade-manage config sample > etc/cascade.conf.sample"
    )


def test_the_policy_sample_is_the_codes(tmp_path: Path) -> None:
    generator = str(Path(sys.executable).parent / "oslopolicy-sample-generator")
    out = tmp_path / "policy.yaml.sample"
    argv = [generator, "--namespace", "cascade", "--output-file", str(out)]
    subprocess.run(argv, check=True, capture_output=True)
    assert (ETC / "policy.yaml.sample").read_text() == out.read_text(), (
        "etc/policy.yaml.sample is stale: oslopolicy-sample-generator --namespace cascade "
        "--output-file etc/policy.yaml.sample"
    )


def test_the_units_run_installed_commands() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name in ("cascade-api", "cascade-worker"):
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.read(ETC / "systemd" / f"{name}.service")
        command = unit["Service"]["ExecStart"].split()
        assert Path(command[0]).name == name and name in scripts
        assert command[1:] == ["--config-file", "/etc/cascade/cascade.conf"]
        assert unit["Service"]["User"] == "cascade"
