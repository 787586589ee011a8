"""A fake Cinder volume driver for the devcloud that moves image data.

Cinder's `FakeLoggingVolumeDriver` (an LVM driver whose commands do nothing) cannot make
a volume from an image or upload a volume to an image: both need qemu-img and a block
device. This subclass makes a volume from an image as a cloning back-end does (keeping
nothing) and uploads a small raw
disk, so the tempest tests of those features can count. Never use it outside a fake test
cloud. (Nova and Cinder cannot be imported in one process: each registers the same
options, hence one module per service.)
"""

from __future__ import annotations

from typing import Any

from cinder.tests.fake_driver import FakeLoggingVolumeDriver

# What an uploaded volume holds: 1 MiB of zeros, a valid raw disk (Glance's format
# inspection accepts it as raw). A str, not a file: glanceclient sends a file chunked,
# which the devcloud's Glance (uWSGI's own HTTP server) fails to read ("unable to receive
# chunked part"); a str goes with its Content-Length.
PAYLOAD = "\0" * (1 << 20)


class ImageFakeVolumeDriver(FakeLoggingVolumeDriver):  # type: ignore[misc]
    """Cinder's fake driver, which reads an image into a volume and uploads a volume."""

    def clone_image(
        self,
        context: Any,
        volume: Any,
        image_location: Any,
        image_meta: dict[str, Any],
        image_service: Any,
    ) -> tuple[dict[str, Any], bool]:
        # as a back-end that makes a volume from an image without downloading it (RBD's
        # clone): Cinder's download path inspects the image with qemu-img through sudo
        return self.create_volume(volume) or {}, True

    def copy_image_to_volume(
        self,
        context: Any,
        volume: Any,
        image_service: Any,
        image_id: str,
        disable_sparse: bool = False,
    ) -> None:
        # read the image through, as a real driver does (a missing or unreadable image
        # fails the create as it would), and keep nothing: the volume has no disk
        for _chunk in image_service.download(context, image_id) or ():
            pass

    def copy_volume_to_image(
        self, context: Any, volume: Any, image_service: Any, image_meta: dict[str, Any]
    ) -> None:
        image_service.update(context, image_meta["id"], {}, data=PAYLOAD, purge_props=False)

    def copy_image_to_encrypted_volume(
        self, context: Any, volume: Any, image_service: Any, image_id: str
    ) -> None:
        self.copy_image_to_volume(context, volume, image_service, image_id)
