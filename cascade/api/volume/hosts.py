"""Cinder's admin view of hosts and services, and manage-existing, across pods.

Every pod is asked with the caller's token and microversion, so each pod's Cinder
applies its own admin policy (a member's 403 is the pod's, passed back). Host
names are each pod's own (`pod1-volume`, `pod1-volume@fake`, pool
`pod1-volume@fake#fake`); a service's or host's `zone` is shown as the top AZ.
Lists made of every pod's answer leave a pod that is down out and name it in
`X-Cascade-Unavailable-Pods`; a pod's refusal (4xx) is the answer, with the pod
named; an answer of one pod carries `X-Cascade-Pod`.

- GET /os-services (`host`, `binary` passed on): every pod's services, one list.
- PUT /os-services/{action} (enable, disable, disable-log-reason, freeze, thaw,
  failover_host, failover): to the pod whose services include the body's `host`
  (Cinder matches `h` to `h`, `h@*` and `h#*`); with no such pod (or no host), to
  the first pod that answered, so the answer is Cinder's own error. The body goes
  on unchanged; the pod's status and body come back. set-log and get-log (whose
  `server` may name a host or a cluster, which only the pods can match) go to
  every pod: get-log's `log_levels` merged, set-log 202 once every pod took it.
- GET /os-hosts (`zone`: the top AZ): every pod's hosts, one list. GET
  /os-hosts/{host}: the pod that answers 200 (none: the first pod's 404). PUT
  /os-hosts/{host}: the pod of the host, as for os-services.
- GET /capabilities/{host}: the pod that answers 200 (none: the first pod's 404).
  A pool name's `#pool` never arrives (clients send it as a URL fragment); the
  path goes on as received.
- GET /manageable_volumes, /manageable_snapshots (and /detail; 3.8+, else
  Cinder's 404): with `host`, the pod of the host; without, every pod, merged
  (Cinder asks for a host or a `cluster`: a pod without the cluster answers 404
  and is left out; when no pod lists anything, the first refusal is the answer).
- POST /os-volume-manage, /manageable_volumes (3.8+) `{"volume": {"host",
  "ref", ...}}`: made in the pod of `host` (none: Cinder's 400 `Host '<host>' not
  found`), with the top AZ and the top volume type given as the pod's own; the
  new volume is routed to that pod. POST /os-snapshot-manage,
  /manageable_snapshots (3.8+) `{"snapshot": {"volume_id", "ref", ...}}`: made
  in the volume's pod and routed there.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import session
from cascade.api.volume import fanout, type_copy
from cascade.api.volume.common import (
    json_body,
    negotiated,
    pod_body,
    pod_error,
    pod_path,
    raw_body,
    relay,
    reply,
    send,
)
from cascade.api.volume.creates import create_in, entity_of
from cascade.api.volume.errors import VolumeError
from cascade.api.volume.host_pods import Known, decoded, knowing, pod_of_host
from cascade.api.volume.routed import locate
from cascade.services import pods as pod_service
from cascade.services.volume import volumes as volume_service
from cascade.versions import Version

MANAGEABLE = Version(3, 8)  # Cinder's manageable_volumes / manageable_snapshots
CLUSTERED = Version(3, 16)  # a volume is managed by `host` or `cluster` from here
LOG_ACTIONS = ("set-log", "get-log")


async def _forward(
    request: Request, version: Version, host: str | None, path: str, content: bytes | None = None
) -> Response:
    """The request (its query, `content` as the body) sent to the pod of `host`
    (`Known.target`; no host: the first pod): the pod's answer, as the top's."""
    if host:
        known = await pod_of_host(request, version, host)
    else:  # no host to look for (a cluster, or a bad body): the first pod answers it
        async with session(request) as db:
            pods = await pod_service.list_all(db)
        known = Known(pods[0] if pods else None, None)
    pod = known.target()
    resp = await send(
        request,
        pod,
        version,
        request.method,
        path,
        params=list(request.query_params.multi_items()),
        content=content,
        headers=fanout.JSON if content else None,
    )
    return await relay(request, pod, resp, known.headers)


def _segment(host: str) -> str:
    """A host name as one path segment (a `#` or `/` in it must not end the path)."""
    return quote(host, safe="@:")


# --- os-services ---------------------------------------------------------------------


services = fanout.merged("services", "/os-services", zone="zone")


async def service_action(request: Request) -> Response:
    """PUT /os-services/{action}: the pod of the body's `host` (see the module)."""
    version = await negotiated(request)
    action = request.path_params["action"]
    content = await raw_body(request)
    path = f"/os-services/{quote(action, safe='')}"
    if action in LOG_ACTIONS:
        return await _log_levels(request, version, path, content)
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None  # the pod answers Cinder's 400 for the body
    host = body.get("host") if isinstance(body, dict) else None
    return await _forward(request, version, host if isinstance(host, str) else None, path, content)


async def _log_levels(request: Request, version: Version, path: str, content: bytes) -> Response:
    """set-log / get-log on every pod; a refusal from one is the answer."""
    answers, headers = await fanout.answers(
        request, version, path, [], method="PUT", content=content, refusals=True
    )
    for pod, resp in answers:
        if resp.status_code >= 400:
            raise pod_error(resp, pod, headers)
    if path.endswith("/set-log"):
        return reply(None, 202, headers)
    levels = [
        entry for _, resp in answers for entry in ((decoded(resp) or {}).get("log_levels") or [])
    ]
    return reply({"log_levels": levels}, headers=headers)


# --- os-hosts and capabilities -------------------------------------------------------


async def hosts_index(request: Request) -> Response:
    """GET /os-hosts: every pod's hosts, zones at the top's names; `zone` filters on
    the top's name (the pods are asked for all of theirs)."""
    version = await negotiated(request)
    zone = request.query_params.get("zone")
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "zone"]
    found, headers = await fanout.every_pod(request, version, "/os-hosts", params)
    merged = [
        h for h in fanout.entries(found, "hosts", "zone") if not zone or h.get("zone") == zone
    ]
    return reply({"hosts": merged}, headers=headers)


async def host(request: Request) -> Response:
    """GET /os-hosts/{host}: the pod that shows it; PUT: the pod of the host."""
    version = await negotiated(request)
    name = request.path_params["host"]
    path = f"/os-hosts/{_segment(name)}"
    if request.method == "PUT":
        # Cinder updates any service's host (a scheduler's too), which GET does not
        # show: the pod is found by its services, as for os-services
        return await _forward(request, version, name, path, await raw_body(request))
    return await _shown(request, version, path)


async def capabilities(request: Request) -> Response:
    """GET /capabilities/{host}: the pod that has the backend."""
    version = await negotiated(request)
    return await _shown(request, version, f"/capabilities/{_segment(request.path_params['host'])}")


async def _shown(request: Request, version: Version, path: str) -> Response:
    """GET `path` of every pod: the first 200, else the first pod's refusal."""
    known = await knowing(request, version, path)
    if known.pod is None or known.answer is None:
        raise known.refused()
    return await relay(request, known.pod, known.answer, known.headers)


# --- manageable volumes and snapshots ------------------------------------------------


async def _begin(request: Request) -> tuple[Version, str]:
    """The request's microversion and the path a pod is asked (a `/manageable_*` one is
    Cinder's 404 before 3.8)."""
    version = await negotiated(request)
    path = pod_path(request)
    if path.startswith("/manageable_") and version < MANAGEABLE:
        raise VolumeError(404, "The resource could not be found.")
    return version, path


async def manageable(request: Request) -> Response:
    """GET /manageable_{volumes,snapshots}[/detail]: the pod of `host`, else every
    pod's list merged."""
    version, path = await _begin(request)
    name = request.query_params.get("host")
    if name:
        return await _forward(request, version, name, path)
    key = "manageable-snapshots" if "snapshots" in path else "manageable-volumes"
    answers, headers = await fanout.answers(request, version, path, refusals=True)
    # a 404 is a pod without the cluster asked for; any other refusal is the answer
    refusals = [(pod, resp) for pod, resp in answers if resp.status_code >= 400]
    listed = [
        (pod, await pod_body(request, pod, resp)) for pod, resp in answers if resp.status_code < 400
    ]
    hard = [(pod, resp) for pod, resp in refusals if resp.status_code != 404]
    if hard or (refusals and not listed):
        pod, resp = (hard or refusals)[0]
        raise pod_error(resp, pod, headers)
    return reply({key: fanout.entries(listed, key)}, headers=headers)


async def manage_volume(request: Request) -> Response:
    """POST /os-volume-manage or /manageable_volumes: made in the pod of `host`."""
    version, path = await _begin(request)
    body = await json_body(request)
    entity = entity_of(body, "volume")
    if "ref" not in entity:
        raise VolumeError(400, "'ref' is a required property")
    name = entity.get("host")
    if not name:
        if version >= CLUSTERED and entity.get("cluster"):
            # a cluster's name says nothing of its pod, and Cinder has no query for it
            raise VolumeError(
                400, "Cascade finds the pod of a volume to manage by its host: give `host`."
            )
        reason = (
            "One and only one of cluster and host must be set."
            if version >= CLUSTERED
            else "Host field is missing."
        )
        raise VolumeError(400, f"Invalid input received: {reason}")
    if not isinstance(name, str):
        raise VolumeError(400, f"Invalid input for field/attribute host. Value: {name}.")
    known = await pod_of_host(request, version, name)
    if known.pod is None:
        _, first = known.fallback()
        if first.status_code >= 400:  # the pods' policy refused even the question
            raise known.refused()
        raise VolumeError(400, f"Host '{name}' not found", dict(known.headers))
    pod = known.pod
    if entity.get("availability_zone") == pod.az:
        entity["availability_zone"] = pod.pod_az
    wanted = entity.get("volume_type")
    if wanted:
        try:
            vtype = await type_copy.named(request, str(wanted))
        except VolumeError as exc:
            if exc.status != 404:
                raise
            raise VolumeError(
                400, f"Invalid volume type: Cannot find requested '{wanted}' volume type"
            ) from exc
        entity["volume_type"] = await type_copy.in_pod(request, pod, vtype)
    return await create_in(request, volume_service.VOLUME, pod, body, version, path)


async def manage_snapshot(request: Request) -> Response:
    """POST /os-snapshot-manage or /manageable_snapshots: made in the volume's pod."""
    version, path = await _begin(request)
    body = await json_body(request)
    entity = entity_of(body, "snapshot")
    for key in ("volume_id", "ref"):
        if key not in entity:
            raise VolumeError(400, f"'{key}' is a required property")
    located = await locate(request, volume_service.VOLUME, str(entity["volume_id"]), version)
    return await create_in(request, volume_service.SNAPSHOT, located.pod, body, version, path)
