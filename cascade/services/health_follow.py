"""An API process's circuit breakers, kept by the health check another process runs.

The periodic health check runs in cascade-worker (`services.health`): one
process checks the pods for every API replica, and an API process's idle cost
does not grow with the number of pods. An API process follows it from the
pods' rows, every FOLLOW_SECONDS:

- a pod service the check found failing (the row's `health_failing`, from a
  check newer than the last one followed, and younger than STALE_ROUNDS health
  intervals or STALE_SECONDS)
  has its breaker here opened at once: requests are refused at once instead of
  each waiting for the pod's deadline until enough of them have failed;
- a breaker here that is open (the check said so, or calls failed) is watched,
  and probed by this follower in the background with the version document the
  check reads: once its reset time has passed while the check's latest
  finding says the service fails, at every step otherwise (the check found it
  well again, or never saw it fail: a pod that is back is let in within
  seconds, not a reset time later). The probe that answers closes it, one
  that fails opens it again. A request is never the one that waits on a pod
  that hangs. Should the follower stop, the watch runs out and requests probe
  again (`pods.breaker`).

The rows that say a pod is well are not read (one query for the pods that are
not `up`); what the follower costs depends on the pods that fail, not on how
many there are.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade.db.engine import now
from cascade.db.models import Pod
from cascade.pods.client import PodUnavailable
from cascade.pods.registry import PodRegistry
from cascade.services.health import probe_timeout, probe_url, service_url

LOG = logging.getLogger(__name__)
FOLLOW_SECONDS = 2.0
STALE_ROUNDS = 3  # a finding older than this many health intervals (or STALE_SECONDS)
STALE_SECONDS = 90.0  # is not followed: the check that made it stopped
UNWELL = ("down", "degraded")


class Follower:
    """One API process's follower (see the module's docstring); `step` is one pass."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], registry: PodRegistry) -> None:
        self.sessions = sessions
        self.registry = registry
        self.followed: dict[str, datetime] = {}  # pod id -> the check last followed
        self.probes: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def step(self) -> None:
        """Breakers opened for what the check found failing; open ones watched and probed
        in the background (see the module's docstring)."""
        conf = self.registry.conf
        oldest = now() - timedelta(seconds=max(STALE_ROUNDS * conf.health_interval, STALE_SECONDS))
        async with self.sessions() as db:
            rows = (
                await db.execute(
                    select(Pod.id, Pod.name, Pod.health_failing, Pod.health_checked_at).where(
                        Pod.health_state.in_(UNWELL)
                    )
                )
            ).all()
        followed: dict[str, datetime] = {}
        failing_now: set[tuple[str, str]] = set()  # what the latest fresh findings say fails
        for pod_id, name, failing, checked_at in rows:
            if checked_at is None or checked_at < oldest:
                continue  # never checked, or too old to say anything
            followed[pod_id] = checked_at
            failing_now.update((name, service) for service in failing or [])
            if self.followed.get(pod_id) == checked_at:
                continue  # followed already
            for service in failing or []:
                breaker = self.registry.client(name, service).breaker
                if breaker.state == "closed":
                    LOG.info("pod %s %s: the health check found it failing", name, service)
                    breaker.trip()
        self.followed = followed
        await self._probe_open(failing_now)

    async def _probe_open(self, failing_now: set[tuple[str, str]]) -> None:
        watch = 3 * FOLLOW_SECONDS + self.registry.list_deadline
        due: list[tuple[str, str]] = []
        for key, client in self.registry.clients():
            breaker = client.breaker
            if breaker.opened_at is None:  # closed (the attribute: 40,000 of them read)
                continue
            breaker.watch(watch)
            if key in self.probes:
                continue
            if key not in failing_now or breaker.state == "half-open":
                due.append(key)
        if not due:
            return
        async with self.sessions() as db:
            names = {pod for pod, _ in due}
            rows = (await db.scalars(select(Pod).where(Pod.name.in_(names)))).all()
        pods = {pod.name: pod for pod in rows}
        for name, service in due:
            if name in pods:
                self.probes[(name, service)] = asyncio.create_task(self._probe(pods[name], service))

    async def _probe(self, pod: Pod, service: str) -> None:
        """The service's version document, as the health check reads it; the breaker
        follows (`PodClient.probe`)."""
        registry = self.registry
        try:
            url = await service_url(registry, pod, service)
            resp = await registry.client(pod.name, service).probe(
                probe_url(service, url), probe_timeout(registry)
            )
            if resp.status_code < 500:
                LOG.info("pod %s %s answers again", pod.name, service)
        except PodUnavailable as exc:  # still failing, or no longer in the catalog
            LOG.debug("pod %s %s still failing: %s", pod.name, service, exc)
        except Exception:
            LOG.warning("probing pod %s %s failed", pod.name, service, exc_info=True)
        finally:
            self.probes.pop((pod.name, service), None)

    async def aclose(self) -> None:
        for task in list(self.probes.values()):
            task.cancel()
        await asyncio.gather(*self.probes.values(), return_exceptions=True)


async def run(sessions: async_sessionmaker[AsyncSession], registry: PodRegistry) -> None:
    """`Follower.step` every FOLLOW_SECONDS until cancelled; a failure is logged."""
    follower = Follower(sessions, registry)
    try:
        while True:
            try:
                await follower.step()
            except Exception:
                LOG.exception("following the pods' health failed")
            await asyncio.sleep(FOLLOW_SECONDS)
    finally:
        await follower.aclose()
