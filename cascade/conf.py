"""Cascade's configuration: one INI file, every option declared (and documented) here.

Each section is a dataclass; each field's `help` is its documentation. The
sample file (`cascade-manage config sample`) is generated from these
declarations, so it can never fall out of step with the code.
"""

from __future__ import annotations

import configparser
import dataclasses
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """The configuration file is unreadable or has a bad value."""


def opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ApiSection:
    host: str = opt("127.0.0.1", "Address cascade-api listens on.")
    port: int = opt(20080, "Port cascade-api listens on.")
    max_body_bytes: int = opt(
        1024 * 1024, "Largest request body accepted; larger ones get 413 before any pod is called."
    )
    project_reads_per_second: float = opt(
        0.0,
        "Reads (GET, HEAD) a project may make per second, on average, in this process; past "
        "its burst it is answered 429 with Retry-After (0: no limit). With N replicas behind "
        "a load balancer, divide by N.",
    )
    project_read_burst: float = opt(
        100.0, "Reads a project may make at once before project_reads_per_second applies."
    )
    project_writes_per_second: float = opt(
        0.0,
        "Writes (POST, PUT, PATCH, DELETE) a project may make per second, on average, in "
        "this process; past its burst it is answered 429 with Retry-After (0: no limit).",
    )
    project_write_burst: float = opt(
        20.0, "Writes a project may make at once before project_writes_per_second applies."
    )
    metrics: bool = opt(
        True,
        "Serve Prometheus metrics at GET /metrics, without a token (false: 404 there).",
    )
    healthcheck_disable_file: str = opt(
        "",
        "While this file exists, GET /healthcheck answers 503 DISABLED BY FILE (as "
        "oslo.middleware's disable_by_file), so a load balancer stops sending requests to "
        "this replica (empty: no such file).",
    )


@dataclass(frozen=True)
class DatabaseSection:
    connection: str = opt(
        "sqlite+aiosqlite:///cascade.sqlite",
        "SQLAlchemy URL of Cascade's database: sqlite+aiosqlite:///PATH (embedded default) "
        "or mysql+asyncmy://USER:PASSWORD@HOST:PORT/NAME for MariaDB/MySQL.",
    )
    pool_size: int = opt(
        10,
        "Connections to the database each process keeps open. A request holds at most one, "
        "and none while it waits on a pod.",
    )
    max_overflow: int = opt(
        20, "Connections opened past pool_size under load (closed again once returned)."
    )
    pool_timeout: float = opt(
        10.0,
        "Seconds a request waits for a free connection; past it the request is answered "
        "503 with Retry-After, in its API's error format.",
    )


@dataclass(frozen=True)
class KeystoneSection:
    auth_url: str = opt("http://127.0.0.1:25000/v3", "Keystone v3 URL of the deployment.")
    username: str = opt("cascade", "Service user that validates tokens.")
    password: str = opt("", "Password of the service user.")
    project_name: str = opt("service", "Project of the service user.")
    user_domain_name: str = opt("Default", "Domain of the service user.")
    project_domain_name: str = opt("Default", "Domain of the service user's project.")
    cache_size: int = opt(10000, "Token validations kept in memory (least recently used go).")
    revocation_check_interval: int = opt(
        30,
        "Seconds a token validation is trusted before Keystone is asked again: a revoked "
        "token is refused within this time. Never past the token's own expiry.",
    )
    timeout: float = opt(10.0, "Seconds to wait for Keystone.")
    project_role: str = opt(
        "member",
        "The role the service user is given in a project where Cascade makes objects in "
        "the project's name with no user's token at hand (a server moved between pods).",
    )


@dataclass(frozen=True)
class PodsSection:
    timeout: float = opt(30.0, "Seconds a pod may take to answer one request.")
    connect_timeout: float = opt(3.0, "Seconds to open a connection to a pod.")
    max_concurrency: int = opt(
        50, "Requests in flight to one pod service at once; more wait for a free slot."
    )
    max_rate: float = opt(
        0.0,
        "Requests a second Cascade sends to one pod service at most, on average (bursts "
        "of as many at once); more wait their turn. 0: no limit beside max_concurrency.",
    )
    breaker_failures: int = opt(
        3,
        "Consecutive failures (unreachable, timed out, 5xx) after which a pod service is "
        "considered down and refused at once, without waiting for timeouts.",
    )
    breaker_reset_seconds: float = opt(
        15.0,
        "How long a pod service stays refused before it is probed again: by the process "
        "that checks the pods' health, or in cascade-api by the follower of those checks "
        "(`services.health_follow`), never by a request. A service the health check finds "
        "failing is refused at once in every process; one that answers is let in again.",
    )
    health_interval: float = opt(
        30.0,
        "Seconds between two health checks of every pod (0: no periodic check). The check "
        "runs in cascade-worker (or cascade-api's embedded worker): one process for every "
        "API replica.",
    )
    health_concurrency: int = opt(
        50,
        "Probes the periodic health check has in flight at once, over all pods: a round "
        "costs the pods and this process the same whatever the number of pods.",
    )
    health_rate: float = opt(
        400.0,
        "Probes a second the periodic health check sends at most, over all pods (a round "
        "probes one service of each well pod, every service of a pod that failed or is "
        "new): a round lasts health_interval, or longer when the pods are too many for this "
        "rate (the default fits 12,000 pods in 30 s; a probe costs about half a "
        "millisecond of CPU).",
    )
    catalog_ttl: float = opt(
        300.0,
        "Seconds the Keystone catalog (the pods' endpoints) is used before it is read again, "
        "in the background; a pod's region missing from it makes it read sooner.",
    )
    fanout_in_flight: int = opt(
        200,
        "Pods one answer made of every pod's (a merged list, usage summed over the pods) "
        "asks at once; the others wait their turn. Thousands of calls started together "
        "all end together, after list_deadline; a bounded number end one after another.",
    )
    list_deadline: float = opt(
        10.0,
        "Seconds an answer made of every pod's (a merged list, usage summed over the pods, "
        "an id asked of every pod) waits for them: a pod that has not answered by then is "
        "left out and named in X-Cascade-Unavailable-Pods, as a pod that is down.",
    )


@dataclass(frozen=True)
class SchedulingSection:
    default_policy: str = opt(
        "newest",
        "How a project without a binding in an AZ is bound to one of its pods: `newest` "
        "(the most recently registered enabled, healthy pod: when a pod is full, register a "
        "new one and new projects go there) or `weighted` (at random, in proportion to the "
        "pods' weights).",
    )
    az_policies: str = opt("", "Per-AZ exceptions to default_policy, as `az1:weighted,az2:newest`.")
    default_az: str = opt(
        "",
        "AZ for a create that names none, when the project has no binding yet (with a "
        "binding, its AZ is used). Empty: the first AZ, by name, that has a usable pod.",
    )


@dataclass(frozen=True)
class PolicySection:
    file: str = opt(
        "",
        "oslo.policy-style YAML file overriding the default rules (empty: defaults only).",
    )


@dataclass(frozen=True)
class QuotaSection:
    """Compute quota defaults, as nova.conf's [quota]: a project without its own limit
    (PUT /os-quota-sets/{project_id}) gets these. -1 means unlimited."""

    instances: int = opt(10, "Servers a project may have, summed over every pod (-1: unlimited).")
    cores: int = opt(
        20, "Virtual CPUs a project's servers may use, summed over every pod (-1: unlimited)."
    )
    ram: int = opt(
        51200, "MiB of RAM a project's servers may use, summed over every pod (-1: unlimited)."
    )
    metadata_items: int = opt(128, "Metadata items per server (-1: unlimited).")
    key_pairs: int = opt(100, "Keypairs per user (-1: unlimited).")
    server_groups: int = opt(10, "Server groups a project may have (-1: unlimited).")
    server_group_members: int = opt(10, "Servers in one server group (-1: unlimited).")
    injected_files: int = opt(
        5, "Files injected into a server (personality, before microversion 2.57; -1: unlimited)."
    )
    injected_file_content_bytes: int = opt(10240, "Bytes in one injected file (-1: unlimited).")
    injected_file_path_length: int = opt(
        255, "Characters in an injected file's path (the `injected_file_path_bytes` quota)."
    )


@dataclass(frozen=True)
class JobsSection:
    """The job queue in Cascade's database and the workers that run it."""

    poll_interval: float = opt(1.0, "Seconds a worker sleeps when no job is due.")
    lease_seconds: float = opt(
        60.0,
        "How long a claimed job is a worker's; the worker renews the lease while the job "
        "runs, and a lease that runs out (the worker died) makes the job claimable again.",
    )
    max_attempts: int = opt(8, "Runs a job gets before it is marked failed with its last error.")
    backoff_base_seconds: float = opt(
        2.0, "Wait before the first retry; it doubles with every failed attempt."
    )
    backoff_max_seconds: float = opt(300.0, "Longest wait between two attempts of a job.")
    embedded_worker: bool = opt(
        True,
        "Run one worker inside cascade-api (the embedded default); `false` when jobs are "
        "run by separate cascade-worker processes only. On SQLite run a single worker per "
        "database: either this one or one cascade-worker.",
    )
    metrics_port: int = opt(
        0,
        "Port cascade-worker serves its Prometheus metrics on (GET /metrics, at the address "
        "of [api] host: job runs, pod calls of its jobs and health checks); 0: none.",
    )


@dataclass(frozen=True)
class NetworkSection:
    """The Networking API at the top: network types, the VLAN range the top hands out on
    the physical network every pod shares, and the project quotas (-1: unlimited)."""

    default_network_type: str = opt(
        "vlan",
        "Type of a tenant network created without provider attributes: `vlan` (spans "
        "pods: one VLAN id in every pod) or `local` (lives in the first pod that uses it).",
    )
    physical_network: str = opt(
        "physnet1", "The physical network every pod shares; top VLAN networks live on it."
    )
    external_physical_network: str = opt(
        "external",
        "The physical network of the pods' own external networks; a top external network "
        "(flat, with one availability zone hint) is the external network of that AZ's pod.",
    )
    vlan_ranges: str = opt(
        "2000:2999",
        "VLAN ids the top hands out on `physical_network`, as `low:high[,low:high...]`. "
        "They must lie outside every pod's own tenant VLAN range (the pods' ml2 "
        "network_vlan_ranges), or a pod could hand the same id to a network of its own.",
    )
    mtu: int = opt(1500, "MTU of top networks (as the pods' global_physnet_mtu).")
    bridge_cidr: str = opt(
        "100.64.0.0/10",
        "Where the bridge of a router spanning pods takes its subnet from: each such "
        "router has its own bridge (a VLAN of `vlan_ranges` joining its bottom routers), "
        "with the first `bridge_prefixlen` subnet of this range that overlaps none of the "
        "router's own subnets.",
    )
    bridge_prefixlen: int = opt(
        24, "Prefix length of a router's bridge subnet: it holds one address per pod."
    )
    default_floating_pool: str = opt(
        "nova",
        "The external network (name or id) a floating IP comes from when the Compute "
        "API's `POST /os-floating-ips` names no pool (as Nova's [neutron] "
        "default_floating_pool).",
    )
    orphan_check_seconds: float = opt(
        300.0,
        "After this long, a port made by a server create that never got its server (the "
        "process died mid-create) is adopted (its pod bound it to a server) or deleted. "
        "Longer than any server create takes.",
    )
    quota_network: int = opt(100, "Networks per project.")
    quota_subnet: int = opt(100, "Subnets per project.")
    quota_port: int = opt(500, "Ports per project.")
    quota_router: int = opt(10, "Routers per project.")
    quota_floatingip: int = opt(50, "Floating IPs per project.")
    quota_security_group: int = opt(10, "Security groups per project.")
    quota_security_group_rule: int = opt(100, "Security group rules per project.")


@dataclass(frozen=True)
class VolumeSection:
    """The Block Storage API at the top."""

    default_volume_type: str = opt(
        "__DEFAULT__",
        "The top volume type of a volume created without one (Cinder's "
        "default_volume_type); each pod gets a copy when a volume there needs it.",
    )
    quota_volumes: int = opt(
        10, "Volumes a project may have, summed over every pod (-1: unlimited)."
    )
    quota_snapshots: int = opt(10, "Snapshots a project may have, over every pod (-1: unlimited).")
    quota_gigabytes: int = opt(
        1000, "GB of volumes and snapshots a project may have, over every pod (-1: unlimited)."
    )
    quota_backups: int = opt(10, "Backups a project may have, over every pod (-1: unlimited).")
    quota_backup_gigabytes: int = opt(
        1000, "GB of backups a project may have, over every pod (-1: unlimited)."
    )
    quota_groups: int = opt(10, "Volume groups a project may have (-1: unlimited).")
    quota_per_volume_gigabytes: int = opt(-1, "GB one volume may have (-1: unlimited).")


@dataclass(frozen=True)
class ImageSection:
    """The Image API at the top, and images copied into pods with a Glance of their own."""

    glance_url: str = opt(
        "",
        "Root URL of the top's own Glance (e.g. http://127.0.0.1:9292), which Cascade's Image "
        "API (`/image`) fronts and copies images from; empty: no Image API (503).",
    )
    copy_wait: float = opt(
        600.0,
        "Seconds a server create waits for its image to be copied into a pod with a Glance "
        "of its own before it answers 503 (the copy carries on as a job).",
    )


@dataclass(frozen=True)
class LoggingSection:
    level: str = opt(
        "INFO",
        "Least level logged (DEBUG, INFO, WARNING, ERROR). At DEBUG also the health checks "
        "(GET /healthcheck, the pods' probes) and every pod read.",
    )
    json: bool = opt(
        False,
        "One JSON object a line (timestamp, levelname, name, message, process, request_id, "
        "global_request_id, user_id, project_id) instead of oslo.log's text layout.",
    )


@dataclass(frozen=True)
class AuditSection:
    """Audits of the pods against the top (`/v1/audits`): reports, never changes."""

    interval: float = opt(
        86400.0,
        "Seconds between two audits of every pod, run by the worker that checks the pods' "
        "health (counted from the last audit's start, an operator's too); 0: only on demand.",
    )
    page_size: int = opt(
        500,
        "Objects an audit asks a pod for at once; one call at a time to each pod, so an "
        "audit adds at most one request in flight to a pod's load.",
    )
    pace: float = opt(
        1.0,
        "After each page a pod answered, an audit waits this many times as long as the page "
        "took before it asks for the next (1: it keeps a pod busy half the time at most; "
        "0: no pause).",
    )


@dataclass(frozen=True)
class Conf:
    api: ApiSection = field(default_factory=ApiSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    keystone: KeystoneSection = field(default_factory=KeystoneSection)
    pods: PodsSection = field(default_factory=PodsSection)
    scheduling: SchedulingSection = field(default_factory=SchedulingSection)
    policy: PolicySection = field(default_factory=PolicySection)
    quota: QuotaSection = field(default_factory=QuotaSection)
    jobs: JobsSection = field(default_factory=JobsSection)
    network: NetworkSection = field(default_factory=NetworkSection)
    volume: VolumeSection = field(default_factory=VolumeSection)
    image: ImageSection = field(default_factory=ImageSection)
    audit: AuditSection = field(default_factory=AuditSection)
    logging: LoggingSection = field(default_factory=LoggingSection)


# the sections by name, in the sample file's order: the fields of `Conf`
SECTIONS: dict[str, type] = {
    f.name: type(getattr(Conf(), f.name)) for f in dataclasses.fields(Conf)
}


def _convert(section: str, name: str, kind: Any, raw: str) -> Any:
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (bool, "bool"):
            if raw.lower() in ("true", "yes", "1", "on"):
                return True
            if raw.lower() in ("false", "no", "0", "off"):
                return False
            raise ValueError(raw)
    except ValueError:
        raise ConfigError(f"[{section}] {name} = {raw!r} is not a valid {kind}") from None
    return raw


def load(path: Path | None) -> Conf:
    """Read `path` (None: all defaults). Unknown sections and options are errors."""
    parser = configparser.ConfigParser(interpolation=None)
    if path is not None:
        try:
            with path.open() as fh:
                parser.read_file(fh)
        except (OSError, configparser.Error) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
    sections: dict[str, Any] = {}
    for section in parser.sections():
        if section not in SECTIONS:
            raise ConfigError(f"unknown section [{section}] in {path}")
    for name, cls in SECTIONS.items():
        options = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        if parser.has_section(name):
            for key, raw in parser.items(name):
                if key not in options:
                    raise ConfigError(f"unknown option {key} in [{name}] of {path}")
                values[key] = _convert(name, key, options[key].type, raw)
        sections[name] = cls(**values)
    return Conf(**sections)


def sample() -> str:
    """The documented sample file: every option, commented out, with its default."""
    out = ["# Cascade configuration (generated by `cascade-manage config sample`).", ""]
    for name, cls in SECTIONS.items():
        out.append(f"[{name}]")
        for f in dataclasses.fields(cls):
            out.extend("# " + line for line in textwrap.wrap(f.metadata["help"], 76))
            out.append(f"#{f.name} = {f.default}")
            out.append("")
    return "\n".join(out)
