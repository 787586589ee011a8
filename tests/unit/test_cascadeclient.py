"""The `openstack cascade ...` commands (python-cascadeclient), run in-process against
canned answers of the admin API: the requests they make and what they print."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from cliff.columns import FormattableColumn
from keystoneauth1 import adapter, exceptions
from osc_lib import exceptions as osc_exceptions
from osc_lib.command import command

from cascadeclient.osc import plugin
from cascadeclient.osc.v1 import audits, bindings, drains, findings, jobs, pods, routings
from cascadeclient.v1.client import Client

POD = {
    "id": "p-1",
    "name": "pod1",
    "region_name": "pod1",
    "az": "az1",
    "pod_az": "nova",
    "enabled": True,
    "state": "active",
    "weight": 1,
    "tags": ["ssd"],
    "identity": "shared",
    "credentials": None,
    "health": {"state": "up", "last_check": None, "latency_ms": 3.5, "last_error": None},
}


@dataclass
class Answer:
    status_code: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    @property
    def text(self) -> str:
        return json.dumps(self.body)

    def json(self) -> Any:
        return self.body


@dataclass
class Call:
    method: str
    url: str
    params: dict[str, str] | None
    body: Any


class FakeApi:
    """keystoneauth's Adapter as the client sees it: each (method, path) answers its
    queued answers in turn, the last one again once the others are used."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[Answer]] = {}
        self.calls: list[Call] = []

    def on(self, method: str, url: str, *answers: Answer) -> None:
        self.answers[(method, url)] = list(answers)

    def request(self, url: str, method: str, **kwargs: Any) -> Answer:
        assert kwargs.pop("raise_exc") is False
        self.calls.append(Call(method, url, kwargs.pop("params", None), kwargs.pop("json", None)))
        assert not kwargs
        queued = self.answers[(method, url)]
        return queued.pop(0) if len(queued) > 1 else queued[0]


def not_found(detail: str) -> Answer:
    error = {"status": 404, "title": "Not Found", "detail": detail, "code": "x.not_found"}
    return Answer(404, {"errors": [error]}, {"Content-Type": "application/json"})


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


def command_of(cls: type[command.Command], api: FakeApi) -> command.Command:
    app = mock.Mock()
    app.client_manager.cascade = Client(api)
    app.stdin = io.StringIO()
    app.stdout = io.StringIO()
    return cls(app, None)


def parse(cmd: command.Command, argv: Sequence[str]) -> argparse.Namespace:
    return cmd.get_parser("openstack cascade").parse_args(argv)


def run(cls: type[command.Command], api: FakeApi, *argv: str) -> Any:
    cmd = command_of(cls, api)
    return cmd.take_action(parse(cmd, argv))


def plain(values: Iterable[Any]) -> list[Any]:
    """Cells as `-f json` has them."""
    return [v.machine_readable() if isinstance(v, FormattableColumn) else v for v in values]


def test_pod_list_default_and_long_columns(api: FakeApi) -> None:
    api.on("GET", "/pods", Answer(200, {"pods": [POD]}))
    headings, rows = run(pods.ListPod, api)
    assert headings == (
        "ID",
        "Name",
        "Region Name",
        "AZ",
        "Pod AZ",
        "Enabled",
        "State",
        "Health",
    )
    assert [plain(r) for r in rows] == [
        ["p-1", "pod1", "pod1", "az1", "nova", True, "active", "up"]
    ]
    headings, rows = run(pods.ListPod, api, "--long")
    assert headings[-6:] == (
        "Weight",
        "Tags",
        "Identity",
        "Last Check",
        "Latency (ms)",
        "Last Error",
    )
    assert plain(next(iter(rows)))[-6:] == [1, ["ssd"], "shared", None, 3.5, None]
    # pods come in one answer: no paging parameters sent (the API has none for them)
    assert [c.params for c in api.calls] == [None, None]


def test_list_follows_next_links_by_their_query(api: FakeApi) -> None:
    # the link's host is the one the API saw: only its query is followed
    link = "http://behind-a-proxy:9999/v1/routings?status=active&marker=r-2"
    api.on(
        "GET",
        "/routings",
        Answer(
            200,
            {
                "routings": [{"id": "r-1"}, {"id": "r-2"}],
                "routings_links": [{"rel": "next", "href": link}],
            },
        ),
        Answer(200, {"routings": [{"id": "r-3"}]}),
    )
    _, rows = run(routings.ListRouting, api, "--status", "active")
    assert [r[0] for r in rows] == ["r-1", "r-2", "r-3"]
    assert [c.params for c in api.calls] == [
        {"status": "active"},
        {"status": "active", "marker": "r-2"},
    ]


def test_list_limit_asks_for_what_is_left_and_stops(api: FakeApi) -> None:
    full = {"id": "j"}
    link = [{"rel": "next", "href": "http://x/v1/jobs?limit=1000&marker=j"}]
    api.on(
        "GET",
        "/jobs",
        Answer(200, {"jobs": [full] * 1000, "jobs_links": link}),
        Answer(200, {"jobs": [full] * 500, "jobs_links": link}),
    )
    _, rows = run(
        jobs.ListJob,
        api,
        "--limit",
        "1500",
        "--marker",
        "j0",
        "--type",
        "move",
        "--sort-dir",
        "desc",
    )
    assert len(list(rows)) == 1500
    assert [c.params for c in api.calls] == [
        {"type": "move", "sort_dir": "desc", "marker": "j0", "limit": "1000"},
        {"limit": "500", "marker": "j"},
    ]


def test_list_filter_by_pod_name_sends_its_id(api: FakeApi) -> None:
    api.on("GET", "/pods/pod1", Answer(200, {"pod": POD}))
    api.on("GET", "/drains", Answer(200, {"drains": []}))
    run(drains.ListDrain, api, "--pod", "pod1", "--status", "paused")
    assert api.calls[-1].params == {"pod_id": "p-1", "status": "paused"}


def test_limit_must_be_positive(api: FakeApi) -> None:
    cmd = command_of(jobs.ListJob, api)
    with pytest.raises(SystemExit):
        parse(cmd, ["--limit", "0"])


def test_pod_show_by_name_every_field(api: FakeApi) -> None:
    api.on("GET", "/pods/pod1", not_found("no pod with id pod1"))
    api.on("GET", "/pods", Answer(200, {"pods": [POD]}))
    names, values = run(pods.ShowPod, api, "pod1")
    assert names == tuple(sorted(POD))
    assert dict(zip(names, plain(values), strict=True)) == POD


def test_pod_show_unknown_is_the_apis_404(api: FakeApi) -> None:
    api.on("GET", "/pods/nope", not_found("no pod with id nope"))
    api.on("GET", "/pods", Answer(200, {"pods": [POD]}))
    with pytest.raises(exceptions.NotFound) as caught:
        run(pods.ShowPod, api, "nope")
    assert str(caught.value) == "no pod with id nope (HTTP 404)"


def test_pod_create_body_and_no_password_shown(api: FakeApi) -> None:
    echoed = {**POD, "identity": "independent", "credentials": {"username": "c", "password": "s3"}}
    api.on("POST", "/pods", Answer(201, {"pod": echoed}))
    argv = [
        "pod3",
        "--region-name", "pod3",
        "--az", "az1",
        "--pod-az", "nova",
        "--tag", "a",
        "--tag", "b",
        "--weight", "2",
        "--disable",
        "--identity", "independent",
        "--auth-url", "http://k:5000/v3",
        "--username", "c",
        "--password", "s3",
        "--project-name", "service",
        "--catalog-region", "RegionOne",
    ]  # fmt: skip
    cmd = command_of(pods.CreatePod, api)
    parsed = parse(cmd, [*argv, "-f", "json"])
    cmd.run(parsed)
    assert api.calls[-1].body == {
        "pod": {
            "name": "pod3",
            "region_name": "pod3",
            "az": "az1",
            "pod_az": "nova",
            "weight": 2,
            "enabled": False,
            "auth_url": "http://k:5000/v3",
            "catalog_region": "RegionOne",
            "credentials": {"username": "c", "password": "s3", "project_name": "service"},
            "tags": ["a", "b"],
            "identity": "independent",
        }
    }
    stdout = cmd.app.stdout
    assert isinstance(stdout, io.StringIO)
    printed = stdout.getvalue()
    assert json.loads(printed)["credentials"] == {"username": "c"}
    assert "s3" not in printed


def test_pod_create_password_prompt(api: FakeApi) -> None:
    api.on("POST", "/pods", Answer(201, {"pod": POD}))
    with mock.patch("osc_lib.utils.get_password", return_value="typed") as asked:
        run(pods.CreatePod, api, "p", "--region-name", "r", "--az", "a", "--username", "u",
            "--password-prompt", "--project-name", "x")  # fmt: skip
    asked.assert_called_once()
    assert api.calls[-1].body["pod"]["credentials"]["password"] == "typed"


def test_pod_set_sends_only_what_is_given(api: FakeApi) -> None:
    api.on("GET", "/pods/pod1", not_found("no pod with id pod1"))
    api.on("GET", "/pods", Answer(200, {"pods": [POD]}))
    api.on("PATCH", "/pods/p-1", Answer(200, {"pod": POD}))
    run(pods.SetPod, api, "pod1", "--state", "maintenance", "--no-tag", "--name", "pod9")
    assert api.calls[-1].body == {"pod": {"state": "maintenance", "name": "pod9", "tags": []}}


def test_pod_set_nothing_makes_no_call(api: FakeApi) -> None:
    run(pods.SetPod, api, "pod1")
    assert api.calls == []


def test_pod_delete_by_name_forced_and_failures_counted(api: FakeApi) -> None:
    api.on("GET", "/pods/pod1", not_found("no pod with id pod1"))
    api.on("GET", "/pods/nope", not_found("no pod with id nope"))
    api.on("GET", "/pods", Answer(200, {"pods": [POD]}))
    api.on("DELETE", "/pods/p-1", Answer(204))
    with pytest.raises(osc_exceptions.CommandError, match="1 of 2 pods failed to delete"):
        run(pods.DeletePod, api, "pod1", "nope", "--force")
    deletes = [c for c in api.calls if c.method == "DELETE"]
    assert [(c.url, c.params) for c in deletes] == [("/pods/p-1", {"force": "true"})]


def test_binding_create_resolves_the_pod(api: FakeApi) -> None:
    api.on("GET", "/pods/pod1", Answer(200, {"pod": POD}))
    made = {"id": "b-1", "project_id": "prj", "az": "az1", "pod_id": "p-1"}
    api.on("POST", "/bindings", Answer(201, {"binding": made}))
    names, values = run(
        bindings.CreateBinding, api, "--project", "prj", "--az", "az1", "--pod", "pod1"
    )
    assert api.calls[-1].body == {"binding": {"project_id": "prj", "az": "az1", "pod_id": "p-1"}}
    assert dict(zip(names, values, strict=True)) == made


def test_delete_many_ids(api: FakeApi) -> None:
    api.on("DELETE", "/bindings/b-1", Answer(204))
    api.on("DELETE", "/bindings/b-2", Answer(204))
    run(bindings.DeleteBinding, api, "b-1", "b-2")
    assert [c.url for c in api.calls] == ["/bindings/b-1", "/bindings/b-2"]


def test_job_redo(api: FakeApi) -> None:
    api.on("POST", "/jobs/j-1/redo", Answer(200, {"job": {"id": "j-1", "status": "queued"}}))
    names, values = run(jobs.RedoJob, api, "j-1")
    assert (names, values) == (("id", "status"), ("j-1", "queued"))
    assert api.calls[-1].body is None


def test_error_carries_the_apis_detail(api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    conflict = {"errors": [{"status": 409, "title": "Conflict", "detail": "job j-1 runs"}]}
    headers = {"Content-Type": "application/json", "x-openstack-request-id": "req-1"}
    api.on("DELETE", "/jobs/j-1", Answer(409, conflict, headers))
    with pytest.raises(exceptions.Conflict) as raised:
        Client(api).delete("/jobs/j-1")
    assert str(raised.value) == "job j-1 runs (HTTP 409) (Request-ID: req-1)"
    # a delete command logs each failure with the API's message, then sums up
    with pytest.raises(osc_exceptions.CommandError, match="1 of 1 jobs failed to delete"):
        run(jobs.DeleteJob, api, "j-1")
    assert "Failed to delete job j-1: job j-1 runs (HTTP 409)" in caplog.text


def test_error_without_a_json_body_keeps_keystoneauths_message(api: FakeApi) -> None:
    api.on("GET", "/jobs/j-1", Answer(503, None, {"Content-Type": "text/html"}))
    with pytest.raises(exceptions.ServiceUnavailable, match=r"\(HTTP 503\)"):
        run(jobs.ShowJob, api, "j-1")


def test_drain_create_with_and_without_azs(api: FakeApi) -> None:
    api.on("GET", "/pods/p-1", Answer(200, {"pod": POD}))
    api.on("POST", "/pods/p-1/drain", Answer(202, {"drain": {"id": "d-1", "moves": []}}))
    run(drains.CreateDrain, api, "p-1", "--az", "az1", "--az", "az2")
    assert api.calls[-1].body == {"drain": {"azs": ["az1", "az2"]}}
    run(drains.CreateDrain, api, "p-1")
    assert api.calls[-1].body is None


def test_drain_pause(api: FakeApi) -> None:
    api.on("POST", "/drains/d-1/pause", Answer(202, {"drain": {"id": "d-1", "status": "paused"}}))
    run(drains.PauseDrain, api, "d-1")
    assert api.calls[-1].url == "/drains/d-1/pause"


def test_audit_create_and_repair(api: FakeApi) -> None:
    api.on("POST", "/audits", Answer(202, {"audit": {"id": "a-1", "status": "queued"}}))
    run(audits.CreateAudit, api)
    assert api.calls[-1].body == {"audit": {}}
    found = {"id": "f-1", "code": "orphan", "repairs": ["adopt", "delete"]}
    api.on("POST", "/audits/a-1/repair", Answer(202, {"findings": [found]}))
    headings, rows = run(audits.RepairAudit, api, "a-1", "--code", "orphan", "--action", "delete")
    assert api.calls[-1].body == {"repair": {"code": "orphan", "action": "delete"}}
    assert headings[0] == "ID"
    assert plain(next(iter(rows)))[6] == ["adopt", "delete"]


def test_finding_list_and_repair(api: FakeApi) -> None:
    api.on("GET", "/audits/a-1/findings", Answer(200, {"findings": []}))
    run(findings.ListFinding, api, "a-1", "--code", "missing", "--severity", "error")
    assert api.calls[-1].params == {"code": "missing", "severity": "error"}
    api.on("POST", "/audits/a-1/findings/f-1/repair", Answer(202, {"finding": {"id": "f-1"}}))
    run(findings.RepairFinding, api, "a-1", "f-1", "--action", "adopt")
    assert api.calls[-1].body == {"repair": {"action": "adopt"}}


def test_plugin_options_and_endpoint() -> None:
    parser = plugin.build_option_parser(argparse.ArgumentParser())
    options = parser.parse_args(["--os-cascade-url", "http://c:20080/v1"])
    assert options.os_cascade_url == "http://c:20080/v1"
    assert options.os_cascade_api_version == "1"
    instance = mock.Mock(interface="internal", region_name="cascade")
    instance._api_version = {"cascade": "1"}
    instance.get_configuration.return_value = {"cascade_url": "http://c:20080/v1"}
    made = plugin.make_client(instance)
    assert isinstance(made.session, adapter.Adapter)
    assert made.session.endpoint_override == "http://c:20080/v1"
    instance.get_configuration.return_value = {}
    found = plugin.make_client(instance).session
    assert isinstance(found, adapter.Adapter)
    assert (found.service_type, found.interface, found.region_name, found.endpoint_override) == (
        "cascade",
        "internal",
        "cascade",
        None,
    )
