"""Projects' default volume types at the top (Cinder's `/default-types`, 3.62+), with
Cinder's order of checks and its words (`cinder/api/v3/default_types.py`)."""

from __future__ import annotations

from typing import Any

import httpx

V3 = "/volume/v3"
ADMIN = {"X-Auth-Token": "admin-token", "OpenStack-API-Version": "volume 3.62"}
MEMBER = {"X-Auth-Token": "member-token", "OpenStack-API-Version": "volume 3.62"}
FORBIDDEN = "You are not authorized to perform this operation."


def message(resp: httpx.Response) -> str:
    text: str = next(iter(resp.json().values()))["message"]
    return text


async def _default_type_id(client: httpx.AsyncClient) -> str:
    found = await client.get(f"{V3}/types/default", headers=ADMIN)
    type_id: str = found.json()["volume_type"]["id"]
    return type_id


async def test_a_projects_default_type_is_set_shown_listed_and_unset(
    client: httpx.AsyncClient,
) -> None:
    type_id = await _default_type_id(client)
    body = {"default_type": {"volume_type": "__DEFAULT__"}}
    put = await client.put(f"{V3}/default-types/p2", json=body, headers=ADMIN)
    assert put.status_code == 200, put.text
    view = {"project_id": "p2", "volume_type_id": type_id}
    assert put.json() == {"default_type": view}
    shown = await client.get(f"{V3}/default-types/p2", headers=ADMIN)
    assert shown.json() == {"default_type": view}
    listed = await client.get(f"{V3}/default-types", headers=ADMIN)
    assert listed.json() == {"default_types": [view]}
    assert (await client.delete(f"{V3}/default-types/p2", headers=ADMIN)).status_code == 204
    gone = await client.get(f"{V3}/default-types/p2", headers=ADMIN)
    assert gone.status_code == 404
    assert message(gone) == "Default type for project p2 not found."
    old = await client.get(
        f"{V3}/default-types", headers={**ADMIN, "OpenStack-API-Version": "volume 3.61"}
    )
    assert old.status_code == 404


async def test_default_types_check_as_cinder_does(client: httpx.AsyncClient) -> None:
    async def put(body: Any, project: str = "p2", headers: dict[str, str] = ADMIN) -> Any:
        return await client.put(f"{V3}/default-types/{project}", json=body, headers=headers)

    good = {"default_type": {"volume_type": "__DEFAULT__"}}
    # the body first (a member's bad body is a 400), then the project, then the policy
    bad = await put({"default_type": {"volume_type": ""}}, headers=MEMBER)
    assert bad.status_code == 400
    assert message(bad).startswith("Invalid input for field/attribute volume_type.")
    extra = await put({"default_type": {"volume_type": "x", "other": 1}})
    assert extra.status_code == 400
    unknown_project = await put(good, project="nope", headers=MEMBER)
    assert unknown_project.status_code == 404
    assert message(unknown_project) == "Project with id nope not found."
    refused = await put(good, headers=MEMBER)
    assert (refused.status_code, message(refused)) == (403, FORBIDDEN)
    unknown_type = await put({"default_type": {"volume_type": "nope"}})
    assert unknown_type.status_code == 400
    for path in ("/default-types", "/default-types/p1"):
        member = await client.get(f"{V3}{path}", headers=MEMBER)
        assert (member.status_code, message(member)) == (403, FORBIDDEN)
    # an unset for a project Keystone does not know is 204 (Cinder logs its 404)
    assert (await client.delete(f"{V3}/default-types/nope", headers=MEMBER)).status_code == 204
    member_unset = await client.delete(f"{V3}/default-types/p2", headers=MEMBER)
    assert (member_unset.status_code, message(member_unset)) == (403, FORBIDDEN)
