"""Prometheus metrics (prometheus_client), served at `GET /metrics` (`api/metrics.py`).

- requests: `cascade_api_requests_total{api,route,method,status}` and
  `cascade_api_request_duration_seconds{api,route,method}` (route: the matched route's
  template, `/compute/v2.1/servers/{server_id}`, so ids do not make new series);
- pod calls, per pod and service: `cascade_pod_call_duration_seconds{pod,service}`,
  `cascade_pod_call_errors_total{pod,service,reason}` (`timeout`, `unreachable`,
  `breaker`, `status_5xx`), `cascade_pod_calls_in_flight{pod,service}`,
  `cascade_pod_breaker_open{pod,service}` (1 while the breaker refuses calls);
- fan-outs: `cascade_fanout_duration_seconds`, `cascade_fanout_pods_asked_total`,
  `cascade_fanout_pods_left_out_total`;
- jobs, read from the queue at each scrape: `cascade_jobs{type,status}`,
  `cascade_jobs_ready`, `cascade_job_oldest_ready_age_seconds`; and counted by the
  process that runs them: `cascade_job_runs_total{type,outcome}`;
- the database pool: `cascade_db_pool_size`, `cascade_db_pool_checked_out`.

Several processes (cascade-api's workers, cascade-worker) share their figures the way
prometheus_client does it: with `PROMETHEUS_MULTIPROC_DIR` set (the same directory for
all of them, emptied at start), `/metrics` sums every process's files. Without it, each
process has its own.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# request and pod call latencies: a proxied GET takes tens of milliseconds, a create
# through several pods seconds
LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# per pod: fewer buckets, since 10,000 pods times the services make many series
POD_LATENCY = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

REQUESTS = Counter(
    "cascade_api_requests", "API requests answered", ["api", "route", "method", "status"]
)
REQUEST_SECONDS = Histogram(
    "cascade_api_request_duration_seconds",
    "Time to answer an API request",
    ["api", "route", "method"],
    buckets=LATENCY,
)
POD_CALL_SECONDS = Histogram(
    "cascade_pod_call_duration_seconds",
    "Time of a call to a pod's service, answered or not",
    ["pod", "service"],
    buckets=POD_LATENCY,
)
POD_CALL_ERRORS = Counter(
    "cascade_pod_call_errors",
    "Pod calls that got no answer or a 5xx (reason: timeout, unreachable, breaker, status_5xx)",
    ["pod", "service", "reason"],
)
POD_CALLS_IN_FLIGHT = Gauge(
    "cascade_pod_calls_in_flight",
    "Calls to a pod's service under way",
    ["pod", "service"],
    multiprocess_mode="livesum",
)
POD_BREAKER_OPEN = Gauge(
    "cascade_pod_breaker_open",
    "1 while a pod service's circuit breaker refuses calls",
    ["pod", "service"],
    multiprocess_mode="livemax",
)
FANOUT_SECONDS = Histogram(
    "cascade_fanout_duration_seconds", "Time to ask every pod of a fan-out", buckets=LATENCY
)
FANOUT_ASKED = Counter("cascade_fanout_pods_asked", "Pods a fan-out asked")
FANOUT_LEFT_OUT = Counter(
    "cascade_fanout_pods_left_out", "Pods a fan-out left out (no answer in time, or unavailable)"
)
JOB_RUNS = Counter(
    "cascade_job_runs",
    "Job runs by type and outcome (done, failed: to be tried again or not, interrupted)",
    ["type", "outcome"],
)
JOBS = Gauge(
    "cascade_jobs", "Jobs in the queue by type and status", ["type", "status"],
    multiprocess_mode="mostrecent",
)  # fmt: skip
JOBS_READY = Gauge(
    "cascade_jobs_ready", "Queued jobs whose time has come", multiprocess_mode="mostrecent"
)
JOB_OLDEST_READY_AGE = Gauge(
    "cascade_job_oldest_ready_age_seconds",
    "How long the oldest ready job has waited to run",
    multiprocess_mode="mostrecent",
)
DB_POOL_SIZE = Gauge(
    "cascade_db_pool_size", "Connections the database pool keeps", multiprocess_mode="livesum"
)
DB_POOL_CHECKED_OUT = Gauge(
    "cascade_db_pool_checked_out",
    "Database connections in use by requests",
    multiprocess_mode="livesum",
)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric (of every process when they share a directory)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
