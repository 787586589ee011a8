"""Admin API: `/v1/pods`, the bottom clouds Cascade fronts. Admin only (policy `cascade:pods:*`).

- POST /v1/pods with `{"pod": {...}}` registers a pod: 201, the pod, and a
  Location header. `name`, `region_name` and `az` (the top AZ it serves)
  are required; `pod_az` (the AZ name inside the pod, default: `az`),
  `enabled` (default true), `state` (`active`, the default, or `maintenance`:
  what the pod hosts keeps working and nothing new goes there), `weight`
  (default 1) and `tags` are optional. `identity` says how Cascade signs in to
  the pod: `shared` (the default: a region of the top's Keystone, the user's token
  forwarded) or `independent` (a cloud with its own Keystone: `auth_url`, its v3 URL,
  and `credentials`, `username`, `password`, `project_name` and optionally
  `user_domain_name` and `project_domain_name` of a user there with a role that makes
  projects and grants roles; `catalog_region`, the region of its services in that
  Keystone's catalog, default: `region_name`). The credentials' `password` is never
  shown back, nor logged.
  Unknown fields, wrong types: 400. Name or region already used: 409.
- GET /v1/pods lists pods (oldest first); GET /v1/pods/{id} shows one (404).
- PATCH /v1/pods/{id} with `{"pod": {...}}` changes the given fields: 200 (new
  `credentials` or `auth_url` of an independent pod serve the next call: no restart;
  `identity` is set when the pod is registered: 400).
- DELETE /v1/pods/{id}: 204; 409 while the pod hosts resources (routings),
  unless `?force=true`, which also drops the pod's routings.
Pods carry a read-only `health`: state, last check, latency, last error, and
`maintenance` (true while the pod is in maintenance). Only a pod that is enabled
and `active` takes new resources.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin.common import Refusals, acting, fields, shown
from cascade.api.errors import ApiError
from cascade.api.request import json_body
from cascade.db.models import Pod
from cascade.pods import identities
from cascade.pods.registry import PodRegistry
from cascade.services import capacity
from cascade.services import pods as service
from cascade.services.route_cache import RouteCache

FIELDS: dict[str, type] = {
    "name": str,
    "region_name": str,
    "az": str,
    "pod_az": str,
    "enabled": bool,
    "state": str,
    "weight": int,
    "tags": list,
    "identity": str,
    "auth_url": str,
    "credentials": dict,
    "catalog_region": str,
}
REQUIRED = ("name", "region_name", "az")
STATES = ("active", "maintenance")  # what an admin sets (`draining` comes with a drain)
KINDS = {str: "a string", bool: "a boolean", int: "an integer", list: "a list", dict: "an object"}
CREDENTIALS = Draft202012Validator(identities.CREDENTIALS_SCHEMA)
REFUSALS: Refusals = {
    service.PodNotFound: (404, "cascade.pod.not_found"),
    service.PodConflict: (409, "cascade.pod.duplicate"),
    service.PodInUse: (409, "cascade.pod.in_use"),
    service.PodDraining: (409, "cascade.pod.draining"),
    service.PodInvalid: (400, "cascade.pod.field"),
}


def _spec(body: Any, creating: bool) -> service.PodSpec:
    values = fields(body, "pod", FIELDS)
    if creating:
        missing = [f for f in REQUIRED if f not in values]
        if missing:
            raise ApiError(400, f"missing pod field(s): {', '.join(missing)}", "cascade.pod.field")
    for key, value in values.items():
        kind = FIELDS[key]
        # bool is an int in Python: refuse `"weight": true` as Nova would refuse it
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ApiError(400, f"pod field {key!r} must be {KINDS[kind]}", "cascade.pod.field")
        if isinstance(value, str) and not 1 <= len(value) <= 255:
            raise ApiError(
                400, f"pod field {key!r} must have 1 to 255 characters", "cascade.pod.field"
            )
    if values.get("state", "active") not in STATES:
        if values["state"] == "draining":
            message = "a pod starts draining with POST /v1/pods/{id}/drain"
            raise ApiError(400, message, "cascade.pod.field")
        message = f"pod field 'state' must be one of {', '.join(STATES)}"
        raise ApiError(400, message, "cascade.pod.field")
    if "weight" in values and values["weight"] < 0:
        raise ApiError(400, "pod field 'weight' must be 0 or more", "cascade.pod.field")
    if "tags" in values and not all(isinstance(t, str) and t for t in values["tags"]):
        raise ApiError(
            400, "pod field 'tags' must be a list of non-empty strings", "cascade.pod.field"
        )
    _identity(values, creating)
    return service.PodSpec(values)


def _identity(values: dict[str, Any], creating: bool) -> None:
    """400 unless the identity fields are well formed (whether they fit the pod's
    identity is the service's to say: `services.pods.PodInvalid`)."""
    if "identity" in values and not creating:
        message = "a pod's identity is set when it is registered"
        raise ApiError(400, message, "cascade.pod.field")
    if values.get("identity", identities.SHARED) not in identities.IDENTITIES:
        message = f"pod field 'identity' must be one of {', '.join(identities.IDENTITIES)}"
        raise ApiError(400, message, "cascade.pod.field")
    if "auth_url" in values and not values["auth_url"].startswith(("http://", "https://")):
        raise ApiError(400, "pod field 'auth_url' must be an http(s) URL", "cascade.pod.field")
    if "credentials" in values:
        creds = values["credentials"]
        if identities.APP_CREDENTIAL_KEYS & set(creds):
            message = (
                "application credentials are not supported for a pod: a token of one is "
                "bound to its project, and Cascade needs tokens of the projects it maps "
                "into the pod; give a user's username, password and project_name"
            )
            raise ApiError(400, message, "cascade.pod.field")
        problem = best_match(CREDENTIALS.iter_errors(creds))
        if problem is not None:
            # the schema's words, never the value (it may be the password)
            where = ".".join(str(p) for p in problem.absolute_path) or "credentials"
            message = f"pod field 'credentials' is not valid ({where}: {problem.validator})"
            raise ApiError(400, message, "cascade.pod.field")


def breakers(registry: PodRegistry, pod: Pod) -> dict[str, str]:
    """The circuit breaker of each of the pod's services this process has called:
    closed, open or half-open (each replica keeps its own)."""
    return {
        service: client.breaker.state
        for (name, service), client in registry.clients()
        if name == pod.name
    }


def view(pod: Pod, registry: PodRegistry | None = None) -> dict[str, Any]:
    """The pod as the API shows it; with `registry`, its breakers in this process."""
    found = shown(pod)
    found["identity"] = pod.identity or identities.SHARED
    found["credentials"] = identities.public(pod.credentials)
    health = {
        "state": found.pop("health_state"),
        "last_check": found.pop("health_checked_at"),
        "latency_ms": found.pop("health_latency_ms"),
        "last_error": found.pop("health_error"),
        "maintenance": pod.state == "maintenance",
    }
    if registry is not None:
        health["breakers"] = breakers(registry, pod)
    stamps = {key: found.pop(key) for key in ("created_at", "updated_at")}
    return {**found, "health": health, **stamps}


def changed(request: Request) -> None:
    """The pods changed: this process works the microversion ranges out again at once."""
    request.app.state.advertised.clear()
    request.app.state.registry.cache(RouteCache).forget_pods()
    request.app.state.registry.forget_catalog()  # a new region may be in it now


def _force(request: Request) -> bool:
    raw = request.query_params.get("force", "false").lower()
    if raw not in ("true", "false"):
        raise ApiError(400, "force must be true or false", "cascade.request.query")
    return raw == "true"


async def create(request: Request) -> Response:
    """POST /v1/pods: 201 with the pod and its Location; 409 if its name or region is
    taken."""
    async with acting(request, "cascade:pods:create", REFUSALS) as (_, db):
        pod = await service.create(db, _spec(await json_body(request), creating=True))
        changed(request)
    location = str(request.url_for("pod", pod_id=pod.id))
    return JSONResponse({"pod": view(pod)}, status_code=201, headers={"Location": location})


async def index(request: Request) -> Response:
    """GET /v1/pods: 200 with every pod, oldest first; `health.breakers` is this
    replica's circuit breaker of each pod service it has called."""
    async with acting(request, "cascade:pods:list", REFUSALS) as (_, db):
        found = await service.list_all(db)
    registry = request.app.state.registry
    return JSONResponse({"pods": [view(p, registry) for p in found]})


async def show(request: Request) -> Response:
    """GET /v1/pods/{id}: 200 with the pod, its breakers (as the list) and `capacity`:
    the pod's Nova hypervisor statistics as scheduling sees them (`ram_mb`,
    `free_ram_mb`, `free_disk_gb`, kept 30 s), null when the pod cannot say; 404 if
    unknown."""
    async with acting(request, "cascade:pods:show", REFUSALS) as (_, db):
        pod = await service.get(db, request.path_params["pod_id"])
    registry = request.app.state.registry
    room = await capacity.of(registry, pod, request.state.request_id)
    found = view(pod, registry)  # after the call: its breaker too
    found["capacity"] = None if room is None else dataclasses.asdict(room)
    return JSONResponse({"pod": found})


async def update(request: Request) -> Response:
    """PATCH /v1/pods/{id}: 200 with the pod, the given fields changed; 404, or 409 if
    its new name or region is taken."""
    async with acting(request, "cascade:pods:update", REFUSALS) as (_, db):
        spec = _spec(await json_body(request), creating=False)
        pod = await service.update(db, request.path_params["pod_id"], spec)
        changed(request)
    return JSONResponse({"pod": view(pod)})


async def delete(request: Request) -> Response:
    """DELETE /v1/pods/{id}[?force=true]: 204; 409 while it hosts resources, unless
    forced (its routings go too)."""
    async with acting(request, "cascade:pods:delete", REFUSALS) as (_, db):
        await service.delete(db, request.path_params["pod_id"], force=_force(request))
        changed(request)
    return Response(status_code=204)
