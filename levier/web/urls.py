"""The web UI's routes. Each area's views live in their own module under levier/web/views/."""

from django.urls import URLPattern, URLResolver, include, path

from levier.web.views import advaudit

app_name = "web"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("levier.web.urls_customers")),
    path("", include("levier.web.urls_catalog")),
    path("", include("levier.web.urls_sales")),
    path("", include("levier.web.urls_contracts")),
    path("", include("levier.web.urls_billing")),
    path("", include("levier.web.urls_collections")),
    path("", include("levier.web.urls_kpis_settings")),
    path("", include("levier.web.urls_kpis")),
    # Audit ADV (levier/web/views/advaudit.py)
    path("audit-adv/", advaudit.advaudit_index, name="advaudit"),
    path("audit-adv/<int:pk>/", advaudit.advaudit_detail, name="advaudit_detail"),
    path(
        "audit-adv/<int:pk>/questionnaire/",
        advaudit.advaudit_questionnaire,
        name="advaudit_questionnaire",
    ),
    path(
        "audit-adv/<int:pk>/rapport.<str:fmt>",
        advaudit.advaudit_download,
        name="advaudit_download",
    ),
]
