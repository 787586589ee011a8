"""The Networking selection of `devcloud tempest --cloud cascade --service network`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, cast

import pytest

from devcloud.errors import DevcloudError
from devcloud.layout import Layout
from devcloud.rest import Rest
from devcloud.tempest import (
    COMPARE_FILE,
    COMPUTE,
    EXCLUDED,
    NETWORK,
    SERVICES,
    WHOLE_SUITES,
    _conf,
    _neutron_list,
    compute_direct,
    compute_top,
    direct_target,
    service,
    top_target,
    workspace,
)

MODULES = (
    "test_networks",
    "test_ports",
    "test_security_groups",
    "test_security_groups_negative",
    "test_routers",
    "test_routers_negative",
    "test_floating_ips",
    "test_floating_ips_negative",
    "test_extensions",
    "test_networks_negative",
    "test_dhcp_ipv6",
    "test_tags",
    "test_allowed_address_pair",
    "test_extra_dhcp_options",
)


def test_network_selection_is_the_listed_modules_only() -> None:
    network = re.compile(NETWORK)
    for module in MODULES:
        assert network.match(f"tempest.api.network.{module}.SomeTest.test_x"), module
    for other in (
        "tempest.api.network.admin.test_routers.RoutersAdminTest.test_x",
        "tempest.api.network.test_subnetpools_extensions.S.test_x",
        "tempest.api.network.test_networks_extra.N.test_x",
        "tempest.api.compute.servers.test_servers.ServersTestJSON.test_x",
    ):
        assert not network.match(other), other


def test_targets_workspaces_and_compare_files(tmp_path: Path) -> None:
    layout = Layout(root=tmp_path)
    pod = layout.pod(1)
    direct, top = direct_target(pod, "network"), top_target("network")
    assert (direct.name, direct.region, top.name, top.region) == (
        "pod1-network",
        "pod1",
        "cascade-network",
        "cascade",
    )
    assert direct.selection == top.selection == NETWORK
    assert direct.excluded == top.excluded == EXCLUDED
    assert direct.networking and top.networking and not direct.full
    # compute is as it was
    assert compute_direct(pod) == direct_target(pod) and compute_top() == top_target()
    assert compute_top().name == "cascade" and not compute_top().networking
    assert SERVICES["compute"].selection == COMPUTE
    assert SERVICES["compute"].compare_file == COMPARE_FILE == "compare.json"
    assert SERVICES["network"].compare_file == "compare-network.json"


def test_network_conf_describes_neutron_without_cinder(tmp_path: Path) -> None:
    layout = Layout(root=tmp_path)
    facts = {"image": "i1", "image_alt": "i2", "public": "", "extensions": ""}
    top = top_target("network")
    conf = _conf(layout, top, workspace(layout, top), facts)
    assert conf["service_available"]["neutron"] is True
    assert conf["service_available"]["cinder"] is False
    assert "volume" not in conf
    # no public network at the top: empty, and the floating IP classes skip
    assert conf["network"]["public_network_id"] == ""
    assert conf["network"]["project_networks_reachable"] is False
    # an empty list means "no extension" to tempest (its default, "all", would be wrong)
    assert conf["network-feature-enabled"]["api_extensions"] == ""
    direct = direct_target(layout.pod(1), "network")
    pod_facts = facts | {"public": "net-1", "extensions": "external-net,router"}
    pod_conf = _conf(layout, direct, workspace(layout, direct), pod_facts)
    assert pod_conf["network"]["public_network_id"] == "net-1"
    assert pod_conf["network-feature-enabled"]["api_extensions"] == "external-net,router"


class _FakeRest:
    """Just enough of `Rest` for `_neutron_list`."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def endpoint(self, service_type: str, region: str) -> str:
        if region == "nowhere":
            raise DevcloudError(service_type, f"no public {service_type} endpoint in {region}")
        return f"http://{region}"

    async def call(self, service: str, method: str, url: str) -> Any:
        self.calls.append(f"{method} {url}")
        answer = self.answers.get(url)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _list(rest: _FakeRest, region: str, query: str, strict: bool) -> list[Any]:
    return asyncio.run(_neutron_list(cast(Rest, rest), region, query, strict))


def test_neutron_list_reads_the_listed_resources() -> None:
    rest = _FakeRest({"http://pod1/v2.0/networks?name=public": {"networks": [{"id": "n1"}]}})
    assert _list(rest, "pod1", "networks?name=public", True) == [{"id": "n1"}]
    assert rest.calls == ["GET http://pod1/v2.0/networks?name=public"]


def test_neutron_list_errors_are_empty_at_the_top_only() -> None:
    not_found = DevcloudError("neutron", "GET .../v2.0/extensions answered 404")
    rest = _FakeRest({"http://cascade/v2.0/extensions": not_found})
    assert _list(rest, "cascade", "extensions", False) == []
    assert _list(rest, "nowhere", "extensions", False) == []
    rest.answers["http://cascade/v2.0/networks?name=public"] = {"unexpected": []}
    assert _list(rest, "cascade", "networks?name=public", False) == []
    with pytest.raises(DevcloudError):
        _list(rest, "cascade", "extensions", True)


def test_whole_suites_are_each_api_suite_with_every_service(tmp_path: Path) -> None:
    layout = Layout(root=tmp_path)
    pod = layout.pod(1)
    for name in WHOLE_SUITES:
        direct, top = direct_target(pod, name, whole=True), top_target(name, whole=True)
        assert (direct.name, top.name) == (f"pod1-{name}-whole", f"cascade-{name}-whole")
        assert direct.selection == top.selection
        suite = re.compile(direct.selection)
        assert suite.match(f"tempest.api.{name}.admin.test_x.T.test_y")
        others = [o for o in WHOLE_SUITES if o != name]
        assert not any(suite.match(f"tempest.api.{o}.test_x.T.test_y") for o in others)
        # Neutron and Cinder described, as for the baseline: servers get networks
        assert direct.full and direct.networking and direct.block_storage
        assert service(name, whole=True).compare_file == f"compare-{name}-whole.json"
    # the selections are untouched by the whole mode
    assert direct_target(pod, "network") == direct_target(pod, "network", whole=False)
