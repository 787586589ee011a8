"""`openstack cascade audit create|list|show|delete|repair`: /v1/audits, the pods
compared with what the top records (findings: `findings.py`)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import Any

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
    table,
)
from cascadeclient.osc.v1.findings import ACTIONS, CODES, FINDING_COLUMNS

STATUSES = ("queued", "running", "done", "failed")
TRIGGERS = ("admin", "periodic")


class CreateAudit(command.ShowOne):
    """Audit one pod, or every pod (POST /v1/audits): the audit, queued"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--pod", metavar="<pod>", help="Name or ID of the pod to audit (default: every pod)"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        api = client(self)
        values = {} if parsed_args.pod is None else {"pod_id": find_pod(api, parsed_args.pod)["id"]}
        return show(api.create("/audits", "audit", values))


class ListAudit(ListResources):
    """List audits (GET /v1/audits), oldest first"""

    collection = "audits"
    columns = (
        ("ID", "id"),
        ("Pod ID", "pod_id"),
        ("Status", "status"),
        ("Trigger", "trigger"),
        ("Pods Audited", "pods_audited"),
        ("Counts", "counts"),
        ("Created At", "created_at"),
    )
    long_columns = (
        ("Pods Unavailable", "pods_unavailable"),
        ("Error", "error"),
        ("Started At", "started_at"),
        ("Finished At", "finished_at"),
    )
    filters = (
        Filter("--status", "status", "Only audits in this status", STATUSES),
        Filter("--pod", "pod_id", "Only the audits of this pod (name or ID)", pod=True),
        Filter("--trigger", "trigger", "Only audits of this trigger", TRIGGERS),
    )


class ShowAudit(ShowResource):
    """Show an audit with its counts by finding code (GET /v1/audits/{id})"""

    collection, key = "audits", "audit"


class DeleteAudit(DeleteResources):
    """Delete finished audits and their findings (DELETE /v1/audits/{id}); pods are unchanged"""

    collection, key = "audits", "audit"


class RepairAudit(command.Lister):
    """Queue the repair of an audit's findings of a code (POST /v1/audits/{id}/repair): the
    findings whose repair was queued"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("audit", metavar="<audit>", help="ID of the audit")
        parser.add_argument(
            "--code", choices=CODES, required=True, help="Repair the findings of this code"
        )
        parser.add_argument("--resource-type", metavar="<type>", help="Only this resource type")
        parser.add_argument("--pod", metavar="<pod>", help="Only this pod's (name or ID)")
        parser.add_argument(
            "--action", choices=ACTIONS, help="The repair (default: each finding's first)"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Iterable[Any]]:
        api = client(self)
        wanted = {
            "code": parsed_args.code,
            "resource_type": parsed_args.resource_type,
            "action": parsed_args.action,
        }
        if parsed_args.pod is not None:
            wanted["pod_id"] = find_pod(api, parsed_args.pod)["id"]
        body = {"repair": {k: v for k, v in wanted.items() if v is not None}}
        return table(
            api.action(f"/audits/{parsed_args.audit}/repair", "findings", body), FINDING_COLUMNS
        )
