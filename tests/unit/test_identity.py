"""Token validations: trusted for `revocation_check_interval` at most, never past expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cascade.conf import KeystoneSection
from cascade.identity import TokenValidator


class Keystone:
    """A Keystone whose tokens can be revoked, each with its own lifetime."""

    def __init__(self) -> None:
        self.valid: dict[str, timedelta] = {}  # token -> time left at issue
        self.asked = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            body = {"token": {"expires_at": expires}}
            return httpx.Response(201, json=body, headers={"X-Subject-Token": "service"})
        self.asked += 1
        left = self.valid.get(request.headers["X-Subject-Token"])
        if left is None:
            return httpx.Response(404, json={"error": {"code": 404}})
        token = {
            "expires_at": (datetime.now(UTC) + left).isoformat(),
            "user": {"id": "u1", "name": "u"},
            "project": {"id": "p1", "name": "p"},
            "roles": [{"name": "member"}],
        }
        return httpx.Response(200, json={"token": token})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    made = Clock()
    monkeypatch.setattr("cascade.identity.time.monotonic", made)
    return made


def validator(keystone: Keystone, interval: int) -> TokenValidator:
    conf = KeystoneSection(auth_url="http://k/v3", revocation_check_interval=interval)
    return TokenValidator(conf, transport=httpx.MockTransport(keystone))


async def test_a_revoked_token_is_refused_within_the_interval(clock: Clock) -> None:
    keystone = Keystone()
    keystone.valid["t1"] = timedelta(hours=1)
    tokens = validator(keystone, interval=30)
    assert await tokens.validate("t1") is not None
    del keystone.valid["t1"]  # revoked in Keystone
    clock.now += 29
    assert await tokens.validate("t1") is not None  # trusted for the interval
    assert keystone.asked == 1
    clock.now += 1
    assert await tokens.validate("t1") is None  # asked again: refused
    assert keystone.asked == 2
    await tokens.aclose()


async def test_a_validation_never_outlives_the_tokens_expiry(clock: Clock) -> None:
    keystone = Keystone()
    keystone.valid["short"] = timedelta(seconds=5)
    tokens = validator(keystone, interval=30)
    assert await tokens.validate("short") is not None
    clock.now += 6
    assert await tokens.validate("short") is not None  # not from the cache: asked again
    assert keystone.asked == 2
    await tokens.aclose()


def test_the_default_interval_is_at_most_a_minute() -> None:
    assert 0 < KeystoneSection().revocation_check_interval <= 60


class Grants:
    """A Keystone where the service user (s1) has no role in a project until granted."""

    def __init__(self) -> None:
        self.granted: set[str] = set()
        self.issued: list[str] = []
        self.puts: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        if request.method == "POST":
            scope = json.loads(request.content)["auth"]["scope"]["project"]
            project = scope.get("id", scope.get("name"))
            if "id" in scope and project not in self.granted:
                return httpx.Response(401, json={"error": {"code": 401}})
            self.issued.append(project)
            body = {"token": {"expires_at": expires, "user": {"id": "s1"}}}
            return httpx.Response(201, json=body, headers={"X-Subject-Token": f"tok-{project}"})
        if request.url.path.endswith("/roles") and request.method == "GET":
            assert request.url.params["name"] == "member"
            return httpx.Response(200, json={"roles": [{"id": "r-member", "name": "member"}]})
        if request.method == "PUT":
            self.puts.append(request.url.path)
            self.granted.add(request.url.path.split("/")[3])
            return httpx.Response(204)
        return httpx.Response(404)


async def test_a_project_token_is_the_service_users_given_the_role_once() -> None:
    keystone = Grants()
    conf = KeystoneSection(auth_url="http://ks/v3", password="x")
    validator = TokenValidator(conf, transport=httpx.MockTransport(keystone))
    assert await validator.project_token("p9") == "tok-p9"
    assert keystone.puts == ["/v3/projects/p9/users/s1/roles/r-member"]
    assert await validator.project_token("p9") == "tok-p9"  # kept
    assert keystone.issued == ["service", "p9"] and len(keystone.puts) == 1
    keystone.granted.add("p8")  # a role given by the operator: no grant needed
    assert await validator.project_token("p8") == "tok-p8"
    assert len(keystone.puts) == 1
    await validator.aclose()
