"""cascade/policy_operations.json is what the devcloud's Nova, Cinder and Neutron document
for their rules today (devcloud/scripts/policy_operations.py makes it again)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import CHECKOUT, DEVCLOUD_DIR

pytestmark = pytest.mark.integration


def test_the_operations_file_is_the_services_own(clouds_yaml: Path) -> None:
    made = subprocess.run(
        [str(DEVCLOUD_DIR / "venv" / "bin" / "python"), "devcloud/scripts/policy_operations.py"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    kept = (CHECKOUT / "cascade" / "policy_operations.json").read_text()
    assert json.loads(made.stdout) == json.loads(kept)
    assert made.stdout == kept  # byte for byte: the committed file is the script's output
