"""`openstack cascade job list|show|redo|delete`: /v1/jobs, the durable job queue."""

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
    show,
)

STATUSES = ("queued", "running", "done", "failed", "superseded")


class ListJob(ListResources):
    """List jobs (GET /v1/jobs), oldest first"""

    collection = "jobs"
    columns = (
        ("ID", "id"),
        ("Type", "type"),
        ("Resource ID", "resource_id"),
        ("Status", "status"),
        ("Attempts", "attempts"),
        ("Run After", "run_after"),
    )
    long_columns = (
        ("Project ID", "project_id"),
        ("Max Attempts", "max_attempts"),
        ("Leased By", "leased_by"),
        ("Last Error", "last_error"),
        ("Created At", "created_at"),
        ("Updated At", "updated_at"),
    )
    filters = (
        Filter("--type", "type", "Only jobs of this type"),
        Filter("--status", "status", "Only jobs in this status", STATUSES),
        Filter("--project", "project_id", "Only this project's jobs (ID)"),
        Filter("--resource", "resource_id", "Only the jobs of this resource (ID)"),
    )


class ShowJob(ShowResource):
    """Show a job (GET /v1/jobs/{id})"""

    collection, key = "jobs", "job"


class RedoJob(command.ShowOne):
    """Queue a done, failed or queued job to run now, its attempts reset
    (POST /v1/jobs/{id}/redo)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("job", metavar="<job>", help="ID of the job")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        return show(client(self).action(f"/jobs/{parsed_args.job}/redo", "job"))


class DeleteJob(DeleteResources):
    """Delete finished jobs (DELETE /v1/jobs/{id})"""

    collection, key = "jobs", "job"
