"""Disputes: opening, resolution by credit note / corrected invoice / rejection, closing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.models import AuditEvent
from levier.billing.choices import CreditReason
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.choices import DisputeStatus
from levier.collections.disputes import close_dispute, open_dispute, reopen_dispute, resolve_dispute
from levier.collections.tests.factories import issued_invoice
from levier.integrations.models import DomainEvent
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.sales.transitions import InvalidTransition

D = Decimal
OPENED = dt.date(2026, 10, 10)


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def _open(actor: User, owner: User, **kw: object):  # type: ignore[no-untyped-def]
    invoice = kw.pop("invoice", None) or issued_invoice(actor if actor.role == "adv" else owner)
    return open_dispute(
        actor=actor,
        invoice=invoice,  # type: ignore[arg-type]
        reason=kw.pop("reason", "price"),  # type: ignore[arg-type]
        owner=owner,
        due_on=dt.date(2026, 10, 31),
        opened_on=OPENED,
        **kw,  # type: ignore[arg-type]
    )


def test_a_dispute_on_lines_at_two_rates_rounds_vat_per_rate_half_up(adv: User) -> None:
    from levier.billing.tests.factories import draft_invoice
    from levier.sales.tests.factories import line

    # 0.125 of VAT on each line: per line half-even would give 0.12 + 0.12.
    lines = [line("1", "0.625"), line("1", "0.625")]
    draft = draft_invoice(adv, lines=lines)
    invoice = issue_invoice(actor=adv, invoice=draft, issue_date=dt.date(2026, 10, 1))
    dispute = _open(adv, adv, invoice=invoice, lines=list(invoice.lines.all()))
    assert dispute.amount == invoice.total_gross


def test_a_dispute_on_the_whole_invoice_contests_its_open_amount(adv: User) -> None:
    dispute = _open(adv, adv, notes="prix du jour supplémentaire")
    assert dispute.status == DisputeStatus.OPEN and dispute.amount == D("1200.00")
    assert DomainEvent.objects.filter(name="dispute.opened").count() == 1


def test_a_dispute_on_some_lines_contests_those_lines_with_their_vat(adv: User) -> None:
    from levier.billing.tests.factories import draft_invoice
    from levier.sales.tests.factories import line

    draft = draft_invoice(adv, lines=[line("1", "1000"), line("2", "100", vat="10")])
    invoice = issue_invoice(actor=adv, invoice=draft, issue_date=dt.date(2026, 10, 1))
    second = invoice.lines.order_by("position").last()
    assert second is not None
    dispute = _open(adv, adv, invoice=invoice, reason="quantity", lines=[second])
    assert dispute.amount == D("220.00")
    assert list(dispute.lines.all()) == [second]


def test_a_second_open_dispute_on_the_same_invoice_is_refused(adv: User) -> None:
    dispute = _open(adv, adv)
    with pytest.raises(NotAllowed) as refused:
        _open(adv, adv, invoice=dispute.invoice)
    assert refused.value.code == "already_disputed"


def test_a_credit_note_resolution_needs_a_credit_note_of_that_invoice(adv: User) -> None:
    dispute = _open(adv, adv)
    with pytest.raises(ValidationFailed) as refused:
        resolve_dispute(actor=adv, dispute=dispute, resolution="credit_note")
    assert "credit_note" in refused.value.errors
    note = create_credit_note(actor=adv, invoice=dispute.invoice, reason=CreditReason.DISPUTE)
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 10, 20))
    note.refresh_from_db()
    resolved = resolve_dispute(
        actor=adv,
        dispute=dispute,
        resolution="credit_note",
        credit_note=note,
        resolved_on=dt.date(2026, 10, 20),
    )
    assert resolved.status == DisputeStatus.RESOLVED and resolved.credit_note == note
    assert (resolved.resolved_on - resolved.opened_on).days == 10
    assert DomainEvent.objects.filter(name="dispute.resolved").count() == 1


def test_a_corrected_invoice_must_be_another_issued_invoice_of_the_customer(adv: User) -> None:
    dispute = _open(adv, adv)
    note = create_credit_note(actor=adv, invoice=dispute.invoice, reason=CreditReason.DISPUTE)
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 10, 20))
    with pytest.raises(ValidationFailed):
        resolve_dispute(
            actor=adv,
            dispute=dispute,
            resolution="corrected_invoice",
            corrected_invoice=dispute.invoice,
        )
    other_customer = issued_invoice(adv)
    with pytest.raises(ValidationFailed):
        resolve_dispute(
            actor=adv,
            dispute=dispute,
            resolution="corrected_invoice",
            corrected_invoice=other_customer,
        )
    replacement = issued_invoice(adv, dispute.invoice.customer)
    resolved = resolve_dispute(
        actor=adv, dispute=dispute, resolution="corrected_invoice", corrected_invoice=replacement
    )
    assert resolved.corrected_invoice == replacement


@pytest.fixture
def replaced(adv: User):  # type: ignore[no-untyped-def]
    """A disputed invoice and the corrected one issued to replace it."""
    dispute = _open(adv, adv)
    return dispute, issued_invoice(adv, dispute.invoice.customer)


def test_a_corrected_invoice_needs_the_original_cancelled_by_a_credit_note(
    adv: User,
    replaced: tuple,  # type: ignore[type-arg]
) -> None:
    dispute, replacement = replaced
    with pytest.raises(ValidationFailed) as refused:
        resolve_dispute(
            actor=adv,
            dispute=dispute,
            resolution="corrected_invoice",
            corrected_invoice=replacement,
        )
    assert refused.value.code == "original_not_cancelled"
    note = create_credit_note(actor=adv, invoice=dispute.invoice, reason=CreditReason.DISPUTE)
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 10, 20))
    resolved = resolve_dispute(
        actor=adv, dispute=dispute, resolution="corrected_invoice", corrected_invoice=replacement
    )
    assert resolved.corrected_invoice == replacement


def test_a_rejected_dispute_says_why(adv: User) -> None:
    dispute = _open(adv, adv)
    with pytest.raises(ValidationFailed):
        resolve_dispute(actor=adv, dispute=dispute, resolution="rejected")
    resolved = resolve_dispute(
        actor=adv, dispute=dispute, resolution="rejected", note="livré et signé le 02/10"
    )
    assert resolved.resolution == "rejected"


def test_a_dispute_is_closed_only_once_resolved_and_each_move_is_logged(adv: User) -> None:
    dispute = _open(adv, adv)
    with pytest.raises(InvalidTransition):
        close_dispute(actor=adv, dispute=dispute)
    resolve_dispute(actor=adv, dispute=dispute, resolution="rejected", note="conforme")
    reopen_dispute(actor=adv, dispute=dispute, reason="le client conteste encore")
    resolve_dispute(
        actor=adv, dispute=dispute, resolution="rejected", note="conforme, vu Direction"
    )
    closed = close_dispute(actor=adv, dispute=dispute, note="clos")
    assert closed.status == DisputeStatus.CLOSED
    moves = list(
        AuditEvent.objects.filter(object_type="collections.dispute", verb="transition")
        .order_by("pk")
        .values_list("changes__status", flat=True)
    )
    assert moves == [
        ["open", "resolved"],
        ["resolved", "open"],
        ["open", "resolved"],
        ["resolved", "closed"],
    ]


def test_the_resolution_due_date_cannot_precede_the_opening(adv: User) -> None:
    invoice = issued_invoice(adv)
    with pytest.raises(ValidationFailed) as refused:
        open_dispute(
            actor=adv,
            invoice=invoice,
            reason="price",
            owner=adv,
            due_on=OPENED - dt.timedelta(days=1),
            opened_on=OPENED,
        )
    assert "due_on" in refused.value.errors


def test_an_auditor_cannot_open_a_dispute(adv: User, auditeur: User) -> None:
    invoice = issued_invoice(adv)
    with pytest.raises(PermissionDenied):
        _open(auditeur, adv, invoice=invoice)


def test_a_draft_cannot_be_disputed(adv: User) -> None:
    from levier.billing.tests.factories import draft_invoice

    with pytest.raises(NotAllowed):
        _open(adv, adv, invoice=draft_invoice(adv))
