"""`openstack cascade binding list|show|create|delete`: /v1/bindings, the pod of an AZ
that a project's new resources go to."""

from __future__ import annotations

import argparse

from osc_lib.command import command

from cascadeclient.osc.v1.common import (
    DeleteResources,
    Filter,
    ListResources,
    Shown,
    ShowResource,
    client,
    find_pod,
    show,
)


class ListBinding(ListResources):
    """List bindings (GET /v1/bindings), oldest first"""

    collection = "bindings"
    paged = False  # every binding in one answer
    columns = (
        ("ID", "id"),
        ("Project ID", "project_id"),
        ("AZ", "az"),
        ("Pod ID", "pod_id"),
        ("Created At", "created_at"),
    )
    filters = (
        Filter("--project", "project_id", "Only this project's bindings (ID)"),
        Filter("--az", "az", "Only the bindings in this availability zone"),
    )


class ShowBinding(ShowResource):
    """Show a binding (GET /v1/bindings/{id})"""

    collection, key = "bindings", "binding"


class CreateBinding(command.ShowOne):
    """Bind a project to a pod of an AZ (POST /v1/bindings); without --pod the AZ's
    scheduling policy chooses"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--project", metavar="<project-id>", required=True, help="ID of the project"
        )
        parser.add_argument("--az", metavar="<az>", required=True, help="The top availability zone")
        parser.add_argument("--pod", metavar="<pod>", help="Name or ID of a pod of that AZ")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        api = client(self)
        values = {"project_id": parsed_args.project, "az": parsed_args.az}
        if parsed_args.pod is not None:
            values["pod_id"] = find_pod(api, parsed_args.pod)["id"]
        return show(api.create("/bindings", "binding", values))


class DeleteBinding(DeleteResources):
    """Delete bindings (DELETE /v1/bindings/{id}); the project's next resource schedules anew"""

    collection, key = "bindings", "binding"
