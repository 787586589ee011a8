"""`openstack cascade drain create|list|show|pause|resume|cancel`: emptying a pod
(/v1/pods/{id}/drain, /v1/drains): its servers moved to other pods, one move each."""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib.command import command

from cascadeclient.osc.v1.common import (
    Filter,
    ListResources,
    Shown,
    ShowResource,
    client,
    find_pod,
    show,
)

STATUSES = ("running", "paused", "cancelling", "cancelled", "done", "incomplete")


class CreateDrain(command.ShowOne):
    """Start draining a pod (POST /v1/pods/{id}/drain); the pod is `draining` from then on"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("pod", metavar="<pod>", help="Name or ID of the pod to drain")
        parser.add_argument(
            "--az",
            dest="azs",
            metavar="<az>",
            action="append",
            help="An AZ its servers may go to (repeat for more; default: the pod's own AZ)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        api = client(self)
        pod = find_pod(api, parsed_args.pod)
        body: dict[str, Any] | None = None
        if parsed_args.azs:
            body = {"drain": {"azs": parsed_args.azs}}
        return show(api.action(f"/pods/{pod['id']}/drain", "drain", body))


class ListDrain(ListResources):
    """List drains (GET /v1/drains), oldest first"""

    collection = "drains"
    columns = (
        ("ID", "id"),
        ("Pod ID", "pod_id"),
        ("Status", "status"),
        ("AZs", "azs"),
        ("Created At", "created_at"),
    )
    long_columns = (
        ("State Before", "state_before"),
        ("Left", "left"),
        ("Updated At", "updated_at"),
    )
    filters = (
        Filter("--pod", "pod_id", "Only the drains of this pod (name or ID)", pod=True),
        Filter("--status", "status", "Only drains in this status", STATUSES),
    )


class ShowDrain(ShowResource):
    """Show a drain with its moves and what is left (GET /v1/drains/{id})"""

    collection, key = "drains", "drain"


class _ChangeDrain(command.ShowOne):
    """POST /v1/drains/{id}/{change}: 202 with the drain; 409 if its status does not
    allow the change."""

    change: str

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("drain", metavar="<drain>", help="ID of the drain")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        return show(client(self).action(f"/drains/{parsed_args.drain}/{self.change}", "drain"))


class PauseDrain(_ChangeDrain):
    """Pause a drain (POST /v1/drains/{id}/pause): no new moves start"""

    change = "pause"


class ResumeDrain(_ChangeDrain):
    """Resume a paused drain (POST /v1/drains/{id}/resume)"""

    change = "resume"


class CancelDrain(_ChangeDrain):
    """Cancel a drain (POST /v1/drains/{id}/cancel): the pod gets its state back"""

    change = "cancel"
