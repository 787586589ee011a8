"""Logs as operators grep them (`cascade.logs`): one line a request with its ids, the
same ids on its pod calls, health checks at DEBUG, JSON when asked, never a token."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest

from cascade import logs
from tests.unit.conftest import FakeKeystone
from tests.unit.fakenova import FakeCloud, register

pytestmark = pytest.mark.fake_pods
MEMBER = {"X-Auth-Token": "member-token"}
GLOBAL_ID = "req-12345678-1234-1234-1234-123456789abc"


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.handler.addFilter(logs.IdsFilter())
    caplog.set_level(logging.DEBUG)
    return caplog


async def test_a_request_and_its_pod_calls_carry_its_ids(
    client: httpx.AsyncClient,
    keystone: FakeKeystone,
    cloud: FakeCloud,
    lines: pytest.LogCaptureFixture,
) -> None:
    await register(client, keystone, cloud)
    lines.clear()
    headers = {**MEMBER, "X-OpenStack-Request-ID": GLOBAL_ID}
    resp = await client.post(
        "/compute/v2.1/os-keypairs", json={"keypair": {"name": "k"}}, headers=headers
    )
    assert resp.status_code in (200, 201), resp.text
    request_id = resp.headers["x-openstack-request-id"]
    access = [r for r in lines.records if r.name == "cascade.api.access"]
    assert len(access) == 1
    line = access[0]
    assert (line.levelno, line.request_id, line.global_request_id) == (  # type: ignore[attr-defined]
        logging.INFO,
        request_id,
        GLOBAL_ID,
    )
    assert (line.user_id, line.project_id) == ("u1", "p1")  # type: ignore[attr-defined]
    assert '"POST /compute/v2.1/os-keypairs" status: 20' in line.getMessage()
    # the pod calls it made, under the same ids
    calls = [r for r in lines.records if r.name == "cascade.pods.client"]
    assert calls and all(r.request_id == request_id for r in calls)  # type: ignore[attr-defined]
    assert all("member-token" not in r.getMessage() for r in lines.records)


async def test_health_checks_are_logged_at_debug(
    client: httpx.AsyncClient, lines: pytest.LogCaptureFixture
) -> None:
    assert (await client.get("/healthcheck")).status_code == 200
    access = [r for r in lines.records if r.name == "cascade.api.access"]
    assert [r.levelno for r in access] == [logging.DEBUG]


def test_text_and_json_layouts() -> None:
    record = logging.LogRecord("cascade.x", logging.WARNING, __file__, 1, "pod %s", ("p",), None)
    before = logs.CURRENT.set(logs.Ids())
    try:
        logs.bind(request_id="req-a", global_request_id=None, user_id="u", project_id="p")
        logs.IdsFilter().filter(record)
    finally:
        logs.CURRENT.reset(before)
    text = logging.Formatter(logs.TEXT_FORMAT, logs.DATE_FORMAT).format(record)
    assert " WARNING cascade.x [- req-a u p] pod p" in text
    shown = json.loads(logs.JsonFormatter().format(record))
    assert shown["message"] == "pod p" and shown["levelname"] == "WARNING"
    assert (shown["request_id"], shown["global_request_id"], shown["user_id"]) == (
        "req-a",
        "-",
        "u",
    )


def test_setup_installs_one_handler_and_refuses_unknown_levels() -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        logs.setup("warning", as_json=True)
        assert len(root.handlers) == 1 and root.level == logging.WARNING
        stream = io.StringIO()
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("cascade.t").warning("hello")
        assert json.loads(stream.getvalue())["message"] == "hello"
        with pytest.raises(ValueError, match="VERBOSE"):
            logs.setup("VERBOSE")
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
