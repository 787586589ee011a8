"""Independent pods: a pod with its own Keystone, where Cascade signs in with the pod's
credentials and acts in the project standing for the caller's (fake Keystone and Nova)."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.unit import fakenova
from tests.unit.conftest import FakeKeystone, PodHandler
from tests.unit.fakenova import ADMIN, FakeCloud, add_pod, bind_member

MEMBER = {"X-Auth-Token": "member-token"}
OTHER = {"X-Auth-Token": "other-token"}
SECRET = "pod-secret-do-not-show"
POD_KEYSTONE = "http://ks2.test/v3"
CREDENTIALS = {"username": "cascade", "password": SECRET, "project_name": "service"}
SERVICE_PROJECT = "0" * 32
ROLES = [{"id": "r1", "name": "member"}, {"id": "r2", "name": "admin"}]


class PodKeystone:
    """Just enough of an independent pod's Keystone: password sign-in (Cascade's user by
    name, with a service scope by name or a project scope by id; the users Cascade makes
    by id), the catalog, projects, users and role grants. A token of a project is known
    to the fake Novas (`PROJECTS`); `signed_in` keeps the passwords Cascade's user used."""

    CASCADE_USER = "c" * 32

    def __init__(self) -> None:
        self.password = SECRET
        self.down = False
        self.catalog: list[dict[str, Any]] = []
        self.items: dict[str, dict[str, dict[str, Any]]] = {"projects": {}, "users": {}}
        self.projects = self.items["projects"]
        self.users = self.items["users"]
        self.granted: set[tuple[str, str]] = set()  # (project, user)
        self.roles: dict[tuple[str, str], set[str]] = {}  # (project, user): role names
        self.signed_in: list[str] = []
        self.password_sets: list[str] = []  # the users whose password Cascade set

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path.removeprefix("/v3")
        if path == "/auth/tokens" and request.method == "POST":
            return self._sign_in(json.loads(request.content)["auth"])
        assert request.headers["X-Auth-Token"] == "service-token"
        parts = path.strip("/").split("/")
        if path == "/auth/catalog":
            return httpx.Response(200, json={"catalog": self.catalog})
        if path == "/roles":
            name = request.url.params["name"]
            known = [r for r in ROLES if r["name"] == name]
            return httpx.Response(200, json={"roles": known})
        if request.method == "PUT" and "/roles/" in path:
            self.granted.add((parts[1], parts[3]))
            role = next(r["name"] for r in ROLES if r["id"] == parts[5])
            self.roles.setdefault((parts[1], parts[3]), set()).add(role)
            return httpx.Response(204)
        if parts[0] not in self.items:
            return httpx.Response(404, json={"error": {"code": 404}})
        items, key = self.items[parts[0]], parts[0][:-1]
        if len(parts) == 1 and request.method == "GET":
            name = request.url.params["name"]
            return httpx.Response(
                200, json={parts[0]: [i for i in items.values() if i["name"] == name]}
            )
        if len(parts) == 1 and request.method == "POST":
            made = {**json.loads(request.content)[key], "id": uuid.uuid4().hex}
            items[made["id"]] = made
            return httpx.Response(201, json={key: made})
        one = items.get(parts[1])
        if one is None:
            return httpx.Response(404, json={"error": {"code": 404}})
        if request.method == "PATCH":
            one.update(json.loads(request.content)[key])
            self.password_sets.append(parts[1])
        return httpx.Response(200, json={key: one})

    def _sign_in(self, auth: dict[str, Any]) -> httpx.Response:
        user = auth["identity"]["password"]["user"]
        scope = auth["scope"]["project"]
        if "id" in user:  # a user Cascade made
            known = self.users.get(user["id"])
            if known is None or known["password"] != user["password"]:
                return httpx.Response(401, json={"error": {"code": 401}})
            user_id = user["id"]
        else:
            self.signed_in.append(user["password"])
            if user["password"] != self.password:
                return httpx.Response(401, json={"error": {"code": 401}})
            user_id = self.CASCADE_USER
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        if "name" in scope:
            token, project = "service-token", SERVICE_PROJECT
        elif (scope["id"], user_id) in self.granted:
            token, project = f"pod-{scope['id']}-{user_id}", scope["id"]
            fakenova.PROJECTS[token] = project
        else:
            return httpx.Response(401, json={"error": {"code": 401}})
        body = {
            "token": {
                "expires_at": expires,
                "user": {"id": user_id},
                "project": {"id": project, "domain": {"id": "default"}},
            }
        }
        return httpx.Response(201, json=body, headers={"X-Subject-Token": token})

    def user_of(self, top_user: str) -> str:
        """The pod's user Cascade made for top user `top_user`."""
        found = [
            u for u, v in self.users.items() if v["description"] == f"Cascade: top user {top_user}"
        ]
        assert len(found) == 1, self.users
        return found[0]


@pytest.fixture
def pod_keystone() -> PodKeystone:
    return PodKeystone()


@pytest.fixture
def pod_handler(cloud: FakeCloud, pod_keystone: PodKeystone) -> PodHandler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "ks2.test":
            return pod_keystone(request)
        return cloud(request)

    return handler


@pytest.fixture
async def independent(
    client: httpx.AsyncClient, keystone: FakeKeystone, cloud: FakeCloud, pod_keystone: PodKeystone
) -> str:
    """pod1 shared (n1, in the top's catalog), pod2 independent (n2, in its own
    Keystone's catalog); the member bound to both. pod2's id."""
    keystone.catalog = cloud.catalog({"pod1": "n1"})
    # its services in a region named as many clouds name their one region
    pod_keystone.catalog = cloud.catalog({"RegionOne": "n2"})
    pod1 = await add_pod(client, "pod1", "az1", pod_az="nova-a")
    pod2 = await add_pod(
        client,
        "pod2",
        "az2",
        pod_az="nova-b",
        identity="independent",
        auth_url=POD_KEYSTONE,
        credentials=CREDENTIALS,
        catalog_region="RegionOne",
    )
    await bind_member(client, pod1, "az1")
    await bind_member(client, pod2, "az2")
    return pod2


def _mapped(pod_keystone: PodKeystone, top_project: str) -> str:
    """The pod project standing for `top_project` (made by Cascade)."""
    found = [
        pid
        for pid, p in pod_keystone.projects.items()
        if p["description"] == f"Cascade: top project {top_project}"
    ]
    assert len(found) == 1, pod_keystone.projects
    return found[0]


async def test_the_admin_api_never_shows_a_pods_secret(
    client: httpx.AsyncClient, independent: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cascade")
    shown = await client.get(f"/v1/pods/{independent}", headers=ADMIN)
    pod = shown.json()["pod"]
    assert pod["identity"] == "independent" and pod["auth_url"] == POD_KEYSTONE
    assert pod["credentials"] == {"username": "cascade", "project_name": "service"}
    listed = await client.get("/v1/pods", headers=ADMIN)
    assert [p["identity"] for p in listed.json()["pods"]] == ["shared", "independent"]
    # a name taken: the refusal names fields, never values
    clash = await client.patch(
        f"/v1/pods/{independent}",
        json={"pod": {"name": "pod1", "credentials": {**CREDENTIALS, "password": SECRET + "2"}}},
        headers=ADMIN,
    )
    assert clash.status_code == 409
    for text in (shown.text, listed.text, clash.text, caplog.text):
        assert SECRET not in text


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"identity": "independent"}, "needs 'auth_url' and 'credentials'"),
        ({"identity": "independent", "auth_url": POD_KEYSTONE}, "needs 'auth_url'"),
        ({"credentials": CREDENTIALS}, "a shared pod takes no 'credentials'"),
        ({"catalog_region": "RegionOne"}, "a shared pod takes no 'catalog_region'"),
        ({"identity": "federated"}, "must be one of shared, independent"),
        (
            {"identity": "independent", "auth_url": "ks2", "credentials": CREDENTIALS},
            "'auth_url' must be an http(s) URL",
        ),
        (
            {
                "identity": "independent",
                "auth_url": POD_KEYSTONE,
                "credentials": {
                    "application_credential_id": "a",
                    "application_credential_secret": SECRET,
                },
            },
            "application credentials are not supported",
        ),
        (
            {
                "identity": "independent",
                "auth_url": POD_KEYSTONE,
                "credentials": {"username": "cascade", "password": SECRET},
            },
            "'credentials' is not valid",
        ),
    ],
)
async def test_identity_fields_that_do_not_fit_are_refused(
    client: httpx.AsyncClient, fields: dict[str, Any], words: str
) -> None:
    body = {"pod": {"name": "p", "region_name": "p", "az": "az1", **fields}}
    resp = await client.post("/v1/pods", json=body, headers=ADMIN)
    assert resp.status_code == 400 and words in resp.text, resp.text
    assert SECRET not in resp.text
    assert (await client.get("/v1/pods", headers=ADMIN)).json()["pods"] == []


async def test_a_pods_identity_is_set_when_it_is_registered(
    client: httpx.AsyncClient, independent: str
) -> None:
    resp = await client.patch(
        f"/v1/pods/{independent}", json={"pod": {"identity": "shared"}}, headers=ADMIN
    )
    assert resp.status_code == 400 and "set when it is registered" in resp.text
    pod1 = (await client.get("/v1/pods", headers=ADMIN)).json()["pods"][0]["id"]
    resp = await client.patch(
        f"/v1/pods/{pod1}", json={"pod": {"credentials": CREDENTIALS}}, headers=ADMIN
    )
    assert resp.status_code == 400 and "a shared pod takes no" in resp.text


async def test_calls_to_an_independent_pod_are_made_in_the_mapped_project(
    client: httpx.AsyncClient, cloud: FakeCloud, pod_keystone: PodKeystone, independent: str
) -> None:
    n1, n2 = cloud.pods["n1"], cloud.pods["n2"]
    n1.add_server("shared-one")
    first = await client.get("/compute/v2.1/servers/detail", headers=MEMBER)
    assert first.status_code == 200, first.text
    mapped = _mapped(pod_keystone, "p1")  # made on first use, named after the top project
    user = pod_keystone.user_of("u1")  # the top user's own user in the pod, named after them
    assert pod_keystone.users[user]["name"] == "someone"
    assert pod_keystone.projects[mapped]["name"] == "p1" and (mapped, user) in pod_keystone.granted
    assert pod_keystone.roles[(mapped, user)] == {"member"}  # the least role that works
    # made with its password: not set again (that would revoke the tokens it has)
    assert pod_keystone.password_sets == []
    # its quotas in the pod unlimited: the top counts and enforces them over every pod
    assert n2.quota_sets[mapped]["instances"] == -1 and n2.quota_sets[mapped]["cores"] == -1
    assert n2.neutron.quotas[mapped]["port"] == -1
    theirs = n2.add_server("independent-one", project=mapped, user_id=user)
    n2.add_server("someone-elses", project=uuid.uuid4().hex)
    listed = await client.get("/compute/v2.1/servers/detail", headers=MEMBER)
    servers = {s["name"]: s for s in listed.json()["servers"]}
    assert set(servers) == {"shared-one", "independent-one"}
    assert servers["independent-one"]["tenant_id"] == "p1"  # the top's project, not the pod's
    assert servers["independent-one"]["user_id"] == "u1"  # and the top's user
    one = await client.get(f"/compute/v2.1/servers/{theirs['id']}", headers=MEMBER)
    assert one.status_code == 200 and one.json()["server"]["tenant_id"] == "p1"
    assert mapped not in one.text
    # the pod saw Cascade's token there, the top user's id, never the user's top token
    sent = [r for r in n2.requests if r.url.path.startswith("/v2.1/servers")]
    assert sent and all(r.headers["X-Auth-Token"] == f"pod-{mapped}-{user}" for r in sent)
    assert all(r.headers["X-Cascade-User-Id"] == "u1" for r in sent)
    # another top project is another project of the pod: it sees none of these
    other = await client.get(f"/compute/v2.1/servers/{theirs['id']}", headers=OTHER)
    assert other.status_code == 404
    assert len(pod_keystone.projects) == 1  # p2 is not bound to pod2: never asked there


async def test_a_pod_whose_keystone_is_away_answers_503_naming_it(
    client: httpx.AsyncClient, cloud: FakeCloud, pod_keystone: PodKeystone, independent: str
) -> None:
    await client.get("/compute/v2.1/servers/detail", headers=MEMBER)  # mapped, signed in
    theirs = cloud.pods["n2"].add_server("independent-one", project=_mapped(pod_keystone, "p1"))
    ours = cloud.pods["n1"].add_server("shared-one")
    # a rotated secret serves the next call (a new sign-in), no restart
    pod_keystone.password = SECRET + "-new"
    creds = {**CREDENTIALS, "password": SECRET + "-new"}
    rotated = await client.patch(
        f"/v1/pods/{independent}", json={"pod": {"credentials": creds}}, headers=ADMIN
    )
    assert rotated.status_code == 200 and SECRET not in rotated.text
    signed = len(pod_keystone.signed_in)
    again = await client.get(f"/compute/v2.1/servers/{theirs['id']}", headers=MEMBER)
    assert again.status_code == 200, again.text
    assert pod_keystone.signed_in[signed:] and set(pod_keystone.signed_in[signed:]) == {
        SECRET + "-new"
    }
    # its Keystone away, after a rotation (no token kept): 503 naming the pod
    pod_keystone.password = SECRET
    creds = {**CREDENTIALS, "password": SECRET}
    await client.patch(
        f"/v1/pods/{independent}", json={"pod": {"credentials": creds}}, headers=ADMIN
    )
    pod_keystone.down = True
    away = await client.get(f"/compute/v2.1/servers/{theirs['id']}", headers=MEMBER)
    assert away.status_code == 503 and "pod2" in away.text, away.text
    fine = await client.get(f"/compute/v2.1/servers/{ours['id']}", headers=MEMBER)
    assert fine.status_code == 200
    pod_keystone.down = False
    back = await client.get(f"/compute/v2.1/servers/{theirs['id']}", headers=MEMBER)
    assert back.status_code == 200


async def test_an_admin_maps_a_top_project_to_a_project_the_pod_had(
    client: httpx.AsyncClient,
    cloud: FakeCloud,
    keystone: FakeKeystone,
    pod_keystone: PodKeystone,
    independent: str,
) -> None:
    had = uuid.uuid4().hex
    pod_keystone.projects[had] = {"id": had, "name": "legacy", "description": ""}
    pod_keystone.granted.add((had, "any"))
    url = f"/v1/pods/{independent}/projects"
    assert (await client.get(url, headers=ADMIN)).json() == {"projects": []}
    assert (await client.get(url, headers=MEMBER)).status_code == 403
    body = {"project": {"pod_project_id": had}}
    mapped = await client.put(f"{url}/p1", json=body, headers=ADMIN)
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["project"]["pod_project_id"] == had
    # the member's calls to pod2 are made in that project: its servers are theirs
    theirs = cloud.pods["n2"].add_server("legacy-one", project=had)
    one = await client.get(f"/compute/v2.1/servers/{theirs['id']}", headers=MEMBER)
    assert one.status_code == 200 and one.json()["server"]["tenant_id"] == "p1"
    assert len(pod_keystone.projects) == 1  # none made
    # refusals: a project either Keystone lacks, a pod project already standing for one
    unknown = await client.put(
        f"{url}/p1", json={"project": {"pod_project_id": "f" * 32}}, headers=ADMIN
    )
    assert unknown.status_code == 400 and "has no project" in unknown.text
    assert (await client.put(f"{url}/p9", json=body, headers=ADMIN)).status_code == 400
    taken = await client.put(f"{url}/p2", json=body, headers=ADMIN)
    assert taken.status_code == 409 and "stands for top project p1" in taken.text
    pods = (await client.get("/v1/pods", headers=ADMIN)).json()["pods"]
    shared = await client.put(f"/v1/pods/{pods[0]['id']}/projects/p1", json=body, headers=ADMIN)
    assert shared.status_code == 400 and "maps no projects" in shared.text
    listed = (await client.get(url, headers=ADMIN)).json()["projects"]
    assert [(m["project_id"], m["pod_project_id"]) for m in listed] == [("p1", had)]
    # p1's server is known at the top now (a routing): its mapping stays while it is there
    held = await client.delete(f"{url}/p1", headers=ADMIN)
    assert held.status_code == 409 and "cannot change while" in held.text
    spare = uuid.uuid4().hex
    pod_keystone.projects[spare] = {"id": spare, "name": "spare", "description": ""}
    body = {"project": {"pod_project_id": spare}}
    assert (await client.put(f"{url}/p2", json=body, headers=ADMIN)).status_code == 200
    assert (await client.delete(f"{url}/p2", headers=ADMIN)).status_code == 204
    assert (await client.delete(f"{url}/p2", headers=ADMIN)).status_code == 404


async def test_a_server_cannot_move_into_an_independent_pod_yet(
    client: httpx.AsyncClient, cloud: FakeCloud, independent: str
) -> None:
    theirs = cloud.pods["n1"].add_server("shared-one")
    shown = await client.get(f"/compute/v2.1/servers/{theirs['id']}", headers=MEMBER)
    assert shown.status_code == 200  # routed to pod1
    body = {"migrate": {"host": "pod2"}}
    refused = await client.post(
        f"/compute/v2.1/servers/{theirs['id']}/action", json=body, headers=ADMIN
    )
    assert refused.status_code == 409 and "not supported yet" in refused.text, refused.text


async def test_a_top_admin_acts_in_the_pod_as_a_user_with_admin_there(
    client: httpx.AsyncClient, cloud: FakeCloud, pod_keystone: PodKeystone, independent: str
) -> None:
    """A top admin's calls (say, an admin action on another project's volume) need the
    pod's admin: they are made by a pod user of its own standing for the top user as an
    admin, given `admin`; the same top user as a member is still their member user."""
    n2 = cloud.pods["n2"]
    assert (await client.get("/compute/v2.1/servers/detail", headers=MEMBER)).status_code == 200
    resp = await client.get("/compute/v2.1/servers/detail", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    mapped, member = _mapped(pod_keystone, "p1"), pod_keystone.user_of("u1")
    admins = [
        u
        for u, v in pod_keystone.users.items()
        if v["description"] == "Cascade: top user u1, as an admin of the top"
    ]
    assert len(admins) == 1 and admins[0] != member
    assert pod_keystone.users[admins[0]]["name"] == "someone-admin"
    assert pod_keystone.roles[(mapped, admins[0])] == {"admin"}
    assert pod_keystone.roles[(mapped, member)] == {"member"}  # the member keeps no admin
    sent = [r for r in n2.requests if r.url.path.startswith("/v2.1/servers")]
    assert sent[-1].headers["X-Auth-Token"] == f"pod-{mapped}-{admins[0]}"
    # what the admin user made there shows the top user, not a key of Cascade's
    n2.add_server("made-by-the-admin", project=mapped, user_id=admins[0])
    listed = await client.get("/compute/v2.1/servers/detail", headers=ADMIN)
    made = [s for s in listed.json()["servers"] if s["name"] == "made-by-the-admin"]
    assert made and made[0]["user_id"] == "u1"
