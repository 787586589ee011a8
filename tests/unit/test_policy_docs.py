"""The rules as the oslo.policy tools document them: each with the operations it guards."""

from __future__ import annotations

from oslo_policy.policy import DocumentedRuleDefault

from cascade import policy, policy_docs
from cascade.api.admin.routes import ROUTES
from cascade.services.network import policies as network_policies

# rules that guard no one operation: base rules the others refer to (Neutron's among
# them), and two Cinder rules its own list_rules() documents under other names
UNDOCUMENTED = set(network_policies.BASE) | {
    "context_is_admin",
    "admin_required",
    "admin_only",
    "project_member_api",
    "project_reader_api",
    "project_member_or_admin",
    "project_reader_or_admin",
    "volume_extension:volume_type_encryption",
    "volume_extension:qos_specs_manage:delete_keys",
}


def test_every_rule_that_guards_an_operation_names_it() -> None:
    rules = policy_docs.list_rules()
    assert [r.name for r in rules] == [r.name for r in policy.list_rules()]
    plain = {r.name for r in rules if not isinstance(r, DocumentedRuleDefault)}
    assert plain == UNDOCUMENTED
    by_name = {r.name: r for r in rules if isinstance(r, DocumentedRuleDefault)}
    keypairs = by_name["os_compute_api:os-keypairs:create"]
    assert keypairs.operations == [{"method": "POST", "path": "/compute/v2.1/os-keypairs"}]
    assert {"method": "POST", "path": "/networking/v2.0/networks"} in by_name[
        "create_network:shared"
    ].operations
    assert by_name["volume_extension:type_create"].operations == [
        {"method": "POST", "path": "/volume/v3/{project_id}/types"}
    ]


def test_cascade_rules_guard_the_admin_routes_that_check_them() -> None:
    operations = policy_docs.admin_operations()
    assert {r for r in policy.DEFAULTS if r.startswith("cascade:")} == set(operations)
    for ops in operations.values():
        for op in ops:
            assert op["method"] in ROUTES[op["path"]]
    assert operations["cascade:jobs:redo"] == [{"method": "POST", "path": "/v1/jobs/{job_id}/redo"}]
    # a rule a helper of the handler checks (routings' `_scope`)
    assert {"method": "GET", "path": "/v1/routings"} in operations[
        "cascade:routings:list_all_projects"
    ]
