"""Cascade: many OpenStack clouds behind one OpenStack-compatible endpoint."""
