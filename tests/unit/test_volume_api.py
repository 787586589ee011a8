"""The Block Storage API's own answers (no pod involved): versions, microversions,
the project id in the URL, and what is not served yet."""

from __future__ import annotations

import httpx
import pytest
from starlette.datastructures import Headers

from cascade.api.volume.errors import VolumeError
from cascade.api.volume.microversion import negotiate, requested
from cascade.versions import Version

MEMBER = {"X-Auth-Token": "member-token"}
LOW, HIGH = Version(3, 0), Version(3, 71)


def test_the_volume_item_of_the_header_names_the_version() -> None:
    assert requested(Headers({})) is None
    assert requested(Headers({"OpenStack-API-Version": "compute 2.1, volume 3.40"})) == "3.40"
    assert requested(Headers({"OpenStack-API-Version": "volume  3.5"})) == "3.5"
    with pytest.raises(VolumeError) as caught:
        requested(Headers({"OpenStack-API-Version": "compute 2.1"}))
    assert caught.value.status == 400


def test_negotiation_follows_cinder() -> None:
    assert negotiate(None, LOW, HIGH) == Version(3, 0)
    assert negotiate("latest", LOW, HIGH) == HIGH
    assert negotiate("3.45", LOW, HIGH) == Version(3, 45)
    with pytest.raises(VolumeError) as bad:
        negotiate("3.x", LOW, HIGH)
    assert bad.value.status == 400 and "MajorNum.MinorNum" in bad.value.message
    with pytest.raises(VolumeError) as far:
        negotiate("3.72", LOW, HIGH)
    assert far.value.status == 406
    message = "Version 3.72 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
    assert far.value.body() == {"computeFault": {"code": 406, "message": message}}
    assert far.value.headers["OpenStack-API-Version"] == "volume 3.72"


async def test_version_documents(client: httpx.AsyncClient) -> None:
    root = await client.get("/volume/")
    assert root.status_code == 300
    doc = root.json()["versions"][0]
    assert doc["id"] == "v3.0" and doc["min_version"] == "3.0" and doc["version"] == "3.71"
    v3 = await client.get("/volume/v3/", headers=MEMBER)
    assert v3.status_code == 200 and v3.headers["OpenStack-API-Version"] == "volume 3.0"
    assert "OpenStack-API-Version" in v3.headers["Vary"]


async def test_the_project_in_the_url_must_be_the_tokens(client: httpx.AsyncClient) -> None:
    other = await client.get("/volume/v3/someone-else/os-availability-zone", headers=MEMBER)
    assert other.status_code == 400
    assert other.json() == {"badRequest": {"code": 400, "message": "Malformed request url"}}
    mine = await client.get("/volume/v3/p1/os-availability-zone", headers=MEMBER)
    assert mine.status_code == 200, mine.text
    bare = await client.get("/volume/v3/os-availability-zone", headers=MEMBER)
    assert bare.json() == mine.json()


async def test_what_is_not_served_says_so(client: httpx.AsyncClient) -> None:
    answer = await client.get("/volume/v3/p1/os-services", headers=MEMBER)
    assert answer.status_code == 501
    assert answer.json()["notImplemented"]["message"] == (
        "Cascade does not serve GET /os-services of the Block Storage API yet."
    )
    missing = await client.get("/volume/v3/p1/volumes/nope", headers=MEMBER)
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == "Volume nope could not be found."
