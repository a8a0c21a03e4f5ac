"""Billing routes (run, invoices, credit notes, cut-off, company profile), namespace "web".

Included by levier/web/urls.py. Downloads of an issued document hang off its page:
invoices/<pk>/pdf/, invoices/<pk>/facturx/, invoices/<pk>/xml/<cii|ubl>/; sending again is
invoices/<pk>/send/.
"""

from django.urls import path

from levier.web.views import billing

urlpatterns = [
    # the billing run and the drafts it leaves
    path("billing/run/", billing.billing_run, name="billing_run"),
    path("billing/runs/<int:pk>/", billing.billing_run_detail, name="billing_run_detail"),
    path("billing/drafts/issue/", billing.drafts_issue, name="drafts_issue"),
    path("billing/cutoff/", billing.cutoff, name="cutoff"),
    # invoices and credit notes
    path("invoices/", billing.invoice_list, name="invoice_list"),
    path("invoices/<int:pk>/", billing.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/issue/", billing.invoice_issue, name="invoice_issue"),
    path("invoices/<int:pk>/discard/", billing.invoice_discard, name="invoice_discard"),
    path("invoices/<int:pk>/credit-note/", billing.credit_note_create, name="credit_note_create"),
    path("invoices/<int:pk>/pdf/", billing.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:pk>/facturx/", billing.invoice_facturx, name="invoice_facturx"),
    path("invoices/<int:pk>/xml/<str:syntax>/", billing.invoice_xml, name="invoice_xml"),
    # sending on the customer's channel (the log is on the invoice page)
    path("invoices/sendings/", billing.sendings_to_handle, name="sendings_to_handle"),
    path("invoices/<int:pk>/send/", billing.invoice_resend, name="invoice_resend"),
    path(
        "invoices/sendings/<int:pk>/printed/",
        billing.dispatch_mark_printed,
        name="dispatch_mark_printed",
    ),
    # the seller's identity
    path("settings/company/", billing.company_profile, name="company_profile"),
    path("settings/company/logo/", billing.company_logo, name="company_logo"),
]
