"""Default security group rules at the top (Neutron's `security-groups-default-rules`;
no HTTP types here): the templates a new security group's rules are made from
(`security_groups._add_group`).

Admins create and delete them (nothing updates, as in Neutron); every user lists and
reads them. They belong to no project. Seeded by the schema migration with
Neutron's four legacy rules, so a new deployment makes the groups Neutron makes.
Changing them changes new groups only, in Neutron and here; pods' own templates
do not matter, because each pod's copy of a group is synced to the top's rules.
"""

from __future__ import annotations

from typing import Any

from cascade.db.models import NetResource
from cascade.services.network import attrs, security_groups, store
from cascade.services.network.access import Caller, authorize
from cascade.services.network.errors import Conflict

KIND = store.DEFAULT_SECURITY_GROUP_RULE
A = attrs.Attr
# a group rule's attributes without its group, and where the rule is used
SPEC: attrs.Spec = {
    **{k: v for k, v in security_groups.RULE_SPEC.items() if k != "security_group_id"},
    "used_in_default_sg": A(attrs.boolean, attrs.REQUIRED),
    "used_in_non_default_sg": A(attrs.boolean, attrs.REQUIRED),
}
# what Neutron shows of a default rule: no project, tags, revision or timestamps
KEYS = ("id", *(k for k in SPEC if k != "description"), "description")


async def create(caller: Caller, body: Any) -> NetResource:
    """A new default rule (admins): 201; Neutron's 400s for what a rule cannot be, 409
    DefaultSecurityGroupRuleExists for one that the groups it is used in already get.

    Its remote group is `PARENT` (the group made from it) or none: a default rule
    naming one group would put that group in every project's rules, which the top's
    groups cannot follow across projects (400)."""
    authorize(caller, "create_default_security_group_rule")
    given = attrs.take(SPEC, body, "default_security_group_rule", caller.allows, update=False)
    rule = security_groups.normalised(given)
    if rule["remote_group_id"] not in (None, security_groups.PARENT):
        raise security_groups.RuleError(
            "Invalid input for operation: a default rule's remote_group_id is "
            f"{security_groups.PARENT!r} or null at the top.",
            type="InvalidInput",
        )
    mine = security_groups.rule_key(rule)
    for other in await store.rows(caller.db, KIND):
        # Neutron checks the rules of default groups and of other groups apart
        clash = (rule["used_in_default_sg"] and other.body.get("used_in_default_sg")) or (
            rule["used_in_non_default_sg"] and other.body.get("used_in_non_default_sg")
        )
        if clash and security_groups.rule_key(other.body) == mine:
            raise Conflict(
                f"Default Security group rule already exists. Rule id is {other.id}.",
                type="DefaultSecurityGroupRuleExists",
            )
    row = store.add(caller.db, KIND, "", rule)
    await caller.db.commit()
    return row


async def views(caller: Caller, rows: list[NetResource]) -> list[dict[str, Any]]:
    return [{k: v for k, v in store.view(r).items() if k in KEYS} for r in rows]


async def update(caller: Caller, row: NetResource, given: dict[str, Any]) -> None:
    """Nothing of a default rule changes: Neutron routes the PUT, and every attribute
    given is its 400 `Cannot update read-only attribute` (`attrs.take`) before this."""


async def delete(caller: Caller, row: NetResource) -> None:
    """The default rule goes (admins); groups made from it keep their rules."""
    authorize(caller, "delete_default_security_group_rule")
    await caller.db.delete(row)
    await caller.db.commit()
