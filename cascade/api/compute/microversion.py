"""Compute microversions: read from the request, checked against the range, echoed back.

`OpenStack-API-Version: compute X.Y` wins over the legacy
`X-OpenStack-Nova-API-Version: X.Y`; none means the minimum; `latest` the
maximum. A malformed version is 400 and one outside the range 406, with
Nova's own messages.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from cascade.api.compute.errors import ComputeError
from cascade.versions import Version


def parse(text: str) -> Version:
    try:
        return Version.parse(text)
    except ValueError:
        raise ComputeError(
            400,
            f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum.",
        ) from None


def requested(headers: Headers) -> str | None:
    for value in headers.getlist("openstack-api-version"):
        for part in value.split(","):
            service, _, version = part.strip().partition(" ")
            if service.lower() == "compute" and version:
                return version.strip()
    legacy = headers.get("x-openstack-nova-api-version")
    return legacy.strip() if legacy else None


def echo_headers(version: Version | str) -> dict[str, str]:
    return {
        "OpenStack-API-Version": f"compute {version}",
        "X-OpenStack-Nova-API-Version": str(version),
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }


def negotiate(raw: str | None, low: Version, high: Version) -> Version:
    if raw is None:
        return low
    if raw.lower() == "latest":
        return high
    version = parse(raw)
    if not low <= version <= high:
        raise ComputeError(
            406,
            f"Version {raw} is not supported by the API. Minimum is {low} and maximum is {high}.",
            echo_headers(raw),
        )
    return version
