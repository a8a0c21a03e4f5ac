"""The web UI's routes. Each area's views live in their own module under levier/web/views/."""

from django.urls import URLPattern, URLResolver, include, path

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
]
