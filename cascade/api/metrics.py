"""`GET /metrics`: Prometheus's text format (`cascade/metrics.py` lists what is there).

No token (as Prometheus scrapes; bind cascade-api where only the scraper reaches, or
turn it off with `[api] metrics = false`: 404 then). At each scrape the figures that
are state rather than events are read: the job queue (one grouped count of the jobs not
done, and the oldest ready one, on the queue's claim index), the database pool, and the
breakers of the pod services this process has called.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cascade import metrics
from cascade.jobs import queue

PATH = "/metrics"


async def _jobs(request: Request) -> None:
    async with request.app.state.sessions() as db:
        found = await queue.depth(db)
    metrics.JOBS.clear()  # a type with no job left shows no more
    for kind, status, count in found.by_type:
        metrics.JOBS.labels(kind, status).set(count)
    metrics.JOBS_READY.set(found.ready)
    metrics.JOB_OLDEST_READY_AGE.set(found.oldest_ready_seconds)


def _pool(request: Request) -> None:
    pool = request.app.state.engine.pool
    size, checked_out = getattr(pool, "size", None), getattr(pool, "checkedout", None)
    if callable(size) and callable(checked_out):  # SQLite's pools keep no such count
        metrics.DB_POOL_SIZE.set(size())
        metrics.DB_POOL_CHECKED_OUT.set(checked_out())


def _breakers(request: Request) -> None:
    for (pod, service), client in request.app.state.registry.clients():
        metrics.POD_BREAKER_OPEN.labels(pod, service).set(int(client.breaker.state == "open"))


async def scrape(request: Request) -> Response:
    """200 with every metric in Prometheus's text format; 404 when turned off."""
    if not request.app.state.conf.api.metrics:
        return PlainTextResponse("Not Found", status_code=404)
    await _jobs(request)
    _pool(request)
    _breakers(request)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


def routes() -> list[Route]:
    return [Route(PATH, scrape, methods=["GET"])]
