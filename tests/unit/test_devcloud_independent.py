"""An independent pod of the devcloud (`up --independent K`): its services' Keystone, and
what Cascade is told about it. No devcloud here: configs and bodies are pure functions."""

from __future__ import annotations

import asyncio
import configparser
from pathlib import Path
from typing import Any, ClassVar

import pytest

from devcloud.errors import DevcloudError
from devcloud.layout import PASSWORD, Layout
from devcloud.services import cascade, keystone, placement


def read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


def test_a_pods_services_use_the_keystone_that_serves_it(tmp_path: Path) -> None:
    layout = Layout(tmp_path, independent=frozenset({2}))
    # pod1 is shared (the shared Keystone), pod2 independent (its own, on 2N500)
    for pod, want in (
        (layout.pod(1), "http://127.0.0.1:25000"),
        (layout.pod(2), "http://127.0.0.1:22500"),
    ):
        placement.configure(layout, pod)
        conf = read(layout.pod_home(pod, "placement") / "placement.conf")
        assert conf["keystone_authtoken"]["auth_url"] == want
        assert conf["keystone_authtoken"]["www_authenticate_uri"] == want
        assert conf["keystone_authtoken"]["region_name"] == pod.region


def test_an_independent_pods_keystone_lives_in_the_pod(tmp_path: Path) -> None:
    layout = Layout(tmp_path, independent=frozenset({2}))
    pod = layout.pod(2)
    keystone.configure(layout, pod)
    conf = read(tmp_path / "pod2" / "keystone" / "keystone.conf")
    assert conf["database"]["connection"].endswith("/pod2_keystone?charset=utf8mb4")
    assert conf["fernet_tokens"]["key_repository"] == str(tmp_path / "pod2/keystone/fernet-keys")
    assert keystone.auth_url(layout, pod) == "http://127.0.0.1:22500/v3"
    assert keystone.region(pod) == "pod2"


def test_registration_body_of_a_shared_and_an_independent_pod() -> None:
    layout = Layout(Path("/x"), independent=frozenset({3}))
    assert cascade.pod_body(layout, layout.pod(1)) == {
        "pod": {"name": "pod1", "region_name": "pod1", "az": "az1", "pod_az": "az1"}
    }
    assert cascade.pod_body(layout, layout.pod(3)) == {
        "pod": {
            "name": "pod3",
            "region_name": "pod3",
            "az": "az3",
            "pod_az": "az3",
            "identity": "independent",
            "auth_url": "http://127.0.0.1:23500/v3",
            "credentials": {
                "username": "cascade",
                "password": PASSWORD,
                "user_domain_name": "Default",
                "project_name": "service",
                "project_domain_name": "Default",
            },
        }
    }


class FakeRest:
    """Cascade's admin API as a Cascade that does not take independent pods yet."""

    posted: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, auth_url: str) -> None:
        self.auth_url = auth_url

    async def __aenter__(self) -> FakeRest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def call(
        self, service: str, method: str, url: str, body: Any = None, ok: Any = ()
    ) -> Any:
        if method == "GET":
            return {"pods": []}
        self.posted.append(body)
        if "identity" in body["pod"]:
            raise DevcloudError(service, f"{method} {url} answered 400: unknown field")
        return {"pod": body["pod"]}


def test_a_refused_independent_pod_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cascade, "Rest", FakeRest)
    FakeRest.posted.clear()
    layout = Layout(Path("/x"), independent=frozenset({2}))
    # the independent pod comes after the shared ones whatever the order given
    refused = asyncio.run(cascade.register_pods(layout, [layout.pod(2), layout.pod(1)]))
    assert [b["pod"]["name"] for b in FakeRest.posted] == ["pod1", "pod2"]
    assert list(refused) == ["pod2"]
    assert "answered 400" in refused["pod2"]


def test_a_refused_shared_pod_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(self: FakeRest, service: str, method: str, url: str, *a: Any, **k: Any) -> Any:
        if method == "GET":
            return {"pods": []}
        raise DevcloudError(service, f"{method} {url} answered 409")

    monkeypatch.setattr(cascade, "Rest", FakeRest)
    monkeypatch.setattr(FakeRest, "call", refuse)
    layout = Layout(Path("/x"))
    with pytest.raises(DevcloudError):
        asyncio.run(cascade.register_pods(layout, layout.pods(1)))


def test_default_az_is_rendered_kept_and_checked(tmp_path: Path) -> None:
    from devcloud.cloud import resolve_default_az

    layout = Layout(tmp_path, independent=frozenset({3}))
    cascade.configure(layout)
    assert "scheduling" not in read(tmp_path / "cascade" / "cascade.conf")
    pinned = Layout(tmp_path, independent=frozenset({3}), default_az="az3")
    assert cascade.configure(pinned)  # changed: `up` restarts cascade-api
    assert read(tmp_path / "cascade" / "cascade.conf")["scheduling"]["default_az"] == "az3"
    pods = pinned.pods(3)
    assert resolve_default_az(pinned, pods, None) == "az3"  # kept
    assert resolve_default_az(pinned, pods, "") == ""  # cleared
    assert resolve_default_az(pinned, pinned.pods(2), None) == ""  # its pod is gone
    with pytest.raises(DevcloudError, match="az9"):
        resolve_default_az(pinned, pods, "az9")


def test_tempest_against_an_independent_pod_signs_in_there(tmp_path: Path) -> None:
    from devcloud.tempest import _conf, compare_path, configure, direct_target, top_target

    layout = Layout(tmp_path, independent=frozenset({3}))
    pod1, pod3 = layout.pod(1), layout.pod(3)
    facts = {"image": "i", "image_alt": "j"}
    direct = direct_target(pod3)
    assert direct.own_cloud == pod3 and direct_target(pod1).own_cloud is None
    conf = _conf(layout, direct, tmp_path, facts)
    assert conf["identity"]["uri_v3"] == "http://127.0.0.1:23500/v3"
    assert conf["identity"]["region"] == "pod3"
    shared = _conf(layout, direct_target(pod1), tmp_path, facts)
    assert shared["identity"]["uri_v3"] == layout.auth_url
    # through the top in pod3's place: its own workspace and comparison, pinned to az3
    top = top_target("compute", False, pod3)
    assert (top.name, top.pinned) == ("cascade-pod3", pod3)
    assert top_target("compute", False, pod1).name == "cascade"
    assert compare_path(layout, "compute", False, pod3).name == "compare-pod3.json"
    assert compare_path(layout, "network", False, pod3).name == "compare-network-pod3.json"
    assert compare_path(layout, "compute", False, pod1).name == "compare.json"
    # without `up --default-az az3`, tempest's servers would go elsewhere: refused first
    with pytest.raises(DevcloudError, match="--default-az az3"):
        asyncio.run(configure(layout, top))
