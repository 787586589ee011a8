"""The worker: claim a due job, run its handler, record the outcome; repeat.

Any number of workers (cascade-worker processes, plus the one embedded in
cascade-api) may share a MariaDB/MySQL/PostgreSQL queue; on SQLite run one.
While a handler runs, a side task renews the job's lease. `stop()` lets the
current job finish and then ends `run()`; cancelling `run()` interrupts the
current job and gives it back to the queue (queued, due now, no attempt used).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cascade import logs, metrics
from cascade.conf import Conf
from cascade.db.models import Job
from cascade.jobs import queue
from cascade.jobs.registry import JobContext, Registry
from cascade.jobs.retry import RetryPolicy
from cascade.pods.registry import PodRegistry

LOG = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: Registry,
        conf: Conf,
        pods: PodRegistry | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.jobs = conf.jobs
        self.retry = RetryPolicy.from_conf(conf.jobs)
        self.worker_id = worker_id or worker_name()
        self.ctx = JobContext(sessions, conf, self.worker_id, pods)
        self._stopping = asyncio.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """End `run()` once the current job (if any) is finished."""
        self._stopping.set()

    async def run(self) -> None:
        """Poll until stopped or cancelled; a failing database is logged and retried."""
        LOG.info("job worker %s started (types: %s)", self.worker_id, self.registry.types())
        while not self._stopping.is_set():
            try:
                ran = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("job worker %s: cannot reach the queue", self.worker_id)
                ran = False
            if not ran:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.jobs.poll_interval)
        LOG.info("job worker %s stopped", self.worker_id)

    async def run_once(self) -> bool:
        """Claim and run one due job; False when none was due."""
        job = await queue.claim(
            self.sessions,
            self.worker_id,
            self.jobs.lease_seconds,
            self.registry.types(),
            self.retry,
        )
        if job is None:
            return False
        await self._run(job)
        return True

    async def _renew(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.jobs.lease_seconds / 3)
            if not await queue.extend(self.sessions, job, self.worker_id, self.jobs.lease_seconds):
                LOG.warning("job %s: worker %s lost its lease", job.id, self.worker_id)
                return

    async def _run(self, job: Job) -> None:
        # the job's lines in the log carry its id and project, as a request's carry its ids
        ids = logs.CURRENT.set(
            logs.Ids(request_id=f"job-{job.id}", project_id=job.project_id or "-")
        )
        renewer = asyncio.create_task(self._renew(job))
        try:
            await self.registry.get(job.type)(self.ctx, job)
        except asyncio.CancelledError:
            LOG.info("job %s (%s) interrupted: given back to the queue", job.id, job.type)
            metrics.JOB_RUNS.labels(job.type, "interrupted").inc()
            await queue.release(self.sessions, job, self.worker_id)
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            attempt = job.attempts + 1
            LOG.warning("job %s (%s) attempt %d failed: %s", job.id, job.type, attempt, error)
            metrics.JOB_RUNS.labels(job.type, "failed").inc()
            await queue.fail(self.sessions, job, self.worker_id, error, self.retry)
        else:
            metrics.JOB_RUNS.labels(job.type, "done").inc()
            await queue.complete(self.sessions, job, self.worker_id)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            logs.CURRENT.reset(ids)
