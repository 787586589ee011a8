"""The Image API through Cascade (`<cascade>/image`, the `cascade` region's image
endpoint), in front of the devcloud's shared Glance: what a client does with an image,
its data streamed both ways, and Glance's own errors."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

pytestmark = pytest.mark.integration

SIZE = 5 * 1024 * 1024
CHUNK = 256 * 1024
PATCH = "application/openstack-images-v2.1-json-patch"
JSON = {"Accept": "application/json"}


def endpoint_of(conn: Connection, service: str = "image") -> str:
    """The service's endpoint at the top, as the catalog (and version discovery) give it."""
    endpoint = getattr(conn, service).get_endpoint()
    assert endpoint is not None
    return str(endpoint).rstrip("/")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def chunks(data: bytes) -> Iterator[bytes]:
    """`data` in pieces, so the client sends it chunked (no Content-Length)."""
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def create(conn: Connection, **fields: Any) -> dict[str, Any]:
    body = {"disk_format": "raw", "container_format": "bare", **fields}
    resp = conn.image.post("/images", json=body, raise_exc=False)
    assert resp.status_code == 201, resp.text
    # Glance's Location, on the top
    endpoint = endpoint_of(conn)
    assert resp.headers["Location"] == f"{endpoint}/images/{resp.json()['id']}"
    made: dict[str, Any] = resp.json()
    return made


def show(conn: Connection, image_id: str) -> dict[str, Any]:
    resp = conn.image.get(f"/images/{image_id}", raise_exc=False)
    assert resp.status_code == 200, resp.text
    shown: dict[str, Any] = resp.json()
    return shown


def wait_active(conn: Connection, image_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        image = show(conn, image_id)
        if image["status"] == "active":
            return image
        assert image["status"] not in ("killed", "deleted"), image
        assert time.monotonic() < deadline, f"image {image_id} stayed {image['status']}"
        time.sleep(0.5)


def glance_error(resp: Any) -> str:
    """The message of a refusal in Glance's (webob's) JSON error body."""
    body = resp.json()
    assert set(body) == {"message", "code", "title"}, body
    assert body["code"] == f"{resp.status_code} {body['title']}"
    return str(body["message"]).split("<br />")[0]


@pytest.fixture
def made(top: dict[str, Connection]) -> Iterator[list[str]]:
    """Ids of the images a test makes, deleted afterwards whatever happened."""
    ids: list[str] = []
    yield ids
    for image_id in ids:
        top["cascade"].image.delete(f"/images/{image_id}", raise_exc=False)


def test_the_tops_image_endpoint_is_cascade(top: dict[str, Connection]) -> None:
    conn = top["cascade"]
    endpoint = endpoint_of(conn)
    compute = endpoint_of(conn, "compute")
    assert endpoint.startswith(compute.split("/compute")[0] + "/image/")
    # the version document (no token) links onto the top, not Glance's host
    root = endpoint.split("/image/")[0] + "/image"
    answer = httpx.get(root, headers=JSON)
    assert answer.status_code == 300
    hrefs = {link["href"] for v in answer.json()["versions"] for link in v["links"]}
    assert hrefs == {f"{root}/v2/"}


def test_an_image_from_create_to_delete(top: dict[str, Connection], made: list[str]) -> None:
    conn, alt = top["cascade"], top["cascade-alt"]
    name = unique("img")
    image = create(conn, name=name, visibility="shared")
    image_id = image["id"]
    made.append(image_id)

    # 5 MB of random bytes, streamed up chunked; Glance checks and stores them
    data = os.urandom(SIZE)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    headers = {"Content-Type": "application/octet-stream"}
    resp = conn.image.put(f"/images/{image_id}/file", data=chunks(data), headers=headers)
    assert resp.status_code == 204, resp.text
    image = wait_active(conn, image_id)
    assert (image["size"], image["checksum"]) == (SIZE, md5)
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()

    # streamed down: the same bytes, with Glance's Content-MD5 and Content-Length
    resp = conn.image.get(f"/images/{image_id}/file", stream=True)
    assert resp.status_code == 200
    assert (resp.headers["Content-MD5"], resp.headers["Content-Length"]) == (md5, str(SIZE))
    digest = hashlib.md5(usedforsecurity=False)
    got = 0
    for piece in resp.iter_content(CHUNK):
        digest.update(piece)
        got += len(piece)
    assert (got, digest.hexdigest()) == (SIZE, md5)
    # and as openstacksdk downloads it (checking the checksum itself)
    assert conn.image.download_image(image_id).content == data

    # a tag, and a property changed with a JSON patch
    conn.image.put(f"/images/{image_id}/tags/cascade-test")
    patch = [{"op": "add", "path": "/os_distro", "value": "cirros"}]
    resp = conn.image.patch(f"/images/{image_id}", json=patch, headers={"Content-Type": PATCH})
    assert resp.status_code == 200, resp.text
    assert resp.json()["os_distro"] == "cirros"
    assert "cascade-test" in resp.json()["tags"]

    # a list with filters finds it, and only it
    query = f"name={name}&tag=cascade-test&os_distro=cirros&sort=name:asc&limit=5"
    listed = conn.image.get(f"/images?{query}").json()["images"]
    assert [i["id"] for i in listed] == [image_id]
    assert conn.image.get(f"/images?name={name}&tag=other").json()["images"] == []

    # alt_demo's project as a member: alt sees it once it accepted it
    alt_project = alt.current_project_id
    resp = conn.image.post(f"/images/{image_id}/members", json={"member": alt_project})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "pending"
    member_path = f"/images/{image_id}/members/{alt_project}"
    resp = alt.image.put(member_path, json={"status": "accepted"})
    assert resp.json()["status"] == "accepted"
    assert show(alt, image_id)["name"] == name
    shared = alt.image.get("/images?visibility=shared&member_status=accepted").json()
    assert image_id in {i["id"] for i in shared["images"]}
    members = conn.image.get(f"/images/{image_id}/members").json()["members"]
    assert [(m["member_id"], m["status"]) for m in members] == [(alt_project, "accepted")]

    # deleted: gone for both
    resp = conn.image.delete(f"/images/{image_id}")
    assert resp.status_code == 204
    made.remove(image_id)
    for who in (conn, alt):
        assert who.image.get(f"/images/{image_id}", raise_exc=False).status_code == 404


def test_staged_data_is_streamed_and_imported(top: dict[str, Connection], made: list[str]) -> None:
    conn = top["cascade"]
    image = create(conn, name=unique("staged"))
    made.append(image["id"])
    data = os.urandom(SIZE)
    headers = {"Content-Type": "application/octet-stream"}
    resp = conn.image.put(f"/images/{image['id']}/stage", data=chunks(data), headers=headers)
    assert resp.status_code == 204, resp.text
    body = {"method": {"name": "glance-direct"}}
    resp = conn.image.post(f"/images/{image['id']}/import", json=body)
    assert resp.status_code == 202, resp.text
    imported = wait_active(conn, image["id"])
    assert imported["size"] == SIZE
    assert imported["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_glances_own_errors_come_back_as_glance_wrote_them(top: dict[str, Connection]) -> None:
    conn = top["cascade"]
    unknown = str(uuid.uuid4())
    resp = conn.image.get(f"/images/{unknown}", headers=JSON, raise_exc=False)
    assert resp.status_code == 404
    assert glance_error(resp) == f"No image found with ID {unknown}"
    assert resp.headers["x-openstack-request-id"].startswith("req-")
    resp = conn.image.get("/images?limit=abc", headers=JSON, raise_exc=False)
    assert resp.status_code == 400
    assert glance_error(resp) == "limit param must be an integer"
    # a PATCH that is not a JSON patch: Glance's 415 (the guard let the JSON through)
    resp = conn.image.patch(f"/images/{unknown}", json=[], headers=JSON, raise_exc=False)
    assert resp.status_code == 415
    assert "json-patch" in resp.headers["Accept-Patch"]


def test_cascades_own_refusals_are_in_glances_format(top: dict[str, Connection]) -> None:
    endpoint = endpoint_of(top["cascade"])
    resp = httpx.get(f"{endpoint}/images", headers=JSON)
    assert resp.status_code == 401
    assert glance_error(resp).startswith("This server could not verify that you are")
    assert resp.headers["WWW-Authenticate"].startswith("Keystone uri=")
    token = str(top["cascade"].auth_token)
    resp = httpx.post(
        f"{endpoint}/images", content=b"{bad", headers={**JSON, "X-Auth-Token": token}
    )
    assert resp.status_code == 400
    assert glance_error(resp) == "Malformed JSON in request body."
