"""Ports, names and URLs of a devcloud layout."""

from __future__ import annotations

from pathlib import Path

from devcloud.identity import catalog, pod_endpoints
from devcloud.layout import MAX_PODS, POD_PORTS, SHARED_PORTS, TOP_REGION, Layout
from devcloud.services import glance, keystone


def all_ports(layout: Layout) -> list[int]:
    shared = [layout.port(s) for s in SHARED_PORTS]
    pods = [layout.pod_port(p, s) for p in layout.pods(MAX_PODS) for s in POD_PORTS]
    return shared + pods


def test_no_two_services_share_a_port_even_with_max_pods() -> None:
    ports = all_ports(Layout(Path("/x")))
    assert len(ports) == len(set(ports))
    assert all(1024 < p < 65536 for p in ports)


def test_port_base_moves_every_port() -> None:
    a, b = all_ports(Layout(Path("/x"))), all_ports(Layout(Path("/x"), port_base=30000))
    assert [q - p for p, q in zip(a, b, strict=True)] == [10000] * len(a)


def test_pod_names_regions_and_azs() -> None:
    layout = Layout(Path("/x"), az_format="zone-{n}")
    pods = layout.pods(3)
    assert [(p.name, p.region, p.az) for p in pods] == [
        ("pod1", "pod1", "zone-1"),
        ("pod2", "pod2", "zone-2"),
        ("pod3", "pod3", "zone-3"),
    ]
    assert layout.pod_url(pods[1], "nova") == "http://127.0.0.1:22774"


def test_everything_lives_under_the_root() -> None:
    layout = Layout(Path("/somewhere/dc"))
    pod = layout.pod(1)
    for path in (
        layout.venv,
        layout.run,
        layout.log,
        layout.clouds_yaml,
        layout.home("mariadb"),
        layout.pod_home(pod, "nova"),
    ):
        assert path.is_relative_to("/somewhere/dc")
    assert "127.0.0.1" in layout.db_url("keystone")
    assert layout.transport_url(pod).endswith("/pod1")


def test_catalog_has_every_service_in_every_pod_and_the_top() -> None:
    layout = Layout(Path("/x"))
    eps = catalog(layout, layout.pods(2))
    by_region: dict[str, set[str]] = {}
    for ep in eps:
        by_region.setdefault(ep.region, set()).add(ep.service_type)
    pod_types = {
        "identity",
        "image",
        "placement",
        "compute",
        "network",
        "volumev3",
        "block-storage",
    }
    assert by_region["pod1"] == by_region["pod2"] == pod_types
    # the top also has the admin API (`openstack cascade ...`)
    assert by_region[TOP_REGION] == (pod_types - {"placement"}) | {"cascade"}
    # one Glance for all (shared) pods; the top's image endpoint is Cascade's Image API
    images = {e.region: e.url for e in eps if e.service_type == "image"}
    assert images.pop(TOP_REGION) == layout.url("cascade") + "/image"
    assert set(images.values()) == {layout.url("glance")}
    # the top's other service endpoints are Cascade's, not a pod's
    assert all(
        e.url.startswith(layout.url("cascade"))
        for e in eps
        if e.region == TOP_REGION and e.service_type != "identity"
    )


def test_an_independent_pod_has_its_own_keystone_and_glance() -> None:
    layout = Layout(Path("/x"), independent=frozenset({3}))
    shared, own = layout.pod(2), layout.pod(3)
    assert (shared.independent, own.independent) == (False, True)
    assert layout.pod_auth_url(shared) == layout.auth_url == "http://127.0.0.1:25000/v3"
    assert layout.image_url(shared) == layout.url("glance")
    assert layout.pod_auth_url(own) == "http://127.0.0.1:23500/v3"
    assert layout.image_url(own) == "http://127.0.0.1:23929"
    assert [p.name for p in keystone.procs(layout, own)] == ["pod3-keystone"]
    assert [p.name for p in glance.procs(layout, own)] == ["pod3-glance"]
    assert keystone.databases(own) == ["pod3_keystone"]
    assert glance.databases(own) == ["pod3_glance"]
    assert [p.name for p in keystone.procs(layout)] == ["keystone"]
    assert keystone.databases() == ["keystone"]


def test_the_shared_catalog_leaves_independent_pods_out() -> None:
    layout = Layout(Path("/x"), independent=frozenset({3}))
    pods = layout.pods(3)
    assert {e.region for e in catalog(layout, pods)} == {TOP_REGION, "pod1", "pod2"}
    own = pod_endpoints(layout, pods[2])
    assert {e.region for e in own} == {"pod3"}
    urls = {e.service_type: e.url for e in own}
    assert urls["identity"] == layout.pod_auth_url(pods[2])
    assert urls["image"] == layout.image_url(pods[2])
    assert urls["compute"] == layout.pod_url(pods[2], "nova") + "/v2.1"
