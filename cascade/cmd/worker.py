"""`cascade-worker --config-file FILE`: run jobs from Cascade's database queue, and
check the pods' health every `[pods] health_interval` (`services.health`; 0: not).

Run any number of them against MariaDB/MySQL or PostgreSQL; against SQLite, one
(and set `[jobs] embedded_worker = false` for cascade-api, or run none: the
embedded worker of cascade-api is the default). One worker at a time checks the
pods' health, whichever holds the `health` lease (`services.leases`); another
takes over within seconds when it stops, or a lease's length when it dies (the
API processes follow the checks' findings from the pods' rows, whoever made
them). SIGTERM or SIGINT: finish the current job, then
exit; a second signal: give the current job back and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import prometheus_client
import uvloop

from cascade import logs
from cascade.cmd.common import config_from_args, exit_with
from cascade.conf import Conf
from cascade.db.engine import make_engine, sessions
from cascade.identity import TokenValidator
from cascade.jobs.registry import DEFAULT
from cascade.jobs.worker import Worker
from cascade.pods.registry import PodRegistry
from cascade.services import (
    drains,  # noqa: F401  (registers its handler)
    health,
)
from cascade.services.compute import move_job  # noqa: F401  (registers its handler)
from cascade.services.images import (
    copy_job,  # noqa: F401  (registers its handlers)
    snapshots,  # noqa: F401  (registers its handler)
)
from cascade.services.network import jobs as network_jobs  # noqa: F401  (registers its handlers)
from cascade.services.pod_projects import PodProjects
from cascade.services.volume import jobs as volume_jobs  # noqa: F401  (registers its handlers)
from cascade.services.volume import move_job as volume_move_job  # noqa: F401  (registers its handler)


async def serve(conf: Conf) -> None:
    engine = make_engine(conf.database.connection, conf.database)
    validator = TokenValidator(conf.keystone)
    pods = PodRegistry(conf.pods, validator)
    worker = Worker(sessions(engine), DEFAULT, conf, pods=pods)
    pods.projects = PodProjects(worker.sessions, validator, pods, conf.pods.catalog_ttl)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if worker.stopping and task is not None:
            task.cancel()
        worker.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    checks = None
    if conf.pods.health_interval > 0:
        interval = conf.pods.health_interval
        checks = asyncio.create_task(
            health.run_periodically(interval, worker.sessions, pods, conf.audit.interval)
        )
    try:
        await worker.run()
    finally:
        if checks is not None:
            checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checks
        await pods.aclose()
        await validator.aclose()
        await engine.dispose()


def main() -> None:
    conf = config_from_args("cascade-worker", __doc__)
    try:
        logs.setup(conf.logging.level, conf.logging.json)
    except ValueError as exc:  # a level logging does not know
        exit_with("cascade-worker", exc)
    if conf.jobs.metrics_port:
        # prometheus_client's own server, in a thread: the worker serves nothing else
        prometheus_client.start_http_server(conf.jobs.metrics_port, addr=conf.api.host)
    # uvloop, as uvicorn runs cascade-api on (uvicorn[standard] installs it): the health
    # checks' probes cost less CPU on it
    with (
        contextlib.suppress(asyncio.CancelledError),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        runner.run(serve(conf))
