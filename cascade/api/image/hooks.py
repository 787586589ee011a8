"""What the Image API does at the top beyond Glance's own answer."""

from __future__ import annotations

import logging

from starlette.requests import Request

from cascade.services.images import copies

LOG = logging.getLogger(__name__)


async def image_deleted(request: Request, image_id: str) -> None:
    """Called once the top's Glance has deleted image `image_id` (its 204 to
    `DELETE /v2/images/{image_id}`), before that answer goes back to the client.

    The image's copies in the pods that have a Glance of their own are deleted by jobs
    (`services.images.copies.image_deleted`: no copy is left behind should a pod be
    down). Glance has deleted the image already: a failure to queue them is logged, the
    client still gets Glance's 204 (the audit names copies left over).
    """
    try:
        await copies.image_deleted(request.app.state.sessions, image_id)
    except Exception:
        LOG.exception("the copies of deleted image %s were not queued for deletion", image_id)
