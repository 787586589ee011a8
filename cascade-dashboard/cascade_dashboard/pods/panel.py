import horizon
from django.utils.translation import gettext_lazy as _

from cascade_dashboard import dashboard


class Pods(horizon.Panel):  # type: ignore[misc]
    name = _("Pods")
    slug = "pods"


dashboard.Cascade.register(Pods)
