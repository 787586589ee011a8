"""Neutron's `field:` check in oslo.policy's language, so that an operator's Neutron
policy file reads the same at the top: `field:networks:shared=True` (the network, or a
subnet's or port's network, is shared with the caller's project),
`field:port:device_owner=~^compute:` (`~`: a regular expression).

Neutron registers its own `FieldCheck` with oslo.policy (neutron/policy.py); Cascade
cannot import Neutron, and oslo.policy has no such check, hence this one: the value of
the target's attribute compared with the rule's (booleans as `True`/`False`, a leading
`~` a regular expression matched from the start). The collection named is not looked
at: Cascade's targets carry a subnet's or port's network's `shared` and
`router:external` themselves (`access.target`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from oslo_policy import policy as oslo_policy


@oslo_policy.register("field")
class FieldCheck(oslo_policy.Check):
    """`field:<collection>:<attribute>=<value>`: true when the target's `<attribute>`
    is `<value>` (`~<regex>`: matches it); false when the target has no such attribute."""

    def __init__(self, kind: str, match: str) -> None:
        super().__init__(kind, match)
        _collection, _, rest = match.partition(":")
        self.attribute, _, self.value = rest.partition("=")
        self.regex = re.compile(self.value[1:]) if self.value.startswith("~") else None

    def __call__(
        self,
        target: Mapping[str, Any],
        creds: Mapping[str, Any],
        enforcer: Any,
        current_rule: str | None = None,
    ) -> bool:
        found = target.get(self.attribute)
        if found is None:
            return False
        if self.regex is not None:
            return bool(self.regex.match(str(found)))
        if isinstance(found, bool):
            return found == (self.value.lower() == "true")
        return str(found) == self.value
