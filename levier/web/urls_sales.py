"""Routes of the worklist, orders, quotes and the circuit administration (namespace "web")."""

from django.urls import path

from levier.web.views import admin, home, orders, quotes

urlpatterns = [
    path("", home.home, name="home"),
    # orders
    path("orders/", orders.order_list, name="order_list"),
    path("orders/new/", orders.order_create, name="order_create"),
    path("orders/totals/", orders.order_totals, name="order_totals"),
    path("orders/line-row/", orders.order_line_row, name="order_line_row"),
    path("orders/customers/", orders.order_customer_search, name="order_customer_search"),
    path("orders/<int:pk>/", orders.order_detail, name="order_detail"),
    path("orders/<int:pk>/edit/", orders.order_edit, name="order_edit"),
    path("orders/<int:pk>/submit/", orders.order_submit, name="order_submit"),
    path("orders/<int:pk>/approve/", orders.order_approve, name="order_approve"),
    path("orders/<int:pk>/reject/", orders.order_reject, name="order_reject"),
    path("orders/<int:pk>/reopen/", orders.order_reopen, name="order_reopen"),
    path("orders/<int:pk>/cancel/", orders.order_cancel, name="order_cancel"),
    # quotes
    path("quotes/", quotes.quote_list, name="quote_list"),
    path("quotes/new/", quotes.quote_create, name="quote_create"),
    path("quotes/<int:pk>/", quotes.quote_detail, name="quote_detail"),
    path("quotes/<int:pk>/send/", quotes.quote_send, name="quote_send"),
    path("quotes/<int:pk>/decline/", quotes.quote_decline, name="quote_decline"),
    path("quotes/<int:pk>/convert/", quotes.quote_convert, name="quote_convert"),
    # administration of the validation circuit
    path("admin/rules/", admin.rule_list, name="rule_list"),
    path("admin/rules/<int:pk>/", admin.rule_edit, name="rule_edit"),
    path("admin/procedures/", admin.procedure_sheet_list, name="procedure_sheet_list"),
    path("admin/procedures/<str:role>/", admin.procedure_sheet_edit, name="procedure_sheet_edit"),
]
