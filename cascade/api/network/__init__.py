"""The Networking API (Neutron v2.0) at the top, under `/networking`."""
