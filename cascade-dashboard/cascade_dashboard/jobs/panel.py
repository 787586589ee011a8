import horizon
from django.utils.translation import gettext_lazy as _

from cascade_dashboard import dashboard


class Jobs(horizon.Panel):  # type: ignore[misc]
    name = _("Jobs")
    slug = "jobs"


dashboard.Cascade.register(Jobs)
