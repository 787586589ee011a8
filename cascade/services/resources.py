"""Routed resources described once, for every API (no HTTP types here).

A `Resource` says what an API needs to serve objects that live in one pod each
(their routing is `routed`'s): the routing kind, the path and body key in the
pods' API, the 404 message, the first microversion, how lists show them, where
an admin's view names the project, and in which pod a new one goes. Each
service module describes its own (`servers.RESOURCES`, `volumes.RESOURCES`) and
registers them here, so that code which only has a routing (`stale`, the admin
API) can find its object in the pod.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cascade.versions import Version

BASE = Version(0, 0)  # no microversion needed
SUMMARY = ("id", "name", "links")  # the non-detail list entry, for most kinds


@dataclass(frozen=True)
class Parent:
    """A new object goes to the pod of the object its body names (`field`, of `kind`).

    `owns`, where set, is the field of the object's own view naming that parent, and
    says the parent's project owns the object whoever made it (Cinder lists and shows
    an attachment or a transfer to its volume's project: an admin's on a user's volume
    is the user's); unset, the project that made it owns it (a snapshot an admin makes
    of a user's volume is the admin's, as in Cinder)."""

    field: str
    kind: str
    owns: str = ""


@dataclass(frozen=True)
class Resource:
    """One routed resource, described once: each object lives in one pod (top id = the
    pod's id) and its routing says which. The Block Storage API's routes, merged lists,
    404s, views and creates are made from these; every API locates objects through
    them, and a routing's object is checked in its pod by them."""

    kind: str  # the routings' resource type
    collection: str  # its path segment (`/volumes`)
    key: str  # the body key of one object
    missing: str  # the API's 404 message, `{id}` for the id asked
    since: Version = BASE  # below: the API's 404, as for an unknown path
    summary: tuple[str, ...] | None = SUMMARY  # the non-detail entry's keys (None: all)
    links: str | None = ""  # the list's next-link key ("": `<collection>_links`)
    owner: str = ""  # where an admin's view shows the project
    parent: Parent | None = None  # a create goes to its parent's pod (None: placed by AZ)
    listed: bool = True  # GET /<collection>[/detail] merges every pod's

    @property
    def path(self) -> str:
        return f"/{self.collection}"

    @property
    def links_key(self) -> str | None:
        return f"{self.collection}_links" if self.links == "" else self.links


BY_KIND: dict[str, Resource] = {}


def described(resources: Iterable[Resource]) -> None:
    """Register a service's resources by kind (each kind once)."""
    for resource in resources:
        BY_KIND[resource.kind] = resource
