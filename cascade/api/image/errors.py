"""The Image API's own refusals, in Glance's error body (`boundary.glance_body`)."""

from __future__ import annotations

from starlette.responses import Response

from cascade.api.boundary import encoded, glance_body


def refusal(status: int, message: str) -> Response:
    """`status` with Glance's JSON error body saying `message`."""
    return Response(encoded(glance_body(status, message)), status, media_type="application/json")
