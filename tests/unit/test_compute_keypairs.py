"""Compute /os-keypairs kept at the top, and the copies made in pods (fake Nova in-process)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Pod, Routing
from cascade.pods.compute import Caller
from cascade.services.compute import keypair_copies, keypairs
from tests.unit.conftest import FakeKeystone, PodHandler
from tests.unit.fakenova import add_pod_row

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
URL = "/compute/v2.1/os-keypairs"
MD5_FP = re.compile(r"^([0-9a-f]{2}:){15}[0-9a-f]{2}$")
SHA1_FP = re.compile(r"^([0-9a-f]{2}:){19}[0-9a-f]{2}$")


def at(version: str, headers: dict[str, str] = MEMBER) -> dict[str, str]:
    return {**headers, "OpenStack-API-Version": f"compute {version}"}


def ssh_key(comment: str = "me@laptop") -> str:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    return f"{raw.decode()} {comment}"


def md5_fingerprint(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


class FakeNova:
    """One pod's Nova: its version document and os-keypairs (one user's), every call kept."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}
        self.calls: list[httpx.Request] = []
        self.fail: dict[str, tuple[int, str]] = {}  # method -> (status, message)

    def keypair_calls(self) -> list[str]:
        return [
            f"{r.method} {unquote(r.url.path)}" for r in self.calls if "os-keypairs" in r.url.path
        ]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if "os-keypairs" not in path:
            return httpx.Response(200, json={"version": {"min_version": "2.1", "version": "2.96"}})
        self.calls.append(request)
        if request.method in self.fail:
            status, message = self.fail[request.method]
            return httpx.Response(status, json={"fault": {"code": status, "message": message}})
        name = unquote(path.rpartition("/os-keypairs")[2].lstrip("/"))
        if request.method == "POST":
            body = json.loads(request.content)["keypair"]
            if body["name"] in self.keys:
                return httpx.Response(409, json={"conflictingRequest": {"message": "exists"}})
            self.keys[body["name"]] = body
            return httpx.Response(201, json={"keypair": body})
        if name not in self.keys:
            message = f"Keypair {name} not found for user u1"
            return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": message}})
        if request.method == "DELETE":
            del self.keys[name]
            return httpx.Response(204)
        return httpx.Response(200, json={"keypair": self.keys[name]})


@pytest.fixture
def nova() -> FakeNova:
    return FakeNova()


@pytest.fixture
def pod_handler(nova: FakeNova) -> PodHandler:
    return nova


@pytest.fixture
async def pod(app: Starlette, client: httpx.AsyncClient, keystone: FakeKeystone) -> Pod:
    keystone.catalog = [
        {
            "type": "compute",
            "endpoints": [
                {"interface": "public", "region_id": "pod1", "url": "http://pod1.test:8774/v2.1"}
            ],
        }
    ]
    return await add_pod_row(app, client)


async def create(
    client: httpx.AsyncClient, version: str, headers: dict[str, str] = MEMBER, **fields: Any
) -> httpx.Response:
    return await client.post(URL, json={"keypair": fields}, headers=at(version, headers))


# --- import and generate ------------------------------------------------------------


async def test_import_ssh_is_201_with_type_from_2_2(client: httpx.AsyncClient) -> None:
    key = ssh_key()
    resp = await create(client, "2.2", name="k1", public_key=key)
    assert resp.status_code == 201
    assert resp.json() == {
        "keypair": {
            "name": "k1",
            "public_key": key,
            "fingerprint": md5_fingerprint(key),
            "user_id": "u1",
            "type": "ssh",
        }
    }
    assert resp.headers["openstack-api-version"] == "compute 2.2"


async def test_import_at_2_1_is_200_without_type(client: httpx.AsyncClient) -> None:
    resp = await create(client, "2.1", name="k1", public_key=ssh_key())
    assert resp.status_code == 200
    assert set(resp.json()["keypair"]) == {"name", "public_key", "fingerprint", "user_id"}
    resp = await create(client, "2.1", name="k2", public_key=ssh_key(), type="ssh")
    assert resp.status_code == 400  # `type` is a 2.2 field
    assert (
        "Additional properties are not allowed ('type' was unexpected)"
        in (resp.json()["badRequest"]["message"])
    )


async def test_import_x509(client: httpx.AsyncClient) -> None:
    _, certificate = keypairs.generate_x509("someone")
    resp = await create(client, "2.2", name="win", public_key=certificate, type="x509")
    assert resp.status_code == 201
    made = resp.json()["keypair"]
    cert = x509.load_pem_x509_certificate(certificate.encode())
    expected = cert.fingerprint(hashes.SHA1()).hex()
    assert made["fingerprint"].replace(":", "") == expected
    assert SHA1_FP.match(made["fingerprint"])
    assert (made["type"], "private_key" in made) == ("x509", False)


async def test_generate_ssh_returns_the_private_key_once(client: httpx.AsyncClient) -> None:
    resp = await create(client, "2.1", name="gen")
    assert resp.status_code == 200
    made = resp.json()["keypair"]
    assert made["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert made["public_key"].startswith("ssh-rsa ")
    assert MD5_FP.match(made["fingerprint"])
    assert made["fingerprint"] == md5_fingerprint(made["public_key"])
    private = serialization.load_pem_private_key(made["private_key"].encode(), None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert made["public_key"].split()[:2] == public.decode().split()
    assert private.key_size == 2048  # type: ignore[union-attr]
    shown = (await client.get(f"{URL}/gen", headers=MEMBER)).json()["keypair"]
    assert "private_key" not in shown
    assert shown["public_key"] == made["public_key"]


async def test_generate_x509(client: httpx.AsyncClient) -> None:
    resp = await create(client, "2.2", name="win", type="x509")
    assert resp.status_code == 201
    made = resp.json()["keypair"]
    assert SHA1_FP.match(made["fingerprint"])
    key, cert, _ = pkcs12.load_key_and_certificates(base64.b64decode(made["private_key"]), None)
    assert key is not None and cert is not None
    assert cert.public_bytes(serialization.Encoding.PEM).decode() == made["public_key"]
    assert cert.subject.rfc4514_string() == "CN=u1"
    assert cert.fingerprint(hashes.SHA1()).hex() == made["fingerprint"].replace(":", "")


async def test_2_92_refuses_generation_and_takes_more_name_characters(
    client: httpx.AsyncClient,
) -> None:
    resp = await create(client, "2.92", name="gen")
    assert resp.status_code == 400
    assert "'public_key' is a required property" in resp.json()["badRequest"]["message"]
    assert (await create(client, "2.92", name="me@host.x", public_key=ssh_key())).status_code == 201
    resp = await create(client, "2.91", name="me@host.y", public_key=ssh_key())
    assert resp.status_code == 400
    assert "does not match" in resp.json()["badRequest"]["message"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "k", "public_key": "ssh-rsa nonsense"}, "Keypair data is invalid: failed to"),
        (
            {"name": "k", "public_key": "not a cert", "type": "x509"},
            "Keypair data is invalid: failed to generate X509 fingerprint. Error message:",
        ),
        ({"name": "k", "public_key": "x", "foo": 1}, "('foo' was unexpected)"),
        ({"name": "k", "type": "pgp"}, "'pgp' is not one of ['ssh', 'x509']"),
        ({"name": " k"}, "An invalid 'name' value was provided."),
        ({"name": "a/b"}, "'a/b' does not match"),
        ({"public_key": "x"}, "'name' is a required property"),
    ],
)
async def test_bad_input_is_400(
    client: httpx.AsyncClient, fields: dict[str, Any], message: str
) -> None:
    resp = await create(client, "2.2", **fields)
    assert resp.status_code == 400
    assert message in resp.json()["badRequest"]["message"]


async def test_a_taken_name_is_409(client: httpx.AsyncClient) -> None:
    assert (await create(client, "2.2", name="k1", public_key=ssh_key())).status_code == 201
    resp = await create(client, "2.2", name="k1", public_key=ssh_key())
    assert resp.status_code == 409
    assert resp.json() == {
        "conflictingRequest": {"code": 409, "message": "Key pair 'k1' already exists."}
    }


async def test_the_per_user_quota_is_403(client: httpx.AsyncClient) -> None:
    body = {"quota_set": {"key_pairs": 1}}  # the top's quota of the caller's project
    admin = {"X-Auth-Token": "admin-token"}
    assert (
        await client.put("/compute/v2.1/os-quota-sets/p1", json=body, headers=admin)
    ).status_code == 200
    assert (await create(client, "2.2", name="k1", public_key=ssh_key())).status_code == 201
    resp = await create(client, "2.2", name="k2", public_key=ssh_key())
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == "Quota exceeded, too many key pairs."


# --- show, list, delete --------------------------------------------------------------


async def test_show_fields_per_microversion(client: httpx.AsyncClient) -> None:
    await create(client, "2.2", name="k1", public_key=ssh_key())
    old = (await client.get(f"{URL}/k1", headers=at("2.1"))).json()["keypair"]
    assert set(old) == {
        "name",
        "public_key",
        "fingerprint",
        "user_id",
        "created_at",
        "deleted",
        "deleted_at",
        "id",
        "updated_at",
    }
    assert (old["deleted"], old["deleted_at"], old["updated_at"]) == (False, None, None)
    assert isinstance(old["id"], int)
    new = (await client.get(f"{URL}/k1", headers=at("2.2"))).json()["keypair"]
    assert new == {**old, "type": "ssh"}
    resp = await client.get(f"{URL}/nope", headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == "Keypair nope not found for user u1"


async def test_another_users_keypairs_are_for_admins_from_2_10(client: httpx.AsyncClient) -> None:
    resp = await create(client, "2.10", ADMIN, name="theirs", public_key=ssh_key(), user_id="u2")
    assert (resp.status_code, resp.json()["keypair"]["user_id"]) == (201, "u2")
    assert (await client.get(f"{URL}/theirs", headers=MEMBER)).status_code == 404
    resp = await client.get(f"{URL}/theirs?user_id=u2", headers=at("2.10"))
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-keypairs:show to be performed."
    )
    other = await create(client, "2.10", name="x", public_key=ssh_key(), user_id="u2")
    assert other.status_code == 403
    # before 2.10 the query parameter means nothing: the admin's own keypairs
    assert (
        await client.get(f"{URL}/theirs?user_id=u2", headers=at("2.9", ADMIN))
    ).status_code == 404
    shown = await client.get(f"{URL}/theirs?user_id=u2", headers=at("2.10", ADMIN))
    assert shown.json()["keypair"]["user_id"] == "u2"
    listed = await client.get(f"{URL}?user_id=u2", headers=at("2.10", ADMIN))
    assert [k["keypair"]["name"] for k in listed.json()["keypairs"]] == ["theirs"]
    assert (await client.get(URL, headers=at("2.10", ADMIN))).json()["keypairs"] == []
    gone = await client.delete(f"{URL}/theirs?user_id=u2", headers=at("2.10", ADMIN))
    assert gone.status_code == 204


async def test_paging_from_2_35_by_name(client: httpx.AsyncClient) -> None:
    key = ssh_key()
    for name in ("k3", "k1", "k5", "k2", "k4"):
        await create(client, "2.2", name=name, public_key=key)
    everything = await client.get(f"{URL}?limit=2", headers=at("2.34"))
    body = everything.json()
    assert [k["keypair"]["name"] for k in body["keypairs"]] == ["k1", "k2", "k3", "k4", "k5"]
    assert "keypairs_links" not in body and "type" in body["keypairs"][0]["keypair"]
    first = (await client.get(f"{URL}?limit=2", headers=at("2.35"))).json()
    assert [k["keypair"]["name"] for k in first["keypairs"]] == ["k1", "k2"]
    assert first["keypairs_links"] == [
        {"rel": "next", "href": "http://cascade.test/compute/v2.1/os-keypairs?limit=2&marker=k2"}
    ]
    second = (await client.get(first["keypairs_links"][0]["href"], headers=at("2.35"))).json()
    assert [k["keypair"]["name"] for k in second["keypairs"]] == ["k3", "k4"]
    last = (await client.get(f"{URL}?limit=2&marker=k4", headers=at("2.35"))).json()
    assert [k["keypair"]["name"] for k in last["keypairs"]] == ["k5"]
    assert "keypairs_links" not in last
    resp = await client.get(f"{URL}?marker=zz", headers=at("2.35"))
    assert (resp.status_code, resp.json()["badRequest"]["message"]) == (
        400,
        "Marker zz could not be found.",
    )
    assert (await client.get(f"{URL}?limit=-1", headers=at("2.35"))).status_code == 400


async def test_unknown_query_parameters_are_refused_from_2_75(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{URL}?foo=1", headers=at("2.74"))).status_code == 200
    resp = await client.get(f"{URL}?foo=1", headers=at("2.75"))
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == (
        "Additional properties are not allowed ('foo' was unexpected)"
    )


@pytest.mark.parametrize(("version", "status"), [("2.1", 202), ("2.2", 204)])
async def test_delete_status_per_microversion(
    client: httpx.AsyncClient, version: str, status: int
) -> None:
    await create(client, "2.2", name="k1", public_key=ssh_key())
    resp = await client.delete(f"{URL}/k1", headers=at(version))
    assert (resp.status_code, resp.content) == (status, b"")
    assert (await client.delete(f"{URL}/k1", headers=at(version))).status_code == 404
    assert (await client.get(f"{URL}/k1", headers=MEMBER)).status_code == 404


async def test_the_routes_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 401


# --- copies in pods ------------------------------------------------------------------

CALLER = Caller("member-token", "2.60", "req-1")


async def ensure(app: Starlette, pod: Pod, name: str = "k1") -> None:
    async with app.state.sessions() as db:
        await keypair_copies.ensure_in_pod(db, app.state.registry, pod, "u1", name, CALLER)


async def copies(app: Starlette) -> list[Routing]:
    async with app.state.sessions() as db:
        query = select(Routing).where(Routing.resource_type == "keypair")
        return list((await db.scalars(query)).all())


async def test_a_keypair_is_imported_into_a_pod_once(
    app: Starlette, client: httpx.AsyncClient, pod: Pod, nova: FakeNova
) -> None:
    key = ssh_key()
    await create(client, "2.2", name="k1", public_key=key)
    await ensure(app, pod)
    assert nova.keypair_calls() == ["GET /v2.1/os-keypairs/k1", "POST /v2.1/os-keypairs"]
    assert nova.keys["k1"] == {"name": "k1", "public_key": key, "type": "ssh"}
    post = nova.calls[1]
    assert post.headers["X-Auth-Token"] == "member-token"  # the user's own token
    assert post.headers["OpenStack-API-Version"] == "compute 2.2"
    (routing,) = await copies(app)
    assert (routing.pod_id, routing.bottom_id, routing.status, routing.project_id) == (
        pod.id,
        "k1",
        "active",
        "",
    )
    await ensure(app, pod)  # the routing is trusted: no pod call at all
    assert len(nova.keypair_calls()) == 2


async def test_a_copy_with_another_key_is_replaced(
    app: Starlette, client: httpx.AsyncClient, pod: Pod, nova: FakeNova
) -> None:
    key = ssh_key()
    await create(client, "2.2", name="k1", public_key=key)
    nova.keys["k1"] = {"name": "k1", "public_key": ssh_key("old"), "type": "ssh"}
    await ensure(app, pod)
    assert nova.keypair_calls() == [
        "GET /v2.1/os-keypairs/k1",
        "DELETE /v2.1/os-keypairs/k1",
        "POST /v2.1/os-keypairs",
    ]
    assert nova.calls[1].url.params["user_id"] == "u1"
    assert nova.keys["k1"]["public_key"] == key


async def test_a_copy_with_the_same_key_is_kept(
    app: Starlette, client: httpx.AsyncClient, pod: Pod, nova: FakeNova
) -> None:
    key = ssh_key()
    await create(client, "2.2", name="k1", public_key=key)
    nova.keys["k1"] = {"name": "k1", "public_key": key + "\n", "type": "ssh"}
    await ensure(app, pod)
    assert nova.keypair_calls() == ["GET /v2.1/os-keypairs/k1"]
    assert [r.status for r in await copies(app)] == ["active"]


async def test_a_pod_error_names_the_pod(
    app: Starlette, client: httpx.AsyncClient, pod: Pod, nova: FakeNova
) -> None:
    await create(client, "2.2", name="k1", public_key=ssh_key())
    nova.fail["POST"] = (403, "Quota exceeded, too many key pairs.")
    with pytest.raises(keypair_copies.KeypairCopyFailed) as caught:
        await ensure(app, pod)
    assert (caught.value.pod, caught.value.status) == ("pod1", 403)
    assert caught.value.message == "Quota exceeded, too many key pairs."
    assert "pod1" in str(caught.value)
    assert [r.status for r in await copies(app)] == ["creating"]  # the intent stays
    del nova.fail["POST"]
    await ensure(app, pod)  # and a later attempt completes it
    assert [r.status for r in await copies(app)] == ["active"]


async def test_an_unknown_keypair_is_not_found(app: Starlette, pod: Pod, nova: FakeNova) -> None:
    with pytest.raises(keypairs.KeypairNotFound):
        await ensure(app, pod, "nope")
    assert nova.keypair_calls() == []


async def test_deleting_at_the_top_deletes_the_pod_copies(
    app: Starlette, client: httpx.AsyncClient, pod: Pod, nova: FakeNova
) -> None:
    await create(client, "2.2", name="k1", public_key=ssh_key())
    await ensure(app, pod)
    resp = await client.delete(f"{URL}/k1", headers=at("2.2"))
    assert resp.status_code == 204
    assert "k1" not in nova.keys
    delete = nova.calls[-1]
    assert (delete.method, delete.headers["X-Auth-Token"]) == ("DELETE", "member-token")
    assert await copies(app) == []


async def test_a_pod_that_fails_the_delete_keeps_a_stale_routing(
    app: Starlette, client: httpx.AsyncClient, pod: Pod, nova: FakeNova
) -> None:
    await create(client, "2.2", name="k1", public_key=ssh_key())
    await ensure(app, pod)
    nova.fail["DELETE"] = (500, "boom")
    assert (await client.delete(f"{URL}/k1", headers=at("2.2"))).status_code == 204
    assert (await client.get(f"{URL}/k1", headers=MEMBER)).status_code == 404
    assert [r.status for r in await copies(app)] == ["stale"]
