"""/compute/v2.1/os-services: the compute services of every pod, as one cloud's (admin).

The caller must pass the top's policy (Nova's rule names, admin by default;
Nova's 403 otherwise). The pods are then asked with Cascade's service token,
not the caller's: an admin of the top is not necessarily an admin of each
pod's project scope.

- GET lists every pod's services in pod order (the pods asked in parallel).
  Hosts are shown as `cascade.services.compute.hosts` says: unchanged while unique
  across pods, `<host>@<pod>` where several pods have that name; `zone` is
  the top AZ for the pod's own AZ. `?host=` takes either form (a bare name
  that several pods have matches all of them), `?binary=` is exact; from
  2.75 any other query parameter is a 400, as in Nova. A pod that is down
  is left out and named in `X-Cascade-Unavailable-Pods`.
- PUT /os-services/{uuid} (2.53+) and DELETE /os-services/{uuid} are sent
  to the pod that lists that service (404 when none does; 503 naming the
  pods that are down when it may be in one of them). The answer carries
  `X-Cascade-Pod`.
- PUT /os-services/{enable,disable,disable-log-reason,force-down} (before
  2.53) goes to the pod of the body's `host` (either form; a bare name
  that several pods have is a 400 naming the qualified forms); the answer
  echoes the host as given.
- Before 2.53 service ids are integers, which repeat across pods: with more
  than one pod registered, DELETE by integer id is a 400 that asks for
  microversion 2.53 (lists still show the pods' integer ids as they are).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.compute import forward
from cascade.api.compute.errors import ComputeError
from cascade.api.compute.limits import check_query
from cascade.api.compute.versions import negotiated
from cascade.api.handlers import authorize, json_body, reply
from cascade.api.request import session
from cascade.db.models import Pod
from cascade.pods.fanout import unavailable_header
from cascade.services import pods as pod_service
from cascade.services.compute import hosts
from cascade.versions import Version

UUID_IDS = Version(2, 53)  # hypervisor and service ids are UUIDs from here
QUERY = ("host", "binary")


# --- shared by the admin host APIs (services, hypervisors, AZ detail) ---


async def all_pods(request: Request) -> list[Pod]:
    """Every registered pod, in creation order."""
    async with session(request) as db:
        return await pod_service.list_all(db)


def admin_calls(request: Request, version: Version, asked_at: Version | None = None) -> hosts.Admin:
    """Calls to the pods as Cascade's service user, for this request (at microversion
    `asked_at`, else the request's)."""
    caller = forward.caller_for(request, version)
    return hosts.Admin(request.app.state.registry, str(asked_at or version), caller.request_id)


def host_book(request: Request) -> hosts.HostBook:
    book: hosts.HostBook = request.app.state.pod_hosts
    return book


def errors_refused(answers: Iterable[hosts.Answer], accepted: Collection[int] = ()) -> None:
    """A pod's error is the answer, but a status `accepted` (a 404: "not in this pod");
    a pod that is down is only left out."""
    for answer in answers:
        if not answer.ok and not answer.down and answer.status not in accepted:
            raise answer_error(answer)


def listed(body: Any, answers: Iterable[hosts.Answer]) -> Response:
    """200 with what the pods answered, those that were down named."""
    return reply(body, headers=unavailable_header([a.pod.name for a in answers if a.down]))


def succeeded(answer: hosts.Answer) -> hosts.Answer:
    """A pod's answer when it succeeded; its error (`answer_error`) otherwise."""
    if not answer.ok:
        raise answer_error(answer)
    return answer


def answer_error(answer: hosts.Answer) -> ComputeError:
    """A pod's failed answer as the top's error, with the pod named."""
    if answer.status == 0:
        message = f"The compute service of pod {answer.pod.name} is unavailable: {answer.reason}"
        return ComputeError(503, message)
    status = answer.status if answer.status < 600 else 502
    return ComputeError(status, f"{answer.message} (pod {answer.pod.name})")


def missing(message: str, down: list[Pod]) -> ComputeError:
    """404 `message`, or 503 when what is missing may be in a pod that is down."""
    if down:
        names = ", ".join(p.name for p in down)
        message = f"{message} Pods {names} are unavailable and may hold it."
        return ComputeError(503, message)
    return ComputeError(404, message)


def integer_id_refused(kind: str, given: str, pods: int) -> ComputeError:
    return ComputeError(
        400,
        f"{kind} id {given} is an integer id, which several pods may use: it does not "
        f"name one {kind.lower()} among the {pods} pods. Use microversion 2.53 or later, "
        "where ids are UUIDs.",
    )


def only_pod(pods: Sequence[Pod], kind: str, given: str, not_found: str) -> Pod:
    """The pod an integer id (before 2.53) is asked of: the only one registered (400 with
    several, 404 `not_found` with none)."""
    if len(pods) > 1:
        raise integer_id_refused(kind, given, len(pods))
    if not pods:
        raise ComputeError(404, not_found)
    return pods[0]


def pod_reply(answer: hosts.Answer, body: Any) -> Response:
    """A single pod's successful answer, with `X-Cascade-Pod`."""
    return reply(body, answer.status, {forward.POD_HEADER: answer.pod.name})


# --- os-services ---


def view(item: dict[str, Any], pod: Pod, names: hosts.HostNames) -> dict[str, Any]:
    """A pod's service as the top shows it: host name and zone at the top."""
    shown = dict(item)
    if isinstance(shown.get("host"), str):
        shown["host"] = names.shown(pod.name, shown["host"])
    if "zone" in shown:
        shown["zone"] = hosts.top_zone(pod, shown["zone"])
    return shown


async def index(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, "os_compute_api:os-services:list")
    check_query(request, QUERY, version)
    found = await hosts.inventory(
        admin_calls(request, version), await all_pods(request), host_book(request)
    )
    errors_refused(found.answers)
    host = request.query_params.get("host")
    binary = request.query_params.get("binary")
    wanted = set(found.names.resolve(host)) if host else None
    shown = [
        view(item, answer.pod, found.names)
        for answer in found.answers
        for item in hosts.items(answer, "services")
        if (wanted is None or (answer.pod.name, item.get("host")) in wanted)
        and (not binary or item.get("binary") == binary)
    ]
    return listed({"services": shown}, found.answers)


async def update(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, "os_compute_api:os-services:update")
    body = await json_body(request)
    given = request.path_params["service_id"]  # before 2.53: the action
    admin = admin_calls(request, version)
    names: hosts.HostNames | None = None
    if version >= UUID_IDS:
        pod, found = await _lister(request, admin, given, f"Service {given} could not be found.")
        sent, names = body, found.names
    else:
        pod, sent = await _host_pod(request, admin, body)
    answer = succeeded(await admin.ask(pod, "PUT", f"/os-services/{given}", body=sent))
    service = answer.body.get("service") if isinstance(answer.body, dict) else None
    if isinstance(service, dict) and names is not None:
        answer.body["service"] = view(service, pod, names)
    elif isinstance(service, dict) and "host" in service:
        service["host"] = body["host"]  # Nova echoes the host it was given
    return pod_reply(answer, answer.body)


async def _lister(
    request: Request, admin: hosts.Admin, given: str, not_found: str
) -> tuple[Pod, hosts.Inventory]:
    """The pod that lists service `given` (400 unless a UUID; `not_found` when no pod
    does), and every pod's services."""
    if not hosts.is_uuid(given):
        raise ComputeError(400, f"Invalid uuid {given}")
    found = await hosts.inventory(admin, await all_pods(request), host_book(request))
    where = found.find(given)
    if where is None:
        raise missing(not_found, found.down())
    return where[0], found


async def _host_pod(request: Request, admin: hosts.Admin, body: Any) -> tuple[Pod, Any]:
    """The pod of the body's `host` (either form; 400 when several pods have a bare name)
    and the body it is sent, with the pod's name for the host."""
    if not isinstance(body, dict) or not isinstance(body.get("host"), str):
        raise ComputeError(400, "'host' is a required property")
    found = await hosts.inventory(admin, await all_pods(request), host_book(request))
    given = body["host"]
    targets = found.names.resolve(given)
    if not targets:
        message = f"Compute host {given} with binary {body.get('binary')} could not be found."
        raise missing(message, found.down())
    if len(targets) > 1:
        qualified = ", ".join(f"{host}{hosts.SEPARATOR}{pod}" for pod, host in targets)
        raise ComputeError(
            400, f"Host {given} is the name of a host in several pods: name one of {qualified}."
        )
    pod_name, host = targets[0]
    return next(a.pod for a in found.answers if a.pod.name == pod_name), {**body, "host": host}


async def delete(request: Request) -> Response:
    version = await negotiated(request)
    authorize(request, "os_compute_api:os-services:delete")
    given = request.path_params["service_id"]
    admin = admin_calls(request, version)
    if version >= UUID_IDS:
        pod, _ = await _lister(request, admin, given, f"Service {given} not found.")
    else:
        if not given.lstrip("-").isdigit():
            message = "Invalid input received: id must be an integer"
            raise ComputeError(400, message)
        pod = only_pod(await all_pods(request), "Service", given, f"Service {given} not found.")
    answer = succeeded(await admin.ask(pod, "DELETE", f"/os-services/{given}"))
    return pod_reply(answer, None)
