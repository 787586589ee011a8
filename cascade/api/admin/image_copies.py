"""Admin API: a top image's copies in the pods (`services/images/copies.py`). Admins only
(policy `cascade:image_copies:*`).

- POST /v1/images/{image_id}/copies, optional body `{"copies": {"pods": [pod ids]}}` or
  `{"copies": {"tag": "..."}}` (default: every pod): 202 with `copies`, one per pod:
  `pod_id`, `pod_name`, `status` (`shared`: the pod uses the top's Glance, no copy;
  `creating`, with the copy job's `job_status` and last `error`; `active`; `deleting`)
  — the copies are made by jobs, one per image and pod (a boot in the meantime waits
  for the same one). 404 for an image the top's Glance does not have or an unknown pod;
  400 for a body that is neither.
- GET /v1/images/{image_id}/copies: 200 with where the image stands in every pod.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cascade.api.admin.common import Refusals, acting, fields, optional_body
from cascade.api.errors import ApiError
from cascade.db.models import Pod
from cascade.services import pods as pod_service
from cascade.services.images import copies
from cascade.services.workflow import Env, Refused

REFUSALS: Refusals = {
    pod_service.PodNotFound: (404, "cascade.pod.not_found"),
    copies.ImageNotFound: (404, "cascade.image.not_found"),
}


async def _pods(db: AsyncSession, values: dict[str, Any]) -> list[Pod]:
    wanted = values.get("pods")
    tag = values.get("tag")
    if wanted is not None and tag is not None:
        raise ApiError(400, "give 'pods' or 'tag', not both", "cascade.image_copy.field")
    if wanted is not None:
        if not isinstance(wanted, list) or not all(isinstance(p, str) and p for p in wanted):
            raise ApiError(400, "'pods' must be a list of pod ids", "cascade.image_copy.field")
        return [await pod_service.get(db, pod_id) for pod_id in dict.fromkeys(wanted)]
    every = await pod_service.list_all(db)
    if tag is None:
        return every
    if not isinstance(tag, str) or not tag:
        raise ApiError(400, "'tag' must be a pod tag", "cascade.image_copy.field")
    return [pod for pod in every if tag in (pod.tags or [])]


def _shown(found: list[copies.PodCopy]) -> dict[str, Any]:
    return {"copies": [asdict(c) for c in found]}


async def create(request: Request) -> Response:
    """POST /v1/images/{id}/copies: 202 with where the image stands in each pod asked."""
    values = fields(await optional_body(request, "copies"), "copies", ("pods", "tag"))
    async with acting(request, "cascade:image_copies:create", REFUSALS) as (_, db):
        pods = await _pods(db, values)
        await db.commit()  # no connection held while the Glances answer
        try:
            found = await copies.copy_ahead(
                Env.of(request.app.state), request.path_params["image_id"], pods
            )
        except Refused as exc:
            raise ApiError(exc.status, exc.message, "cascade.image.unavailable") from exc
    return JSONResponse(_shown(found), status_code=202)


async def index(request: Request) -> Response:
    """GET /v1/images/{id}/copies: 200 with where the image stands in every pod."""
    async with acting(request, "cascade:image_copies:list", REFUSALS) as (_, db):
        pods = await pod_service.list_all(db)
        await db.commit()
        env = Env.of(request.app.state)
        try:
            await copies.top_image(env, request.path_params["image_id"])
            found = await copies.where_copied(env, request.path_params["image_id"], pods)
        except Refused as exc:
            raise ApiError(exc.status, exc.message, "cascade.image.unavailable") from exc
    return JSONResponse(_shown(found))
