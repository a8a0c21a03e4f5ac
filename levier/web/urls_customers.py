"""Customer routes, included in the "web" namespace by levier/web/urls.py."""

from django.urls import path

from levier.web.views import customers

urlpatterns = [
    path("customers/", customers.customer_list, name="customer_list"),
    path("customers/new/", customers.customer_create, name="customer_create"),
    path("customers/import/", customers.customer_import, name="customer_import"),
    path(
        "customers/check-field/", customers.customer_validate_field, name="customer_validate_field"
    ),
    path("customers/duplicates/", customers.customer_duplicates, name="customer_duplicates"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", customers.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/merge/", customers.customer_merge, name="customer_merge"),
    path("customers/<int:pk>/contacts/new/", customers.contact_add, name="contact_add"),
    path(
        "customers/<int:pk>/addresses/new/",
        customers.delivery_address_add,
        name="delivery_address_add",
    ),
]
