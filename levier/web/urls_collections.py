"""Collections routes (encaissements, litiges, relances), namespace "web".

Included by levier/web/urls.py. What a collector records on an account hangs off the
customer (customers/<pk>/promises/, customers/<pk>/notes/…); opening a dispute hangs off
its invoice (invoices/<pk>/dispute/).
"""

from django.urls import path

from levier.web.views import (
    collections_disputes as disputes,
)
from levier.web.views import (
    collections_dunning as dunning,
)
from levier.web.views import (
    collections_followup as followup,
)
from levier.web.views import (
    collections_matching as matching,
)
from levier.web.views import (
    collections_payments as payments,
)
from levier.web.views import (
    collections_statements as statements,
)

urlpatterns = [
    # Encaissements › Relevés
    path("collections/statements/", statements.statements, name="statements"),
    # Encaissements › Paiements
    path("collections/payments/", payments.payment_list, name="payment_list"),
    path("collections/payments/new/", payments.payment_create, name="payment_create"),
    path(
        "collections/payments/open-invoices/",
        payments.payment_open_invoices,
        name="payment_open_invoices",
    ),
    path("collections/payments/<int:pk>/", payments.payment_detail, name="payment_detail"),
    path(
        "collections/payments/<int:pk>/allocate/",
        payments.payment_allocate,
        name="payment_allocate",
    ),
    path(
        "collections/allocations/<int:pk>/unmatch/",
        payments.allocation_unmatch,
        name="allocation_unmatch",
    ),
    # Encaissements › Rapprochement
    path("collections/matching/", matching.reconciliation, name="reconciliation"),
    path("collections/matching/run/", matching.matching_run, name="matching_run"),
    path(
        "collections/proposals/<int:pk>/accept/",
        matching.proposal_accept,
        name="proposal_accept",
    ),
    path(
        "collections/proposals/<int:pk>/reject/",
        matching.proposal_reject,
        name="proposal_reject",
    ),
    # Ma journée
    path("collections/today/", followup.my_day, name="collections_today"),
    path("collections/tasks/<int:pk>/done/", followup.task_complete, name="task_complete"),
    # Relances
    path("dunning/", dunning.dunning, name="dunning"),
    path("dunning/run/", dunning.dunning_run, name="dunning_run"),
    path("dunning/runs/", dunning.dunning_runs, name="dunning_runs"),
    path("dunning/runs/<int:pk>/", dunning.dunning_run_detail, name="dunning_run_detail"),
    path("dunning/messages/<int:pk>/", dunning.dunning_message_detail, name="dunning_message"),
    path(
        "dunning/messages/<int:pk>/letter/", dunning.dunning_letter_pdf, name="dunning_letter_pdf"
    ),
    path(
        "dunning/messages/<int:pk>/printed/",
        dunning.dunning_message_printed,
        name="dunning_message_printed",
    ),
    path("dunning/scenarios/", dunning.dunning_scenarios, name="dunning_scenarios"),
    path("dunning/rates/", dunning.interest_rate_save, name="interest_rate_save"),
    path("dunning/scenarios/new/", dunning.scenario_create, name="scenario_create"),
    path("dunning/steps/<int:pk>/delete/", dunning.dunning_step_delete, name="dunning_step_delete"),
    path(
        "dunning/scenarios/<int:pk>/steps/new/",
        dunning.dunning_step_create,
        name="dunning_step_create",
    ),
    path("dunning/steps/<int:pk>/", dunning.dunning_step_edit, name="dunning_step_edit"),
    # Litiges
    path("disputes/", disputes.dispute_list, name="dispute_list"),
    path("disputes/<int:pk>/", disputes.dispute_detail, name="dispute_detail"),
    path("disputes/<int:pk>/resolve/", disputes.dispute_resolve, name="dispute_resolve"),
    path("disputes/<int:pk>/reopen/", disputes.dispute_reopen, name="dispute_reopen"),
    path("disputes/<int:pk>/close/", disputes.dispute_close, name="dispute_close"),
    path("invoices/<int:pk>/dispute/", disputes.dispute_open, name="dispute_open"),
    # on the customer page
    path("customers/<int:pk>/promises/", followup.promise_record, name="promise_record"),
    path("customers/<int:pk>/notes/", followup.note_add, name="collection_note_add"),
    path(
        "customers/<int:pk>/dunning-scenario/",
        followup.customer_scenario,
        name="customer_scenario",
    ),
    path("promises/<int:pk>/cancel/", followup.promise_cancel, name="promise_cancel"),
    path(
        "customers/<int:pk>/statement/",
        followup.account_statement_download,
        name="account_statement_pdf",
    ),
    path(
        "customers/<int:pk>/statement/send/",
        followup.account_statement_send,
        name="account_statement_send",
    ),
]
