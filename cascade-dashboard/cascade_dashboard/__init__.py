"""Cascade's Horizon plugin: an admin dashboard over the admin API (`/v1`).

Enable it by copying (or importing) `cascade_dashboard.enabled` into Horizon's
`openstack_dashboard/local/enabled/` as `_9000_cascade.py` (docs/dashboard.md).
"""
