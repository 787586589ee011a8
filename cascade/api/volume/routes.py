"""The Block Storage API's routes, under `/volume`.

Cinder serves every resource both as `/v3/{project_id}/...` (the catalog's
form) and `/v3/...`; `VolumeRouter` takes the project id out of the path
(checked against the token's by `common.negotiated`) and dispatches the rest.
A path Cascade does not serve yet is Cinder's 501 `notImplemented`, saying so.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

from cascade.api.routing import ALL, Declarations, declared, every_method
from cascade.api.volume import (
    creates,
    default_types,
    encryption,
    fanout,
    group_types,
    hosts,
    lists,
    qos,
    quotas,
    routed,
    transfers,
    types,
    versions,
    zones,
)
from cascade.api.volume.common import V3, negotiated, pod_path
from cascade.api.volume.errors import VolumeError
from cascade.services.volume import volumes as volume_service

PREFIX = "/volume"
PUBLIC = (PREFIX, f"{PREFIX}/")


async def no_id(request: Request) -> Response:
    """`/volumes/` and the like with an empty id: Cinder's 404."""
    await negotiated(request)
    raise VolumeError(404, "The resource could not be found.")


async def not_served(request: Request) -> Response:
    await negotiated(request)
    path = pod_path(request) or "/"
    raise VolumeError(
        501, f"Cascade does not serve {request.method} {path} of the Block Storage API yet."
    )


def _transfers() -> Declarations:
    """Both spellings of Cinder's transfer API."""
    table: Declarations = {}
    for prefix in ("/os-volume-transfer", "/volume-transfers"):
        table |= {
            prefix: {"POST": transfers.create, "GET": transfers.index},
            f"{prefix}/detail": {"GET": transfers.index},
            prefix + "/{transfer_id}": {"GET": transfers.member, "DELETE": transfers.member},
            prefix + "/{transfer_id}/accept": {"POST": transfers.accept},
        }
    return table


# a routed kind's create, where it is not simply made in its parent's pod
CREATES = {
    volume_service.VOLUME: creates.volume,
    volume_service.ATTACHMENT: creates.attachment,
    volume_service.GROUP: creates.group,
}


def _routed_collections() -> Declarations:
    """Each routed kind (`services.volume.volumes.RESOURCES`): its create and merged list, its
    empty id, and every call on one object."""
    table: Declarations = {}
    for resource in volume_service.RESOURCES:
        if not resource.listed:
            continue
        handler = routed.handler(resource)
        create = CREATES.get(resource.kind) or creates.in_parent(resource)
        table |= {
            resource.path: {"POST": create, "GET": lists.index},
            f"{resource.path}/detail": {"GET": lists.index},
            f"{resource.path}/": every_method(no_id),
            resource.path + "/{object_id}": every_method(handler, "GET", "PUT", "DELETE"),
            resource.path + "/{object_id}/{rest:path}": every_method(handler),
        }
    return table


TYPE = "/types/{type_id}"
ROUTES: Declarations = {
    "/os-availability-zone": {"GET": zones.index},
    "/backups/{backup_id}/restore": {"POST": creates.restore},
    "/backups/import_record": {"POST": creates.import_backup},
    "/volumes/summary": {"GET": fanout.summary},
    "/scheduler-stats/get_pools": {"GET": fanout.pools},
    "/messages": {"GET": fanout.messages},
    "/messages/{message_id}": every_method(fanout.message, "GET", "DELETE"),
    "/resource_filters": {"GET": fanout.resource_filters},
    "/extensions": {"GET": fanout.extensions},
    "/extensions/{alias}": {"GET": fanout.extension},
    "/limits": {"GET": quotas.limits},
    **_transfers(),
    "/os-quota-sets/{project_id}": {
        "GET": quotas.show,
        "PUT": quotas.update,
        "DELETE": quotas.delete,
    },
    "/os-quota-sets/{project_id}/defaults": {"GET": quotas.defaults},
    "/os-quota-class-sets/{class_name}": {"GET": quotas.show_class, "PUT": quotas.update_class},
    "/qos-specs": {"GET": qos.index, "POST": qos.create},
    "/qos-specs/{qos_id}": {"GET": qos.show, "PUT": qos.update, "DELETE": qos.delete},
    "/qos-specs/{qos_id}/delete_keys": {"PUT": qos.delete_keys},
    "/qos-specs/{qos_id}/associations": {"GET": qos.associations},
    "/qos-specs/{qos_id}/associate": {"GET": qos.associate},
    "/qos-specs/{qos_id}/disassociate": {"GET": qos.associate},
    "/qos-specs/{qos_id}/disassociate_all": {"GET": qos.associate},
    "/types/default": {"GET": types.show_default},
    **types.HANDLERS.routes("/types", types.index),
    f"{TYPE}/os-volume-type-access": {"GET": types.access_index},
    f"{TYPE}/action": {"POST": types.action},
    f"{TYPE}/encryption": {"GET": encryption.show, "POST": encryption.create},
    TYPE + "/encryption/{key}": {"GET": encryption.show},
    TYPE + "/encryption/{encryption_id}": {"PUT": encryption.update, "DELETE": encryption.delete},
    **group_types.HANDLERS.routes("/group_types", group_types.index),
    "/groups/action": {"POST": creates.group_from_source},
    "/default-types": {"GET": default_types.index},
    "/default-types/{project_id}": {
        "GET": default_types.show,
        "PUT": default_types.update,
        "DELETE": default_types.delete,
    },
    **_routed_collections(),
    "/os-services": {"GET": hosts.services},
    "/os-services/{action}": {"PUT": hosts.service_action},
    "/os-hosts": {"GET": hosts.hosts_index},
    "/os-hosts/{host}": every_method(hosts.host, "GET", "PUT"),
    "/capabilities/{host}": {"GET": hosts.capabilities},
    "/os-volume-manage": {"POST": hosts.manage_volume},
    "/os-snapshot-manage": {"POST": hosts.manage_snapshot},
    "/manageable_volumes": {"GET": hosts.manageable, "POST": hosts.manage_volume},
    "/manageable_snapshots": {"GET": hosts.manageable, "POST": hosts.manage_snapshot},
    "/manageable_volumes/detail": {"GET": hosts.manageable},
    "/manageable_snapshots/detail": {"GET": hosts.manageable},
    # anything else: negotiated, then Cinder's 501 saying it is not served yet
    "/{path:path}": every_method(not_served),
}


# the first path segment of every Cinder v3 resource (served or not): anything else there
# is a project id
COLLECTIONS = frozenset(
    {path.split("/")[1] for path in ROUTES if not path.startswith("/{")}
    | {"extensions", "os-quota-class-sets", "workers", "consistencygroups", "cgsnapshots"}
    | {"clusters", "os-backup-services"}
)


class VolumeRouter:
    """`/volume/v3/...` with or without a project id after `v3`."""

    def __init__(self) -> None:
        self.router = Router(declared(V3, ROUTES))

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
        Route(V3, VolumeRouter(), methods=list(ALL)),
        Route(V3 + "/{path:path}", VolumeRouter(), methods=list(ALL)),
    ]
