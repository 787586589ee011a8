"""The Block Storage API's side of the `services.volume_create` workflow: who asks, and
the workflow's refusals in Cinder's bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from cascade.api.request import context, session
from cascade.api.volume import quotas
from cascade.api.volume.common import caller_for, unavailable
from cascade.api.volume.errors import VolumeError
from cascade.pods.client import PodUnavailable
from cascade.services import volume_create, volume_quotas, workflow
from cascade.versions import Version


def env_of(request: Request) -> workflow.Env:
    return workflow.Env.of(request.app.state)


def ask_of(request: Request, version: Version) -> volume_create.Ask:
    """Who asks, for the workflow: the caller's pod calls and the request's own id (a
    client's global request id may repeat)."""
    local_id = str(request.scope.get("state", {}).get("request_id", ""))
    return volume_create.Ask(context(request), caller_for(request, version), local_id)


@asynccontextmanager
async def refusals() -> AsyncIterator[None]:
    """The workflow's refusals in Cinder's bodies."""
    try:
        yield
    except workflow.Refused as exc:
        raise VolumeError(exc.status, exc.message) from exc
    except volume_quotas.OverQuota as exc:
        raise quotas.over_quota(exc) from exc
    except PodUnavailable as exc:
        raise unavailable(exc) from exc


@asynccontextmanager
async def flow(
    request: Request, version: Version
) -> AsyncIterator[tuple[workflow.Env, AsyncSession, volume_create.Ask]]:
    """What a workflow's step needs (its env, a DB session, who asks), its refusals in
    Cinder's bodies."""
    async with refusals(), session(request) as db:
        yield env_of(request), db, ask_of(request, version)
