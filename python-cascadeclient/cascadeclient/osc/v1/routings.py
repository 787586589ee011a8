"""`openstack cascade routing list|show|delete`: /v1/routings, where each top resource
lives (its pod and the pod's ID for it)."""

from __future__ import annotations

from cascadeclient.osc.v1.common import (
    DeleteResources,
    Filter,
    ListResources,
    ShowResource,
)

STATUSES = ("creating", "active", "deleting", "stale")


class ListRouting(ListResources):
    """List routings (GET /v1/routings), oldest first"""

    collection = "routings"
    columns = (
        ("ID", "id"),
        ("Resource Type", "resource_type"),
        ("Top ID", "top_id"),
        ("Pod ID", "pod_id"),
        ("Bottom ID", "bottom_id"),
        ("Status", "status"),
    )
    long_columns = (
        ("Project ID", "project_id"),
        ("Created At", "created_at"),
        ("Updated At", "updated_at"),
    )
    filters = (
        Filter("--resource-type", "resource_type", "Only this resource type (server, volume...)"),
        Filter("--pod", "pod_id", "Only the routings to this pod (name or ID)", pod=True),
        Filter("--top-id", "top_id", "Only the routing(s) of this top resource ID"),
        Filter("--project", "project_id", "Only this project's (ID)"),
        Filter("--status", "status", "Only routings in this status", STATUSES),
    )


class ShowRouting(ShowResource):
    """Show a routing (GET /v1/routings/{id})"""

    collection, key = "routings", "routing"


class DeleteRouting(DeleteResources):
    """Delete routings (DELETE /v1/routings/{id}); the pods' objects stay"""

    collection, key = "routings", "routing"
