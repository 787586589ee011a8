"""Operators' view of a request through the real devcloud: its line found by request id
in cascade-api's log and in the pod's nova-api log, and /metrics moved by a known
workload."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from openstack.connection import Connection
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import DEVCLOUD_DIR
from tests.integration.test_cascade_admin import token

pytestmark = pytest.mark.integration
CASCADE = "http://127.0.0.1:20080"
LOGS = DEVCLOUD_DIR / "log"


def lines_with(path: Path, needle: str, timeout: float = 10.0) -> list[str]:
    """The lines of log `path` holding `needle`, waited for (logs are written as they go)."""
    started = time.monotonic()
    while True:
        found = [line for line in path.read_text(errors="replace").splitlines() if needle in line]
        if found or time.monotonic() - started > timeout:
            return found
        time.sleep(0.2)


def test_a_server_create_is_found_by_its_request_id_in_both_logs(
    top: dict[str, Connection],
) -> None:
    demo = top["cascade"]
    flavor = demo.compute.find_flavor("m1.tiny", ignore_missing=False)
    image = demo.image.find_image("tiny", ignore_missing=False)
    global_id = f"req-{uuid.uuid4()}"
    headers = {
        "X-Auth-Token": token("cascade"),
        "X-OpenStack-Request-ID": global_id,
        "OpenStack-API-Version": "compute 2.79",
    }
    body = {
        "server": {
            "name": "logged",
            "flavorRef": flavor.id,
            "imageRef": image.id,
            "networks": "none",
            "availability_zone": "az1",
        }
    }
    with httpx.Client(base_url=CASCADE, headers=headers, timeout=120) as http:
        made = http.post("/compute/v2.1/servers", json=body)
        assert made.status_code == 202, made.text
        server_id = made.json()["server"]["id"]
        try:
            # cascade-api: the request's line, with both ids, the user and the project (the
            # answer's X-OpenStack-Request-ID is the pod's: Nova's id of the create)
            ours = lines_with(LOGS / "cascade-api.log", f"[{global_id} req-")
            assert len({line.split(f"[{global_id} ", 1)[1].split()[0] for line in ours}) == 1
            access = [line for line in ours if "cascade.api.access" in line]
            assert len(access) == 1, ours
            assert '"POST /compute/v2.1/servers" status: 202' in access[0]
            assert f"{demo.current_user_id} {demo.current_project_id}]" in access[0]
            # and the pod call it made, under the same ids
            assert any(
                "cascade.pods.client" in line and "pod pod1 compute" in line for line in ours
            )
            # pod1's nova-api logged the create under the global request id
            nova = lines_with(LOGS / "pod1-nova-api.log", global_id)
            assert any("POST" in line and "/servers" in line for line in nova), nova[:5]
            # no token in any of Cascade's lines
            assert headers["X-Auth-Token"] not in (LOGS / "cascade-api.log").read_text()
        finally:
            http.delete(f"/compute/v2.1/servers/{server_id}")


def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = httpx.get(f"{CASCADE}/metrics", timeout=30)
    assert resp.status_code == 200, resp.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def moved(before: dict[tuple[str, tuple[tuple[str, str], ...]], float],
          after: dict[tuple[str, tuple[tuple[str, str], ...]], float],
          name: str, **labels: str) -> float:  # fmt: skip
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_move_with_a_known_workload(top: dict[str, Connection]) -> None:
    headers = {"X-Auth-Token": token("cascade")}
    before = scrape()
    with httpx.Client(base_url=CASCADE, headers=headers, timeout=60) as http:
        for _ in range(3):
            assert http.get("/compute/v2.1/servers/detail").status_code == 200
        assert http.get("/compute/v2.1/servers/no-such-server").status_code == 404
    after = scrape()
    detail = {"api": "compute", "route": "/compute/v2.1/servers/detail", "method": "GET"}
    assert moved(before, after, "cascade_api_requests_total", **detail, status="200") == 3
    assert moved(before, after, "cascade_api_request_duration_seconds_count", **detail) == 3
    one = {"api": "compute", "route": "/compute/v2.1/servers/{server_id}", "method": "GET"}
    assert moved(before, after, "cascade_api_requests_total", **one, status="404") == 1
    calls = sum(
        moved(before, after, "cascade_pod_call_duration_seconds_count", pod=p, service="compute")
        for p in ("pod1", "pod2")
    )
    assert calls >= 3  # every list asked the pods demo works in
    assert moved(before, after, "cascade_fanout_pods_asked_total") >= 3
    assert after[("cascade_jobs_ready", ())] >= 0  # read from the queue at the scrape
