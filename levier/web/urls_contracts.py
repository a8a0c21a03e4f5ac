"""Contract and index routes, included in the "web" namespace by levier/web/urls.py."""

from django.urls import path

from levier.web.views import contracts

urlpatterns = [
    path("contracts/", contracts.contract_list, name="contract_list"),
    path("contracts/new/", contracts.contract_create, name="contract_create"),
    path("contracts/<int:pk>/", contracts.contract_detail, name="contract_detail"),
    path("contracts/<int:pk>/amend/", contracts.contract_amend, name="contract_amend"),
    path("contracts/<int:pk>/notice/", contracts.contract_give_notice, name="contract_give_notice"),
    path(
        "contracts/<int:pk>/milestones/<int:milestone_pk>/reached/",
        contracts.contract_milestone_reached,
        name="contract_milestone_reached",
    ),
    path(
        "contracts/<int:pk>/lines/<int:line_pk>/delivery/",
        contracts.contract_record_delivery,
        name="contract_record_delivery",
    ),
    path(
        "contracts/<int:pk>/lines/<int:line_pk>/time/",
        contracts.contract_enter_time,
        name="contract_enter_time",
    ),
    path(
        "contracts/<int:pk>/documents/upload/",
        contracts.contract_document_upload,
        name="contract_document_upload",
    ),
    path(
        "contracts/<int:pk>/documents/generate/",
        contracts.contract_document_generate,
        name="contract_document_generate",
    ),
    path(
        "contracts/<int:pk>/documents/<int:doc_pk>/",
        contracts.contract_document_download,
        name="contract_document_download",
    ),
    path("orders/<int:pk>/contract/", contracts.contract_from_order, name="contract_from_order"),
    path("indexes/", contracts.index_list, name="index_list"),
]
