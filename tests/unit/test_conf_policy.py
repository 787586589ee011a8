"""Configuration file and policy file handling."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cascade import policy as policy_module
from cascade.conf import SECTIONS, ConfigError, load, sample
from cascade.context import Context
from cascade.policy import Policy, PolicyError


def ctx(*roles: str) -> Context:
    return Context("t", "u", "user", "p", "proj", frozenset(roles), datetime.now(UTC))


def test_defaults_without_a_file() -> None:
    conf = load(None)
    assert conf.api.port == 20080
    assert conf.database.connection.startswith("sqlite+aiosqlite://")


def test_values_are_typed(tmp_path: Path) -> None:
    path = tmp_path / "cascade.conf"
    path.write_text("[api]\nport = 9999\n[keystone]\ntimeout = 2.5\npassword = s3cret\n")
    conf = load(path)
    assert conf.api.port == 9999 and conf.keystone.timeout == 2.5
    assert conf.keystone.password == "s3cret"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[api]\nport = eighty\n", "[api] port = 'eighty' is not a valid int"),
        ("[api]\nprot = 1\n", "unknown option prot in [api]"),
        ("[apii]\n", "unknown section [apii]"),
        ("port = 1\n", "cannot read"),
    ],
)
def test_bad_files_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cascade.conf"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert message in str(caught.value)


def test_sample_documents_every_option_and_loads_back(tmp_path: Path) -> None:
    text = sample()
    for name, cls in SECTIONS.items():
        assert f"[{name}]" in text
        for f in dataclasses.fields(cls):
            assert f"#{f.name} = " in text
    path = tmp_path / "sample.conf"
    path.write_text(text)
    assert load(path) == load(None)


def test_default_policy_is_admin_only() -> None:
    policy = Policy()
    assert policy.allows("cascade:pods:list", ctx("admin"))
    assert not policy.allows("cascade:pods:list", ctx("member"))
    assert not policy.allows("no:such:rule", ctx("admin"))


def test_policy_file_overrides(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        '"cascade:pods:list": "role:reader or rule:admin_required"\n'
        '"cascade:pods:delete": "role:admin and not role:readonly"\n'
    )
    policy = Policy.from_file(str(path))
    assert policy.allows("cascade:pods:list", ctx("reader"))
    assert policy.allows("cascade:pods:delete", ctx("admin"))
    assert not policy.allows("cascade:pods:delete", ctx("admin", "readonly"))


@pytest.mark.parametrize(
    "text",
    [
        '"x": "(role:a or"\n',  # cannot be parsed
        '"x": "rule:nowhere"\n',  # refers to a rule nobody defines
        '"x": "rule:y"\n"y": "rule:x"\n',  # refers to itself
        '"x": 3\n',
        "[1, 2]\n",
        '"x": [\n',
    ],
)
def test_policy_files_oslo_policy_cannot_read_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError):
        Policy.from_file(str(path))


NOVA_STYLE = """\
# an operator's file in the style of Nova's own sample
"context_is_admin": "role:admin"
"admin_or_owner": "is_admin:True or project_id:%(project_id)s"
"owner_user": "user_id:%(user_id)s"
"cascade:routings:list": "rule:admin_or_owner and not role:auditor"
"cascade:pods:list": "(role:reader or role:operator) and project_name:ops"
"cascade:pods:show": "rule:context_is_admin or 'admin':%(pod_owner_role)s"
"os_compute_api:os-keypairs:index": "rule:owner_user or rule:context_is_admin"
"""


def test_a_nova_style_policy_file_loads_and_is_enforced(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(NOVA_STYLE)
    policy = Policy.from_file(str(path))
    member, admin = ctx("member"), ctx("admin")
    # project_id:%(project_id)s against the target (by default the caller's own)
    assert policy.allows("cascade:routings:list", member)
    assert not policy.allows("cascade:routings:list", member, {"project_id": "other"})
    assert policy.allows("cascade:routings:list", admin, {"project_id": "other"})  # is_admin
    assert not policy.allows("cascade:routings:list", ctx("member", "auditor"))
    # user_id:%(user_id)s
    assert policy.allows("os_compute_api:os-keypairs:index", member, {"user_id": "u"})
    assert not policy.allows("os_compute_api:os-keypairs:index", member, {"user_id": "v"})
    # parentheses; a generic check on the credentials; a literal against the target
    assert not policy.allows("cascade:pods:list", ctx("reader"))  # project `proj`, not ops
    assert policy.allows("cascade:pods:show", member, {"pod_owner_role": "admin"})
    assert not policy.allows("cascade:pods:show", member, {"pod_owner_role": "x"})
    # the rules the file leaves alone keep their defaults
    assert policy.allows("cascade:pods:delete", admin)
    assert not policy.allows("cascade:pods:delete", member)


def test_a_changed_policy_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"cascade:pods:list": "role:admin"\n')
    policy = Policy.from_file(str(path))
    assert not policy.allows("cascade:pods:list", ctx("reader"))
    path.write_text('"cascade:pods:list": "role:reader"\n')
    os.utime(path, (time.time() + 5, time.time() + 5))  # a later mtime, as an edit makes
    monkeypatch.setattr(policy_module, "RELOAD_SECONDS", 0.0)
    assert policy.allows("cascade:pods:list", ctx("reader"))


def test_the_oslo_policy_tools_know_cascades_rules(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    sample = tmp_path / "policy.yaml.sample"
    generator = str(bin_dir / "oslopolicy-sample-generator")
    argv = [generator, "--namespace", "cascade", "--output-file", str(sample)]
    subprocess.run(argv, check=True, capture_output=True)
    text = sample.read_text()
    for rule in ("cascade:pods:create", "os_compute_api:servers:create", "create_network:shared"):
        assert f'#"{rule}":' in text, rule
    # uncommented, the sample is a policy file that loads and means the defaults
    path = tmp_path / "policy.yaml"
    path.write_text("\n".join(line.removeprefix("#") for line in text.splitlines() if '":' in line))
    policy = Policy.from_file(str(path))
    assert policy.allows("cascade:pods:create", ctx("admin"))
    assert not policy.allows("cascade:pods:create", ctx("member"))


def test_the_policy_generator_shows_the_rules_in_force(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text('"cascade:pods:show": "role:reader"\n')
    conf = tmp_path / "cascade.conf"
    conf.write_text(f"[oslo_policy]\npolicy_file = {tmp_path / 'policy.yaml'}\n")
    generator = str(Path(sys.executable).parent / "oslopolicy-policy-generator")
    argv = [generator, "--namespace", "cascade", "--config-file", str(conf)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    assert '"cascade:pods:show": "role:reader"' in out  # the file's
    assert '"cascade:pods:list": "rule:admin_required"' in out  # the default
