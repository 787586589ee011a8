"""Reading tempest's per-test results and comparing two runs test for test."""

from __future__ import annotations

import re
from pathlib import Path

from devcloud.layout import Layout
from devcloud.tempest import (
    BASELINE,
    COMPUTE,
    EXCLUDED,
    Result,
    _conf,
    compare,
    compute_direct,
    compute_top,
    parse_results,
    workspace,
)

QC = "tempest.api.compute.admin.test_quotas.QuotaClassesAdminTestJSON"
FILTERS = "tempest.api.compute.servers.test_list_server_filters.ListServerFiltersTestJSON"
GROUPS = "tempest.api.compute.servers.test_server_group.ServerGroupTestJSON"
LOG = "2026-11-22 03:02:25,423 8182 INFO     [tempest.lib.common.rest_client]"
TOP = "http://127.0.0.1:20080/compute/v2.1"

# Abridged from a real `tempest run` through the top (subunit-trace's format).
OUTPUT = f"""
{{1}} tempest.api.compute.admin.test_flavors.FlavorsAdminTestJSON.test_list [0.048523s] ... ok
{{1}} {QC}.test_update_default_quotas[id-7932ab0f,smoke] [0.157611s] ... FAILED

Captured traceback:
~~~~~~~~~~~~~~~~~~~
    Traceback (most recent call last):

      File "/x/tempest/lib/common/rest_client.py", line 949, in _error_checker
    raise exceptions.NotImplemented(resp_body, resp=resp,

    tempest.lib.exceptions.NotImplemented: Got NotImplemented error
Details: Cascade does not serve GET /os-quota-class-sets/default of the Compute API yet.


Captured pythonlogging:
~~~~~~~~~~~~~~~~~~~~~~~
    {LOG} Request (QC:test_update_default_quotas): 200 GET {TOP}/limits 0.1s
    {LOG} Request (QC:test_update_default_quotas): 501 GET {TOP}/os-quota-class-sets/default 0.1s

{{0}} {FILTERS}.test_list_servers_filter_by_flavor [0.289708s] ... FAILED

Captured traceback:
~~~~~~~~~~~~~~~~~~~
    Traceback (most recent call last):

      File "/x/testtools/testcase.py", line 704, in assertThat
    raise mismatch_error

    testtools.matchers._impl.MismatchError: 'c1c2a80d' not in <map object at 0x7f>


Captured pythonlogging:
~~~~~~~~~~~~~~~~~~~~~~~
    {LOG} Request (L:test_list_servers_filter_by_flavor): 200 GET {TOP}/servers?flavor=1 0.1s
    {LOG} Request (L:test_list_servers_filter_by_flavor): 200 GET {TOP}/servers?flavor=2 0.1s

{{0}} {FILTERS}.test_list_servers_filtered_by_ip ... SKIPPED: fixed_network_name needs to be set
{{0}} setUpClass (tempest.api.compute.servers.test_servers.S) ... SKIPPED: Neutron is not available
{{1}} setUpClass ({GROUPS}) ... FAILED

Captured traceback:
~~~~~~~~~~~~~~~~~~~
    tempest.lib.exceptions.ServerFault: Got server fault
Details: boom

==============================
Failed 3 tests - output below:
==============================

{QC}.test_update_default_quotas[id-7932ab0f,smoke]
----------------------------------------------------------------------------------

Captured traceback:
~~~~~~~~~~~~~~~~~~~
    tempest.lib.exceptions.Conflict: not this one

======
Totals
======
"""


def test_result_lines_by_test_id_without_tags() -> None:
    results = parse_results(OUTPUT)
    assert set(results) == {
        "tempest.api.compute.admin.test_flavors.FlavorsAdminTestJSON.test_list",
        f"{QC}.test_update_default_quotas",
        f"{FILTERS}.test_list_servers_filter_by_flavor",
        f"{FILTERS}.test_list_servers_filtered_by_ip",
        "setUpClass (tempest.api.compute.servers.test_servers.S)",
        f"setUpClass ({GROUPS})",
    }
    assert results[f"{FILTERS}.test_list_servers_filtered_by_ip"] == Result(
        "SKIPPED", "fixed_network_name needs to be set"
    )


def test_failure_reason_is_the_exception_with_details_and_the_failing_request() -> None:
    results = parse_results(OUTPUT)
    assert results[f"{QC}.test_update_default_quotas"] == Result(
        "FAILED",
        "NotImplemented: Got NotImplemented error Details: Cascade does not serve GET "
        f"/os-quota-class-sets/default of the Compute API yet.; "
        f"GET {TOP}/os-quota-class-sets/default -> 501",
    )
    flavor = results[f"{FILTERS}.test_list_servers_filter_by_flavor"]
    assert flavor.reason == (
        "MismatchError: 'c1c2a80d' not in <map object at 0x7f>; "
        f"last request: GET {TOP}/servers?flavor=2 -> 200"
    )
    broken = results[f"setUpClass ({GROUPS})"]
    assert broken.reason == "ServerFault: Got server fault Details: boom"


def test_compare_lists_only_differences_and_expands_class_set_ups() -> None:
    group = GROUPS
    direct = {
        "a.B.test_same": Result("ok"),
        "a.B.test_broken": Result("ok"),
        "a.B.test_skip": Result("SKIPPED", "no"),
        f"{group}.test_create_delete_server_group": Result("ok"),
        "setUpClass (a.Skipped)": Result("SKIPPED", "Neutron is not available"),
    }
    top = {
        "a.Skipped.test_x": Result("ok"),
        "a.B.test_same": Result("ok"),
        "a.B.test_broken": Result("FAILED", "BadRequest: no"),
        "a.B.test_skip": Result("SKIPPED", "no"),
        f"setUpClass ({group})": Result("FAILED", "ServerFault: boom"),
    }
    assert compare(direct, top) == [
        {"test": "a.B.test_broken", "direct": "ok", "top": "FAILED", "reason": "BadRequest: no"},
        {
            "test": "a.Skipped.test_x",
            "direct": "SKIPPED",
            "top": "ok",
            "reason": "Neutron is not available",
        },
        {
            "test": "setUpClass (a.Skipped)",
            "direct": "SKIPPED",
            "top": "missing",
            "reason": "Neutron is not available",
        },
        {
            "test": f"setUpClass ({group})",
            "direct": "missing",
            "top": "FAILED",
            "reason": "ServerFault: boom",
        },
        {
            "test": f"{group}.test_create_delete_server_group",
            "direct": "ok",
            "top": "FAILED",
            "reason": "setUpClass failed: ServerFault: boom",
        },
    ]


def test_compute_selection_is_the_baseline_compute_part_and_more() -> None:
    compute = re.compile(COMPUTE)
    baseline = re.compile(BASELINE)
    for module in (
        "servers.test_servers.ServersTestJSON.test_x",
        "keypairs.test_keypairs_v22.K.test_x",
        "admin.test_quotas_negative.Q.test_x",
        "admin.test_flavors_extra_specs.F.test_x",
        "servers.test_server_group.ServerGroupTestJSON.test_x",
        "test_quotas.QuotasTestJSON.test_x",
    ):
        assert compute.match(f"tempest.api.compute.{module}"), module
    assert baseline.match("tempest.api.compute.servers.test_servers.ServersTestJSON.test_x")
    for other in ("servers.test_server_actions.A.test_x", "admin.test_servers.S.test_x"):
        assert not compute.match(f"tempest.api.compute.{other}"), other
    assert not compute.match("tempest.api.volume.test_volumes_get.V.test_x")


def test_direct_and_top_configs_differ_only_in_region_and_workspace(tmp_path: Path) -> None:
    layout = Layout(root=tmp_path)
    direct, top = compute_direct(layout.pod(1)), compute_top()
    assert (direct.name, direct.region, top.name, top.region) == (
        "pod1-compute",
        "pod1",
        "cascade",
        "cascade",
    )
    assert (
        (direct.selection, direct.excluded)
        == (top.selection, top.excluded)
        == (
            COMPUTE,
            EXCLUDED,
        )
    )
    facts = {"image": "i1", "image_alt": "i2"}
    confs = [_conf(layout, t, workspace(layout, t), facts) for t in (direct, top)]
    for conf in confs:
        conf["identity"].pop("region")  # type: ignore[attr-defined]
        conf["oslo_concurrency"].pop("lock_path")  # type: ignore[attr-defined]
    assert confs[0] == confs[1]
    conf = confs[1]
    # servers boot without a NIC: no networks for tempest's projects, none asked for
    assert conf["auth"]["create_isolated_networks"] is False
    assert "fixed_network_name" not in conf["compute"]
    assert "network" not in conf
    assert conf["service_available"]["neutron"] is True  # else tempest skips server classes
    assert conf["service_available"]["cinder"] is False
