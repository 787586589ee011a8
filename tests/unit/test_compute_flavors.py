"""Compute flavors owned by the top, and their copies in a fake pod's Nova."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import Pod, Routing
from cascade.services import routings
from cascade.services.compute import flavor_copies
from cascade.services.compute import flavors as flavor_service
from tests.unit.conftest import FakeKeystone, PodHandler
from tests.unit.fakenova import add_pod_row

ADMIN = {"X-Auth-Token": "admin-token"}
MEMBER = {"X-Auth-Token": "member-token"}
POD_URL = "http://pod1.test/compute/v2.1"
BASE = "http://cascade.test/compute/v2.1/flavors"
PRIVATE: dict[str, Any] = {"os-flavor-access:is_public": False}


def at(version: str, headers: dict[str, str] = ADMIN) -> dict[str, str]:
    return {**headers, "OpenStack-API-Version": f"compute {version}"}


def tiny(**extra: Any) -> dict[str, Any]:
    return {"flavor": {"name": "tiny", "ram": 512, "vcpus": 1, "disk": 1, **extra}}


def fault(resp: httpx.Response, status: int) -> str:
    """The message of Nova's error body, checking its fault name and code."""
    names = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest"}
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert list(body) == [names[status]]
    assert body[names[status]]["code"] == status
    return str(body[names[status]]["message"])


class FakeNova:
    """One pod's Nova, just enough for flavor copies: flavors, extra specs and access."""

    def __init__(self) -> None:
        self.flavors: dict[str, dict[str, Any]] = {}
        self.specs: dict[str, dict[str, str]] = {}
        self.access: dict[str, list[str]] = {}
        self.calls: list[tuple[str, str]] = []
        self.refuse: dict[tuple[str, str], tuple[int, str]] = {}
        self.page = 1000

    def add(self, name: str, **fields: Any) -> str:
        flavor_id = str(uuid.uuid4())
        self.flavors[flavor_id] = {
            "id": flavor_id,
            "name": name,
            "ram": fields.get("ram", 512),
            "vcpus": fields.get("vcpus", 1),
            "disk": fields.get("disk", 1),
            "OS-FLV-EXT-DATA:ephemeral": fields.get("OS-FLV-EXT-DATA:ephemeral", 0),
            "swap": fields.get("swap") or "",
            "rxtx_factor": fields.get("rxtx_factor", 1.0),
            "os-flavor-access:is_public": fields.get("os-flavor-access:is_public", True),
            "description": fields.get("description"),
        }
        self.specs[flavor_id], self.access[flavor_id] = {}, []
        return flavor_id

    @staticmethod
    def error(status: int, message: str) -> httpx.Response:
        names = {
            400: "badRequest",
            403: "forbidden",
            404: "itemNotFound",
            409: "conflictingRequest",
        }
        body = {names.get(status, "computeFault"): {"code": status, "message": message}}
        return httpx.Response(status, json=body)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path).removeprefix("/compute/v2.1")
        if path in ("", "/"):  # the version document cascade-api reads
            return httpx.Response(200, json={"version": {"min_version": "2.1", "version": "2.104"}})
        assert request.headers["X-Auth-Token"] == "service-token"
        assert request.headers["OpenStack-API-Version"] == "compute 2.55"
        self.calls.append((request.method, path))
        refused = self.refuse.get((request.method, path))
        if refused:
            return self.error(*refused)
        body: Any = json.loads(request.content) if request.content else None
        parts = path.strip("/").split("/")
        if parts == ["flavors", "detail"]:
            return self.detail(request)
        if parts == ["flavors"] and request.method == "POST":
            return self.create(body["flavor"])
        flavor = self.flavors.get(parts[1]) if len(parts) > 1 else None
        if flavor is None:
            return self.error(404, f"Flavor {parts[1:2]} could not be found.")
        return self.member(request.method, flavor, parts[2:], body)

    def detail(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["is_public"] == "None"
        ordered = sorted(self.flavors.values(), key=lambda f: f["id"])
        marker = request.url.params.get("marker")
        if marker:
            ordered = [f for f in ordered if f["id"] > marker]
        page = ordered[: self.page]
        body: dict[str, Any] = {"flavors": page}
        if len(page) == self.page:
            body["flavors_links"] = [{"rel": "next", "href": f"{POD_URL}/flavors/detail?x"}]
        return httpx.Response(200, json=body)

    def create(self, fields: dict[str, Any]) -> httpx.Response:
        if any(f["name"] == fields["name"] for f in self.flavors.values()):
            return self.error(409, f"Flavor with name {fields['name']} already exists.")
        flavor_id = self.add(fields.pop("name"), **fields)
        return httpx.Response(200, json={"flavor": self.flavors[flavor_id]})

    def member(
        self, method: str, flavor: dict[str, Any], rest: list[str], body: Any
    ) -> httpx.Response:
        fid = flavor["id"]
        if not rest and method == "GET":
            return httpx.Response(200, json={"flavor": flavor})
        if not rest and method == "PUT":
            flavor["description"] = body["flavor"]["description"]
            return httpx.Response(200, json={"flavor": flavor})
        if not rest and method == "DELETE":
            del self.flavors[fid]
            return httpx.Response(202)
        if rest == ["os-extra_specs"] and method == "GET":
            return httpx.Response(200, json={"extra_specs": self.specs[fid]})
        if rest == ["os-extra_specs"] and method == "POST":
            self.specs[fid].update(body["extra_specs"])
            return httpx.Response(200, json=body)
        if rest[:1] == ["os-extra_specs"] and method == "DELETE":
            if self.specs[fid].pop(rest[1], None) is None:
                return self.error(404, "no such key")
            return httpx.Response(200)
        if rest == ["os-flavor-access"]:
            listed = [{"flavor_id": fid, "tenant_id": p} for p in self.access[fid]]
            return httpx.Response(200, json={"flavor_access": listed})
        if rest == ["action"] and "addTenantAccess" in body:
            self.access[fid].append(body["addTenantAccess"]["tenant"])
            return httpx.Response(200, json={"flavor_access": []})
        if rest == ["action"] and "removeTenantAccess" in body:
            self.access[fid].remove(body["removeTenantAccess"]["tenant"])
            return httpx.Response(200, json={"flavor_access": []})
        return self.error(404, "no such thing in this fake")

    def copy_named(self, name: str) -> dict[str, Any]:
        (found,) = [f for f in self.flavors.values() if f["name"] == name]
        return found


@pytest.fixture
def nova() -> FakeNova:
    return FakeNova()


@pytest.fixture
def pod_handler(nova: FakeNova) -> PodHandler:
    return nova


@pytest.fixture
def keystone() -> FakeKeystone:
    fake = FakeKeystone()
    endpoint = {"interface": "public", "region_id": "pod1", "url": POD_URL}
    fake.catalog = [{"type": "compute", "endpoints": [endpoint]}]
    return fake


async def make(client: httpx.AsyncClient, version: str = "2.1", **fields: Any) -> dict[str, Any]:
    resp = await client.post("/compute/v2.1/flavors", json=tiny(**fields), headers=at(version))
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["flavor"])


async def ids(
    client: httpx.AsyncClient, query: str = "", headers: dict[str, str] = ADMIN
) -> list[str]:
    resp = await client.get(f"/compute/v2.1/flavors{query}", headers=headers)
    assert resp.status_code == 200, resp.text
    return [f["id"] for f in resp.json()["flavors"]]


async def ensure(app: Starlette, pod: Pod, flavor_id: str) -> str:
    async with app.state.sessions() as db:
        return await flavor_copies.ensure_in_pod(db, app.state.registry, pod, flavor_id, "req-1")


async def flavor_routings(app: Starlette) -> list[Routing]:
    async with app.state.sessions() as db:
        query = select(Routing).where(Routing.resource_type == "flavor")
        return list((await db.scalars(query)).all())


# -- the flavors themselves -----------------------------------------------------------------


async def test_create_show_list_delete(client: httpx.AsyncClient) -> None:
    made = await make(client, id="f1")
    links = [
        {"rel": "self", "href": f"{BASE}/f1"},
        {"rel": "bookmark", "href": "http://cascade.test/compute/flavors/f1"},
    ]
    assert made == {
        "id": "f1",
        "name": "tiny",
        "ram": 512,
        "disk": 1,
        "swap": "",
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": False,
        "vcpus": 1,
        "os-flavor-access:is_public": True,
        "rxtx_factor": 1.0,
        "links": links,
    }
    shown = await client.get("/compute/v2.1/flavors/f1", headers=MEMBER)
    assert shown.json()["flavor"] == made
    assert shown.headers["openstack-api-version"] == "compute 2.1"
    listed = await client.get("/compute/v2.1/flavors", headers=MEMBER)
    assert listed.json() == {"flavors": [{"id": "f1", "name": "tiny", "links": links}]}
    detail = await client.get("/compute/v2.1/flavors/detail", headers=MEMBER)
    assert detail.json() == {"flavors": [made]}

    deleted = await client.delete("/compute/v2.1/flavors/f1", headers=ADMIN)
    assert deleted.status_code == 202 and deleted.content == b""
    gone = await client.get("/compute/v2.1/flavors/f1", headers=ADMIN)
    assert fault(gone, 404) == "Flavor f1 could not be found."
    again = await client.delete("/compute/v2.1/flavors/f1", headers=ADMIN)
    assert fault(again, 404) == "Flavor f1 could not be found."


async def test_ids_are_generated_or_taken_as_text(client: httpx.AsyncClient) -> None:
    generated = await make(client)
    assert str(uuid.UUID(generated["id"])) == generated["id"]
    assert (await make(client, name="numbered", id=42))["id"] == "42"
    assert uuid.UUID((await make(client, name="zero", id=0))["id"])  # Nova: 0 means none


async def test_fields_follow_the_microversion(client: httpx.AsyncClient) -> None:
    made = await make(client, "2.55", id="f1", swap=0, description="small")
    assert made["description"] == "small" and "extra_specs" not in made
    specs = {"extra_specs": {"hw:cpu_policy": "dedicated"}}
    await client.post("/compute/v2.1/flavors/f1/os-extra_specs", json=specs, headers=ADMIN)

    async def shown(version: str) -> dict[str, Any]:
        resp = await client.get("/compute/v2.1/flavors/f1", headers=at(version, MEMBER))
        assert resp.headers["openstack-api-version"] == f"compute {version}"
        return dict(resp.json()["flavor"])

    v21, v255, v261, v275, v2102 = [
        await shown(v) for v in ("2.1", "2.55", "2.61", "2.75", "2.102")
    ]
    assert "description" not in v21 and v21["swap"] == "" and "extra_specs" not in v21
    assert v255["description"] == "small" and "extra_specs" not in v255
    assert v261["extra_specs"] == {"hw:cpu_policy": "dedicated"} and v261["swap"] == ""
    assert v275["swap"] == 0 and v275["rxtx_factor"] == 1.0
    assert "rxtx_factor" not in v2102 and "OS-FLV-DISABLED:disabled" not in v2102
    brief = await client.get("/compute/v2.1/flavors", headers=at("2.55", MEMBER))
    assert brief.json()["flavors"][0]["description"] == "small"
    created = await make(client, "2.61", name="other")
    assert created["extra_specs"] == {}


@pytest.mark.parametrize(
    ("version", "fields", "message"),
    [
        (
            "2.1",
            {"ram": -1},
            "Invalid input for field/attribute ram. Value: -1. -1 is less than the minimum of 1",
        ),
        (
            "2.1",
            {"ram": "lots"},
            "Invalid input for field/attribute ram. Value: lots. 'lots' does not match '^[0-9]+$'",
        ),
        ("2.1", {"ram": 1.0}, "Invalid input received: ram must be an integer"),
        (
            "2.1",
            {"swap": -2},
            "Invalid input for field/attribute swap. Value: -2. -2 is less than the minimum of 0",
        ),
        (
            "2.1",
            {"name": " padded"},
            "An invalid 'name' value was provided. The name must be: printable characters. "
            "Can not start or end with whitespace.",
        ),
        (
            "2.1",
            {"name": ""},
            "Invalid input for field/attribute name. Value: . '' should be non-empty",
        ),
        (
            "2.1",
            {"colour": "red"},
            "Invalid input for field/attribute flavor. Value: {'name': 'tiny', 'ram': 512, "
            "'vcpus': 1, 'disk': 1, 'colour': 'red'}. "
            "Additional properties are not allowed ('colour' was unexpected)",
        ),
        (
            "2.1",
            {"description": "d"},
            "Invalid input for field/attribute flavor. Value: {'name': 'tiny', 'ram': 512, "
            "'vcpus': 1, 'disk': 1, 'description': 'd'}. "
            "Additional properties are not allowed ('description' was unexpected)",
        ),
        (
            "2.102",
            {"rxtx_factor": 2},
            "Invalid input for field/attribute flavor. Value: {'name': 'tiny', 'ram': 512, "
            "'vcpus': 1, 'disk': 1, 'rxtx_factor': 2}. "
            "Additional properties are not allowed ('rxtx_factor' was unexpected)",
        ),
        (
            "2.1",
            {"rxtx_factor": "0"},
            "Invalid input received: 'rxtx_factor' argument must be a float between 0 and "
            "3.40282e+38",
        ),
        (
            "2.1",
            {"id": "a/b"},
            "Invalid input for field/attribute id. Value: a/b. "
            "'a/b' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'",
        ),
        (
            "2.1",
            {"os-flavor-access:is_public": "maybe"},
            "Invalid input for field/attribute os-flavor-access:is_public. Value: maybe. 'maybe' "
            "is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', "
            "'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']",
        ),
    ],
)
async def test_bad_creates_are_400_and_write_nothing(
    client: httpx.AsyncClient, version: str, fields: dict[str, Any], message: str
) -> None:
    resp = await client.post("/compute/v2.1/flavors", json=tiny(**fields), headers=at(version))
    assert fault(resp, 400) == message
    assert resp.headers["openstack-api-version"] == f"compute {version}"
    assert await ids(client, "?is_public=none") == []


async def test_a_missing_field_and_a_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    body = {"flavor": {"name": "x", "ram": 1, "vcpus": 1}}
    resp = await client.post("/compute/v2.1/flavors", json=body, headers=ADMIN)
    assert fault(resp, 400).endswith("'disk' is a required property")
    resp = await client.post("/compute/v2.1/flavors", content=b"{nope", headers=ADMIN)
    assert fault(resp, 400) == "Malformed request body"


async def test_taken_names_and_ids_are_409(client: httpx.AsyncClient) -> None:
    await make(client, id="f1")
    resp = await client.post("/compute/v2.1/flavors", json=tiny(id="f2"), headers=ADMIN)
    assert fault(resp, 409) == "Flavor with name tiny already exists."
    resp = await client.post("/compute/v2.1/flavors", json=tiny(id="f1", name="b"), headers=ADMIN)
    assert fault(resp, 409) == "Flavor with ID f1 already exists."
    assert await ids(client) == ["f1"]


async def test_members_may_not_change_flavors(client: httpx.AsyncClient) -> None:
    resp = await client.post("/compute/v2.1/flavors", json=tiny(), headers=MEMBER)
    assert resp.json() == {
        "forbidden": {
            "code": 403,
            "message": "Policy doesn't allow os_compute_api:os-flavor-manage:create "
            "to be performed.",
        }
    }
    await make(client, id="f1")
    resp = await client.delete("/compute/v2.1/flavors/f1", headers=MEMBER)
    assert "os-flavor-manage:delete" in fault(resp, 403)
    body = {"flavor": {"description": "x"}}
    resp = await client.put("/compute/v2.1/flavors/f1", json=body, headers=at("2.55", MEMBER))
    assert "os-flavor-manage:update" in fault(resp, 403)
    specs = {"extra_specs": {"a": "b"}}
    resp = await client.post("/compute/v2.1/flavors/f1/os-extra_specs", json=specs, headers=MEMBER)
    assert "os-flavor-extra-specs:create" in fault(resp, 403)
    resp = await client.get("/compute/v2.1/flavors/f1/os-flavor-access", headers=MEMBER)
    assert fault(resp, 403) == (
        "Policy doesn't allow os_compute_api:os-flavor-access to be performed."
    )


async def test_description_changes_from_2_55(client: httpx.AsyncClient) -> None:
    await make(client, id="f1")
    body = {"flavor": {"description": "now described"}}
    old = await client.put("/compute/v2.1/flavors/f1", json=body, headers=ADMIN)
    assert fault(old, 404) == "The resource could not be found."
    resp = await client.put("/compute/v2.1/flavors/f1", json=body, headers=at("2.55"))
    assert resp.status_code == 200
    assert resp.json()["flavor"]["description"] == "now described"
    bad = {"flavor": {"description": "x", "name": "y"}}
    resp = await client.put("/compute/v2.1/flavors/f1", json=bad, headers=at("2.55"))
    assert fault(resp, 400) == (
        "Invalid input for field/attribute flavor. Value: {'description': 'x', 'name': 'y'}. "
        "Additional properties are not allowed ('name' was unexpected)"
    )
    resp = await client.put("/compute/v2.1/flavors/nope", json=body, headers=at("2.55"))
    assert fault(resp, 404) == "Flavor nope could not be found."


# -- visibility, listing ----------------------------------------------------------------------


async def test_private_flavors_are_seen_with_access_only(client: httpx.AsyncClient) -> None:
    await make(client, id="pub", name="pub")
    await make(client, id="priv", name="priv", **PRIVATE)
    assert await ids(client, headers=MEMBER) == ["pub"]
    resp = await client.get("/compute/v2.1/flavors/priv", headers=MEMBER)
    assert fault(resp, 404) == "Flavor priv could not be found."
    assert await ids(client) == ["pub"]  # admins too, by default: public or their project's
    assert await ids(client, "?is_public=false") == ["priv"]
    assert await ids(client, "?is_public=None") == ["priv", "pub"]
    assert await ids(client, "?is_public=false", MEMBER) == ["pub"]  # only admins choose
    resp = await client.get("/compute/v2.1/flavors?is_public=perhaps", headers=ADMIN)
    assert fault(resp, 400) == "Invalid is_public filter [perhaps]"

    action = {"addTenantAccess": {"tenant": "p1"}}  # the member's project
    resp = await client.post("/compute/v2.1/flavors/priv/action", json=action, headers=ADMIN)
    assert resp.json() == {"flavor_access": [{"flavor_id": "priv", "tenant_id": "p1"}]}
    assert await ids(client, headers=MEMBER) == ["priv", "pub"]
    resp = await client.get("/compute/v2.1/flavors/priv/os-extra_specs", headers=MEMBER)
    assert resp.json() == {"extra_specs": {}}
    assert await ids(client) == ["priv", "pub"]


async def test_flavor_access_api(client: httpx.AsyncClient) -> None:
    await make(client, id="pub", name="pub")
    await make(client, id="priv", name="priv", **PRIVATE)
    url = "/compute/v2.1/flavors/{}/action"
    add = {"addTenantAccess": {"tenant": "p2"}}
    resp = await client.get("/compute/v2.1/flavors/pub/os-flavor-access", headers=ADMIN)
    assert fault(resp, 404) == "Access list not available for public flavors."
    resp = await client.post(url.format("pub"), json=add, headers=at("2.7"))
    assert fault(resp, 409) == "Can not add access to a public flavor."
    assert (await client.post(url.format("pub"), json=add, headers=ADMIN)).status_code == 200
    assert (await client.post(url.format("priv"), json=add, headers=ADMIN)).status_code == 200
    resp = await client.post(url.format("priv"), json=add, headers=ADMIN)
    assert fault(resp, 409) == (
        "Flavor access already exists for flavor priv and project p2 combination."
    )
    listed = await client.get("/compute/v2.1/flavors/priv/os-flavor-access", headers=ADMIN)
    assert listed.json() == {"flavor_access": [{"flavor_id": "priv", "tenant_id": "p2"}]}
    remove = {"removeTenantAccess": {"tenant": "p2"}}
    resp = await client.post(url.format("priv"), json=remove, headers=ADMIN)
    assert resp.json() == {"flavor_access": []}
    resp = await client.post(url.format("priv"), json=remove, headers=ADMIN)
    assert fault(resp, 404) == "Flavor access not found for priv / p2 combination."
    resp = await client.post(url.format("priv"), json={"shrink": {}}, headers=ADMIN)
    assert fault(resp, 400) == "There is no such action: shrink"
    resp = await client.post(url.format("priv"), json={**add, **remove}, headers=ADMIN)
    assert fault(resp, 400) == "Malformed request body"
    resp = await client.post(url.format("priv"), json={"addTenantAccess": {}}, headers=ADMIN)
    assert fault(resp, 400).endswith("'tenant' is a required property")
    resp = await client.post(url.format("nope"), json=add, headers=ADMIN)
    assert fault(resp, 404) == "Flavor nope could not be found."


async def test_sorting_paging_and_filters(client: httpx.AsyncClient) -> None:
    for n, ram in enumerate((2048, 512, 4096, 1024, 512), start=1):
        await make(client, id=f"f{n}", name=f"n{n}", ram=ram, disk=n)
    resp = await client.get("/compute/v2.1/flavors?limit=2", headers=MEMBER)
    page = resp.json()
    assert [f["id"] for f in page["flavors"]] == ["f1", "f2"]
    (link,) = page["flavors_links"]
    assert link["rel"] == "next"
    assert link["href"] == f"{BASE}?limit=2&marker=f2"
    follow = urlsplit(link["href"])
    resp = await client.get(f"{follow.path}?{follow.query}", headers=MEMBER)
    assert [f["id"] for f in resp.json()["flavors"]] == ["f3", "f4"]
    last = await client.get("/compute/v2.1/flavors?limit=2&marker=f4", headers=MEMBER)
    assert "flavors_links" not in last.json() and await ids(client, "?marker=f4") == ["f5"]

    query = "?sort_key=memory_mb&sort_dir=desc"
    assert await ids(client, query, MEMBER) == ["f3", "f1", "f4", "f5", "f2"]
    detail = await client.get(f"/compute/v2.1/flavors/detail{query}&limit=3", headers=MEMBER)
    href = detail.json()["flavors_links"][0]["href"]
    assert href.startswith(f"{BASE}/detail?")
    assert parse_qs(urlsplit(href).query) == {
        "limit": ["3"],
        "marker": ["f4"],
        "sort_dir": ["desc"],
        "sort_key": ["memory_mb"],
    }
    assert await ids(client, f"{query}&marker=f4", MEMBER) == ["f5", "f2"]
    assert await ids(client, "?minRam=1024&minDisk=3", MEMBER) == ["f3", "f4"]
    assert await ids(client, "?colour=red", MEMBER) == ["f1", "f2", "f3", "f4", "f5"]

    async def refused(query: str, version: str = "2.1") -> str:
        resp = await client.get(f"/compute/v2.1/flavors{query}", headers=at(version, MEMBER))
        return fault(resp, 400)

    assert await refused("?marker=nope") == "marker [nope] not found"
    assert await refused("?minRam=big") == "Invalid minRam filter [big]"
    assert await refused("?limit=-1") == (
        "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'"
    )
    assert (await refused("?sort_key=colour")).startswith(
        "Invalid input for query parameters sort_key. Value: colour. 'colour' is not one of"
    )
    assert await refused("?colour=red", "2.75") == (
        "Additional properties are not allowed ('colour' was unexpected)"
    )
    assert await refused("?name=n1", "2.75") == (
        "Additional properties are not allowed ('name' was unexpected)"
    )
    resp = await client.get("/compute/v2.1/flavors?name=^n[23]$", headers=at("2.102", MEMBER))
    assert [f["id"] for f in resp.json()["flavors"]] == ["f2", "f3"]


# -- extra specs ----------------------------------------------------------------------------


async def test_extra_specs_crud(client: httpx.AsyncClient) -> None:
    await make(client, id="f1")
    url = "/compute/v2.1/flavors/f1/os-extra_specs"
    body = {"extra_specs": {"hw:cpu_policy": "dedicated", "quota:cpu_shares": 1024}}
    resp = await client.post(url, json=body, headers=ADMIN)
    assert resp.status_code == 200 and resp.json() == body  # echoed, as Nova does
    stored = {"hw:cpu_policy": "dedicated", "quota:cpu_shares": "1024"}
    assert (await client.get(url, headers=MEMBER)).json() == {"extra_specs": stored}
    one = await client.get(f"{url}/hw:cpu_policy", headers=MEMBER)
    assert one.json() == {"hw:cpu_policy": "dedicated"}

    resp = await client.put(f"{url}/hw:cpu_policy", json={"hw:cpu_policy": "shared"}, headers=ADMIN)
    assert resp.json() == {"hw:cpu_policy": "shared"}
    resp = await client.put(f"{url}/hw:cpu_policy", json={"other": "x"}, headers=ADMIN)
    assert fault(resp, 400) == "Request body and URI mismatch"
    resp = await client.put(f"{url}/a", json={"a": "1", "b": "2"}, headers=ADMIN)
    assert fault(resp, 400).endswith("has too many properties")

    resp = await client.delete(f"{url}/quota:cpu_shares", headers=ADMIN)
    assert resp.status_code == 200 and resp.content == b""
    resp = await client.get(f"{url}/quota:cpu_shares", headers=MEMBER)
    assert fault(resp, 404) == "Flavor f1 has no extra specs with key quota:cpu_shares."
    resp = await client.delete(f"{url}/quota:cpu_shares", headers=ADMIN)
    assert fault(resp, 404) == "Flavor f1 has no extra specs with key quota:cpu_shares."
    assert (await client.get(url, headers=MEMBER)).json() == {
        "extra_specs": {"hw:cpu_policy": "shared"}
    }

    resp = await client.post(url, json={"extra_specs": {"bad/key": "1"}}, headers=ADMIN)
    assert fault(resp, 400) == (
        "Invalid input for field/attribute extra_specs. Value: {'bad/key': '1'}. 'bad/key' "
        "does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'"
    )
    resp = await client.post(url, json={"extra_specs": {"k": None}}, headers=ADMIN)
    assert fault(resp, 400) == (
        "Invalid input for field/attribute k. Value: None. None is not of type 'string', 'number'"
    )
    resp = await client.get("/compute/v2.1/flavors/nope/os-extra_specs", headers=MEMBER)
    assert fault(resp, 404) == "Flavor nope could not be found."


# -- copies in a pod ------------------------------------------------------------------------


async def test_a_copy_is_made_once_with_specs_and_access(
    app: Starlette, client: httpx.AsyncClient, nova: FakeNova
) -> None:
    await make(client, "2.55", id="f1", description="d", **PRIVATE)
    specs = {"extra_specs": {"hw:mem_page_size": "large"}}
    await client.post("/compute/v2.1/flavors/f1/os-extra_specs", json=specs, headers=ADMIN)
    action = {"addTenantAccess": {"tenant": "p7"}}
    await client.post("/compute/v2.1/flavors/f1/action", json=action, headers=ADMIN)
    pod = await add_pod_row(app, client)

    bottom = await ensure(app, pod, "f1")
    copy = nova.flavors[bottom]
    assert copy["name"] == "cascade-f1" and copy["description"] == "d"
    assert copy["os-flavor-access:is_public"] is False and copy["ram"] == 512
    assert nova.specs[bottom] == {"hw:mem_page_size": "large"}
    assert nova.access[bottom] == ["p7"]
    assert nova.calls.count(("POST", "/flavors")) == 1

    calls = len(nova.calls)
    assert await ensure(app, pod, "f1") == bottom
    assert len(nova.calls) == calls  # the active routing is trusted: no call at all
    (routing,) = await flavor_routings(app)
    assert (routing.status, routing.bottom_id, routing.project_id) == ("active", bottom, "")
    async with app.state.sessions() as db:
        found = await routings.find_bottom(db, "flavor", pod.id, bottom)
        assert found is not None and found.top_id == "f1"
        assert await routings.find_bottom(db, "flavor", pod.id, "other") is None


async def test_a_routing_left_creating_is_reconciled_by_name(
    app: Starlette, client: httpx.AsyncClient, nova: FakeNova
) -> None:
    await make(client, id="f1", swap=0)
    spec = {"extra_specs": {"k": "v"}}
    await client.post("/compute/v2.1/flavors/f1/os-extra_specs", json=spec, headers=ADMIN)
    pod = await add_pod_row(app, client)
    for n in range(3):
        nova.add(f"pods-own-{n}")
    made_before_crash = nova.add("cascade-f1")  # the POST went through, then the crash
    nova.specs[made_before_crash] = {"stale": "1"}
    nova.page = 2  # the lookup must follow the pages
    async with app.state.sessions() as db:
        await routings.record_intent(db, "flavor", "f1", pod.id, project_id="")

    assert await ensure(app, pod, "f1") == made_before_crash
    assert ("POST", "/flavors") not in nova.calls
    assert nova.specs[made_before_crash] == {"k": "v"}  # brought in line with the top
    assert len(nova.flavors) == 4
    (routing,) = await flavor_routings(app)
    assert (routing.status, routing.bottom_id) == ("active", made_before_crash)


async def test_a_leftover_copy_of_another_flavor_is_replaced(
    app: Starlette, client: httpx.AsyncClient, nova: FakeNova
) -> None:
    await make(client, id="f1", ram=2048)
    pod = await add_pod_row(app, client)
    leftover = nova.add("cascade-f1", ram=512)  # a deleted top f1 had 512 MB
    bottom = await ensure(app, pod, "f1")
    assert bottom != leftover and leftover not in nova.flavors
    assert nova.copy_named("cascade-f1")["ram"] == 2048


async def test_the_pods_refusal_names_the_pod(
    app: Starlette, client: httpx.AsyncClient, nova: FakeNova
) -> None:
    await make(client, id="f1")
    pod = await add_pod_row(app, client)
    nova.refuse[("POST", "/flavors")] = (403, "Policy doesn't allow flavor creation.")
    with pytest.raises(flavor_service.PodCopyFailed) as caught:
        await ensure(app, pod, "f1")
    assert (caught.value.pod, caught.value.status) == ("pod1", 403)
    assert "pod pod1 answered 403" in str(caught.value)
    assert "Policy doesn't allow flavor creation." in str(caught.value)
    (routing,) = await flavor_routings(app)
    assert (routing.status, routing.bottom_id) == ("creating", None)

    del nova.refuse[("POST", "/flavors")]  # a retry makes it, once
    bottom = await ensure(app, pod, "f1")
    assert nova.copy_named("cascade-f1")["id"] == bottom
    with pytest.raises(flavor_service.FlavorNotFound):
        await ensure(app, pod, "nope")


async def test_changes_reach_the_copies(
    app: Starlette, client: httpx.AsyncClient, nova: FakeNova
) -> None:
    await make(client, id="f1", **PRIVATE)
    pod = await add_pod_row(app, client)
    bottom = await ensure(app, pod, "f1")
    url = "/compute/v2.1/flavors/f1"

    await client.post(f"{url}/os-extra_specs", json={"extra_specs": {"a": "1"}}, headers=ADMIN)
    await client.put(f"{url}/os-extra_specs/a", json={"a": "2"}, headers=ADMIN)
    assert nova.specs[bottom] == {"a": "2"}
    await client.delete(f"{url}/os-extra_specs/a", headers=ADMIN)
    assert nova.specs[bottom] == {}
    add = {"addTenantAccess": {"tenant": "p9"}}
    await client.post(f"{url}/action", json=add, headers=ADMIN)
    assert nova.access[bottom] == ["p9"]
    await client.post(f"{url}/action", json={"removeTenantAccess": {"tenant": "p9"}}, headers=ADMIN)
    assert nova.access[bottom] == []
    body = {"flavor": {"description": "new"}}
    await client.put(url, json=body, headers=at("2.55"))
    assert nova.flavors[bottom]["description"] == "new"

    # a pod that fails is logged, not fatal: the top has the change
    nova.refuse[("GET", f"/flavors/{bottom}")] = (500, "database is down")
    resp = await client.post(
        f"{url}/os-extra_specs", json={"extra_specs": {"b": "1"}}, headers=ADMIN
    )
    assert resp.status_code == 200
    assert nova.specs[bottom] == {}
    del nova.refuse[("GET", f"/flavors/{bottom}")]
    await client.put(f"{url}/os-extra_specs/c", json={"c": "1"}, headers=ADMIN)
    assert nova.specs[bottom] == {"b": "1", "c": "1"}  # the next sync heals it


async def test_deleting_a_flavor_forgets_its_copies_but_keeps_them(
    app: Starlette, client: httpx.AsyncClient, nova: FakeNova
) -> None:
    await make(client, id="f1")
    pod = await add_pod_row(app, client)
    bottom = await ensure(app, pod, "f1")
    assert (await client.delete("/compute/v2.1/flavors/f1", headers=ADMIN)).status_code == 202
    assert await flavor_routings(app) == []
    assert bottom in nova.flavors


async def test_a_copy_gone_from_its_pod_loses_its_routing(
    app: Starlette, client: httpx.AsyncClient, nova: FakeNova
) -> None:
    await make(client, id="f1")
    pod = await add_pod_row(app, client)
    bottom = await ensure(app, pod, "f1")
    del nova.flavors[bottom]  # deleted in the pod behind the top's back
    spec = {"extra_specs": {"a": "1"}}
    resp = await client.post("/compute/v2.1/flavors/f1/os-extra_specs", json=spec, headers=ADMIN)
    assert resp.status_code == 200
    assert await flavor_routings(app) == []
    assert await ensure(app, pod, "f1") != bottom  # the next server there gets a new copy
    assert nova.specs[nova.copy_named("cascade-f1")["id"]] == {"a": "1"}


async def test_unknown_query_parameters_of_one_flavor(client: httpx.AsyncClient) -> None:
    await make(client, id="f1")
    ok = await client.get("/compute/v2.1/flavors/f1?colour=red", headers=at("2.101"))
    assert ok.status_code == 200
    resp = await client.get("/compute/v2.1/flavors/f1?colour=red", headers=at("2.102"))
    assert fault(resp, 400) == "Additional properties are not allowed ('colour' was unexpected)"
    resp = await client.get("/compute/v2.1/flavors?limit=0", headers=ADMIN)
    assert resp.json() == {"flavors": []}


async def test_who_is_an_admin_is_policy_context_is_admin(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """As Nova's: `context_is_admin` decides who is an admin everywhere (here: who sees
    private flavors and may filter on `is_public`), not the role's name."""
    resp = await client.post("/compute/v2.1/flavors", json=tiny(id="p1", **PRIVATE), headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert "p1" not in await ids(client, "?is_public=none", MEMBER)
    app.state.policy.override({"context_is_admin": "role:member"})
    assert "p1" in await ids(client, "?is_public=none", MEMBER)
    app.state.policy.override({"context_is_admin": "role:cloud_admin"})
    assert "p1" not in await ids(client, "?is_public=none", ADMIN)  # `admin` alone no more
