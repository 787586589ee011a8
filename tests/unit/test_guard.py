"""The input guard and the refusals below the handlers: each answered once, before any
handler, database or pod, in the error format of the path's service."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette

from cascade.api.guard import MAX_DEPTH, Malformed, decode, path_refusal
from cascade.conf import PodsSection
from cascade.db.engine import now
from cascade.db.limits import OutOfRange
from cascade.db.models import Pod
from cascade.pods.client import PodClient, Unsendable
from tests.unit.conftest import FakeKeystone
from tests.unit.fakenova import add_pod

MEMBER = {"X-Auth-Token": "member-token"}
ADMIN = {"X-Auth-Token": "admin-token"}
# one path per error format: Nova's fault, Cinder's (the same), Neutron's, the API-WG's
PATHS = {
    "compute": "/compute/v2.1/os-keypairs",
    "volume": "/volume/v3/p1/volumes",
    "network": "/networking/v2.0/networks",
    "admin": "/v1/bindings",
}


def refusal(answer: httpx.Response, service: str) -> tuple[int, str]:
    """The status and message of a refusal, checking its body is the service's format."""
    body = json.loads(answer.content.decode("ascii"))  # ASCII whatever the input was
    if service in ("compute", "volume"):
        ((name, fault),) = body.items()
        assert fault["code"] == answer.status_code and name in ("badRequest", "overLimit")
        return answer.status_code, str(fault["message"])
    if service == "network":
        error = body["NeutronError"]
        assert set(error) == {"type", "message", "detail"}
        return answer.status_code, str(error["message"])
    (error,) = body["errors"]
    assert error["status"] == answer.status_code and error["code"].startswith("cascade.")
    return answer.status_code, str(error["detail"])


BAD_BODIES = {
    "nested": b"[" * 1500 + b"]" * 1500,  # past Python's recursion limit, under 4 KiB
    "nested-shallow-for-python": b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
    "surrogate": b'{"keypair": {"name": "\\ud800"}}',
    "surrogate-key": b'{"\\udfff": 1}',
    "nan": b'{"network": {"mtu": NaN}}',
    "infinity": b'{"network": {"mtu": -Infinity}}',
    "overflow": b'{"network": {"mtu": 1e999}}',
    "digits": b'{"network": {"mtu": ' + b"9" * 21 + b"}}",
    "not-utf8": b'{"name": "\xff\xfe"}',
    "not-json": b"{'name': 1}",
}


@pytest.mark.parametrize("service", PATHS)
@pytest.mark.parametrize("case", BAD_BODIES)
async def test_bodies_no_decoder_should_meet_are_400_in_the_services_format(
    client: httpx.AsyncClient, keystone: FakeKeystone, service: str, case: str
) -> None:
    answer = await client.post(PATHS[service], content=BAD_BODIES[case], headers=ADMIN)
    status, message = refusal(answer, service)
    expected = "the body is not valid JSON" if service == "admin" else "Malformed request body"
    assert status == 400 and message.startswith(expected)


@pytest.mark.parametrize("service", PATHS)
async def test_a_body_past_the_limit_is_413_and_not_read_to_the_end(
    client: httpx.AsyncClient, service: str
) -> None:
    answer = await client.post(PATHS[service], content=b" " * 5000, headers=ADMIN)
    assert refusal(answer, service)[0] == 413


@pytest.mark.parametrize(
    "path",
    [
        "/compute/v2.1/servers/abc/%2e%2e/%2e%2e/os-keypairs",
        "/compute/v2.1/servers/abc/%2E%2E/%2E%2E/servers/detail",
        "/compute/v2.1/servers/abc/%252e%252e/%252e%252e/os-keypairs",
        "/compute/v2.1/servers/abc%2f..%2f..%2fos-keypairs",
        "/compute/v2.1/servers/abc%5cfoo",
        "/compute/v2.1/servers/a%00b",
        "/compute/v2.1/servers/a%0d%0ab",
        "/volume/v3/p1/volumes/abc/%2e%2e/%2e%2e/snapshots",
        "/networking/v2.0/networks/%2e%2e",
        "/v1/pods/%2e%2e",
    ],
)
async def test_paths_that_a_pod_would_normalise_are_never_routed(
    client: httpx.AsyncClient, path: str
) -> None:
    for method in ("GET", "POST", "DELETE"):
        answer = await client.request(method, path, headers=MEMBER)
        service = next(s for s, p in PATHS.items() if path.startswith(p.rsplit("/", 1)[0][:7]))
        status, message = refusal(answer, service)
        assert status == 400 and "request path" in message


async def test_a_long_path_is_414(client: httpx.AsyncClient) -> None:
    answer = await client.get("/networking/v2.0/networks/" + "a" * 5000, headers=MEMBER)
    assert refusal(answer, "network")[0] == 414


@pytest.mark.parametrize(
    "path", ["/compute/v2.1/servers/abc/os-keypairs", "/compute/v2.1/servers/abc/x/y/z/w"]
)
async def test_only_novas_own_sub_resources_below_a_server_are_forwarded(
    client: httpx.AsyncClient, path: str
) -> None:
    answer = await client.get(path, headers=MEMBER)
    assert answer.status_code == 404 and answer.json()["itemNotFound"]["code"] == 404


async def test_only_cinders_own_sub_resources_below_a_volume_are_forwarded(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/volume/v3/p1/volumes/abc/snapshots", headers=MEMBER)
    assert answer.status_code == 404 and answer.json()["itemNotFound"]["code"] == 404


@pytest.mark.parametrize("token", ["caf\u00e9", "a b", "tok\x7f", "x" * 9000])
async def test_a_token_that_cannot_be_one_is_401_without_asking_keystone(
    client: httpx.AsyncClient, keystone: FakeKeystone, token: str
) -> None:
    answer = await client.get(
        "/compute/v2.1/os-keypairs", headers=[(b"X-Auth-Token", token.encode("latin-1"))]
    )
    assert answer.status_code == 401 and answer.json()["error"]["code"] == 401
    assert keystone.validations == 0


def test_decode_walks_deep_trees_without_recursing() -> None:
    assert decode(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    assert decode(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(Malformed, match="nested deeper"):
        decode(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert decode(b"-" + b"9" * 20) == -int("9" * 20)
    for digits in (21, 5000):
        with pytest.raises(Malformed, match="out of range"):
            decode(b"9" * digits)


async def test_a_value_longer_than_its_column_is_400_not_a_database_error(
    client: httpx.AsyncClient,
) -> None:
    await add_pod(client, "pod1", "az1")
    body = {"binding": {"project_id": "p" * 100, "az": "az1"}}  # the column holds 64
    answer = await client.post("/v1/bindings", json=body, headers=ADMIN)
    status, message = refusal(answer, "admin")
    assert status == 400 and "longer than the maximum of 64" in message
    assert (await client.get("/v1/bindings", headers=ADMIN)).json()["bindings"] == []


def test_literal_dot_segments_are_refused_too() -> None:
    # httpx normalises `..` before sending; other clients and proxies may not
    for path in ("/compute/v2.1/servers/a/os-interface/..", "/v1/pods/.", "/x/./y"):
        scope = {"path": path, "raw_path": path.encode()}
        assert path_refusal(scope) == (400, "The request path holds a dot segment ('.' or '..').")
    assert path_refusal({"path": "/v1/pods/a..b", "raw_path": b"/v1/pods/a..b"}) is None


async def test_the_database_limits_are_checked_on_every_flush(app: Starlette) -> None:
    async with app.state.sessions() as db:
        db.add(Pod(id="x", name="n", region_name="r", az="a", pod_az="b", created_at=now()))
        await db.flush()
        db.add(Pod(id="y", name="n2", region_name="r2", az="a" * 256, pod_az="b", created_at=now()))
        with pytest.raises(OutOfRange, match="az"):
            await db.flush()
        await db.rollback()
        db.add(
            Pod(
                id="z",
                name="n3",
                region_name="r3",
                az="a",
                pod_az="b",
                weight=2**40,
                created_at=now(),
            )
        )
        with pytest.raises(OutOfRange, match="weight"):
            await db.flush()


async def test_an_id_httpx_cannot_put_in_a_url_is_the_callers_error() -> None:
    client = PodClient(
        "pod1", "compute", PodsSection(), httpx.MockTransport(lambda r: httpx.Response(200))
    )
    with pytest.raises(Unsendable):
        await client.request("GET", "http://pod/servers/a\x00b")
    await client.aclose()


async def test_500s_answer_a_request_and_leave_the_breaker_closed() -> None:
    statuses = iter([500] * 10 + [503] * 3)
    transport = httpx.MockTransport(lambda r: httpx.Response(next(statuses), json={}))
    client = PodClient("pod1", "compute", PodsSection(breaker_failures=3), transport)
    for _ in range(10):
        assert (await client.request("POST", "http://pod/servers")).status_code == 500
    assert client.breaker.state == "closed"
    for _ in range(3):
        assert (await client.request("GET", "http://pod/servers")).status_code == 503
    assert client.breaker.state == "open"  # 503s say the pod cannot serve anyone
    await client.aclose()


@pytest.mark.parametrize(
    ("path", "key"),
    [("/compute/v2.1/servers", "computeFault"), ("/volume/v3/p1/volumes", "computeFault"),
     ("/networking/v2.0/ports", "NeutronError"), ("/v1/pods", "errors")],
)  # fmt: skip
async def test_an_unexpected_error_is_a_500_in_the_called_apis_format(path: str, key: str) -> None:
    from starlette.requests import Request

    from cascade.app import _api_error

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    answer = await _api_error(Request(scope), RuntimeError("boom"))
    assert answer.status_code == 500 and key in json.loads(bytes(answer.body))


async def test_a_volume_list_offset_past_cinders_bound_is_400(client: httpx.AsyncClient) -> None:
    answer = await client.get("/volume/v3/p1/volumes/detail?offset=" + "9" * 20, headers=MEMBER)
    assert answer.status_code == 400
    assert answer.json()["badRequest"]["message"].endswith("offset must be <= 2147483647")


async def test_a_transfer_cinder_would_refuse_is_refused_before_any_pod(
    client: httpx.AsyncClient,
) -> None:
    body = {"transfer": {"volume_id": "7e5afe0a-1115-4ba6-ba98-ee552735cc30", "name": {"a": []}}}
    answer = await client.post("/volume/v3/p1/volume-transfers", json=body, headers=MEMBER)
    assert answer.status_code == 400
    assert "field/attribute name" in answer.json()["badRequest"]["message"]


async def test_a_row_changed_under_a_request_is_409_in_its_apis_format() -> None:
    from sqlalchemy.orm.exc import StaleDataError
    from starlette.requests import Request

    from cascade.app import _refused

    scope = {"type": "http", "method": "DELETE", "headers": [], "query_string": b""}
    scope["path"] = "/networking/v2.0/security-group-rules/x/tags"
    answer = await _refused(Request(scope), StaleDataError("0 rows matched"))
    assert answer.status_code == 409
    assert json.loads(bytes(answer.body))["NeutronError"]["type"] == "HTTPConflict"
