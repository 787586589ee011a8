"""One call to a pod service, signed in as the pod needs it (`pods.identities`).

A shared pod gets the caller's token, or Cascade's service token when the call is
Cascade's own. An independent pod knows neither the top's tokens nor its project ids:
the call carries a token of Cascade's user there (scoped to the project standing for
the caller's project, or Cascade's own project for its own calls), the top project ids
it names are the pod's, and the pod's answer names the top's again. The top user's id
and the request id go with it (`X-OpenStack-Request-ID`, `X-Cascade-User-Id`) so a
request can be followed from the top into the pod's logs.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any, Unpack

import httpx

from cascade.db.models import Pod
from cascade.identity import KeystoneUnavailable, TokenValidator
from cascade.pods.client import CallOptions, PodClient, PodUnavailable
from cascade.pods.identities import KEYSTONE_ID, NO_SWAP, IdSwap, independent
from cascade.pods.registry import PodRegistry

USER_HEADER = "X-Cascade-User-Id"
ADMIN_ROLE = "admin"  # a top admin's pod user's role in the projects it acts in
# headers an answer no longer matches once its body is rewritten
REWRITTEN = frozenset({"content-length", "content-encoding", "transfer-encoding"})


async def pod_request(
    registry: PodRegistry,
    pod: Pod,
    service: str,
    method: str,
    url: str,
    caller_headers: dict[str, str],
    project_id: str | None = None,
    user_id: str | None = None,
    admin: bool = False,
    **options: Unpack[CallOptions],
) -> httpx.Response:
    """`method` on `url` through the pod's client for `service`, with the caller's
    headers and any extra ones. Headers without a token make the call as Cascade itself
    (the service token, renewed once when the pod answers 401). `project_id` and
    `user_id`: the top project and user a call with a token is made for (an independent
    pod's call needs the project); `admin`: the top takes that user for an admin (an
    independent pod's call is then made by the pod's admin user standing for them).
    `PodUnavailable` when the pod (or its Keystone) does not answer."""
    all_headers = {**caller_headers, **(options.pop("headers", None) or {})}
    client = registry.client(pod.name, service)
    if independent(pod):
        return await _independent(
            registry, pod, client, method, url, all_headers, (project_id, user_id, admin), options
        )
    auth = None if "X-Auth-Token" in all_headers else registry.service_auth
    return await client.request(method, url, headers=all_headers, auth=auth, **options)


async def service_token(registry: PodRegistry, pod: Pod, renew: bool = False) -> str:
    """Cascade's own token for the pod (its own Keystone's for an independent pod), for
    calls made outside a pod client (a stream of image data); `PodUnavailable` when that
    Keystone does not answer."""
    if not independent(pod):
        return await registry.validator.service_token(renew=renew)
    try:
        return await registry.identities.of(pod).service_token(renew=renew)
    except KeystoneUnavailable as exc:
        raise PodUnavailable(pod.name, "identity", str(exc), sent=False) from exc


class PodTokenAuth(httpx.Auth):
    """A token in an independent pod: of Cascade's user (scoped to `project`, or its own
    project when None) or of `user` (the pod's user standing for a top user: id and
    password) in `project`; renewed once when the pod answers 401."""

    requires_request_body = True  # the call may be sent twice

    def __init__(
        self,
        keystone: TokenValidator,
        project: str | None,
        user: tuple[str, str] | None = None,
        role: str | None = None,
    ) -> None:
        self.keystone, self.project, self.user, self.role = keystone, project, user, role

    async def token(self, renew: bool = False) -> str:
        if self.project is None:
            return await self.keystone.service_token(renew=renew)
        if self.user is not None:
            user_id, password = self.user
            return await self.keystone.user_token(
                user_id, password, self.project, renew=renew, role=self.role
            )
        return await self.keystone.project_token(self.project, renew=renew)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["X-Auth-Token"] = await self.token()
        response = yield request
        if response.status_code == 401:
            request.headers["X-Auth-Token"] = await self.token(renew=True)
            yield request


async def _independent(
    registry: PodRegistry,
    pod: Pod,
    client: PodClient,
    method: str,
    url: str,
    headers: dict[str, str],
    caller: tuple[str | None, str | None, bool],
    options: CallOptions,
) -> httpx.Response:
    project_id, user_id, admin = caller
    projects = registry.projects
    if projects is None:
        raise PodUnavailable(pod.name, client.service, "no project map in this process", False)
    as_user = headers.pop("X-Auth-Token", None) is not None
    if as_user and project_id is None:
        raise PodUnavailable(pod.name, client.service, "a user's call names no project", False)
    keystone = registry.identities.of(pod)
    try:
        # the projects mapped already (their top ids found by name), then any new ones
        named = _named(url, options, await projects.to_pod(pod, set()))
        if project_id is not None:
            named.add(project_id)
        to_pod = await projects.to_pod(pod, named) if named else NO_SWAP
        scope = to_pod.ids.get(project_id or "") if as_user else None
        if as_user and scope is None:
            raise KeystoneUnavailable(f"project {project_id} is not a project of the top")
        # a user's call is made by the pod's user standing for them (what they make is
        # theirs there too; a top admin's, by the one with `admin` there); one of
        # Cascade's own for a project, by Cascade's user
        who = await projects.user(pod, user_id, admin) if as_user and user_id else None
        auth = PodTokenAuth(keystone, scope, who, ADMIN_ROLE if admin and who else None)
        await auth.token()  # signed in before the call: a Keystone away is the pod's 503
        if user_id:
            headers[USER_HEADER] = user_id
        resp = await client.request(
            method, to_pod.text(url), headers=headers, auth=auth, **_options(options, to_pod)
        )
        to_top = await projects.to_top(pod)
    except KeystoneUnavailable as exc:
        raise PodUnavailable(pod.name, "identity", str(exc), sent=False) from exc
    return answer_to_top(resp, to_top)


def _named(url: str, options: CallOptions, known: IdSwap) -> set[str]:
    """The top's project ids a call may name (in its URL, query and body): those mapped
    into the pod already (`known`: the pod's top -> pod swap, whose pattern finds them),
    and any other id as Keystone makes them (perhaps a project used there first)."""
    found: set[str] = set()

    def note(text: str) -> str:
        found.update(KEYSTONE_ID.findall(text))
        found.update(known.found(text))
        return text

    note(url)
    _walk(options.get("params"), note)
    _walk(options.get("json"), note)
    content = options.get("content")
    if content:
        note(content.decode(errors="replace"))
    return found


def _options(options: CallOptions, to_pod: IdSwap) -> CallOptions:
    """The call's query and body with the top's project ids replaced by the pod's."""
    if not to_pod.ids:
        return options
    swapped: dict[str, Any] = dict(options)
    for key in ("params", "json"):
        if swapped.get(key) is not None:
            swapped[key] = _walk(swapped[key], to_pod.text)
    if swapped.get("content"):
        swapped["content"] = to_pod.raw(swapped["content"])
    return swapped  # type: ignore[return-value]


def _walk(value: Any, change: Callable[[str], str]) -> Any:
    """`value` (decoded JSON, or a query as a dict or pairs) with `change` applied to
    every string in it, keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {_walk(k, change): _walk(v, change) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(v, change) for v in value)
    return value


def answer_to_top(resp: httpx.Response, to_top: IdSwap) -> httpx.Response:
    """An independent pod's answer with its project ids replaced by the top's (in the body
    and in headers such as Location)."""
    if not to_top.ids:
        return resp
    body = resp.content
    changed = to_top.raw(body)
    headers = [(k, to_top.text(v)) for k, v in resp.headers.items() if k.lower() not in REWRITTEN]
    if changed == body and all(v == resp.headers.get(k) for k, v in headers):
        return resp
    try:
        request: httpx.Request | None = resp.request
    except RuntimeError:  # an answer read off the wire by `pods.wire` has none
        request = None
    return httpx.Response(resp.status_code, headers=headers, content=changed, request=request)
