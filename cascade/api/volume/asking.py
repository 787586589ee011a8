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
from cascade.services import workflow
from cascade.services.volume import create as volume_create
from cascade.services.volume import quotas as volume_quotas
from cascade.versions import Version


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
    """What a workflow's step needs (its env, a DB session, who asks: the caller's pod calls
    and the request's own id, as a client's global one may repeat), its refusals in
    Cinder's bodies."""
    local_id = str(request.scope.get("state", {}).get("request_id", ""))
    ask = volume_create.Ask(context(request), caller_for(request, version), local_id)
    async with refusals(), session(request) as db:
        yield workflow.Env.of(request.app.state), db, ask
