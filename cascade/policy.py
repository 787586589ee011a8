"""Authorisation rules: defaults in code, overridable by a policy file operators know.

The file is oslo.policy's YAML (`"rule name": "check string"`). Check
strings understood: `role:NAME`, `rule:NAME`, `@` (always), `!` (never),
joined with `or`, `and` and prefixed by `not` (no parentheses; `and` binds
tighter than `or`, as in oslo.policy). Anything else is refused when the
file is loaded, not at request time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from cascade.context import Context

DEFAULTS: dict[str, str] = {
    "admin_required": "role:admin",
    "cascade:pods:list": "rule:admin_required",
    "cascade:pods:show": "rule:admin_required",
    "cascade:pods:create": "rule:admin_required",
    "cascade:pods:update": "rule:admin_required",
    "cascade:pods:delete": "rule:admin_required",
    # any project member sees its own project's routings; admins see every project's
    "cascade:routings:list": "@",
    "cascade:routings:show": "@",
    "cascade:routings:list_all_projects": "rule:admin_required",
    "cascade:routings:delete": "rule:admin_required",
    "cascade:bindings:list": "rule:admin_required",
    "cascade:bindings:show": "rule:admin_required",
    "cascade:bindings:create": "rule:admin_required",
    "cascade:bindings:delete": "rule:admin_required",
}

_ATOM = re.compile(r"^(not )?(role:[\w.-]+|rule:[\w:.-]+|@|!)$")


class PolicyError(Exception):
    """The policy file is unreadable or holds a check string this parser does not know."""


def _check_syntax(name: str, check: str) -> None:
    for alternative in check.split(" or "):
        for atom in alternative.split(" and "):
            if not _ATOM.match(atom.strip()):
                raise PolicyError(f"policy rule {name!r}: cannot parse {atom.strip()!r}")


class Policy:
    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.rules = {**DEFAULTS, **(overrides or {})}
        for name, check in self.rules.items():
            _check_syntax(name, check)

    @classmethod
    def from_file(cls, path: str) -> Policy:
        if not path:
            return cls()
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise PolicyError(f"policy file {path} must map rule names to check strings")
        return cls({str(k): v for k, v in data.items()})

    def allows(self, rule: str, ctx: Context, _depth: int = 0) -> bool:
        if _depth > 20:
            raise PolicyError(f"policy rule {rule!r} refers to itself")
        check = self.rules.get(rule, "!")  # an unknown rule allows nothing
        return any(
            all(self._atom(atom.strip(), ctx, _depth) for atom in alternative.split(" and "))
            for alternative in check.split(" or ")
        )

    def _atom(self, atom: str, ctx: Context, depth: int) -> bool:
        if atom.startswith("not "):
            return not self._atom(atom[4:], ctx, depth)
        if atom == "@":
            return True
        if atom == "!":
            return False
        kind, _, value = atom.partition(":")
        if kind == "role":
            return value in ctx.roles
        return self.allows(value, ctx, depth + 1)
