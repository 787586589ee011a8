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
    "cascade:pod_projects:list": "rule:admin_required",
    "cascade:pod_projects:update": "rule:admin_required",
    "cascade:pod_projects:delete": "rule:admin_required",
    "cascade:image_copies:list": "rule:admin_required",
    "cascade:image_copies:create": "rule:admin_required",
    # any project member sees its own project's routings; admins see every project's
    "cascade:routings:list": "@",
    "cascade:routings:show": "@",
    "cascade:routings:list_all_projects": "rule:admin_required",
    "cascade:routings:delete": "rule:admin_required",
    "cascade:routings:check": "rule:admin_required",
    "cascade:bindings:list": "rule:admin_required",
    "cascade:bindings:show": "rule:admin_required",
    "cascade:bindings:create": "rule:admin_required",
    "cascade:bindings:delete": "rule:admin_required",
    # flavors (Nova's rule names and defaults): any user lists and shows them and their
    # extra specs; only admins change them or see and change who may use a private one
    # a server moved to another pod (`migrate` naming a host of another pod), Nova's names
    "os_compute_api:os-migrate-server:migrate": "rule:admin_required",
    "os_compute_api:os-migrate-server:migrate:host": "rule:admin_required",
    "os_compute_api:os-flavor-manage:create": "rule:admin_required",
    "os_compute_api:os-flavor-manage:update": "rule:admin_required",
    "os_compute_api:os-flavor-manage:delete": "rule:admin_required",
    "os_compute_api:os-flavor-extra-specs:index": "@",
    "os_compute_api:os-flavor-extra-specs:show": "@",
    "os_compute_api:os-flavor-extra-specs:create": "rule:admin_required",
    "os_compute_api:os-flavor-extra-specs:update": "rule:admin_required",
    "os_compute_api:os-flavor-extra-specs:delete": "rule:admin_required",
    "os_compute_api:os-flavor-access": "rule:admin_required",
    "os_compute_api:os-flavor-access:add_tenant_access": "rule:admin_required",
    "os_compute_api:os-flavor-access:remove_tenant_access": "rule:admin_required",
    # servers: any project member; the pods enforce the rest with the user's own token
    "os_compute_api:servers:create": "@",
    "os_compute_api:servers:show": "@",
    "os_compute_api:servers:index": "@",
    "os_compute_api:servers:detail": "@",
    # addFixedIp / removeFixedIp (to 2.43), answered at the top: the server's owner or admins
    "os_compute_api:os-multinic:add": "@",
    "os_compute_api:os-multinic:remove": "@",
    "os_compute_api:os-server-groups:index": "@",
    "os_compute_api:os-server-groups:create": "@",
    "os_compute_api:os-server-groups:show": "@",
    "os_compute_api:os-server-groups:delete": "@",
    # a user's own keypairs (Nova's rule names); another user's (2.10 `user_id`) need both
    # the action's rule and this one, since check strings here cannot compare user ids
    "os_compute_api:os-keypairs:index": "@",
    "os_compute_api:os-keypairs:create": "@",
    "os_compute_api:os-keypairs:show": "@",
    "os_compute_api:os-keypairs:delete": "@",
    "cascade:keypairs:other_users": "rule:admin_required",
    # the admin host APIs (Nova's rule names); the pods are then asked with the service token
    # events for servers (Nova's default: a service user or an admin)
    "os_compute_api:extensions": "@",
    "os_compute_api:os-server-external-events:create": "role:admin or role:service",
    "os_compute_api:os-assisted-volume-snapshots:create": "role:admin or role:service",
    "os_compute_api:os-assisted-volume-snapshots:delete": "role:admin or role:service",
    "os_compute_api:os-hypervisors:list": "rule:admin_required",
    "os_compute_api:os-hypervisors:list-detail": "rule:admin_required",
    "os_compute_api:os-hypervisors:show": "rule:admin_required",
    "os_compute_api:os-hypervisors:statistics": "rule:admin_required",
    "os_compute_api:os-hypervisors:uptime": "rule:admin_required",
    "os_compute_api:os-hypervisors:search": "rule:admin_required",
    "os_compute_api:os-hypervisors:servers": "rule:admin_required",
    "os_compute_api:os-hosts:list": "rule:admin_required",
    "os_compute_api:os-hosts:show": "rule:admin_required",
    "os_compute_api:os-hosts:update": "rule:admin_required",
    "os_compute_api:os-hosts:reboot": "rule:admin_required",
    "os_compute_api:os-hosts:shutdown": "rule:admin_required",
    "os_compute_api:os-hosts:start": "rule:admin_required",
    "os_compute_api:os-migrations:index": "rule:admin_required",
    "os_compute_api:os-instance-usage-audit-log:list": "rule:admin_required",
    "os_compute_api:os-instance-usage-audit-log:show": "rule:admin_required",
    "os_compute_api:os-services:list": "rule:admin_required",
    # usage reports: every tenant's (admins), a project's own (anyone of it) or another's
    "os_compute_api:os-simple-tenant-usage:list": "rule:admin_required",
    "os_compute_api:os-simple-tenant-usage:show": "@",
    "os_compute_api:os-simple-tenant-usage:show:other_project": "rule:admin_required",
    "os_compute_api:os-services:update": "rule:admin_required",
    "os_compute_api:os-services:delete": "rule:admin_required",
    "os_compute_api:os-availability-zone:detail": "rule:admin_required",
    # host aggregates (Nova's rule names and defaults); the pods are asked with the service token
    "os_compute_api:os-aggregates:index": "rule:admin_required",
    "os_compute_api:os-aggregates:create": "rule:admin_required",
    "os_compute_api:os-aggregates:show": "rule:admin_required",
    "os_compute_api:os-aggregates:update": "rule:admin_required",
    "os_compute_api:os-aggregates:delete": "rule:admin_required",
    "os_compute_api:os-aggregates:add_host": "rule:admin_required",
    "os_compute_api:os-aggregates:remove_host": "rule:admin_required",
    "os_compute_api:os-aggregates:set_metadata": "rule:admin_required",
    "compute:aggregates:images": "rule:admin_required",
    # compute limits and quota sets (Nova's rule names and defaults); Nova's show/detail
    # allow a project's readers on their own project only: reading another project's
    # quotas also needs the last rule, since check strings here cannot compare projects
    "os_compute_api:limits": "@",
    "os_compute_api:limits:other_project": "rule:admin_required",
    "os_compute_api:os-quota-sets:show": "@",
    "os_compute_api:os-quota-sets:detail": "@",
    "os_compute_api:os-quota-sets:defaults": "@",
    "os_compute_api:os-quota-sets:update": "rule:admin_required",
    "os_compute_api:os-quota-sets:delete": "rule:admin_required",
    "cascade:quotas:other_projects": "rule:admin_required",
    # quota classes (Nova's rule names and defaults): only the class `default` is used
    "os_compute_api:os-quota-class-sets:show": "rule:admin_required",
    "os_compute_api:os-quota-class-sets:update": "rule:admin_required",
    # volume types (Cinder's rule names and defaults): any user lists and shows them
    "volume_extension:type_create": "rule:admin_required",
    "volume_extension:type_update": "rule:admin_required",
    "volume_extension:type_delete": "rule:admin_required",
    "volume_extension:types_extra_specs:index": "rule:admin_required",
    "volume_extension:types_extra_specs:show": "rule:admin_required",
    "volume_extension:types_extra_specs:create": "rule:admin_required",
    "volume_extension:types_extra_specs:update": "rule:admin_required",
    "volume_extension:types_extra_specs:delete": "rule:admin_required",
    "volume_extension:volume_type_access": "rule:admin_required",
    # a volume moved to another pod (Cinder's migrate rule and default)
    "volume_extension:volume_admin_actions:migrate_volume": "rule:admin_required",
    "volume_extension:volume_type_encryption": "rule:admin_required",
    "volume_extension:qos_specs_manage:get_all": "rule:admin_required",
    "volume_extension:qos_specs_manage:get": "rule:admin_required",
    "volume_extension:qos_specs_manage:create": "rule:admin_required",
    "volume_extension:qos_specs_manage:update": "rule:admin_required",
    "volume_extension:qos_specs_manage:delete": "rule:admin_required",
    "volume_extension:qos_specs_manage:delete_keys": "rule:admin_required",
    "volume_extension:volume_type_access:addProjectAccess": "rule:admin_required",
    "volume_extension:volume_type_access:removeProjectAccess": "rule:admin_required",
    # group types (Cinder's rule names): any user lists and shows the public ones
    "group:group_types:create": "rule:admin_required",
    "group:group_types:update": "rule:admin_required",
    "group:group_types:delete": "rule:admin_required",
    "group:group_types_specs:get": "rule:admin_required",
    "group:group_types_specs:get_all": "rule:admin_required",
    "group:group_types_specs:create": "rule:admin_required",
    "group:group_types_specs:update": "rule:admin_required",
    "group:group_types_specs:delete": "rule:admin_required",
    # default volume types per project (Cinder's rule names)
    "volume_extension:default_set_or_update": "rule:admin_required",
    "volume_extension:default_get": "rule:admin_required",
    "volume_extension:default_get_all": "rule:admin_required",
    "volume_extension:default_unset": "rule:admin_required",
    # volume quotas (Cinder's rule names): a member shows its own project's
    "volume_extension:quotas:show": "rule:admin_required",
    "volume_extension:quotas:update": "rule:admin_required",
    "volume_extension:quotas:delete": "rule:admin_required",
    "volume_extension:quota_classes:get": "rule:admin_required",
    "volume_extension:quota_classes:update": "rule:admin_required",
    # the job queue: admins only
    "cascade:jobs:list": "rule:admin_required",
    "cascade:jobs:show": "rule:admin_required",
    "cascade:jobs:redo": "rule:admin_required",
    "cascade:jobs:delete": "rule:admin_required",
    # audits of the pods against the top, their findings and repairs: admins only
    "cascade:drains:list": "rule:admin_required",
    "cascade:drains:show": "rule:admin_required",
    "cascade:drains:create": "rule:admin_required",
    "cascade:drains:update": "rule:admin_required",
    "cascade:moves:list": "rule:admin_required",
    "cascade:moves:show": "rule:admin_required",
    "cascade:audits:list": "rule:admin_required",
    "cascade:audits:show": "rule:admin_required",
    "cascade:audits:create": "rule:admin_required",
    "cascade:audits:delete": "rule:admin_required",
    "cascade:audits:findings": "rule:admin_required",
    "cascade:audits:repair": "rule:admin_required",
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
    def __init__(
        self,
        overrides: Mapping[str, str] | None = None,
        defaults: Mapping[str, str] | None = None,
    ) -> None:
        """`DEFAULTS` and the APIs' own `defaults`, then the operator's `overrides`."""
        self.rules = {**DEFAULTS, **(defaults or {}), **(overrides or {})}
        for name, check in self.rules.items():
            _check_syntax(name, check)

    @classmethod
    def from_file(cls, path: str, defaults: Mapping[str, str] | None = None) -> Policy:
        if not path:
            return cls(defaults=defaults)
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise PolicyError(f"policy file {path} must map rule names to check strings")
        return cls({str(k): v for k, v in data.items()}, defaults)

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
