"""The audit trail shows labels, not raw field names and codes."""

from __future__ import annotations

from django.utils.translation import override

from levier.audit.models import AuditEvent
from levier.web.templatetags.audit_display import audit_changes, audit_comment


def _rows(event: AuditEvent) -> dict[str, tuple[str, str, str, str]]:
    return {c.name: (c.label, c.before, c.after, c.value) for c in audit_changes(event)}


def test_update_shows_verbose_names_choice_labels_and_oui_non() -> None:
    event = AuditEvent(
        verb="update",
        object_type="customers.customer",
        changes={
            "address_line1": ["", "3 rue des Lilas"],
            "invoice_channel": ["email", "post"],
            "is_strategic": [False, True],
            "step": "adv",
        },
    )
    rows = _rows(event)
    assert rows["address_line1"][:3] == ("adresse de facturation", "—", "3 rue des Lilas")
    assert rows["invoice_channel"][1:3] == ("E-mail (PDF)", "Courrier")
    assert rows["is_strategic"][1:3] == ("Non", "Oui")
    assert rows["step"][0] == "étape" and rows["step"][3] == "Administration des ventes (ADV)"
    with override("en"):
        rows = _rows(event)
    assert rows["address_line1"][0] == "billing address"
    assert rows["is_strategic"][1:3] == ("No", "Yes")


def test_snapshot_of_a_product_shows_the_invoicing_mode_label() -> None:
    event = AuditEvent(
        verb="create",
        object_type="catalog.product",
        changes={"default_invoicing_mode": "on_order", "lines": ["a"], "vat_exemption_mention": ""},
    )
    rows = _rows(event)
    assert rows["default_invoicing_mode"][3] == "À la commande"
    assert rows["vat_exemption_mention"][3] == "—"


def test_service_comments_are_shown_in_the_reader_language() -> None:
    assert audit_comment("contact of customer #12") == "contact du client n° 12"
    with override("en"):
        assert audit_comment("contact of customer #12") == "contact of customer #12"
    assert audit_comment("Doublon import") == "Doublon import"
