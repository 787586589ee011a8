"""Print the operations Nova's, Cinder's and Neutron's policy rules guard, as JSON, for
cascade/policy_operations.json: run with the devcloud's OpenStack virtualenv, where
those services are installed (Cascade's own has none of them):

    .devcloud/venv/bin/python devcloud/scripts/policy_operations.py \\
        > cascade/policy_operations.json

Each service's `list_rules()` (its `oslo.policy.policies` entry point) documents the
method and path of every operation a rule guards; the paths are given here as Cascade
serves them (under /compute/v2.1, /volume/v3/{project_id}, /networking/v2.0).
tests/integration/test_policy_operations.py checks the file against the devcloud's.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

PREFIXES = {
    "nova.policies": "/compute/v2.1",
    "cinder.policies": "/volume/v3/{project_id}",
    "neutron.conf.policies": "/networking/v2.0",
}


def collect() -> dict[str, list[dict[str, str]]]:
    import importlib

    found: dict[str, list[dict[str, str]]] = {}
    for module_name, prefix in PREFIXES.items():
        module: Any = importlib.import_module(module_name)
        for rule in module.list_rules():
            operations = getattr(rule, "operations", None) or []
            if operations and rule.name not in found:
                found[rule.name] = [
                    {"method": op["method"], "path": prefix + op["path"]} for op in operations
                ]
    return dict(sorted(found.items()))


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    # one rule a line: small diffs when a service's rules change
    rules = collect()
    lines = [f"{json.dumps(name)}: {json.dumps(ops)}" for name, ops in rules.items()]
    sys.stdout.write("{\n" + ",\n".join(lines) + "\n}\n")
