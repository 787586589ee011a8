"""The Image API's routes, under `/image`: Glance v2 as the top's own Glance serves it.

The version documents (`/image`, `/image/`, `/image/versions`: no token needed, as
Glance's) have their links moved onto the top (`versions`); every other path, with
every method, is forwarded to Glance as it is (`proxy.forward`): images and their data,
members, tags, imports and staging, metadefs, schemas, tasks, info, stores.
"""

from __future__ import annotations

import re

from starlette.routing import BaseRoute, Route

from cascade.api.image import proxy, versions
from cascade.api.routing import ALL

PREFIX = proxy.PREFIX
PUBLIC = (PREFIX, f"{PREFIX}/", f"{PREFIX}/versions")
# requests whose body is an image's data (`PUT /v2/images/{id}/file` to upload it,
# `.../stage` to stage it for an import): streamed to Glance unread, never held whole,
# not limited by `[api] max_body_bytes` (the input guard lets them through)
DATA = re.compile(rf"{PREFIX}/v2/images/[^/]+/(file|stage)")
STREAMED = (("PUT", DATA),)


def routes() -> list[BaseRoute]:
    return [
        Route(PREFIX, versions.root, methods=["GET"]),
        Route(f"{PREFIX}/", versions.root, methods=["GET"]),
        Route(f"{PREFIX}/versions", versions.versions, methods=["GET"]),
        Route(PREFIX + "/{path:path}", proxy.forward, methods=list(ALL)),
    ]
