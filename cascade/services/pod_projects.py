"""Top projects and the projects that stand for them in independent pods.

A top project used in an independent pod for the first time gets a project there, named
after it (its description names the top project, so one made before a crash is found
again rather than made twice), recorded at the top (`PodProject`). An admin may map a
top project to a project the pod already had instead (`set_mapping`). Each process keeps
the maps it read; they are read again on a miss, and at the latest once they are
`[pods] catalog_ttl` old (a mapping an admin changed is followed within that time).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import now
from cascade.db.models import Pod, PodProject, PodUser, Routing
from cascade.identity import KeystoneUnavailable, TokenValidator
from cascade.pods.calls import PodTokenAuth
from cascade.pods.client import PodUnavailable, api_root
from cascade.pods.identities import IdSwap, independent
from cascade.pods.registry import PodRegistry

NOT_PROJECTS = 10000  # ids a call named that are not top projects (user ids), kept
# the key (`PodUser.user_id`) of the pod user standing for a top user as an admin of
# the top: the top user's id and this
ADMIN_KEY = "/admin"


def top_user(key: str) -> str:
    """The top user a `PodUser.user_id` stands for (an admin's key names its user)."""
    return key.removesuffix(ADMIN_KEY)


def description(project_id: str) -> str:
    """What the pod's project says of the top project it stands for."""
    return f"Cascade: top project {project_id}"


def user_password(pod: Pod, user_id: str) -> str:
    """The password of the pod's user standing for top user `user_id`: derived from the
    pod's own secret (a new secret, new passwords: set again on the next sign-in)."""
    secret = str((pod.credentials or {}).get("password", "")).encode()
    return hmac.new(secret, f"{pod.id}/{user_id}".encode(), hashlib.sha256).hexdigest()


@dataclass
class _Map:
    to_pod: dict[str, str] = field(default_factory=dict)
    to_top: dict[str, str] = field(default_factory=dict)  # projects' and users'
    users: dict[str, str] = field(default_factory=dict)  # top user -> the pod's
    read_at: float = -1e18
    swaps: tuple[IdSwap, IdSwap] | None = None  # made on first use: (to pod, to top)

    def swap(self) -> tuple[IdSwap, IdSwap]:
        if self.swaps is None:
            self.swaps = (IdSwap(self.to_pod), IdSwap(self.to_top))
        return self.swaps


class PodProjects:
    """The `pods.identities.ProjectMap` of a process with the database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        top: TokenValidator,
        registry: PodRegistry,
        ttl: float,
    ) -> None:
        self.sessions, self.top, self.registry, self.ttl = sessions, top, registry, ttl
        self.identities = registry.identities
        self._maps: dict[str, _Map] = {}
        self._not_projects: OrderedDict[str, None] = OrderedDict()
        self._making: dict[tuple[str, str], asyncio.Lock] = {}

    async def _map(self, pod: Pod, again: bool = False) -> _Map:
        found = self._maps.get(pod.id)
        if found is not None and not again and time.monotonic() - found.read_at < self.ttl:
            return found
        async with self.sessions() as db:
            rows = (await db.scalars(select(PodProject).where(PodProject.pod_id == pod.id))).all()
            users = (await db.scalars(select(PodUser).where(PodUser.pod_id == pod.id))).all()
        fresh = _Map(read_at=time.monotonic())
        for row in rows:
            fresh.to_pod[row.project_id] = row.pod_project_id
            fresh.to_top[row.pod_project_id] = row.project_id
        for user in users:
            fresh.users[user.user_id] = user.pod_user_id
            # what the pod shows of the user is the top's id (Keystone ids: no clash)
            fresh.to_top[user.pod_user_id] = top_user(user.user_id)
        self._maps[pod.id] = fresh
        return fresh

    async def user(self, pod: Pod, user_id: str, admin: bool = False) -> tuple[str, str]:
        """The pod's user standing for top user `user_id` (made there and recorded on
        first use) and its password (derived from the pod's secret: never stored);
        `admin`: the one standing for them as an admin of the top (`ProjectMap.user`)."""
        key = user_id + ADMIN_KEY if admin else user_id
        mapped = await self._map(pod)
        if key not in mapped.users:
            lock = self._making.setdefault((pod.id, f"user/{key}"), asyncio.Lock())
            async with lock:
                mapped = await self._map(pod, again=True)
                if key not in mapped.users:
                    await self._make_user(pod, key)
            self._making.pop((pod.id, f"user/{key}"), None)
            mapped = self._maps[pod.id]
        return mapped.users[key], user_password(pod, key)

    async def _make_user(self, pod: Pod, key: str) -> None:
        user_id = top_user(key)
        top = await self.top.user(user_id)
        if top is None:
            raise KeystoneUnavailable(f"the top's Keystone has no user {user_id}")
        keystone = self.identities.of(pod)
        name, said = str(top["name"]), f"Cascade: top user {user_id}"
        if key != user_id:
            name, said = f"{name}-admin", f"{said}, as an admin of the top"
        made = await keystone.ensure_user(name, said, user_password(pod, key))
        async with self.sessions() as db:
            db.add(PodUser(pod_id=pod.id, user_id=key, pod_user_id=made, created_at=now()))
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()  # recorded at once by another process: its row counts
        await self._map(pod, again=True)

    def forget(self, pod_id: str) -> None:
        self._maps.pop(pod_id, None)

    async def to_top(self, pod: Pod) -> IdSwap:
        return (await self._map(pod)).swap()[1]

    async def to_pod(self, pod: Pod, project_ids: set[str]) -> IdSwap:
        mapped = await self._map(pod)
        missing = {p for p in project_ids - mapped.to_pod.keys() if p not in self._not_projects}
        if missing:
            mapped = await self._map(pod, again=True)  # another process may have made them
            for project_id in sorted(missing - mapped.to_pod.keys()):
                await self._make(pod, project_id)
            mapped = self._maps[pod.id]
        return mapped.swap()[0]

    async def _make(self, pod: Pod, project_id: str) -> None:
        """The pod's project for top project `project_id`, made and recorded (nothing
        when `project_id` is not a top project: a user's id in a call, say)."""
        lock = self._making.setdefault((pod.id, project_id), asyncio.Lock())
        async with lock:
            if project_id in self._maps[pod.id].to_pod:
                return  # made while this waited
            top = await self.top.project(project_id)
            if top is None:
                self._not_projects[project_id] = None
                while len(self._not_projects) > NOT_PROJECTS:
                    self._not_projects.popitem(last=False)
                return
            keystone = self.identities.of(pod)
            made = await keystone.ensure_project(str(top["name"]), description(project_id))
            await unlimited(self.registry, pod, made)
            async with self.sessions() as db:
                db.add(
                    PodProject(
                        pod_id=pod.id, project_id=project_id, pod_project_id=made, created_at=now()
                    )
                )
                try:
                    await db.commit()
                except IntegrityError:
                    await db.rollback()  # recorded at once by another process: its row counts
            await self._map(pod, again=True)
        self._making.pop((pod.id, project_id), None)


# The pod's own quotas of a project Cascade makes there: unlimited, since the top counts
# and enforces the project's quotas over every pod (`services/quotas.py` and the like);
# the pod's defaults would refuse what the top allowed (a project with all its servers in
# one pod). Per service: catalog types, path, body key, the limits.
POD_QUOTAS = (
    (("compute",), "/os-quota-sets/{}", "quota_set",
     ("instances", "cores", "ram", "server_groups", "server_group_members")),
    (("block-storage", "volumev3"), "/os-quota-sets/{}", "quota_set",
     ("volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes", "groups")),
    (("network",), "/v2.0/quotas/{}", "quota",
     ("network", "subnet", "port", "router", "floatingip", "security_group",
      "security_group_rule")),
)  # fmt: skip


async def unlimited(registry: PodRegistry, pod: Pod, pod_project: str) -> None:
    """The pod's quotas of `pod_project` made unlimited (see POD_QUOTAS), in every
    service its catalog has, as Cascade's own user there; PodUnavailable when a service
    does not answer or refuses (the mapping is then not recorded: tried again)."""
    found = await registry.pod_endpoints(pod)
    auth = PodTokenAuth(registry.identities.of(pod), None)
    for types, path, key, limits in POD_QUOTAS:
        kind = next((t for t in types if t in found), None)
        if kind is None:
            continue
        base = found[kind].rstrip("/")
        if kind in ("block-storage", "volumev3"):  # listed with or without /v3/<project>
            base = api_root(base, "/v3") + "v3"
        url = base + path.format(pod_project)
        # the pod's client itself, not `calls.pod_request`: the URL names the pod's own
        # project id, which must not be taken for a top project to map
        service = {"block-storage": "volume", "volumev3": "volume"}.get(kind, kind)
        client = registry.client(pod.name, service)
        body = {key: dict.fromkeys(limits, -1)}
        headers = {"Accept": "application/json"}
        resp = await client.request("PUT", url, json=body, headers=headers, auth=auth)
        if resp.status_code != 200:
            raise PodUnavailable(
                pod.name,
                kind,
                f"its quotas of project {pod_project} stay as they are "
                f"({resp.status_code}: {resp.text[:200]})",
                sent=True,
            )


class MappingNotFound(Exception):
    """The top project is not mapped into the pod."""


class MappingRefused(Exception):
    """A mapping that cannot be (a shared pod, a project either Keystone does not know)."""


class MappingInUse(Exception):
    """The mapping cannot change: the project has objects in the pod, or the pod's
    project stands for another top project."""


async def mappings(db: AsyncSession, pod_id: str) -> list[PodProject]:
    """The pod's mapped projects, oldest first."""
    found = await db.scalars(
        select(PodProject)
        .where(PodProject.pod_id == pod_id)
        .order_by(PodProject.created_at, PodProject.project_id)
    )
    return list(found.all())


async def check_mapping(registry: PodRegistry, pod: Pod, project_id: str, pod_project: str) -> None:
    """MappingRefused unless the pod is independent and both Keystones know their
    project (KeystoneUnavailable when one cannot be asked)."""
    if not independent(pod):
        raise MappingRefused(f"pod {pod.name} shares the top's Keystone: it maps no projects")
    if await registry.validator.project(project_id) is None:
        raise MappingRefused(f"the top has no project {project_id}")
    if await registry.identities.of(pod).project(pod_project) is None:
        raise MappingRefused(f"pod {pod.name} has no project {pod_project}")


async def _in_use(db: AsyncSession, pod: Pod, project_id: str) -> None:
    hosted = await db.scalar(
        select(func.count())
        .select_from(Routing)
        .where(
            Routing.pod_id == pod.id,
            Routing.project_id == project_id,
            # one being deleted is on its way out (the sweep settles it, as Cascade)
            Routing.status != "deleting",
        )
    )
    if hosted:
        raise MappingInUse(
            f"project {project_id} has {hosted} object(s) in pod {pod.name}: its mapping "
            "cannot change while they are there"
        )


async def set_mapping(
    db: AsyncSession, pod: Pod, project_id: str, pod_project_id: str
) -> PodProject:
    """Top project `project_id` mapped to the pod's project `pod_project_id` (replacing
    its mapping, if any: only while it has no objects in the pod)."""
    await _in_use(db, pod, project_id)
    taken = await db.scalar(
        select(PodProject.project_id).where(
            PodProject.pod_id == pod.id,
            PodProject.pod_project_id == pod_project_id,
            PodProject.project_id != project_id,
        )
    )
    if taken is not None:
        raise MappingInUse(f"pod project {pod_project_id} stands for top project {taken}")
    await db.execute(
        delete(PodProject).where(PodProject.pod_id == pod.id, PodProject.project_id == project_id)
    )
    row = PodProject(
        pod_id=pod.id, project_id=project_id, pod_project_id=pod_project_id, created_at=now()
    )
    db.add(row)
    await db.flush()
    return row


async def unmap(db: AsyncSession, pod: Pod, project_id: str) -> None:
    """The top project's mapping into the pod gone (its pod project stays in the pod)."""
    await _in_use(db, pod, project_id)
    gone = await db.execute(
        delete(PodProject).where(PodProject.pod_id == pod.id, PodProject.project_id == project_id)
    )
    if not gone.rowcount:  # type: ignore[attr-defined]
        raise MappingNotFound(f"project {project_id} is not mapped into pod {pod.name}")
