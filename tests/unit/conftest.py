"""Shared fixtures: cascade-api in-process with a fake Keystone and fake pods, real SQLite."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette

from cascade.app import create_app
from cascade.conf import Conf, DatabaseSection, KeystoneSection
from cascade.context import Context
from cascade.db.migrate import upgrade

if TYPE_CHECKING:
    from tests.unit.fakenova import FakeCloud

# the roles in each token, as Keystone gives them: with its implied roles (admin implies
# member, member implies reader)
TOKENS = {
    "admin-token": ["admin", "member", "reader"],
    "member-token": ["member", "reader"],
    "other-token": ["member", "reader"],  # a member of another project (p2), user u2
    "reader-token": ["reader"],  # a reader (only) of the member's project (p1), user u1
}


class FakeKeystone:
    """Just enough of Keystone v3: service-user auth, token validation, the catalog."""

    def __init__(self) -> None:
        self.validations = 0
        self.down = False
        self.catalog: list[dict[str, Any]] = []
        self.projects = {"p1", "p2"}  # what GET /projects/{id} knows

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        if request.method == "POST":
            body = {"token": {"expires_at": expires}}
            return httpx.Response(201, json=body, headers={"X-Subject-Token": "service-token"})
        assert request.headers["X-Auth-Token"] == "service-token"
        if request.url.path.endswith("/auth/catalog"):
            return httpx.Response(200, json={"catalog": self.catalog})
        if "/users/" in request.url.path and request.method == "GET":
            user = request.url.path.rsplit("/", 1)[-1]
            names = {"u1": "someone", "u2": "other"}
            if user not in names:
                return httpx.Response(404, json={"error": {"code": 404}})
            return httpx.Response(200, json={"user": {"id": user, "name": names[user]}})
        if "/projects/" in request.url.path and request.method == "GET":
            project = request.url.path.rsplit("/", 1)[-1]
            if project not in self.projects:
                return httpx.Response(404, json={"error": {"code": 404}})
            return httpx.Response(200, json={"project": {"id": project, "name": project}})
        self.validations += 1
        roles = TOKENS.get(request.headers["X-Subject-Token"])
        if roles is None:
            return httpx.Response(404, json={"error": {"code": 404}})
        other = request.headers["X-Subject-Token"] == "other-token"
        token = {
            "expires_at": expires,
            "user": {"id": "u2", "name": "other"} if other else {"id": "u1", "name": "someone"},
            "project": {"id": "p2", "name": "proj2"} if other else {"id": "p1", "name": "proj"},
            "roles": [{"name": r} for r in roles],
        }
        return httpx.Response(200, json={"token": token})


PodHandler = Callable[[httpx.Request], httpx.Response]


def no_pods(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no pod here", request=request)


@pytest.fixture
def keystone() -> FakeKeystone:
    return FakeKeystone()


@pytest.fixture
def pod_handler(request: pytest.FixtureRequest) -> PodHandler:
    """No pod answers, unless the test is marked `fake_pods`: then `cloud`'s two fake Novas."""
    if request.node.get_closest_marker("fake_pods"):
        handler: PodHandler = request.getfixturevalue("cloud")
        return handler
    return no_pods


@pytest.fixture
def cloud() -> FakeCloud:
    from tests.unit.fakenova import FakeCloud  # fakenova builds on this module

    return FakeCloud.pair()


@pytest.fixture
async def pods(client: httpx.AsyncClient, keystone: FakeKeystone, cloud: FakeCloud) -> FakeCloud:
    """`cloud`'s two fake pods registered as pod1 (az1) and pod2 (az2)."""
    from tests.unit.fakenova import register

    await register(client, keystone, cloud)
    return cloud


@pytest.fixture
async def app(
    tmp_path: Path, keystone: FakeKeystone, pod_handler: PodHandler
) -> AsyncIterator[Starlette]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cascade.sqlite'}"
    await upgrade(url)
    conf = Conf(
        database=DatabaseSection(connection=url),
        keystone=KeystoneSection(auth_url="http://keystone.test/v3", password="x"),
    )
    conf = dataclasses.replace(conf, api=dataclasses.replace(conf.api, max_body_bytes=4096))
    made = create_app(
        conf,
        keystone_transport=httpx.MockTransport(keystone),
        pod_transport=httpx.MockTransport(pod_handler),
    )
    yield made
    await made.state.registry.aclose()
    await made.state.engine.dispose()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        yield c


@pytest.fixture
def member_ctx() -> Context:
    """The member user's context (the fake Keystone's `member-token`), for services
    called without an HTTP request."""
    return Context(
        "member-token",
        "u1",
        "someone",
        "p1",
        "proj",
        frozenset({"member", "reader"}),
        datetime.now(UTC).replace(tzinfo=None),
    )
