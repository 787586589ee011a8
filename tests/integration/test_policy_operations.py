"""cascade/policy_operations.json is what the devcloud's Nova, Cinder and Neutron document
for their rules today (devcloud/scripts/policy_operations.py makes it again), the
Networking rules' defaults are Neutron's, and what they let a network's owner do with
others' ports on it is what a pod's Neutron lets it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from openstack.connection import Connection
from openstack.exceptions import ForbiddenException
from oslo_policy import policy as oslo_policy

from cascade.services.network import policies as network_policies
from tests.integration.conftest import CHECKOUT, DEVCLOUD_DIR
from tests.integration.test_cascade_compute import unique

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


def test_the_networking_defaults_are_neutron_s_own(clouds_yaml: Path) -> None:
    """Every Networking rule Cascade registers is a rule of the devcloud's Neutron with
    the same default (compared as oslo.policy parses them), but the few named in
    `policies.NOT_NEUTRON_S`, whose differences the module explains."""
    script = (
        "import json, warnings; warnings.simplefilter('ignore')\n"
        "from neutron.conf import policies\n"
        "print(json.dumps({r.name: r.check_str for r in policies.list_rules()}))\n"
    )
    made = subprocess.run(
        [str(DEVCLOUD_DIR / "venv" / "bin" / "python"), "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    theirs = json.loads(made.stdout.strip().splitlines()[-1])
    ours = network_policies.defaults()

    def parsed(check: str) -> str:
        return str(oslo_policy.Rules.from_dict({"rule": check})["rule"])

    assert sorted(set(ours) - set(theirs)) == []
    differ = sorted(n for n, check in ours.items() if parsed(check) != parsed(theirs[n]))
    assert differ == sorted(network_policies.NOT_NEUTRON_S)
    assert len(ours) > 120  # every action on every object, not a handful


@pytest.mark.parametrize("region", ["pod1", "cascade"])
def test_a_network_s_owner_sees_others_ports_on_it(
    region: str, conns: dict[str, Connection], top: dict[str, Connection]
) -> None:
    """Another project's port on demo's network: demo (the network's owner) lists it,
    reads it, may not rename it and deletes it, in a pod's Neutron and at the top alike
    (Neutron's port query hook with `get_port`'s and `delete_port`'s network owner)."""
    clouds = {**conns, **top}
    demo, admin, alt = (clouds[f"{region}{s}"] for s in ("", "-admin", "-alt"))
    network = demo.network.create_network(name=unique("owned"))
    try:
        demo.network.create_subnet(network_id=network.id, cidr="10.97.0.0/24", ip_version=4)
        theirs = admin.network.create_port(
            network_id=network.id, project_id=alt.current_project_id, name=unique("theirs")
        )
        assert [p.id for p in demo.network.ports(network_id=network.id)] == [theirs.id]
        assert demo.network.get_port(theirs.id).project_id == alt.current_project_id
        assert [p.id for p in alt.network.ports(network_id=network.id)] == [theirs.id]
        with pytest.raises(ForbiddenException):
            demo.network.update_port(theirs.id, name="renamed")
        demo.network.delete_port(theirs.id)
        assert admin.network.find_port(theirs.id) is None
    finally:
        admin.network.delete_network(network.id)
