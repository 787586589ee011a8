"""Configuration file and policy file handling."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("text", ['"x": "(role:a or role:b)"\n', '"x": 3\n', "[1, 2]\n"])
def test_policy_files_this_parser_cannot_read_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError):
        Policy.from_file(str(path))
