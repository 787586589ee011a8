"""The commands of `openstack cascade ...` for the admin API v1, one module a resource."""
