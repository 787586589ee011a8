"""Cascade's policy rules as the oslo.policy tools show them: each with the operations
it guards (`DocumentedRuleDefault`), for `oslopolicy-sample-generator` and the other
tools (the `oslo.policy.policies` entry point).

- Nova's, Cinder's and Neutron's rules guard the operations those services document
  for them, at Cascade's paths: `policy_operations.json`, made from the services' own
  `list_rules()` by devcloud/scripts/policy_operations.py.
- Cascade's own rules (`cascade:...`) guard the admin API routes whose handlers check
  them, read off the route table and the handlers' source, so a new route documents
  itself.
- A rule that guards no single operation (a base rule such as `context_is_admin`, or an
  attribute's rule Neutron documents on the create and update of its resource only) is
  a plain `RuleDefault` with its description.

cascade.policy enforces the same rules; this module only documents them (it imports the
admin API, which cascade.policy must not).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any, cast

from oslo_policy import policy as oslo_policy

from cascade import policy
from cascade.api.admin.routes import ROUTES

OPERATIONS_FILE = "policy_operations.json"
_CASCADE_RULE = re.compile(r'"(cascade:[a-z_:]+)"')
Operations = dict[str, list[dict[str, str]]]


def service_operations() -> Operations:
    """Nova's, Cinder's and Neutron's rules -> their operations at Cascade's paths."""
    text = resources.files("cascade").joinpath(OPERATIONS_FILE).read_text()
    found: Operations = json.loads(text)
    return found


def _source(handler: Callable[..., Any]) -> str:
    """The handler's source and that of its module's functions it calls (a shared
    helper that checks a rule, as routings' `_scope`)."""
    texts = [inspect.getsource(handler)]
    for name in handler.__code__.co_names:
        helper = handler.__globals__.get(name)
        if inspect.isfunction(helper) and helper.__module__ == handler.__module__:
            texts.append(inspect.getsource(helper))
    return "\n".join(texts)


def admin_operations() -> Operations:
    """Cascade's own rules -> the admin API operations whose handler checks them."""
    found: Operations = {}
    for path, methods in ROUTES.items():
        for method, handler in methods.items():
            for rule in dict.fromkeys(_CASCADE_RULE.findall(_source(handler))):
                found.setdefault(rule, []).append({"method": method, "path": path})
    return found


def list_rules() -> list[oslo_policy.RuleDefault]:
    """Every rule `cascade.policy` enforces, documented with its operations where it
    guards some."""
    operations = {**service_operations(), **admin_operations()}
    documented: list[oslo_policy.RuleDefault] = []
    for rule in policy.list_rules():
        ops = operations.get(rule.name)
        if ops:
            documented.append(
                oslo_policy.DocumentedRuleDefault(
                    rule.name, rule.check_str, rule.description or rule.name, cast(Any, ops)
                )
            )
        else:
            documented.append(rule)
    return documented
