"""KPI routes (tableau de bord), namespace "web": the dashboard and the list behind each figure.

Included by levier/web/urls.py. The drill-down's key is any string so that an unknown one
reaches the view and gets a 404 page, like a bad parameter gets a 400.
"""

from django.urls import path

from levier.web.views import kpis

urlpatterns = [
    path("dashboard/", kpis.kpi_dashboard, name="kpis_dashboard"),
    path("dashboard/detail/<str:key>/", kpis.kpi_drilldown, name="kpis_drilldown"),
]
