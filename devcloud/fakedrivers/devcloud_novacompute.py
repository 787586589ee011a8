"""`devcloud-nova-compute`: nova-compute with the devcloud's fake virt driver.

Nova loads `[DEFAULT] compute_driver` from the `nova.virt` package only
(`nova.virt.<compute_driver>`), so a driver shipped outside Nova cannot be named there.
This starter does what `nova-compute` does, after putting `SnapshotFakeDriver` into
`nova.virt.fake`: the devcloud then names it `fake.SnapshotFakeDriver`.
"""

from __future__ import annotations

# nova-compute's own start: Nova's monkey patching before anything else of Nova is imported
from nova.cmd import compute  # isort: skip

import nova.virt.fake
from devcloud_fakevirt import SnapshotFakeDriver


def main() -> None:
    nova.virt.fake.SnapshotFakeDriver = SnapshotFakeDriver
    compute.main()
