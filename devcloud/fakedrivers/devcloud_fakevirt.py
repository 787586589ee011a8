"""A fake Nova virt driver for the devcloud whose snapshots upload image data.

Nova's `fake.FakeDriverWithoutFakeNodes` (the devcloud's driver: it can be restarted)
keeps no disks and uploads nothing when it snapshots a server, so the snapshot image
stays `queued` in Glance and never becomes active. This subclass uploads a small raw disk
as libvirt's driver uploads the real one, so the tempest tests of server snapshots can
count. Never use it outside a fake test cloud. (Nova and Cinder cannot be imported in one
process: each registers the same options, hence one module per service.)
"""

from __future__ import annotations

from typing import Any

from nova.image import glance
from nova.virt.fake import FakeDriverWithoutFakeNodes

# What a snapshot holds: 1 MiB of zeros, a valid raw disk (Glance's format inspection
# accepts it as raw). A str, not a file: glanceclient sends a file chunked, which the
# devcloud's Glance (uWSGI's own HTTP server) fails to read ("unable to receive chunked
# part"); a str goes with its Content-Length.
PAYLOAD = "\0" * (1 << 20)


class SnapshotFakeDriver(FakeDriverWithoutFakeNodes):  # type: ignore[misc]
    """Nova's fake driver, whose snapshots upload a raw disk as libvirt's do."""

    def snapshot(self, context: Any, instance: Any, image_id: str, update_task_state: Any) -> None:
        super().snapshot(context, instance, image_id, update_task_state)
        # as libvirt's driver: the disk's format facts; the rest of the image as Nova made it
        metadata = {"disk_format": "raw", "container_format": "bare"}
        glance.API().update(context, image_id, metadata, data=PAYLOAD, purge_props=False)
