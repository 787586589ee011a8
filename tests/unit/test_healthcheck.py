"""`/healthcheck` for load balancers (oslo.middleware's answers): the database decides,
a file drains the replica, no token needed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette


async def test_ok_without_a_token(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthcheck")
    assert (resp.status_code, resp.text) == (200, "OK")
    assert resp.headers["content-type"].startswith("text/plain")
    head = await client.head("/healthcheck")
    assert head.status_code == 200
    detailed = await client.get("/healthcheck", headers={"Accept": "application/json"})
    assert (detailed.status_code, detailed.json()) == (200, {"detailed": False, "reasons": []})


async def test_a_file_drains_the_replica(
    client: httpx.AsyncClient, app: Starlette, tmp_path: Path
) -> None:
    flag = tmp_path / "healthcheck_disable"
    conf = app.state.conf
    api = dataclasses.replace(conf.api, healthcheck_disable_file=str(flag))
    app.state.conf = dataclasses.replace(conf, api=api)
    assert (await client.get("/healthcheck")).status_code == 200  # no file yet
    flag.touch()
    resp = await client.get("/healthcheck")
    assert (resp.status_code, resp.text) == (503, "DISABLED BY FILE")
    flag.unlink()
    assert (await client.get("/healthcheck")).status_code == 200


async def test_a_database_that_does_not_answer_is_503_with_why(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    sessions = app.state.sessions

    def broken() -> Any:
        raise ConnectionRefusedError("the database is away")

    app.state.sessions = broken
    try:
        resp = await client.get("/healthcheck", headers={"Accept": "application/json"})
    finally:
        app.state.sessions = sessions
    assert resp.status_code == 503
    assert resp.json() == {"detailed": False, "reasons": ["database: ConnectionRefusedError"]}
    assert (await client.get("/healthcheck")).status_code == 200  # back
