"""The Block Storage API's routes, under `/volume`.

Cinder serves every resource both as `/v3/{project_id}/...` (the catalog's
form) and `/v3/...`; `VolumeRouter` takes the project id out of the path
(checked against the token's by `common.negotiated`) and dispatches the rest.
A path Cascade does not serve yet is Cinder's 501 `notImplemented`, saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

from cascade.api.volume import (
    creates,
    encryption,
    fanout,
    lists,
    qos,
    quotas,
    routed,
    transfers,
    types,
    versions,
    zones,
)
from cascade.api.volume.common import negotiated
from cascade.api.volume.errors import VolumeError

PREFIX = "/volume"
V3 = f"{PREFIX}/v3"
PUBLIC = (PREFIX, f"{PREFIX}/")
ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# the first path segment of every Cinder v3 resource: anything else there is a project id
COLLECTIONS = frozenset(
    {
        "volumes", "snapshots", "backups", "types", "os-availability-zone", "limits",
        "os-quota-sets", "os-quota-class-sets", "attachments", "messages", "scheduler-stats",
        "qos-specs", "extensions", "resource_filters", "group_types", "groups",
        "group_snapshots", "os-services", "os-hosts", "workers", "default-types",
        "manageable_volumes", "manageable_snapshots", "os-volume-transfer", "volume-transfers",
        "capabilities", "consistencygroups", "cgsnapshots", "os-snapshot-manage",
        "os-volume-manage", "clusters", "os-backup-services",
    }
)  # fmt: skip


async def no_id(request: Request) -> Response:
    """`/volumes/` and the like with an empty id: Cinder's 404."""
    await negotiated(request)
    raise VolumeError(404, "The resource could not be found.")


async def not_served(request: Request) -> Response:
    await negotiated(request)
    path = request.url.path[len(V3) :] or "/"
    raise VolumeError(
        501, f"Cascade does not serve {request.method} {path} of the Block Storage API yet."
    )


def _routed(kind: str) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        rest = request.path_params.get("rest")
        return await routed.forward(
            request, kind, request.path_params["object_id"], f"/{rest}" if rest else ""
        )

    return handler


def _transfer_routes(prefix: str) -> list[BaseRoute]:
    base = f"{V3}/{prefix}"
    return [
        Route(base, transfers.create, methods=["POST"]),
        Route(base, transfers.index, methods=["GET"]),
        Route(f"{base}/detail", transfers.index, methods=["GET"]),
        Route(base + "/{transfer_id}", transfers.member, methods=["GET", "DELETE"]),
        Route(base + "/{transfer_id}/accept", transfers.accept, methods=["POST"]),
    ]


def _inner() -> list[BaseRoute]:
    out: list[BaseRoute] = [
        Route(f"{V3}/os-availability-zone", zones.index, methods=["GET"]),
        Route(f"{V3}/volumes", creates.volume, methods=["POST"]),
        Route(f"{V3}/snapshots", creates.snapshot, methods=["POST"]),
        Route(f"{V3}/backups", creates.backup, methods=["POST"]),
        Route(f"{V3}/attachments", creates.attachment, methods=["POST"]),
        Route(V3 + "/backups/{backup_id}/restore", creates.restore, methods=["POST"]),
        Route(f"{V3}/volumes/summary", fanout.summary, methods=["GET"]),
        Route(f"{V3}/scheduler-stats/get_pools", fanout.pools, methods=["GET"]),
        Route(f"{V3}/messages", fanout.messages, methods=["GET"]),
        Route(V3 + "/messages/{message_id}", fanout.message, methods=["GET", "DELETE"]),
        Route(f"{V3}/resource_filters", fanout.resource_filters, methods=["GET"]),
        Route(f"{V3}/limits", quotas.limits, methods=["GET"]),
        *_transfer_routes("os-volume-transfer"),
        *_transfer_routes("volume-transfers"),
        Route(V3 + "/os-quota-sets/{project_id}", quotas.show, methods=["GET"]),
        Route(V3 + "/os-quota-sets/{project_id}", quotas.update, methods=["PUT"]),
        Route(V3 + "/os-quota-sets/{project_id}", quotas.delete, methods=["DELETE"]),
        Route(V3 + "/os-quota-sets/{project_id}/defaults", quotas.defaults, methods=["GET"]),
        Route(f"{V3}/qos-specs", qos.index, methods=["GET"]),
        Route(f"{V3}/qos-specs", qos.create, methods=["POST"]),
        Route(V3 + "/qos-specs/{qos_id}", qos.show, methods=["GET"]),
        Route(V3 + "/qos-specs/{qos_id}", qos.update, methods=["PUT"]),
        Route(V3 + "/qos-specs/{qos_id}", qos.delete, methods=["DELETE"]),
        Route(V3 + "/qos-specs/{qos_id}/delete_keys", qos.delete_keys, methods=["PUT"]),
        Route(V3 + "/qos-specs/{qos_id}/associations", qos.associations, methods=["GET"]),
        Route(V3 + "/qos-specs/{qos_id}/associate", qos.associate, methods=["GET"]),
        Route(V3 + "/qos-specs/{qos_id}/disassociate", qos.associate, methods=["GET"]),
        Route(V3 + "/qos-specs/{qos_id}/disassociate_all", qos.disassociate_all, methods=["GET"]),
        Route(f"{V3}/types", types.index, methods=["GET"]),
        Route(f"{V3}/types", types.create, methods=["POST"]),
        Route(f"{V3}/types/default", types.show_default, methods=["GET"]),
        Route(V3 + "/types/{type_id}", types.show, methods=["GET"]),
        Route(V3 + "/types/{type_id}", types.update, methods=["PUT"]),
        Route(V3 + "/types/{type_id}", types.delete, methods=["DELETE"]),
        Route(V3 + "/types/{type_id}/extra_specs", types.specs_index, methods=["GET"]),
        Route(V3 + "/types/{type_id}/extra_specs", types.specs_create, methods=["POST"]),
        Route(V3 + "/types/{type_id}/extra_specs/{key}", types.spec_show, methods=["GET"]),
        Route(V3 + "/types/{type_id}/extra_specs/{key}", types.spec_update, methods=["PUT"]),
        Route(V3 + "/types/{type_id}/extra_specs/{key}", types.spec_delete, methods=["DELETE"]),
        Route(V3 + "/types/{type_id}/os-volume-type-access", types.access_index, methods=["GET"]),
        Route(V3 + "/types/{type_id}/action", types.action, methods=["POST"]),
        Route(V3 + "/types/{type_id}/encryption", encryption.show, methods=["GET"]),
        Route(V3 + "/types/{type_id}/encryption", encryption.create, methods=["POST"]),
        Route(V3 + "/types/{type_id}/encryption/{key}", encryption.show_item, methods=["GET"]),
        Route(
            V3 + "/types/{type_id}/encryption/{encryption_id}",
            encryption.update,
            methods=["PUT"],
        ),
        Route(
            V3 + "/types/{type_id}/encryption/{encryption_id}",
            encryption.delete,
            methods=["DELETE"],
        ),
    ]
    for collection, kind in lists.KINDS.items():
        handler = _routed(kind)
        out += [
            Route(f"{V3}/{collection}", lists.index, methods=["GET"]),
            Route(f"{V3}/{collection}/detail", lists.index, methods=["GET"]),
            Route(V3 + f"/{collection}/", no_id, methods=ALL),
            Route(V3 + f"/{collection}/{{object_id}}", handler, methods=["GET", "PUT", "DELETE"]),
            Route(V3 + f"/{collection}/{{object_id}}/{{rest:path}}", handler, methods=ALL),
        ]
    out.append(Route(V3 + "/{path:path}", not_served, methods=ALL))
    return out


class VolumeRouter:
    """`/volume/v3/...` with or without a project id after `v3`."""

    def __init__(self) -> None:
        self.router = Router(_inner())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        parts = path[len(V3) :].split("/")
        if len(parts) > 1 and parts[1] and parts[1] not in COLLECTIONS:
            state = scope.setdefault("state", {})
            state["volume_project"], state["volume_path"] = parts[1], path
            path = V3 + ("/" + "/".join(parts[2:]) if len(parts) > 2 else "")
            scope = {**scope, "path": path, "raw_path": path.encode()}
        if path in (V3, f"{V3}/"):
            await Route(path, versions.v3, methods=["GET"])(scope, receive, send)
            return
        await self.router(scope, receive, send)


def routes() -> list[BaseRoute]:
    return [
        Route(PREFIX, versions.root, methods=["GET"]),
        Route(f"{PREFIX}/", versions.root, methods=["GET"]),
        Route(V3, VolumeRouter(), methods=ALL),
        Route(V3 + "/{path:path}", VolumeRouter(), methods=ALL),
    ]
