"""Talking to the pods: endpoint discovery, one HTTP client per pod service, health."""
