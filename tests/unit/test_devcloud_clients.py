"""`devcloud sdk` and `devcloud ansible`: their configuration and the reading of their output.

No devcloud here: the clouds.yaml, environment and stestr command lines are pure functions
of the layout; the outputs parsed are abridged from real runs against the devcloud.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from devcloud import playbook, sdk, system
from devcloud.errors import DevcloudError
from devcloud.layout import PASSWORD, Layout
from devcloud.tempest import Result, Summary, load_workspace, parse_results, save_run

LAYOUT = Layout(root=Path("/dc"), port_base=20000)
SERVER = "openstack.tests.functional.compute.v2.test_server.TestServer"
AUTO = "openstack.tests.functional.network.v2.test_auto_allocated_topology"
BACKUP = "openstack.tests.functional.block_storage.v3.test_backup.TestBackup"

# Abridged from `stestr run` of openstacksdk's functional tests against pod1.
SDK_OUTPUT = f"""
{{0}} {SERVER}.test_list [2.1s] ... ok
{{1}} {SERVER}.test_server_remote_console [18.102931s] ... FAILED

Captured traceback:
~~~~~~~~~~~~~~~~~~~
    Traceback (most recent call last):

      File "/v/openstack/exceptions.py", line 267, in raise_from_response
    raise cls(

    openstack.exceptions.BadRequestException: BadRequestException: 400: Client Error for url: \
http://127.0.0.1:21774/v2.1/servers/fa57/remote-consoles, Unavailable console type novnc.

2026-12-05 02:33:32,695 openstack.resource               Still waiting for resource Server
{{1}} {BACKUP}.test_get ... SKIPPED: Object service is requred, but not available

======
Totals
======
Ran: 3 tests in 30.0 sec.
 - Passed: 1
 - Skipped: 1
 - Expected Fail: 0
 - Unexpected Success: 0
 - Failed: 1
Sum of execute time for each test: 20.2 sec.
"""
NETWORK_OUTPUT = f"""
{{0}} {AUTO}.TestAutoAllocatedTopology.test_auto_allocated_topology [13.3s] ... ok

======
Totals
======
Ran: 1 tests in 14.0 sec.
 - Passed: 1
 - Skipped: 0
 - Expected Fail: 0
 - Unexpected Success: 0
 - Failed: 0
"""


def test_clouds_config_names_every_cloud_the_functional_tests_read() -> None:
    config = sdk.clouds_config(LAYOUT, "cascade")
    env = sdk.run_environment(Path("/dc/sdk/cascade/clouds.yaml"), "cascade")
    for variable in sdk.CLOUD_VARIABLES:
        assert env[variable] in config["clouds"], variable
    assert env["OS_CLIENT_CONFIG_FILE"] == "/dc/sdk/cascade/clouds.yaml"
    assert env["OPENSTACKSDK_DEMO_CLOUD"] == "cascade"
    assert env["OPENSTACKSDK_OPERATOR_CLOUD"] == "cascade-admin"
    # the base's own default is 5 s a test: far too short to boot a server
    assert int(env["OS_TEST_TIMEOUT"]) >= 300
    for entry in config["clouds"].values():
        assert entry["region_name"] == "cascade"
        assert entry["auth"]["auth_url"] == LAYOUT.auth_url
        assert entry["auth"]["password"] == PASSWORD


def test_clouds_config_users_and_scopes() -> None:
    clouds = sdk.clouds_config(LAYOUT, "pod1")["clouds"]
    users = {
        name: (c["auth"]["username"], c["auth"].get("project_name")) for name, c in clouds.items()
    }
    assert users == {
        "pod1": ("demo", "demo"),
        "pod1-alt": ("alt_demo", "alt_demo"),
        "pod1-admin": ("admin", "admin"),
        "pod1-system-admin": ("admin", None),
    }
    system = clouds["pod1-system-admin"]["auth"]
    assert system["system_scope"] == "all"
    assert "project_domain_name" not in system


def test_clouds_config_names_the_seeded_image_and_flavor() -> None:
    # the functional base looks for a cirros image otherwise, which the devcloud lacks
    config = sdk.clouds_config(LAYOUT, "pod1")
    env = sdk.run_environment(Path("c.yaml"), "pod1")
    assert config["functional"] == {"image_name": "tiny", "flavor_name": "m1.tiny"}
    assert (env["OPENSTACKSDK_IMAGE"], env["OPENSTACKSDK_FLAVOR"]) == ("tiny", "m1.tiny")


def test_stestr_discovers_one_suite_with_ids_from_site_packages() -> None:
    functional = Path("/v/lib/python3.11/site-packages/openstack/tests/functional")
    argv = sdk.stestr_argv(LAYOUT, functional, "block_storage", 3)
    assert argv[argv.index("--test-path") + 1] == str(functional / "block_storage")
    assert argv[argv.index("--top-dir") + 1] == "/v/lib/python3.11/site-packages"
    assert argv[argv.index("--concurrency") + 1] == "3"
    assert argv.index("--top-dir") < argv.index("run")  # stestr's global options first


def test_merge_totals_sums_the_suites() -> None:
    assert sdk.merge_totals([SDK_OUTPUT, NETWORK_OUTPUT, ""]) == {
        "passed": 2,
        "skipped": 1,
        "failed": 1,
    }


def test_sdk_results_with_reasons() -> None:
    results = parse_results(SDK_OUTPUT + NETWORK_OUTPUT)
    assert results[f"{SERVER}.test_list"] == Result("ok")
    failed = results[f"{SERVER}.test_server_remote_console"]
    assert failed.status == "FAILED"
    assert failed.reason.startswith("BadRequestException: BadRequestException: 400")
    assert "Unavailable console type novnc" in failed.reason
    assert results[f"{BACKUP}.test_get"] == Result(
        "SKIPPED", "Object service is requred, but not available"
    )


def test_sdk_report_lists_every_test_both_sides(tmp_path: Path) -> None:
    direct = tmp_path / "pod1"
    top = tmp_path / "cascade"
    for ws in (direct, top):
        ws.mkdir()
    save_run(direct, Summary("pod1", "pod1", 1, 1, 1, 30.0, 2), SDK_OUTPUT)
    top_output = SDK_OUTPUT.replace(f"{SERVER}.test_list [2.1s] ... ok", "")
    save_run(top, Summary("cascade", "cascade", 0, 1, 1, 30.0, 2), top_output)
    report = sdk.report(load_workspace(direct), load_workspace(top))
    assert report["direct"]["passed"] == 1 and report["top"]["passed"] == 0
    assert report["tests"][f"{SERVER}.test_list"] == {
        "direct": {"status": "ok", "reason": ""},
        "top": {"status": "missing", "reason": ""},
    }
    assert report["tests"][f"{BACKUP}.test_get"]["top"]["status"] == "SKIPPED"
    assert [d["test"] for d in report["differences"]] == [f"{SERVER}.test_list"]
    json.dumps(report)  # written as it is


# -- ansible -------------------------------------------------------------------------

# Abridged from ansible-playbook's default output against pod1 and through the top.
PLAY_OUTPUT = """
PLAY [Tenant workflow against cascade] *****************************************

TASK [Network] *****************************************************************
changed: [localhost]

TASK [Servers, one per AZ] *****************************************************
changed: [localhost] => (item=az1)
failed: [localhost] (item=az2) => {"ansible_loop_var": "item", "changed": false, "item": \
"az2", "msg": "Timeout waiting for the server to come up."}

TASK [Floating IP on the first server] *****************************************
[ERROR]: Task failed: Module failed: Timeout waiting for the floating IP to be ACTIVE
fatal: [localhost]: FAILED! => {"changed": false, "extra_data": {"data": null}, "msg": \
"Timeout waiting for the floating IP\\nto be ACTIVE"}

PLAY RECAP *********************************************************************
localhost                  : ok=9    changed=2    unreachable=0    failed=1    skipped=0    \
rescued=0    ignored=0
"""


def test_parse_play_counts_changes_and_failures() -> None:
    play = playbook.parse_play(PLAY_OUTPUT)
    assert {k: play[k] for k in playbook.RECAP_KEYS} == {
        "ok": 9,
        "changed": 2,
        "unreachable": 0,
        "failed": 1,
        "skipped": 0,
        "rescued": 0,
        "ignored": 0,
    }
    assert play["changed_tasks"] == ["Network", "Servers, one per AZ"]
    assert play["failures"] == [
        {"task": "Servers, one per AZ", "reason": "Timeout waiting for the server to come up."},
        {
            "task": "Floating IP on the first server",
            "reason": "Timeout waiting for the floating IP to be ACTIVE",
        },
    ]
    assert playbook.recap_line(play).startswith("ok=9 changed=2 unreachable=0 failed=1")


def test_parse_play_without_a_recap_counts_nothing() -> None:
    play = playbook.parse_play("ERROR! the playbook could not be found\n")
    assert play["ok"] == play["failed"] == 0
    assert play["failures"] == []


def test_failure_message_that_is_not_json_is_kept() -> None:
    play = playbook.parse_play("TASK [X] ***\nfatal: [localhost]: FAILED! => not json\n")
    assert play["failures"] == [{"task": "X", "reason": "not json"}]


def test_choose_azs() -> None:
    assert playbook.choose_azs([], "az1") == ["az1", "az1"]  # a pod: both in its AZ
    assert playbook.choose_azs(["az2", "nova", "az1"]) == ["az1", "az2"]
    assert playbook.choose_azs(["az3"]) == ["az3", "az3"]
    with pytest.raises(DevcloudError):
        playbook.choose_azs([])


def test_play_vars_and_targets_keep_each_cloud_apart() -> None:
    pod = playbook.direct_target(LAYOUT.pod(1))
    top = playbook.top_target()
    assert (pod.cloud, pod.pod_az, top.cloud, top.pod_az) == ("pod1", "az1", "cascade", None)
    assert pod.prefix != top.prefix  # the top also lists the pod's resources
    variables = playbook.play_vars(top, ["az1", "az2"], "ssh-ed25519 AAAA devcloud")
    assert variables["cloud"] == "cascade"
    assert variables["azs"] == ["az1", "az2"]
    assert variables["public_key"] == "ssh-ed25519 AAAA devcloud"


def test_playbooks_use_every_variable_they_are_given() -> None:
    tenant = (playbook.PLAYBOOKS / "tenant.yml").read_text()
    cleanup = (playbook.PLAYBOOKS / "cleanup.yml").read_text()
    for name in playbook.play_vars(playbook.top_target(), ["a", "b"], "k"):
        assert "{{ " + name in tenant, name
    for name in ("cloud", "prefix", "azs"):
        assert "{{ " + name in cleanup, name


def test_ansible_environment_points_at_the_devcloud() -> None:
    env = playbook.environment(LAYOUT, Path("/dc/ansible/pod1"))
    assert env["OS_CLIENT_CONFIG_FILE"] == str(LAYOUT.clouds_yaml)
    assert env["ANSIBLE_PYTHON_INTERPRETER"] == LAYOUT.vbin("python")
    assert Path(env["PYTHONPATH"], "sitecustomize.py").exists()


async def test_configure_writes_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def installed(layout: Layout) -> bool:
        return False

    monkeypatch.setattr(system, "ensure_clients", installed)
    layout = Layout(root=tmp_path)
    ws, env = await sdk.configure(layout, sdk.top_target())
    assert ws == tmp_path / "sdk" / "cascade"
    clouds = yaml.safe_load((ws / "clouds.yaml").read_text())
    assert clouds == sdk.clouds_config(layout, "cascade")
    assert env["OS_CLIENT_CONFIG_FILE"] == str(ws / "clouds.yaml")
    # the image tests read it from their current directory, the workspace
    assert (ws / "CONTRIBUTING.rst").read_text() == sdk.IMAGE_DATA


def test_failure_reason_is_the_tests_own_not_its_cleanups() -> None:
    # test_transfer through the top: the test's 404, then its tearDown's 400 (volume in use)
    transfer = "openstack.tests.functional.block_storage.v3.test_transfer.TestTransfer"
    output = f"""
{{1}} {transfer}.test_transfer [25.2s] ... FAILED

Captured traceback:
~~~~~~~~~~~~~~~~~~~
    Traceback (most recent call last):
      File "/v/openstack/exceptions.py", line 267, in raise_from_response
    openstack.exceptions.NotFoundException: NotFoundException: 404: Transfer t1 could not be found.

Captured traceback-1:
~~~~~~~~~~~~~~~~~~~~~
    Traceback (most recent call last):
      File "/v/test_transfer.py", line 37, in tearDown
    openstack.exceptions.BadRequestException: BadRequestException: 400: Invalid volume
"""
    reason = parse_results(output)[f"{transfer}.test_transfer"].reason
    assert reason == "NotFoundException: NotFoundException: 404: Transfer t1 could not be found."
    # a failure in the clean-ups alone is still given
    only_cleanup = output.replace(
        "    openstack.exceptions.NotFoundException: NotFoundException: 404: Transfer t1 could not "
        "be found.\n",
        "",
    )
    cleanup_reason = parse_results(only_cleanup)[f"{transfer}.test_transfer"].reason
    assert cleanup_reason.startswith("BadRequestException: BadRequestException: 400")
