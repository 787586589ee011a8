"""The "Cascade" dashboard: shown to admins only (the admin API is theirs)."""

import horizon
from django.utils.translation import gettext_lazy as _


class Cascade(horizon.Dashboard):  # type: ignore[misc]
    name = _("Cascade")
    slug = "cascade"
    panels = ("pods", "jobs", "routings", "bindings", "audits")
    default_panel = "pods"
    permissions = ("openstack.roles.admin",)


horizon.register(Cascade)
