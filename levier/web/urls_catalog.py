"""Catalog routes, included in the "web" namespace by levier/web/urls.py."""

from django.urls import path

from levier.web.views import catalog

urlpatterns = [
    path("catalog/", catalog.product_list, name="product_list"),
    path("catalog/new/", catalog.product_create, name="product_create"),
    path("catalog/<int:pk>/edit/", catalog.product_edit, name="product_edit"),
]
