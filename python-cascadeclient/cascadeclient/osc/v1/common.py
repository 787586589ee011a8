"""What the commands share: the client, rows as cliff's columns, list options and
filters, pods by name or ID, and the bases of the list, show and delete commands.

Show commands print every field the API answers, sorted by name; dicts and lists go
through osc-lib's format columns, so `-f json|yaml` gets them whole and a table a
readable line.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from keystoneauth1 import exceptions
from osc_lib import exceptions as osc_exceptions
from osc_lib.cli import format_columns
from osc_lib.command import command

from cascadeclient.v1.client import MAX_LIMIT, Client, Row

# (heading, field): the field a dotted path into the row (`health.state`)
Column = tuple[str, str]
Shown = tuple[tuple[str, ...], tuple[Any, ...]]


def client(cmd: command.Command) -> Client:
    """The admin API's client OSC made for this run (`plugin.make_client`)."""
    # OSC's ClientManager gets a lazy attribute per plugin, at run time
    manager: Any = cmd.app.client_manager
    made: Client = manager.cascade
    return made


def cell(value: Any) -> Any:
    """A value as cliff prints it: dicts and lists as osc-lib's format columns."""
    if isinstance(value, dict):
        return format_columns.DictColumn(value)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return format_columns.ListDictColumn(value)
    if isinstance(value, list):
        return format_columns.ListColumn(value)
    return value


def show(row: Mapping[str, Any]) -> Shown:
    """Every field of `row`, sorted by name, for a ShowOne."""
    names = tuple(sorted(row))
    return names, tuple(cell(row[n]) for n in names)


def field(row: Mapping[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def table(rows: Iterable[Row], columns: Sequence[Column]) -> tuple[tuple[str, ...], list[Any]]:
    """`rows` as a Lister's headings and values."""
    values = [tuple(cell(field(r, path)) for _, path in columns) for r in rows]
    return tuple(heading for heading, _ in columns), values


def positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def find_pod(api: Client, name_or_id: str) -> Row:
    """GET /pods/{name_or_id}; on its 404 the pod of that name from GET /pods (names are
    unique), else that 404, the API's message."""
    try:
        return api.get(f"/pods/{name_or_id}", "pod")
    except exceptions.NotFound:
        named = [p for p in api.list("/pods", "pods") if p["name"] == name_or_id]
        if named:
            return named[0]
        raise


@dataclass(frozen=True)
class Filter:
    """A list's filter: `option` sent as the query parameter `key`."""

    option: str
    key: str
    help: str
    choices: tuple[str, ...] | None = None
    # a pod's name or ID, sent as its ID
    pod: bool = False

    @property
    def dest(self) -> str:
        return self.option.removeprefix("--").replace("-", "_")


class ListResources(command.Lister):
    """The base of the list commands: GET `collection`, every page (the API's next
    links) unless --limit; filters as options."""

    collection: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    long_columns: ClassVar[tuple[Column, ...]] = ()
    filters: ClassVar[tuple[Filter, ...]] = ()
    # the API takes `limit` and `marker` (pods and bindings come in one answer)
    paged: ClassVar[bool] = True

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        for f in self.filters:
            parser.add_argument(
                f.option, dest=f.dest, metavar=f"<{f.dest}>", choices=f.choices, help=f.help
            )
        if self.long_columns:
            parser.add_argument("--long", action="store_true", help="List more fields")
        if self.paged:
            parser.add_argument(
                "--limit",
                metavar="<num>",
                type=positive,
                help=f"At most <num> rows (pages of up to {MAX_LIMIT}; default: all)",
            )
            parser.add_argument("--marker", metavar="<id>", help="Start after the row of this ID")
            parser.add_argument(
                "--sort-dir",
                choices=("asc", "desc"),
                help="Oldest first (asc, the default) or newest first (desc)",
            )
        return parser

    def path(self, parsed_args: argparse.Namespace) -> str:
        return f"/{self.collection}"

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Iterable[Any]]:
        api = client(self)
        wanted = {f.key: self._value(api, f, parsed_args) for f in self.filters}
        if self.paged:
            wanted["sort_dir"] = parsed_args.sort_dir
        rows = api.list(
            self.path(parsed_args),
            self.collection,
            wanted,
            limit=parsed_args.limit if self.paged else None,
            marker=parsed_args.marker if self.paged else None,
        )
        long = self.long_columns and parsed_args.long
        return table(rows, (*self.columns, *self.long_columns) if long else self.columns)

    @staticmethod
    def _value(api: Client, f: Filter, parsed_args: argparse.Namespace) -> str | None:
        value: str | None = getattr(parsed_args, f.dest)
        if f.pod and value is not None:
            return str(find_pod(api, value)["id"])
        return value


class ShowResource(command.ShowOne):
    """The base of the show commands: GET `/{collection}/{id}`, every field."""

    collection: ClassVar[str]
    key: ClassVar[str]

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(self.key, metavar=f"<{self.key}>", help=f"ID of the {self.key}")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> Shown:
        row = client(self).get(f"/{self.collection}/{getattr(parsed_args, self.key)}", self.key)
        return show(row)


def delete_each(
    cmd: command.Command,
    kind: str,
    names: Sequence[str],
    path_of: Callable[[str], str],
    params: Mapping[str, str] | None = None,
) -> None:
    """DELETE each of `names`' paths, on through failures (each logged, as OSC's delete
    commands do); CommandError at the end if any failed."""
    api = client(cmd)
    failed = 0
    for name in names:
        try:
            api.delete(path_of(name), params)
        except exceptions.ClientException as exc:
            failed += 1
            cmd.log.error("Failed to delete %s %s: %s", kind, name, exc)
    if failed:
        raise osc_exceptions.CommandError(f"{failed} of {len(names)} {kind}s failed to delete.")


class DeleteResources(command.Command):
    """The base of the delete commands: DELETE `/{collection}/{id}` for each ID."""

    collection: ClassVar[str]
    key: ClassVar[str]

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "ids", metavar=f"<{self.key}>", nargs="+", help=f"ID of the {self.key}(s) to delete"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        delete_each(self, self.key, parsed_args.ids, lambda i: f"/{self.collection}/{i}")
