"""`openstack cascade audit finding list|show|repair`: /v1/audits/{id}/findings, the
differences an audit found, and their repairs (each queued as a job)."""

from __future__ import annotations

import argparse

from osc_lib.command import command

from cascadeclient.osc.v1.common import Column, Filter, ListResources, Shown, client, show

CODES = ("orphan", "missing", "stale", "differs", "status")
SEVERITIES = ("error", "warning")
REPAIR_STATUSES = ("queued", "running", "done", "failed")
ACTIONS = ("adopt", "delete", "forget", "recopy", "converge", "settle", "activate")
FINDING_COLUMNS: tuple[Column, ...] = (
    ("ID", "id"),
    ("Pod ID", "pod_id"),
    ("Code", "code"),
    ("Severity", "severity"),
    ("Resource Type", "resource_type"),
    ("Top ID", "top_id"),
    ("Repairs", "repairs"),
    ("Repair Status", "repair_status"),
)


class ListFinding(ListResources):
    """List an audit's findings (GET /v1/audits/{id}/findings), in the order found"""

    collection = "findings"
    columns = FINDING_COLUMNS
    long_columns = (
        ("Bottom ID", "bottom_id"),
        ("Project ID", "project_id"),
        ("Detail", "detail"),
        ("Repair Action", "repair_action"),
        ("Repair Job ID", "repair_job_id"),
        ("Repair Result", "repair_result"),
    )
    filters = (
        Filter("--pod", "pod_id", "Only this pod's findings (name or ID)", pod=True),
        Filter("--code", "code", "Only findings of this code", CODES),
        Filter("--resource-type", "resource_type", "Only this resource type"),
        Filter("--severity", "severity", "Only findings of this severity", SEVERITIES),
        Filter("--repair-status", "repair_status", "Only this repair status", REPAIR_STATUSES),
        Filter("--project", "project_id", "Only this project's findings (ID)"),
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("audit", metavar="<audit>", help="ID of the audit")
        return parser

    def path(self, parsed_args: argparse.Namespace) -> str:
        return f"/audits/{parsed_args.audit}/findings"


def _finding_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("audit", metavar="<audit>", help="ID of the audit")
    parser.add_argument("finding", metavar="<finding>", help="ID of the finding")
    return parser


class ShowFinding(command.ShowOne):
    """Show a finding (GET /v1/audits/{id}/findings/{finding_id})"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        return _finding_parser(super().get_parser(prog_name))

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        path = f"/audits/{parsed_args.audit}/findings/{parsed_args.finding}"
        return show(client(self).get(path, "finding"))


class RepairFinding(command.ShowOne):
    """Queue a finding's repair as a job (POST /v1/audits/{id}/findings/{finding_id}/repair)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = _finding_parser(super().get_parser(prog_name))
        parser.add_argument(
            "--action", choices=ACTIONS, help="One of the finding's repairs (default: its first)"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        path = f"/audits/{parsed_args.audit}/findings/{parsed_args.finding}/repair"
        body = None if parsed_args.action is None else {"repair": {"action": parsed_args.action}}
        return show(client(self).action(path, "finding", body))
