"""The Compute API's services: flavors, keypairs, quotas, servers, aggregates, hosts."""
