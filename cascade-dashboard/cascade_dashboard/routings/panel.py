import horizon
from django.utils.translation import gettext_lazy as _

from cascade_dashboard import dashboard


class Routings(horizon.Panel):  # type: ignore[misc]
    name = _("Routings")
    slug = "routings"


dashboard.Cascade.register(Routings)
