"""cascade-api as a real process, with the devcloud's Keystone, on SQLite and on MariaDB."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devcloud import infra
from devcloud.layout import DB_USER, PASSWORD, Layout
from tests.integration.conftest import DEVCLOUD_DIR, connect

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(kind: str, tmp: Path, layout: Layout) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'cascade.sqlite'}"
    asyncio.run(infra.recreate_databases(layout, ["cascade_it"]))
    port = layout.port("mariadb")
    return f"mysql+asyncmy://{DB_USER}:{PASSWORD}@127.0.0.1:{port}/cascade_it?charset=utf8mb4"


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def cascade_url(
    request: pytest.FixtureRequest, clouds_yaml: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`cascade-manage db upgrade`, then `cascade-api` serving until the module ends."""
    layout = Layout(DEVCLOUD_DIR)
    tmp = tmp_path_factory.mktemp(f"cascade-{request.param}")
    port = free_port()
    conf = tmp / "cascade.conf"
    conf.write_text(
        f"[api]\nport = {port}\n"
        f"[database]\nconnection = {database_url(request.param, tmp, layout)}\n"
        f"[keystone]\nauth_url = {layout.auth_url}\nusername = cascade\npassword = {PASSWORD}\n"
    )
    manage = subprocess.run(
        [str(BIN / "cascade-manage"), "--config-file", str(conf), "db", "upgrade"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert manage.returncode == 0, manage.stderr
    log = (tmp / "cascade-api.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "cascade-api"), "--config-file", str(conf)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None, (tmp / "cascade-api.log").read_text()
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def token(cloud: str) -> str:
    conn = connect(cloud)
    try:
        return str(conn.auth_token)
    finally:
        conn.close()


def test_admin_registers_the_devcloud_pods(cascade_url: str) -> None:
    admin = {"X-Auth-Token": token("pod1-admin")}
    with httpx.Client(base_url=cascade_url, headers=admin) as client:
        made = []
        for n in (1, 2):
            body = {"pod": {"name": f"pod{n}", "region_name": f"pod{n}", "az": f"az{n}"}}
            resp = client.post("/v1/pods", json=body)
            assert resp.status_code == 201, resp.text
            assert resp.headers["x-openstack-request-id"].startswith("req-")
            made.append(resp.json()["pod"]["id"])
        pods = client.get("/v1/pods").json()["pods"]
        assert [(p["id"], p["az"]) for p in pods] == [(made[0], "az1"), (made[1], "az2")]
        duplicate = client.post(
            "/v1/pods", json={"pod": {"name": "pod1", "region_name": "x", "az": "az1"}}
        )
        assert duplicate.status_code == 409
        assert duplicate.json()["errors"][0]["code"] == "cascade.pod.duplicate"


def test_tokens_and_roles_are_keystones(cascade_url: str) -> None:
    anonymous = httpx.get(cascade_url + "/v1/pods")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith('Keystone uri="http://127.0.0.1:')
    bogus = httpx.get(cascade_url + "/v1/pods", headers={"X-Auth-Token": "gAAAAA-not-a-token"})
    assert bogus.status_code == 401
    demo = httpx.get(cascade_url + "/v1/pods", headers={"X-Auth-Token": token("pod1")})
    assert demo.status_code == 403
    assert demo.json()["errors"][0]["code"] == "cascade.forbidden"
