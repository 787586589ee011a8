"""Networking owned by the top: the object store, IPAM, VLANs, and what pods get."""
