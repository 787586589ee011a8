import horizon
from django.utils.translation import gettext_lazy as _

from cascade_dashboard import dashboard


class Audits(horizon.Panel):  # type: ignore[misc]
    name = _("Audits")
    slug = "audits"


dashboard.Cascade.register(Audits)
