from django.urls import re_path

from cascade_dashboard.audits import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^(?P<audit_id>[^/]+)/$", views.FindingsView.as_view(), name="findings"),
]
