"""Volume microversions: read from the request, checked against the range, echoed back.

As Cinder (`cinder/api/openstack/wsgi.py`): the first comma-separated item of
`OpenStack-API-Version` that contains `volume` names the version; no header
means 3.0, `latest` the maximum; a malformed version is 400, one outside the
range 406 (Cinder's `computeFault`), with Cinder's messages. A header without
a `volume` item is Cinder's generic 400.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from cascade.api.volume.errors import VolumeError
from cascade.versions import Version

GENERIC_400 = (
    "The server could not comply with the request since it is either malformed or "
    "otherwise incorrect."
)


def echo_headers(version: Version | str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"volume {version}", "Vary": "OpenStack-API-Version"}


def requested(headers: Headers) -> str | None:
    """The version the request asks for (None: no header)."""
    values = headers.getlist("openstack-api-version")
    if not values:
        return None
    for part in ",".join(values).split(","):
        if "volume" in part:
            words = part.split()
            if len(words) == 2:
                return words[1]
    raise VolumeError(400, GENERIC_400)


def negotiate(raw: str | None, low: Version, high: Version) -> Version:
    if raw is None:
        return Version(3, 0)
    if raw == "latest":
        return high
    try:
        version = Version.parse(raw)
    except ValueError:
        raise VolumeError(
            400,
            f"API Version String {raw} is of invalid format. Must be of format MajorNum.MinorNum.",
        ) from None
    if not low <= version <= high:
        raise VolumeError(
            406,
            f"Version {raw} is not supported by the API. Minimum is {low} and maximum is {high}.",
            echo_headers(raw),
        )
    return version
