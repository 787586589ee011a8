"""`openstack cascade pod list|show|create|set|delete`: /v1/pods, the clouds Cascade
fronts. A pod is named by its name or ID (`common.find_pod`).

The credentials' password of an independent pod goes to the API and never comes back:
the API leaves it out of every answer, and these commands drop it too.
"""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib import utils
from osc_lib.command import command

from cascadeclient.osc.v1.common import (
    ListResources,
    Shown,
    client,
    delete_each,
    find_pod,
    show,
)
from cascadeclient.v1.client import Row

STATES = ("active", "maintenance")  # what an admin sets; `draining` comes with a drain
IDENTITIES = ("shared", "independent")
# the keys of an independent pod's `credentials`, each an option of the same name
CREDENTIALS = ("username", "password", "user_domain_name", "project_name", "project_domain_name")
# the pod's fields that are options of the same name, for both create and set
FIELDS = ("region_name", "az", "pod_az", "state", "weight", "auth_url", "catalog_region")


def pod_view(pod: Row) -> Shown:
    """The pod's every field, its credentials without a password."""
    creds = pod.get("credentials")
    if isinstance(creds, dict):
        pod = {**pod, "credentials": {k: v for k, v in creds.items() if k != "password"}}
    return show(pod)


def _fields_options(parser: argparse.ArgumentParser, creating: bool) -> None:
    """The options of a pod's fields: `creating` makes --region-name and --az required."""
    parser.add_argument(
        "--region-name",
        metavar="<region>",
        required=creating,
        help="The pod's region in the top's Keystone (unique)",
    )
    parser.add_argument(
        "--az", metavar="<az>", required=creating, help="The top availability zone it serves"
    )
    parser.add_argument(
        "--pod-az", metavar="<az>", help="The availability zone's name inside the pod"
    )
    enabled = parser.add_mutually_exclusive_group()
    enabled.add_argument(
        "--enable", dest="enabled", action="store_true", default=None, help="Enable the pod"
    )
    enabled.add_argument("--disable", dest="enabled", action="store_false", help="Disable the pod")
    parser.add_argument(
        "--state",
        choices=STATES,
        help="active, or maintenance: what it hosts keeps working, nothing new goes there",
    )
    parser.add_argument("--weight", type=int, metavar="<weight>", help="Scheduling weight (>= 0)")
    parser.add_argument(
        "--auth-url", metavar="<url>", help="An independent pod's own Keystone v3 URL"
    )
    parser.add_argument(
        "--catalog-region",
        metavar="<region>",
        help="An independent pod's region in its own Keystone's catalog",
    )
    creds = parser.add_argument_group(
        "credentials", "An independent pod's user (it makes projects and grants roles there)"
    )
    creds.add_argument("--username", metavar="<name>")
    password = creds.add_mutually_exclusive_group()
    password.add_argument("--password", metavar="<password>")
    password.add_argument("--password-prompt", action="store_true", help="Prompt for the password")
    creds.add_argument("--user-domain-name", metavar="<domain>")
    creds.add_argument("--project-name", metavar="<name>")
    creds.add_argument("--project-domain-name", metavar="<domain>")


def _fields(cmd: command.Command, parsed_args: argparse.Namespace) -> dict[str, Any]:
    """The pod fields the options give (those not given are left out)."""
    given = vars(parsed_args)
    values = {key: given[key] for key in (*FIELDS, "enabled") if given[key] is not None}
    creds = {key: given[key] for key in CREDENTIALS if given[key] is not None}
    if parsed_args.password_prompt:
        creds["password"] = utils.get_password(cmd.app.stdin)
    if creds:
        values["credentials"] = creds
    return values


class ListPod(ListResources):
    """List pods (GET /v1/pods), oldest first"""

    collection = "pods"
    paged = False  # every pod in one answer
    columns = (
        ("ID", "id"),
        ("Name", "name"),
        ("Region Name", "region_name"),
        ("AZ", "az"),
        ("Pod AZ", "pod_az"),
        ("Enabled", "enabled"),
        ("State", "state"),
        ("Health", "health.state"),
    )
    long_columns = (
        ("Weight", "weight"),
        ("Tags", "tags"),
        ("Identity", "identity"),
        ("Last Check", "health.last_check"),
        ("Latency (ms)", "health.latency_ms"),
        ("Last Error", "health.last_error"),
    )


class ShowPod(command.ShowOne):
    """Show a pod (GET /v1/pods/{id}): every field, its health too"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("pod", metavar="<pod>", help="Name or ID of the pod")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        return pod_view(find_pod(client(self), parsed_args.pod))


class CreatePod(command.ShowOne):
    """Register a pod (POST /v1/pods)"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="The pod's name (unique)")
        _fields_options(parser, creating=True)
        parser.add_argument(
            "--tag",
            dest="tags",
            metavar="<tag>",
            action="append",
            help="A tag of the pod (repeat for more)",
        )
        parser.add_argument(
            "--identity",
            choices=IDENTITIES,
            help="shared (the default: a region of the top's Keystone) or independent "
            "(its own Keystone: --auth-url and the credentials options)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        values = {"name": parsed_args.name, **_fields(self, parsed_args)}
        for key in ("tags", "identity"):
            if getattr(parsed_args, key) is not None:
                values[key] = getattr(parsed_args, key)
        return pod_view(client(self).create("/pods", "pod", values))


class SetPod(command.Command):
    """Change a pod's fields (PATCH /v1/pods/{id}); new credentials serve the next call"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("pod", metavar="<pod>", help="Name or ID of the pod")
        parser.add_argument("--name", metavar="<name>", help="A new name")
        _fields_options(parser, creating=False)
        tags = parser.add_mutually_exclusive_group()
        tags.add_argument(
            "--tag",
            dest="tags",
            metavar="<tag>",
            action="append",
            help="The pod's tags: these replace them all (repeat for more)",
        )
        tags.add_argument(
            "--no-tag", dest="tags", action="store_const", const=[], help="Remove every tag"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        api = client(self)
        values = _fields(self, parsed_args)
        for key in ("name", "tags"):
            if getattr(parsed_args, key) is not None:
                values[key] = getattr(parsed_args, key)
        if values:
            api.update(f"/pods/{find_pod(api, parsed_args.pod)['id']}", "pod", values)


class DeletePod(command.Command):
    """Delete pods (DELETE /v1/pods/{id}); refused while one hosts resources, unless --force"""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "pods", metavar="<pod>", nargs="+", help="Name or ID of the pod(s) to delete"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Delete a pod that hosts resources: their routings go too (the pod's "
            "own objects stay)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        api = client(self)
        params = {"force": "true"} if parsed_args.force else None
        delete_each(
            self, "pod", parsed_args.pods, lambda p: f"/pods/{find_pod(api, p)['id']}", params
        )
