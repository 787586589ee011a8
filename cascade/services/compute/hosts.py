"""Compute hosts across pods: the names the top shows, the pod a name means, and asking
every pod as Cascade's service user (no HTTP types here).

Host names: a host keeps its own name at the top while no other pod has a host
of that name, so clients that feed a host back (`openstack server create
--host`, live-migration targets, `?host=` filters) keep working unchanged.
A name that occurs in more than one pod is shown as `<host>@<pod name>` in
each of them. Where a host is given back, both forms are accepted:
`<host>@<pod>` (for a pod Cascade knows) means that pod's host, a bare name
means the host of that name in whichever pod has it; a bare name that
several pods have is ambiguous (filters take all of them, updates refuse it).
Clashes are judged over every pod's services, and a pod that is down counts
with the hosts it had when it last answered (`HostBook`), so a shown name
does not change while a pod is away.

Calls: the admin Compute APIs (hypervisors, services, AZ detail) are answered
with Cascade's service token, after the top's own policy admitted the caller:
an admin of the top is not necessarily an admin of each pod's project scope.
They ask every registered pod, enabled or not: a disabled pod takes no new
resources, but its hosts are still there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cascade.db.models import Pod
from cascade.pods import fanout
from cascade.pods.client import PodUnavailable
from cascade.pods.compute import Caller, call, fault_message
from cascade.pods.registry import PodRegistry

INTERNAL_ZONE = "internal"  # Nova's default internal_service_availability_zone
SEPARATOR = "@"


@dataclass(frozen=True)
class Answer:
    """One pod's answer: its status (0 when it could not be reached) and JSON body."""

    pod: Pod
    status: int
    body: Any = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def down(self) -> bool:
        """Unreachable, timed out or a 5xx: left out of lists, named as unavailable.
        A 501 (the pod's driver cannot do it, e.g. uptime) is an answer, not an outage."""
        return self.status == 0 or (self.status >= 500 and self.status != 501)

    @property
    def message(self) -> str:
        """The pod's error message, unwrapped from Nova's `{"<fault>": {"message"}}`."""
        if self.status == 0:
            return self.reason
        body = self.body
        found = fault_message(body)
        if found is not None:
            return found
        if body is None:
            return self.reason or f"HTTP {self.status}"
        return json.dumps(body)[:500]


@dataclass(frozen=True)
class Admin:
    """Calls to pods' Nova with the service token, the request's microversion and id."""

    registry: PodRegistry
    version: str
    request_id: str

    async def ask(
        self,
        pod: Pod,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> Answer:
        caller = Caller(None, self.version, self.request_id)
        try:
            resp = await call(
                self.registry, pod, caller, method, path, json=body, params=params or None
            )
        except PodUnavailable as exc:
            return Answer(pod, 0, reason=str(exc))
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
        reason = "" if data is not None else resp.text.strip()[:500]
        if resp.status_code >= 500:
            reason = reason or f"pod {pod.name} answered {resp.status_code}"
        return Answer(pod, resp.status_code, data, reason)

    async def ask_all(
        self,
        pods: Sequence[Pod],
        path: str,
        params: Sequence[tuple[str, str]] | None = None,
    ) -> list[Answer]:
        """GET `path` of every pod in parallel; answers in the pods' order (a pod that has
        not answered within `[pods] list_deadline`: status 0, as one that is down)."""

        async def one(pod: Pod) -> Answer:
            return await self.ask(pod, "GET", path, params=params)

        found = await fanout.gather(self.registry, "compute", pods, one)
        answers = dict(found.answers)
        late = f"did not answer within {self.registry.list_deadline:g} s"
        return [answers.get(p) or Answer(p, 0, reason=late) for p in pods]


@dataclass
class HostBook:
    """The hosts each pod had when it last answered (pod id -> names), per API process."""

    known: dict[str, frozenset[str]] = field(default_factory=dict)

    def remember(self, pod: Pod, hosts: Iterable[str]) -> None:
        self.known[pod.id] = frozenset(hosts)

    def recall(self, pod: Pod) -> frozenset[str]:
        return self.known.get(pod.id, frozenset())


@dataclass(frozen=True)
class HostNames:
    """Which pods (by name, in pod order) each host name occurs in."""

    pods_of: dict[str, tuple[str, ...]]
    pod_names: frozenset[str]

    @classmethod
    def plain(cls, pods: Iterable[Pod]) -> HostNames:
        """Names where none needs its pod: every host shown as its pod names it."""
        return cls({}, frozenset(p.name for p in pods))

    @classmethod
    def of(cls, hosts: dict[str, Iterable[str]]) -> HostNames:
        """From each pod's host names (pod name -> hosts, in pod order)."""
        pods_of: dict[str, list[str]] = {}
        for pod_name, names in hosts.items():
            for host in set(names):
                pods_of.setdefault(host, []).append(pod_name)
        return cls({h: tuple(p) for h, p in pods_of.items()}, frozenset(hosts))

    def shown(self, pod_name: str, host: str) -> str:
        """The name the top shows for `host` of pod `pod_name`."""
        if len(self.pods_of.get(host, ())) > 1:
            return f"{host}{SEPARATOR}{pod_name}"
        return host

    def resolve(self, name: str) -> list[tuple[str, str]]:
        """(pod name, the pod's host name) for a name given back by a client: one pair
        for `<host>@<pod>` or a unique bare name, several for a clashing bare name, none
        for a name no pod has."""
        host, pod_name = split_pod(name, self.pod_names)
        if pod_name is not None:
            return [(pod_name, host)]
        return [(p, name) for p in self.pods_of.get(name, ())]


def split_pod(name: str, pod_names: Iterable[str]) -> tuple[str, str | None]:
    """`<text>@<pod>` -> (text, pod) when `pod` is a pod's name, else (name, None)."""
    text, sep, pod_name = name.rpartition(SEPARATOR)
    if sep and text and pod_name in set(pod_names):
        return text, pod_name
    return name, None


def is_uuid(value: str) -> bool:
    """As oslo's `is_uuid_like`: a UUID with or without dashes, any case."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def top_zone(pod: Pod, zone: Any) -> Any:
    """A pod's AZ name as the top names it: the pod's own AZ becomes its top AZ."""
    return pod.az if zone == pod.pod_az else zone


def items(answer: Answer, key: str) -> list[dict[str, Any]]:
    """The objects listed under `key` in a pod's answer (none unless it succeeded)."""
    if not answer.ok or not isinstance(answer.body, dict):
        return []
    return [item for item in answer.body.get(key) or [] if isinstance(item, dict)]


@dataclass(frozen=True)
class Inventory:
    """Every pod's services (`GET /os-services`, unfiltered) and the host names they imply."""

    answers: list[Answer]
    names: HostNames

    def down(self) -> list[Pod]:
        return [a.pod for a in self.answers if a.down]

    def find(self, service_id: str) -> tuple[Pod, dict[str, Any]] | None:
        """The pod and service whose id is `service_id` (a UUID, from 2.53)."""
        wanted = service_id.lower()
        for answer in self.answers:
            for item in items(answer, "services"):
                if str(item.get("id")).lower() == wanted:
                    return answer.pod, item
        return None


async def inventory(admin: Admin, pods: Sequence[Pod], book: HostBook) -> Inventory:
    """Every pod's services in parallel; the host names over them and the book."""
    answers = await admin.ask_all(pods, "/os-services")
    hosts: dict[str, Iterable[str]] = {}
    for answer in answers:
        if answer.ok:
            book.remember(answer.pod, (str(s.get("host")) for s in items(answer, "services")))
        hosts[answer.pod.name] = book.recall(answer.pod)
    return Inventory(answers, HostNames.of(hosts))


async def host_names(
    admin: Admin, pods: Sequence[Pod], book: HostBook, shown: bool = True
) -> HostNames:
    """The host names alone; with a single pod no name can clash, and unless a host name
    is `shown` none matters, so no pod is asked."""
    if len(pods) <= 1 or not shown:
        return HostNames.plain(pods)
    return (await inventory(admin, pods, book)).names


@dataclass
class Zone:
    """A top zone's hosts (top host name -> binary -> state) and whether a pod said it is
    available."""

    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    available: bool = False


def zone_hosts(answers: Sequence[Answer], names: HostNames) -> dict[str, Zone]:
    """The pods' `GET /os-availability-zone/detail` answers as top zones: a pod's own AZ
    becomes its top AZ, every pod's `internal` zone is one zone, and hosts get their top
    names. A pod's other zones are not zones of the top and are left out."""
    zones: dict[str, Zone] = {}
    for answer in answers:
        if not answer.ok or not isinstance(answer.body, dict):
            continue
        pod = answer.pod
        for info in answer.body.get("availabilityZoneInfo", []):
            name = info.get("zoneName") if isinstance(info, dict) else None
            if name not in (pod.pod_az, INTERNAL_ZONE):
                continue
            zone = zones.setdefault(top_zone(pod, name), Zone())
            state = info.get("zoneState")
            zone.available |= isinstance(state, dict) and state.get("available") is True
            for host, services in (info.get("hosts") or {}).items():
                if isinstance(services, dict):
                    zone.hosts.setdefault(names.shown(pod.name, host), {}).update(services)
    return zones
