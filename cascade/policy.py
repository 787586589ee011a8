"""Authorisation rules through oslo.policy: defaults registered in code, overridden by
the policy file operators know (`[policy] file`, oslo.policy's YAML) in its whole
language: `role:`, `rule:`, `project_id:%(project_id)s`, `user_id:%(user_id)s`,
`is_admin:True`, generic checks, `and`/`or`/`not` and parentheses, `@` and `!`.

A rule of the file that oslo.policy cannot parse, or that refers to a rule nobody
defined (or to itself), is refused when the file is loaded (cascade-api does not
start), not found at request time. The file is read again when it changes, as every
OpenStack service does. `oslopolicy-sample-generator --namespace cascade` and the other
oslo.policy tools work on Cascade's rules (the entry points in pyproject.toml).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml
from oslo_config import cfg

# the parsed rules' check classes, to read what a rule depends on (`_reads`): oslo.policy
# exports only some of them from oslo_policy.policy
from oslo_policy import _checks
from oslo_policy import policy as oslo_policy

from cascade import policy_checks
from cascade.context import Context

DEFAULTS: dict[str, str] = {
    # who is an admin: one rule (also `Context.is_admin` and `is_admin:True`), which the
    # admin rules below refer to, as Nova's `ADMIN` does
    "context_is_admin": "role:admin",
    "admin_required": "rule:context_is_admin",
    # Nova's base rules (nova/policies/base.py): with Keystone's implied roles (admin
    # implies member implies reader) a member reads too
    "project_member_api": "role:member and project_id:%(project_id)s",
    "project_reader_api": "role:reader and project_id:%(project_id)s",
    "project_member_or_admin": "rule:project_member_api or rule:context_is_admin",
    "project_reader_or_admin": "rule:project_reader_api or rule:context_is_admin",
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
    # keypairs (Nova's rules and defaults): a user's own, or (2.10 `user_id`) an admin
    "os_compute_api:os-keypairs:index": "(rule:context_is_admin) or user_id:%(user_id)s",
    "os_compute_api:os-keypairs:create": "(rule:context_is_admin) or user_id:%(user_id)s",
    "os_compute_api:os-keypairs:show": "(rule:context_is_admin) or user_id:%(user_id)s",
    "os_compute_api:os-keypairs:delete": "(rule:context_is_admin) or user_id:%(user_id)s",
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
    # usage reports (Nova's rules and defaults): every tenant's (admins), one project's
    # (its readers, admins)
    "os_compute_api:os-simple-tenant-usage:list": "rule:admin_required",
    "os_compute_api:os-simple-tenant-usage:show": "rule:project_reader_or_admin",
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
    # compute limits and quota sets (Nova's rule names and defaults): a project's readers
    # read their own project's quotas, admins any project's
    "os_compute_api:limits": "@",
    "os_compute_api:limits:other_project": "rule:admin_required",
    "os_compute_api:os-quota-sets:show": "rule:project_reader_or_admin",
    "os_compute_api:os-quota-sets:detail": "rule:project_reader_or_admin",
    "os_compute_api:os-quota-sets:defaults": "@",
    "os_compute_api:os-quota-sets:update": "rule:admin_required",
    "os_compute_api:os-quota-sets:delete": "rule:admin_required",
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

NAMESPACE = "cascade"
# who is an admin of every project (`Context.is_admin`, `is_admin:True` checks), as in
# Nova and Neutron
ADMIN_RULE = "context_is_admin"
RELOAD_SECONDS = 1.0  # how often the policy file's mtime is looked at


class Checker(Protocol):
    """Whether one caller's rules allow `rule` on `target` (`Policy.checker`)."""

    def __call__(self, rule: str, target: Mapping[str, Any] | None = None) -> bool: ...


_SUBSTITUTED = re.compile(r"%\((.+?)\)s")
_ABSENT = object()  # a key the target lacks (its check is false), apart from a None value


def _reads(check: _checks.BaseCheck, rules: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The target's keys whose values decide `check` (its `%(key)s` substitutions and
    `field:` attributes, through the rules it refers to); None when that cannot be told
    (a check of a kind this does not know, a reference to no rule): not kept then."""
    found: set[str] = set()
    pending: list[Any] = [check]
    seen: set[str] = set()
    while pending:
        item = pending.pop()
        if isinstance(item, (_checks.TrueCheck, _checks.FalseCheck)):
            continue
        if isinstance(item, (_checks.AndCheck, _checks.OrCheck)):
            pending.extend(item.rules)
        elif isinstance(item, _checks.NotCheck):
            pending.append(item.rule)
        elif isinstance(item, _checks.RuleCheck):
            if item.match not in seen:
                seen.add(item.match)
                referred = rules.get(item.match)
                if referred is None:
                    return None
                pending.append(referred)
        elif isinstance(item, policy_checks.FieldCheck):
            found.add(item.attribute)
        elif type(item) in (_checks.GenericCheck, _checks.RoleCheck):
            found.update(_SUBSTITUTED.findall(item.match))
        else:
            return None
    return tuple(sorted(found))


class PolicyError(Exception):
    """The policy file is unreadable, or a rule in it cannot be parsed or is not defined."""


BASE_RULES = {
    "context_is_admin": "Who is an admin of every project: Context.is_admin, is_admin:True "
    "checks and the admin rules",
    "admin_required": "The admin rules' base (Cascade's and Nova's ADMIN)",
    "project_member_api": "A member of the project acted on (Nova's base rule)",
    "project_reader_api": "A reader of the project acted on (Nova's base rule)",
    "project_member_or_admin": "A member of the project acted on, or an admin",
    "project_reader_or_admin": "A reader of the project acted on, or an admin",
}
NOVA, CINDER = ("os_compute_api:", "compute:"), ("volume", "group:", "backup:", "scheduler_")


def _description(name: str) -> str:
    """What the sample and the tools say of a rule."""
    if name in BASE_RULES:
        return BASE_RULES[name]
    if name.startswith(NOVA):
        return f"Nova's rule {name}, checked by Cascade at the top for every pod"
    if name.startswith(CINDER):
        return f"Cinder's rule {name}, checked by Cascade at the top for every pod"
    if name.startswith("cascade:"):
        return f"Cascade's own API: {name.removeprefix('cascade:').replace(':', ' ')}"
    return f"The Networking API: Neutron's rule {name}, checked by Cascade at the top"


def list_rules(defaults: Mapping[str, str] | None = None) -> list[oslo_policy.RuleDefault]:
    """Every rule Cascade checks, with its default: `DEFAULTS` and the Networking API's
    (Neutron's names), then `defaults`. The `oslo.policy.policies` entry point."""
    if defaults is None:
        # imported here: the networking rules are read off its resources' attributes
        from cascade.services.network import policies as network_policies

        defaults = network_policies.defaults()
    rules = {**DEFAULTS, **defaults}
    return [oslo_policy.RuleDefault(n, check, _description(n)) for n, check in rules.items()]


def _enforcer(
    path: str, defaults: Mapping[str, str] | None, conf: cfg.ConfigOpts | None = None
) -> oslo_policy.Enforcer:
    if conf is None:
        conf = cfg.ConfigOpts()
        conf([], project=NAMESPACE)  # no command line, no config file: Cascade has its own
    enforcer = oslo_policy.Enforcer(conf, policy_file=path or None, use_conf=True)
    enforcer.register_defaults(list_rules(defaults))
    return enforcer


def get_enforcer() -> oslo_policy.Enforcer:
    """The `oslo.policy.enforcer` entry point of the oslo.policy tools
    (`oslopolicy-policy-generator`, `oslopolicy-list-redundant`, `oslopolicy-checker`):
    Cascade's rules and defaults, and the policy file of the tool's `--config-file`
    (`[oslo_policy] policy_file`), which the tool has parsed into `cfg.CONF`."""
    return _enforcer("", None, cfg.CONF)


def _read(path: str) -> dict[str, str]:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise PolicyError(f"policy file {path} must map rule names to check strings")
    return {str(k): v for k, v in data.items()}


class Policy:
    """Cascade's rules: the defaults in code and the APIs' own `defaults`, then the
    operator's file (`from_file`) or `overrides`."""

    def __init__(
        self,
        overrides: Mapping[str, str] | None = None,
        defaults: Mapping[str, str] | None = None,
        path: str = "",
    ) -> None:
        self._enforcer = _enforcer(path, {**(defaults or {})})
        self._looked = time.monotonic()
        self._path = path
        if path:
            try:
                self._enforcer.load_rules(force_reload=True)
            except ValueError as exc:
                raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
        else:
            # the defaults alone: left to itself oslo.policy would look for a policy.yaml
            # in ~/.cascade, ~/, /etc/cascade and /etc
            registered = self._enforcer.registered_rules.values()
            defaults_only = {rule.name: rule.check_str for rule in registered}
            self._enforcer.set_rules(oslo_policy.Rules.from_dict(defaults_only), use_conf=False)
        if overrides:
            self.override(overrides)
        self._check(_read(path) if path else {})

    @classmethod
    def from_file(cls, path: str, defaults: Mapping[str, str] | None = None) -> Policy:
        if path:
            _read(path)  # this module's messages for a file that is not rules at all
        return cls(defaults=defaults, path=path)

    def override(self, rules: Mapping[str, str]) -> None:
        """Replace these rules (as a policy file would), the others kept."""
        rules_ = oslo_policy.Rules.from_dict(dict(rules))
        self._enforcer.set_rules(rules_, overwrite=False, use_conf=bool(self._path))
        self._check(rules)

    def _check(self, written: Mapping[str, str]) -> None:
        # oslo.policy logs a rule it cannot parse and denies it: refused here instead
        for name, text in written.items():
            parsed = self._enforcer.rules.get(name)
            if str(parsed) == "!" and text.strip() != "!":
                raise PolicyError(f"policy rule {name!r}: cannot parse {text!r}")
        try:
            self._enforcer.check_rules(raise_on_violation=True)
        except oslo_policy.InvalidDefinitionError as exc:
            why = f"policy rules refer to undefined rules or to themselves: {exc}"
            raise PolicyError(why) from None

    def allows(self, rule: str, ctx: Context, target: Mapping[str, Any] | None = None) -> bool:
        """Whether `rule` allows the caller `ctx` to act on `target` (the object's
        `project_id`, `user_id`, ...; by default the caller's own project and user, as
        Nova's default target). An unknown rule allows nothing."""
        return self.checker(ctx)(rule, target)

    def checker(self, ctx: Context) -> Checker:
        """`allows` for one caller over one request: the rules as they are now, and each
        answer kept for the target values its rule reads (`_reads`), so a list of many
        objects asks oslo.policy once per distinct owner, network owner, `shared`, ...
        (oslo.policy's generic check parses its kind with `ast.literal_eval` on every
        call: about 20 µs a check, 300 µs a port's `get_port`)."""
        creds = {
            "user_id": ctx.user_id,
            "project_id": ctx.project_id,
            "roles": sorted(ctx.roles),
            "is_admin": ctx.is_admin,
        }
        own = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        rules = self._rules()
        reads: dict[str, tuple[str, ...] | None] = {}
        decided: dict[tuple[Any, ...], bool] = {}

        def allows(rule: str, target: Mapping[str, Any] | None = None) -> bool:
            try:
                check = rules[rule]  # unknown: the file's `default` rule, if any
            except KeyError:
                return False
            on = own if target is None else target
            if rule not in reads:
                reads[rule] = _reads(check, rules)
            keys = reads[rule]
            key: tuple[Any, ...] | None = None
            if keys is not None:
                key = (rule, *(on.get(k, _ABSENT) for k in keys))
                try:
                    return decided[key]
                except KeyError:
                    pass
                except TypeError:  # a list or a dict among the values: not kept
                    key = None
            # the parsed rule itself, as Enforcer.enforce runs it: enforce would look for
            # the file on every call (a quarter of a millisecond; see _rules)
            answer = bool(check(dict(on), creds, self._enforcer, rule))
            if key is not None:
                decided[key] = answer
            return answer

        return allows

    def _rules(self) -> oslo_policy.Rules:
        """The rules, the file read again when it changed, looked at once a second."""
        now = time.monotonic()
        if now - self._looked > RELOAD_SECONDS:
            self._looked = now
            self._enforcer.load_rules()
        return self._enforcer.rules
