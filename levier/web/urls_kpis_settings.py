"""Administration › Indicateurs: KPI thresholds and the weekly report (namespace "web").

Included by levier/web/urls.py. Only the Administrateur may use them.
"""

from django.urls import path

from levier.web.views import kpis_settings as views

urlpatterns = [
    path("admin/kpis/thresholds/", views.kpi_thresholds, name="kpi_thresholds"),
    path("admin/kpis/report/", views.kpi_report_settings, name="kpi_report_settings"),
    path("admin/kpis/report/recipients/add/", views.kpi_recipient_add, name="kpi_recipient_add"),
    path(
        "admin/kpis/report/recipients/toggle/",
        views.kpi_recipient_toggle,
        name="kpi_recipient_toggle",
    ),
    path(
        "admin/kpis/report/recipients/<int:pk>/remove/",
        views.kpi_recipient_remove,
        name="kpi_recipient_remove",
    ),
    path("admin/kpis/report/send/", views.kpi_report_send, name="kpi_report_send"),
]
