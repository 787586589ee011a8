"""Group types, owned by the top (Cinder's `/group_types`, 3.11+; below: Cinder's 404).

- GET /group_types (`is_public` filter for admins: true by default, false or None
  for all; others see the public ones; `sort`).
- GET /group_types/{id} (a private one: admins only; `default`: Cinder's 404, as
  Cascade has no default group type), POST (202), PUT, DELETE, and
  /group_types/{id}/group_specs[/{key}]: made from the description
  (`spec_types.Handlers`, `group_types.GROUP_TYPE`), with Cinder's rule names.
Group specs show to admins only. The pods hold copies of the types their groups
use; they follow each change by the `group_type.sync` job.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cascade.api.request import context, session
from cascade.api.volume.common import negotiated, reply
from cascade.api.volume.lists import sort_of
from cascade.api.volume.spec_types import Handlers, parse_bool, translated
from cascade.services.volume import group_types
from cascade.services.volume import type_copies as volume_type_copies

HANDLERS = Handlers(group_types.GROUP_TYPE, volume_type_copies.delete_group_copies)


@translated
async def index(request: Request) -> Response:
    """GET /group_types: the public ones (admins: by `is_public`, true by default, `None`
    for all), sorted by `sort` (Cinder's default: created_at, id)."""
    await negotiated(request, group_types.GROUP_TYPE.since)
    raw = request.query_params.get("is_public")
    public = True if raw is None else parse_bool(raw, "is_public")
    admin = context(request).is_admin
    spec = sort_of(request)
    async with session(request) as db:
        found = await group_types.listing(
            db, public if admin else True, list(spec.keys), list(spec.dirs)
        )
    return reply({"group_types": [group_types.view(t, admin) for t in found]})
