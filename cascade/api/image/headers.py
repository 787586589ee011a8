"""Which headers cross the top between the client and Glance, both ways.

Everything the client sends goes on to Glance (`X-Auth-Token`: the top's Glance shares
the top's Keystone; `Content-Type`, JSON-patch included; `X-Image-Meta-*`,
`X-Openstack-Image-Import-*`, `x-image-meta-store`...) and everything Glance answers
comes back (`Content-Length`, `Content-MD5`, `OpenStack-image-*`...), except the
hop-by-hop headers (RFC 9110 section 7.6.1) and those each hop writes itself: `Host`,
the request id (the top's, `X-OpenStack-Request-ID`), `Date` and `Server`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Raw = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# written by this hop towards Glance: httpx writes `Host` and the framing; `Expect:
# 100-continue` is the server's business with the client (uvicorn answers it when the
# body is first read); the request id is the top's (the client's valid one is kept as
# the global request id by `RequestIdMiddleware`)
REQUEST_OWN = frozenset({b"host", b"expect", b"x-openstack-request-id"})
# written by the top's own server towards the client
RESPONSE_OWN = frozenset({b"date", b"server"})
# headers that carry a URL of Glance's
LINKS = frozenset({b"location", b"content-location"})


def _named_in_connection(raw: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    """The headers `Connection` names: hop-by-hop too (RFC 9110 section 7.6.1)."""
    return {
        name.strip().lower()
        for key, value in raw
        if key.lower() == b"connection"
        for name in value.split(b",")
    }


def has_body(raw: Raw) -> bool:
    """Whether the client sends a body: a `Content-Length` other than 0, or chunked."""
    for key, value in raw:
        name = key.lower()
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


def outbound(raw: Raw, request_id: str, streamed: bool) -> Raw:
    """The client's headers `raw` as they go to Glance: hop-by-hop ones left out, the
    request id `request_id`, and `Content-Length` kept only with a body (`streamed`; a
    chunked body goes on chunked, httpx writes the framing)."""
    dropped = HOP_BY_HOP | REQUEST_OWN | _named_in_connection(raw)
    if not streamed:
        dropped |= {b"content-length"}
    kept = [(key, value) for key, value in raw if key.lower() not in dropped]
    kept.append((b"x-openstack-request-id", request_id.encode("latin-1")))
    return kept


def inbound(raw: Raw, rewrite: Callable[[str], str]) -> Raw:
    """Glance's headers `raw` as they go to the client: hop-by-hop ones left out, URLs
    (`Location`) through `rewrite`, onto the top."""
    dropped = HOP_BY_HOP | RESPONSE_OWN | _named_in_connection(raw)
    kept: Raw = []
    for key, value in raw:
        name = key.lower()
        if name in dropped:
            continue
        if name in LINKS:
            value = rewrite(value.decode("latin-1")).encode("latin-1")
        kept.append((name, value))
    return kept
