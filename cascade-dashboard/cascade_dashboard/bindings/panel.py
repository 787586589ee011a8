import horizon
from django.utils.translation import gettext_lazy as _

from cascade_dashboard import dashboard


class Bindings(horizon.Panel):  # type: ignore[misc]
    name = _("Bindings")
    slug = "bindings"


dashboard.Cascade.register(Bindings)
