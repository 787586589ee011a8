"""The Image API comparison of `devcloud tempest --cloud cascade --service image`: the top's
Glance directly and through Cascade's `/image`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from devcloud.__main__ import parser
from devcloud.errors import DevcloudError
from devcloud.layout import Layout
from devcloud.tempest import (
    EXCLUDED,
    IMAGE,
    IMAGE_EXCLUDED,
    SERVICES,
    _conf,
    direct_target,
    image_region,
    service,
    top_target,
    workspace,
)

GLANCE = "http://127.0.0.1:29292"


def _catalog(**regions: str) -> list[dict[str, Any]]:
    """A Keystone catalog with one image service: each region's public endpoint `url`
    (and an internal one elsewhere, which must not count)."""
    endpoints = []
    for region, url in regions.items():
        endpoints.append({"region_id": region, "interface": "public", "url": url})
        endpoints.append({"region_id": region, "interface": "internal", "url": "http://x"})
    compute = {"type": "compute", "endpoints": [{"region_id": "pod1", "interface": "public"}]}
    return [compute, {"type": "image", "endpoints": endpoints}]


CATALOG = _catalog(
    cascade="http://127.0.0.1:20080/image",
    pod1=GLANCE,
    pod2=GLANCE + "/",
    pod3="http://127.0.0.1:23929",
)


def test_image_selection_is_the_whole_image_suite() -> None:
    image = re.compile(IMAGE)
    for test in (
        "tempest.api.image.v2.test_images.BasicOperationsImagesTest.test_x",
        "tempest.api.image.v2.test_images_member.ImagesMemberTest.test_x",
        "tempest.api.image.v2.test_images_tags.ImagesTagsTest.test_x",
        "tempest.api.image.v2.test_images_metadefs_schema.MetadataSchemaTest.test_x",
        "tempest.api.image.v2.test_versions.VersionsTest.test_x",
        "tempest.api.image.v2.admin.test_images_metadefs_namespaces.M.test_x",
    ):
        assert image.match(test), test
    assert not image.match("tempest.api.compute.images.test_images.ImagesTestJSON.test_x")


def test_image_targets_workspaces_exclusions_and_compare_file(tmp_path: Path) -> None:
    layout = Layout(root=tmp_path)
    direct, top = direct_target(layout.pod(1), "image"), top_target("image")
    # directly is the top's own Glance, not a pod's: named so
    assert (direct.name, direct.region, top.name, top.region) == (
        "glance-image",
        "pod1",
        "cascade-image",
        "cascade",
    )
    assert direct.selection == top.selection == IMAGE
    assert direct.excluded == top.excluded == IMAGE_EXCLUDED
    # as `tempest run --exclude-regex` matches: searched in the test's id with its tags
    excluded = re.compile("|".join(f"({r})" for r in IMAGE_EXCLUDED))
    v2 = "tempest.api.image.v2."
    for test in (
        f"{v2}test_images.ImportImagesTest.test_image_web_download_import[id-5,smoke]",
        f"{v2}admin.test_images.ImportCopyImagesTest.test_image_copy_image_import[id-9]",
    ):
        assert excluded.search(test), test
    # Glance refuses (or fails) the bad URL itself: no internet needed, not excluded
    negative = f"{v2}test_images_negative.ImportImagesNegativeTest"
    assert not excluded.search(f"{negative}.test_image_web_download_import_with_bad_url[id-1]")
    assert re.search(next(iter(EXCLUDED)), f"{negative}.test_image_web_download_import_with")
    assert direct.image and top.image and not direct.full and not direct.networking
    assert direct.block_storage  # the image > volume > server snapshot dependency test
    assert SERVICES["image"].compare_file == "compare-image.json"
    # the whole image suite is as it was: pod-named workspace, the machine's exclusions
    whole = direct_target(layout.pod(1), "image", whole=True)
    assert (whole.name, whole.excluded, whole.image) == ("pod1-image-whole", EXCLUDED, False)
    assert service("image", whole=True).compare_file == "compare-image-whole.json"
    # the other services keep the machine's exclusions only
    assert direct_target(layout.pod(1), "volume").excluded == EXCLUDED


def test_image_conf_names_the_image_region_and_differs_only_in_regions(tmp_path: Path) -> None:
    layout = Layout(root=tmp_path)
    direct, top = direct_target(layout.pod(1), "image"), top_target("image")
    facts = {"image": "i1", "image_alt": "i2"}
    confs = [
        _conf(layout, direct, workspace(layout, direct), facts | {"image_region": "pod1"}),
        _conf(layout, top, workspace(layout, top), facts | {"image_region": "cascade"}),
    ]
    assert [c["image"]["region"] for c in confs] == ["pod1", "cascade"]
    assert [c["identity"]["region"] for c in confs] == ["pod1", "cascade"]
    for conf in confs:
        for section, key in (("identity", "region"), ("image", "region")):
            conf[section].pop(key)  # type: ignore[attr-defined]
        conf["oslo_concurrency"].pop("lock_path")  # type: ignore[attr-defined]
    assert confs[0] == confs[1]
    assert confs[0]["service_available"]["cinder"] is True
    # ListUserImagesTest runs: random bytes under formats Glance accepts them for (raw and
    # the uninspectable ones), so the first six (container, disk) pairs all upload
    assert confs[0]["image"]["disk_formats"] == "raw,ami,ari,aki,ploop"
    assert confs[0]["image-feature-enabled"] == {"image_format_enforcement": False}
    # other services name no image region (tempest takes the identity region)
    compute = direct_target(layout.pod(1))
    compute_conf = _conf(layout, compute, workspace(layout, compute), facts)
    assert compute_conf["image"] == {"build_timeout": 120}
    assert "image-feature-enabled" not in compute_conf


def test_image_region_directly_is_a_region_whose_endpoint_is_the_top_glance() -> None:
    assert image_region(CATALOG, "pod1", GLANCE) == "pod1"
    assert image_region(CATALOG, "pod2", GLANCE + "/") == "pod2"  # trailing `/` alike
    # an independent pod's region has a Glance of its own: the first region with the top's
    assert image_region(CATALOG, "pod3", GLANCE) == "pod1"
    with pytest.raises(DevcloudError, match="no region's image endpoint"):
        image_region(_catalog(cascade="http://127.0.0.1:20080/image"), "pod1", GLANCE)


def test_image_region_through_the_top_must_be_cascades_image_endpoint() -> None:
    assert image_region(CATALOG, "cascade", GLANCE) == "cascade"
    # a catalog from before the top served images: the comparison would compare nothing
    with pytest.raises(DevcloudError, match="not the top's /image"):
        image_region(_catalog(cascade=GLANCE, pod1=GLANCE), "cascade", GLANCE)
    with pytest.raises(DevcloudError, match="missing"):
        image_region(_catalog(pod1=GLANCE), "cascade", GLANCE)
    # the top's Glance reached under the cascade region never counts as "directly"
    assert image_region(_catalog(cascade=GLANCE, pod1=GLANCE), "pod1", GLANCE) == "pod1"


def test_cli_takes_service_image_without_whole() -> None:
    args = parser().parse_args(["tempest", "--cloud", "cascade", "--service", "image"])
    assert (args.cloud, args.service, args.whole) == ("cascade", "image", False)
    assert "image" in SERVICES
