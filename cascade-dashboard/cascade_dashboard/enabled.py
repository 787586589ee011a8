"""Horizon's enabled file for the Cascade dashboard (docs/dashboard.md)."""

DASHBOARD = "cascade"
ADD_INSTALLED_APPS = ["cascade_dashboard"]
DISABLED = False
