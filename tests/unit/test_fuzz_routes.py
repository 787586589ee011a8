"""The property-based suite over every route (issue 11).

For every generated request to every (method, path template) of cascade-api, in process
over two fake pods: the answer is never 5xx; a 4xx is in the service's own error format;
a refused request changed nothing at the top (row counts of every table) or in any pod.
Generated requests mix real ids of a world of objects with hostile path segments, bodies
(mutated valid bodies, wrong JSON types, deep nesting, huge and non-finite numbers, lone
surrogates, invalid UTF-8, over-long strings), odd microversion and token headers and
junk query strings (`tests/unit/fuzz/generate.py`). Derandomized: CI replays the same
requests; `CASCADE_FUZZ_EXAMPLES` sets the examples per route.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from devcloud import fuzz as fuzz_runner
from tests.unit.fuzz import harness, nested
from tests.unit.fuzz.catalogue import Endpoint, endpoints
from tests.unit.fuzz.checks import error_format
from tests.unit.fuzz.generate import FuzzRequest
from tests.unit.fuzz.strategies import EXAMPLES, requests

SERVICES = ("compute", "volume", "network", "admin")


def _run(
    service: str, tmp_path: Path, pods_down: bool = False, examples: int = EXAMPLES
) -> tuple[harness.Harness, list[harness.Failure]]:
    """Every endpoint of `service`, `examples` requests each (the pods unreachable when
    `pods_down`); the failures, one per distinct cause."""
    failures: dict[str, harness.Failure] = {}
    with asyncio.Runner() as runner:
        h = runner.run(harness.build(tmp_path))
        if pods_down:
            h.take_pods_down()
        try:
            mine = [e for e in endpoints(h.app.routes) if e.service == service]
            assert mine
            for endpoint in mine:
                _fuzz(runner, h, endpoint, failures, examples)
            if pods_down:  # one request that surely needs a pod: its 503 must name it
                needs = _needs_a_pod(service, h.world)
                failure = runner.run(h.check(needs))
                if failure is not None:
                    failures.setdefault(failure.cause, failure)
        finally:
            runner.run(harness.close(h))
    return h, list(failures.values())


def _fuzz(
    runner: asyncio.Runner,
    h: harness.Harness,
    endpoint: Endpoint,
    failures: dict[str, harness.Failure],
    examples: int,
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),  # each failure is kept, not shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(endpoint, h.world))
    def one(req: FuzzRequest) -> None:
        failure = runner.run(h.check(req))
        if failure is not None:
            failures.setdefault(failure.cause, failure)

    one()


def _needs_a_pod(service: str, world: dict[str, list[str]]) -> FuzzRequest:
    template = {
        "compute": "/compute/v2.1/servers/{server_id}",
        "volume": "/volume/v3/volumes/{object_id}",
    }[service]
    real = world["server_id" if service == "compute" else "volumes"][0]
    path = template.replace("{server_id}", real).replace("{object_id}", real)
    token = ((b"x-auth-token", b"member-token"),)
    return FuzzRequest(Endpoint("GET", template), "GET", path, "", token, b"")


def _report(failures: list[harness.Failure]) -> str:
    return "\n\n".join(f"{f.cause}\n  {f.request}\n  {f.detail}" for f in failures)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_refuses_odd_requests_cleanly(service: str, tmp_path: Path) -> None:
    h, failures = _run(service, tmp_path)
    assert h.sent >= EXAMPLES  # the requests did go out
    unexpected = [f for f in failures if not f.expected_for_now]
    assert not unexpected, f"{len(unexpected)} causes:\n{_report(unexpected)}"


@pytest.mark.parametrize("service", ["compute", "volume"])
def test_with_the_pods_unreachable_only_a_503_naming_the_pod_is_a_5xx(
    service: str, tmp_path: Path
) -> None:
    """The same requests with both fake pods refusing connections: a 503 that names the
    pod is the answer where one was needed; anything else as above."""
    h, failures = _run(service, tmp_path, pods_down=True, examples=max(EXAMPLES // 3, 1))
    assert h.statuses[-1] == 503  # the pods were needed, and missed
    unexpected = [f for f in failures if not f.expected_for_now]
    assert not unexpected, f"{len(unexpected)} causes:\n{_report(unexpected)}"


# --- the catalogue, the generator, the checks and the devcloud runner's pure parts ------


def test_the_catalogue_has_every_route_of_each_api() -> None:
    found = fuzz_runner.catalogue()
    pairs = {(e.method, e.template) for e in found}
    assert ("POST", "/compute/v2.1/servers") in pairs
    assert ("DELETE", "/compute/v2.1/servers/{server_id}/{rest:path}") in pairs
    assert ("POST", "/volume/v3/volumes") in pairs  # behind the volume router
    assert ("PUT", "/volume/v3/qos-specs/{qos_id}/delete_keys") in pairs
    assert ("PUT", "/networking/v2.0/security-group-rules/{object_id}/tags") in pairs
    assert ("POST", "/v1/jobs/{job_id}/redo") in pairs
    assert not any(e.method == "HEAD" or "{collection}" in e.template for e in found)
    assert {e.service for e in found} == set(SERVICES)
    assert len(found) > 300


def test_the_plan_is_reproducible_and_takes_every_route() -> None:
    routes = fuzz_runner.catalogue()
    world = {"server_id": ["s-1"], "volumes": ["v-1"]}
    first = fuzz_runner.plan(routes, world, ["tok"], 2 * len(routes), seed=3)
    again = fuzz_runner.plan(routes, world, ["tok"], 2 * len(routes), seed=3)
    assert first == again
    assert {r.endpoint for r in first} == set(routes)
    other = fuzz_runner.plan(routes, world, ["tok"], 2 * len(routes), seed=4)
    assert [r.target for r in other] != [r.target for r in first]
    assert all(r.path.isascii() and r.query.isascii() for r in first)
    labels = set().union(*(r.labels for r in first))
    assert {"dot-segment", "nesting", "surrogate", "invalid-utf8", "non-finite"} <= labels
    # only the tokens given (or hostile ones) are sent
    tokens = {v for r in first for k, v in r.headers if k == b"x-auth-token"}
    assert b"tok" in tokens and b"admin-token" not in tokens


def test_against_the_devcloud_the_admin_only_reads() -> None:
    routes = fuzz_runner.catalogue()
    reqs = fuzz_runner.plan(routes, {}, ["demo", "adm"], len(routes), 5, frozenset({"adm"}))
    sent = {(r.method == "GET", v) for r in reqs for k, v in r.headers if k == b"x-auth-token"}
    assert (True, b"adm") in sent and (False, b"demo") in sent
    assert (False, b"adm") not in sent  # a change the admin would make goes as demo


def test_the_summary_counts_by_class_and_lists_each_5xx() -> None:
    routes = fuzz_runner.catalogue()
    reqs = fuzz_runner.plan(routes, {}, ["tok"], 4, seed=1)
    fault = '{"itemNotFound": {"code": 404, "message": "no"}}'
    outcomes = [
        fuzz_runner.Outcome(reqs[0], 200, "{}"),
        fuzz_runner.Outcome(reqs[1], 500, "boom"),
        fuzz_runner.Outcome(reqs[2], 404, fault),
        fuzz_runner.Outcome(reqs[3], 0, "ReadTimeout: "),
    ]
    text = fuzz_runner.summary(outcomes)
    assert text.splitlines()[0] == "4 requests: 2xx 1, 4xx 1, 5xx 1, no answer 1"
    assert "2 answers of 5xx or none:" in text and "'boom'" in text
    assert f"500 {reqs[1].method} {reqs[1].target}" in text
    assert fuzz_runner.world_from({"volumes": [{"id": "v1"}, {"x": 1}, "junk"]}) == {
        "volumes": ["v1"],
        "router_id": [],
    }


def test_error_formats_per_service() -> None:
    nova = b'{"badRequest": {"code": 400, "message": "m"}}'
    neutron = b'{"NeutronError": {"type": "T", "message": "m", "detail": ""}}'
    api_wg = b'{"errors": [{"status": 404, "title": "Not Found"}]}'
    keystone = b'{"error": {"code": 401, "title": "Unauthorized", "message": "m"}}'
    assert error_format("compute", 400, nova) is None
    assert error_format("volume", 400, nova) is None
    assert error_format("volume", 404, nova) is not None  # the code must be the status
    assert error_format("network", 400, neutron) is None
    assert error_format("network", 400, nova) is not None
    assert error_format("admin", 404, api_wg) is None
    assert error_format("admin", 404, b"Not Found") is not None
    assert error_format("compute", 401, keystone) is None
    assert error_format("network", 401, neutron) is not None
    assert error_format("compute", 200, b"anything") is None


async def test_a_path_or_method_no_route_declares_is_refused_in_the_apis_format(
    client: httpx.AsyncClient,
) -> None:
    admin = {"X-Auth-Token": "admin-token"}
    method = await client.post("/volume/v3", headers=admin)
    assert method.status_code == 405
    assert method.json() == {
        "badMethod": {"code": 405, "message": "The method is not allowed for this resource."}
    }
    unknown = await client.get("/v1/pods/a/b", headers=admin)
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["status"] == 404
    assert error_format("admin", 404, unknown.content) is None
    nowhere = await client.get("/nowhere", headers=admin)
    assert nowhere.status_code == 404 and nowhere.json()["errors"][0]["status"] == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"volume": {"size": [1]}}, "Invalid input for field/attribute size. Value: [1]."),
        ({"volume": {"size": "0x1"}}, "Invalid input for field/attribute size. Value: 0x1."),
        ({"volume": {"size": 0}}, "0 is less than the minimum of 1"),
        ({"volume": {"size": 1, "metadata": {"k": 1}}}, "field/attribute k. Value: 1."),
        ({"snapshot": {"volume_id": {"id": 1}}}, "field/attribute volume_id."),
        ({"backup": {"name": "b"}}, "'volume_id' is a required property"),
    ],
)
async def test_a_malformed_volume_create_is_refused_before_any_pod_is_asked(
    client: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    """Cinder's schema at the top: nothing is scheduled, bound, routed or asked."""
    collection = {"volume": "volumes", "snapshot": "snapshots", "backup": "backups"}
    (key,) = body
    answer = await client.post(
        f"/volume/v3/{collection[key]}", json=body, headers={"X-Auth-Token": "member-token"}
    )
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["badRequest"]["message"]


@pytest.mark.parametrize("protocol", [True, 6.5, [6]])
async def test_a_rule_protocol_that_is_no_number_nor_name_is_refused(
    client: httpx.AsyncClient, protocol: Any
) -> None:
    """Neutron's SecurityGroupRuleInvalidProtocol, where `true` once passed as protocol 1
    and failed (500) when its ports were checked."""
    member = {"X-Auth-Token": "member-token"}
    group = await client.post(
        "/networking/v2.0/security-groups", json={"security_group": {"name": "g"}}, headers=member
    )
    rule = {
        "security_group_id": group.json()["security_group"]["id"],
        "direction": "ingress",
        "protocol": protocol,
        "port_range_min": 22,
        "port_range_max": 22,
    }
    answer = await client.post(
        "/networking/v2.0/security-group-rules",
        json={"security_group_rule": rule},
        headers=member,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["NeutronError"]["type"] == "SecurityGroupRuleInvalidProtocol"
    six = {**rule, "protocol": 6.0}
    made = await client.post(
        "/networking/v2.0/security-group-rules",
        json={"security_group_rule": six},
        headers=member,
    )
    assert made.status_code == 201, made.text
    assert made.json()["security_group_rule"]["protocol"] == "6"


async def test_qos_keys_to_delete_must_be_strings(client: httpx.AsyncClient) -> None:
    """Cinder's schema for `delete_keys`; a list among the keys was a 500 (unhashable)."""
    admin = {"X-Auth-Token": "admin-token"}
    made = await client.post(
        "/volume/v3/qos-specs", json={"qos_specs": {"name": "q", "k": "v"}}, headers=admin
    )
    qos = made.json()["qos_specs"]["id"]
    url = f"/volume/v3/qos-specs/{qos}/delete_keys"
    bad = await client.put(url, json={"keys": [["k"]]}, headers=admin)
    assert bad.status_code == 400, bad.text
    assert "is not of type 'string'" in bad.json()["badRequest"]["message"]
    done = await client.put(url, json={"keys": ["k"]}, headers=admin)
    assert done.status_code == 202, done.text


async def test_the_runner_sends_the_path_as_generated() -> None:
    """Dot segments and encoded characters reach the server as generated (httpx would
    remove `..`); a header the client refuses to send is an outcome, not a crash."""
    lines: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines.append(await reader.readline())
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    root = httpx.URL(f"http://127.0.0.1:{port}")
    odd = "/compute/v2.1/servers/s1/../../os-keypairs"
    heads = ((b"x-auth-token", b"t"),)
    req = FuzzRequest(Endpoint("GET", "/x"), "GET", odd, "a=%00", heads, b"")
    refused = FuzzRequest(Endpoint("GET", "/x"), "GET", "/", "", ((b"x-a", b"a\r\nb"),), b"")
    async with server, httpcore.AsyncConnectionPool() as pool:
        sent = await fuzz_runner._send(pool, root, req)
        not_sent = await fuzz_runner._send(pool, root, refused)
    assert lines == [f"GET {odd}?a=%00 HTTP/1.1\r\n".encode()]
    assert (sent.status, sent.answer) == (500, "boom")
    assert not_sent.status == 0 and "not sent" in not_sent.answer


# --- the handler defects the suite found, each refused where the body is first read -------


async def _world(tmp_path: Path) -> harness.Harness:
    return await harness.build(tmp_path)


@pytest.mark.parametrize(
    ("template", "body", "message"),
    [
        (
            "/compute/v2.1/servers",
            {"server": {"name": "a", "flavorRef": "1", "block_device_mapping_v2": 1}},
            "Invalid input for field/attribute block_device_mapping_v2.",
        ),
        (
            "/compute/v2.1/servers",
            {
                "server": {
                    "name": "a",
                    "flavorRef": "1",
                    "networks": [{"uuid": "n", "fixed_ip": []}],
                }
            },
            "Invalid input for field/attribute networks.",
        ),
        (
            "/compute/v2.1/servers/{server_id}/os-interface",
            {"interfaceAttachment": {"net_id": "{networks}", "fixed_ips": 1}},
            "Invalid input for field/attribute fixed_ips.",
        ),
        (
            "/compute/v2.1/servers/{server_id}/os-interface",
            {"interfaceAttachment": {"net_id": "{networks}", "fixed_ips": {"x": [1]}}},
            "Invalid input for field/attribute fixed_ips.",
        ),
        (
            "/networking/v2.0/ports/{ports}",
            {"port": {"fixed_ips": [{"subnet_id": []}]}},
            "'[]' is not a valid UUID",
        ),
    ],
)
async def test_wrong_json_types_in_nested_fields_are_refused_before_anything_is_made(
    tmp_path: Path, template: str, body: dict[str, Any], message: str
) -> None:
    """Each was a 500 (TypeError or KeyError in the workflow) or a pod asked with it."""
    h = await _world(tmp_path)
    try:
        text = json.dumps(body)
        path = template
        for slot, ids in h.world.items():
            text = text.replace("{" + slot + "}", ids[0])
            path = path.replace("{" + slot + "}", ids[0])
        method = "PUT" if "/ports/" in path else "POST"
        heads = ((b"x-auth-token", b"member-token"), (b"content-type", b"application/json"))
        req = FuzzRequest(Endpoint(method, template), method, path, "", heads, text.encode())
        assert await h.check(req) is None  # no 5xx, the service's format, nothing made
        answer = await h.call(req)
        assert answer.status == 400, answer.body
        assert message in answer.body.decode()
    finally:
        await harness.close(h)


@pytest.mark.parametrize("token", [b"member-token", b"admin-token"])
async def test_wrong_json_types_in_every_nested_field_read_by_the_top(
    tmp_path: Path, token: bytes
) -> None:
    """The sweep of `fuzz/nested.py`: each request passes the three checks."""
    h = await _world(tmp_path)
    failures: dict[str, harness.Failure] = {}
    try:
        for method, path, body in nested.cases(h.world):
            heads = ((b"x-auth-token", token), (b"content-type", b"application/json"))
            endpoint = Endpoint(method, path)
            req = FuzzRequest(endpoint, method, path, "", heads, json.dumps(body).encode())
            failure = await h.check(req)
            if failure is not None:
                failures.setdefault(failure.cause, failure)
    finally:
        await harness.close(h)
    assert h.sent > 500
    assert not failures, f"{len(failures)} causes:\n{_report(list(failures.values()))}"
