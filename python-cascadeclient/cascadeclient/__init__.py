"""python-cascadeclient: the `openstack cascade ...` commands for Cascade's admin API."""
