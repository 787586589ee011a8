"""The Image API at the top (`/image`): every request forwarded to the top's Glance, bodies
streamed both ways, Glance's answers relayed with their links onto the top, Cascade's
own refusals in Glance's error body."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import Message

from cascade.api.image import hooks
from cascade.api.image.links import to_top
from cascade.app import create_app
from cascade.conf import Conf, DatabaseSection, ImageSection, KeystoneSection
from cascade.db.migrate import upgrade
from tests.unit.conftest import FakeKeystone, no_pods

GLANCE = "http://glance.test:9292/glance"  # a root with a path, as behind a web server
TOP = "http://cascade.test/image"
MEMBER = {"X-Auth-Token": "member-token"}
IMAGE_ID = "8f2a9b0e-4d1c-4c55-9d8b-2f1a3c4d5e6f"
LIMIT = 4096  # [api] max_body_bytes of these tests
CHUNK = 64 * 1024


def versions_document() -> dict[str, Any]:
    link = [{"rel": "self", "href": f"{GLANCE}/v2/"}]
    return {
        "versions": [
            {"id": "v2.17", "status": "CURRENT", "links": link},
            {"id": "v2.0", "status": "SUPPORTED", "links": link},
        ]
    }


class Chunks(httpx.AsyncByteStream):
    """A download as Glance sends it: chunk after chunk, noting each in `events`."""

    def __init__(self, chunks: list[bytes], events: list[str]) -> None:
        self.chunks = chunks
        self.events = events
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for n, chunk in enumerate(self.chunks):
            self.events.append(f"glance sends {n}")
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


@dataclasses.dataclass
class Seen:
    """One request as the fake Glance received it."""

    method: str
    path: str
    query: str
    headers: httpx.Headers
    body: bytes
    chunks: int


class FakeGlance(httpx.AsyncBaseTransport):
    """Just enough of a Glance to see what reaches it: each request recorded, the body
    read chunk by chunk as it arrives (`first_chunk_while`: what `progress` said when
    the first chunk came), answers as Glance writes them."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.down = False
        self.download: Chunks | None = None
        self.events: list[str] = []
        self.progress: dict[str, bool] = {"last_chunk_made": False}
        self.first_chunk_while: dict[str, bool] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        assert isinstance(request.stream, httpx.AsyncByteStream)
        body, chunks = b"", 0
        async for chunk in request.stream:
            if chunks == 0:
                self.first_chunk_while = dict(self.progress)
            body += chunk
            chunks += 1
        query = request.url.query.decode()
        seen = Seen(request.method, request.url.path, query, request.headers, body, chunks)
        self.seen.append(seen)
        return self.answer(seen)

    def answer(self, seen: Seen) -> httpx.Response:
        glance_id = {"x-openstack-request-id": "req-00000000-1111-2222-3333-444444444444"}
        path = seen.path.removeprefix("/glance")
        image = {"id": IMAGE_ID, "name": "img", "self": f"/v2/images/{IMAGE_ID}"}
        if path in ("", "/"):
            return httpx.Response(300, json=versions_document())
        if path == "/versions":
            return httpx.Response(200, json=versions_document())
        if path == "/v2/images" and seen.method == "GET":
            page = {"images": [image], "first": "/v2/images", "schema": "/v2/schemas/images"}
            return httpx.Response(200, json=page, headers=glance_id)
        if path == "/v2/images" and seen.method == "POST":
            location = f"{GLANCE}/v2/images/{IMAGE_ID}"
            headers = {
                **glance_id,
                "Location": location,
                "OpenStack-image-import-methods": "glance-direct,web-download",
            }
            return httpx.Response(201, json={**image, **json.loads(seen.body)}, headers=headers)
        if path == f"/v2/images/{IMAGE_ID}/file" and seen.method == "GET":
            assert self.download is not None
            data = b"".join(self.download.chunks)
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(len(data)),
                "Content-MD5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                "Connection": "close",
            }
            return httpx.Response(200, headers=headers, stream=self.download)
        if path.startswith(f"/v2/images/{IMAGE_ID}") and seen.method in ("PUT", "DELETE"):
            return httpx.Response(204, headers={"Content-Length": "0"})
        if path == f"/v2/images/{IMAGE_ID}" and seen.method == "PATCH":
            return httpx.Response(200, json={**image, "tags": ["patched"]})
        message = f"No image found with ID {path.rsplit('/', 1)[-1]}<br /><br />\n\n\n"
        body = {"message": message, "code": "404 Not Found", "title": "Not Found"}
        return httpx.Response(404, json=body, headers=glance_id)


@pytest.fixture
def glance() -> FakeGlance:
    return FakeGlance()


async def make_app(
    tmp_path: Path, keystone: FakeKeystone, glance: FakeGlance, glance_url: str, **api: Any
) -> Starlette:
    """The application with `glance` as the top's Glance at `glance_url`; `api`: more
    `[api]` options."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cascade.sqlite'}"
    await upgrade(url)
    conf = Conf(
        database=DatabaseSection(connection=url),
        keystone=KeystoneSection(auth_url="http://keystone.test/v3", password="x"),
        image=ImageSection(glance_url=glance_url),
    )
    conf = dataclasses.replace(conf, api=dataclasses.replace(conf.api, max_body_bytes=LIMIT, **api))
    return create_app(
        conf,
        keystone_transport=httpx.MockTransport(keystone),
        pod_transport=httpx.MockTransport(no_pods),
        image_transport=glance,
    )


@pytest.fixture
async def image_app(
    tmp_path: Path, keystone: FakeKeystone, glance: FakeGlance
) -> AsyncIterator[Starlette]:
    made = await make_app(tmp_path, keystone, glance, GLANCE)
    yield made
    await made.state.glance.aclose()
    await made.state.registry.aclose()
    await made.state.engine.dispose()


@pytest.fixture
async def image(image_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=image_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        yield c


def glance_error(answer: httpx.Response) -> str:
    """The message of an error in Glance's (webob's) body, checking the format."""
    body = answer.json()
    assert set(body) == {"message", "code", "title"}
    assert body["code"] == f"{answer.status_code} {body['title']}"
    assert body["message"].endswith("<br /><br />\n\n\n")
    return str(body["message"]).removesuffix("<br /><br />\n\n\n")


async def test_a_list_is_forwarded_with_its_query_token_and_request_id(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    query = "name=a%20b&sort=name:asc,created_at:desc&limit=2&tag=x&tag=y"
    answer = await image.get(f"/image/v2/images?{query}", headers=MEMBER)
    assert answer.status_code == 200
    assert answer.json()["images"][0]["id"] == IMAGE_ID
    # Glance's own request id and relative links come back as Glance wrote them
    assert answer.headers["x-openstack-request-id"] == "req-00000000-1111-2222-3333-444444444444"
    assert answer.json()["first"] == "/v2/images"
    (seen,) = glance.seen
    assert (seen.method, seen.path, seen.query) == ("GET", "/glance/v2/images", query)
    assert seen.headers["x-auth-token"] == "member-token"
    assert seen.headers["x-openstack-request-id"].startswith("req-")
    assert seen.body == b""


async def test_the_callers_request_id_goes_to_glance_as_the_global_one(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    mine = "req-12345678-1234-1234-1234-123456789012"
    await image.get("/image/v2/images", headers={**MEMBER, "X-OpenStack-Request-ID": mine})
    assert glance.seen[0].headers.get_list("x-openstack-request-id") == [mine]


async def test_a_create_is_forwarded_and_its_location_is_on_the_top(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    body = {"name": "img", "disk_format": "raw", "container_format": "bare", "os_distro": "x"}
    headers = {
        **MEMBER,
        "X-Image-Meta-Store": "fs",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "only to the next hop",
    }
    answer = await image.post("/image/v2/images", json=body, headers=headers)
    assert answer.status_code == 201
    assert answer.headers["location"] == f"{TOP}/v2/images/{IMAGE_ID}"
    assert answer.headers["openstack-image-import-methods"] == "glance-direct,web-download"
    assert answer.json()["os_distro"] == "x"
    (seen,) = glance.seen
    assert json.loads(seen.body) == body
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["content-length"] == str(len(seen.body))
    assert seen.headers["x-image-meta-store"] == "fs"
    # hop-by-hop headers stay with the hop (the one `Connection` names too)
    assert "x-hop" not in seen.headers
    assert seen.headers.get("host") == "glance.test:9292"


async def test_a_json_patch_update_passes_the_guard_and_keeps_its_media_type(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    patch = [{"op": "add", "path": "/tags/-", "value": "patched"}]
    media = "application/openstack-images-v2.1-json-patch"
    raw = json.dumps(patch).encode()
    answer = await image.patch(
        f"/image/v2/images/{IMAGE_ID}", content=raw, headers={**MEMBER, "Content-Type": media}
    )
    assert answer.status_code == 200, answer.text
    (seen,) = glance.seen
    assert (seen.method, seen.body, seen.headers["content-type"]) == ("PATCH", raw, media)


async def test_an_upload_is_streamed_to_glance_past_the_body_limit(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    parts = [bytes([n]) * CHUNK for n in range(16)]  # 1 MiB: 256 times [api] max_body_bytes

    async def upload() -> AsyncIterator[bytes]:
        for n, part in enumerate(parts):
            if n == len(parts) - 1:
                glance.progress["last_chunk_made"] = True
            yield part

    url = f"/image/v2/images/{IMAGE_ID}/file"
    headers = {**MEMBER, "Content-Type": "application/octet-stream"}
    answer = await image.put(url, content=upload(), headers=headers)
    assert answer.status_code == 204
    (seen,) = glance.seen
    assert seen.body == b"".join(parts)
    # streamed: Glance had the first chunk before the client had made the last, and got
    # them one by one (chunked on, as the client sent them)
    assert glance.first_chunk_while == {"last_chunk_made": False}
    assert seen.chunks >= len(parts)
    assert seen.headers["transfer-encoding"] == "chunked"


async def test_an_upload_with_a_length_keeps_it(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    data = b"\x00\xff" * (LIMIT * 2)  # not JSON, and past [api] max_body_bytes
    url = f"/image/v2/images/{IMAGE_ID}/stage"
    answer = await image.put(url, content=data, headers=MEMBER)
    assert answer.status_code == 204
    (seen,) = glance.seen
    assert (seen.body, seen.headers["content-length"]) == (data, str(len(data)))
    assert "transfer-encoding" not in seen.headers


async def test_other_image_bodies_keep_the_guards_checks(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    too_large = {"name": "x" * LIMIT}
    answer = await image.post("/image/v2/images", json=too_large, headers=MEMBER)
    assert answer.status_code == 413
    assert "limit is 4096 bytes" in glance_error(answer)
    answer = await image.post("/image/v2/images", content=b"{bad", headers=MEMBER)
    assert answer.status_code == 400
    assert glance_error(answer) == "Malformed JSON in request body."
    # an image's data anywhere else than `/file` or `/stage` is no data path
    answer = await image.put(f"/image/v2/images/{IMAGE_ID}/tags/x", content=b"\xff", headers=MEMBER)
    assert answer.status_code == 400
    assert glance.seen == []


async def asgi_get(app: Starlette, path: str, events: list[str]) -> tuple[int, dict[str, str]]:
    """GET `path` straight through the ASGI interface, noting each body message the
    application sends in `events` (httpx's ASGI transport would gather them)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"cascade.test"), (b"x-auth-token", b"member-token")],
        "client": ("127.0.0.1", 1234),
        "server": ("cascade.test", 80),
    }
    start: dict[str, Any] = {}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message.get("body"):
            events.append(f"client gets {len(message['body'])}")

    await app(scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return int(start["status"]), headers


async def test_a_download_is_relayed_chunk_by_chunk_and_closed(
    image_app: Starlette, glance: FakeGlance
) -> None:
    events: list[str] = []
    glance.download = Chunks([b"a" * CHUNK, b"b" * CHUNK, b"c" * 10], events)
    status, headers = await asgi_get(image_app, f"/image/v2/images/{IMAGE_ID}/file", events)
    assert status == 200
    # each chunk reached the client before Glance sent the next: nothing held whole
    assert events == [
        "glance sends 0",
        f"client gets {CHUNK}",
        "glance sends 1",
        f"client gets {CHUNK}",
        "glance sends 2",
        "client gets 10",
    ]
    data = b"".join(glance.download.chunks)
    assert headers["content-length"] == str(len(data))
    assert headers["content-md5"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert headers["content-type"] == "application/octet-stream"
    assert "connection" not in headers  # Glance's hop-by-hop header stays with that hop
    assert glance.download.closed


async def test_glance_gets_the_callers_headers_and_none_of_httpxs_own(
    image_app: Starlette, glance: FakeGlance
) -> None:
    status, _ = await asgi_get(image_app, "/image/v2/images", [])
    assert status == 200
    sent = {key.lower() for key, _ in glance.seen[0].headers.raw}
    assert sent == {b"host", b"x-auth-token", b"x-openstack-request-id"}


async def test_a_download_through_http_gives_the_bytes(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    glance.download = Chunks([b"x" * 100, b"y" * 5], [])
    answer = await image.get(f"/image/v2/images/{IMAGE_ID}/file", headers=MEMBER)
    assert (answer.status_code, answer.content) == (200, b"x" * 100 + b"y" * 5)


async def test_a_delete_calls_the_hook_once_glance_deleted(
    image: httpx.AsyncClient, glance: FakeGlance, monkeypatch: pytest.MonkeyPatch
) -> None:
    deleted: list[str] = []

    async def image_deleted(request: Request, image_id: str) -> None:
        assert request.method == "DELETE"
        deleted.append(image_id)

    monkeypatch.setattr(hooks, "image_deleted", image_deleted)
    answer = await image.delete(f"/image/v2/images/{IMAGE_ID}", headers=MEMBER)
    assert answer.status_code == 204
    assert deleted == [IMAGE_ID]
    # Glance's refusal, or a delete of something below the image: no hook
    answer = await image.delete("/image/v2/images/nope", headers=MEMBER)
    assert answer.status_code == 404
    assert glance_error(answer) == "No image found with ID nope"
    await image.delete(f"/image/v2/images/{IMAGE_ID}/tags/x", headers=MEMBER)
    assert deleted == [IMAGE_ID]


@pytest.mark.parametrize(
    ("path", "status"), [("/image", 300), ("/image/", 300), ("/image/versions", 200)]
)
async def test_the_version_documents_are_glances_with_links_on_the_top(
    image: httpx.AsyncClient, glance: FakeGlance, path: str, status: int
) -> None:
    answer = await image.get(path)  # no token needed
    assert answer.status_code == status
    versions = answer.json()["versions"]
    assert [v["id"] for v in versions] == ["v2.17", "v2.0"]
    assert {link["href"] for v in versions for link in v["links"]} == {f"{TOP}/v2/"}
    assert glance.seen[0].path == ("/glance/versions" if path.endswith("versions") else "/glance/")


def test_links_from_another_root_of_glances_move_onto_the_top() -> None:
    assert to_top(f"{GLANCE}/v2/images/x", GLANCE, TOP) == f"{TOP}/v2/images/x"
    assert to_top("https://images.example.com/v2/", GLANCE, TOP) == f"{TOP}/v2/"
    assert to_top("https://example.com/img/v2.1/x?y=1", GLANCE, TOP) == f"{TOP}/v2.1/x?y=1"
    assert to_top("/v2/images/x", GLANCE, TOP) == "/v2/images/x"  # relative: as it is
    assert to_top("https://docs.openstack.org/", GLANCE, TOP) == "https://docs.openstack.org/"


async def test_glance_unreachable_is_503_in_glances_format(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    glance.down = True
    for answer in (
        await image.get("/image/v2/images", headers=MEMBER),
        await image.get("/image/versions"),
        await image.put(f"/image/v2/images/{IMAGE_ID}/file", content=b"x", headers=MEMBER),
    ):
        assert answer.status_code == 503
        assert "Glance cannot be reached" in glance_error(answer)


async def test_no_glance_configured_is_503_in_glances_format(
    tmp_path: Path, keystone: FakeKeystone, glance: FakeGlance
) -> None:
    app = await make_app(tmp_path, keystone, glance, "")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        for answer in (await c.get("/image/v2/images", headers=MEMBER), await c.get("/image")):
            assert answer.status_code == 503
            assert "no Glance configured" in glance_error(answer)
    await app.state.registry.aclose()
    await app.state.engine.dispose()
    assert glance.seen == []


async def test_no_token_is_401_in_glances_format(
    image: httpx.AsyncClient, glance: FakeGlance
) -> None:
    for headers in ({}, {"X-Auth-Token": "not-a-token"}):
        answer = await image.get("/image/v2/images", headers=headers)
        assert answer.status_code == 401
        assert glance_error(answer).startswith("This server could not verify that you are")
        assert answer.headers["www-authenticate"] == 'Keystone uri="http://keystone.test"'
    assert glance.seen == []


async def test_keystone_unreachable_is_503_in_glances_format(
    image: httpx.AsyncClient, keystone: FakeKeystone, glance: FakeGlance
) -> None:
    keystone.down = True
    answer = await image.get("/image/v2/images", headers=MEMBER)
    assert answer.status_code == 503
    assert glance_error(answer).startswith("cannot validate the token")
    assert glance.seen == []


async def test_a_method_no_route_takes_is_405_in_glances_format(
    image: httpx.AsyncClient,
) -> None:
    answer = await image.request("OPTIONS", "/image/v2/images", headers=MEMBER)
    assert answer.status_code == 405
    assert glance_error(answer) == "The method is not allowed for this resource."


async def test_a_project_past_its_rate_is_429_in_glances_format(
    tmp_path: Path, keystone: FakeKeystone, glance: FakeGlance
) -> None:
    app = await make_app(
        tmp_path, keystone, glance, GLANCE, project_reads_per_second=0.001, project_read_burst=1
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
        assert (await c.get("/image/v2/images", headers=MEMBER)).status_code == 200
        answer = await c.get("/image/v2/images", headers=MEMBER)
    assert answer.status_code == 429
    assert "over its rate of read requests" in glance_error(answer)
    assert int(answer.headers["retry-after"]) >= 1
    await app.state.glance.aclose()
    await app.state.registry.aclose()
    await app.state.engine.dispose()
