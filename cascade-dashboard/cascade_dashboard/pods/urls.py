from django.urls import re_path

from cascade_dashboard.pods import views

urlpatterns = [re_path(r"^$", views.IndexView.as_view(), name="index")]
