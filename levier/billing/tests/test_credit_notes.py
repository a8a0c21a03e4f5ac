import datetime as dt
from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.billing.services import create_credit_note, issue_invoice, remaining_to_credit
from levier.billing.tests.factories import draft_invoice
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.sales.tests.factories import line

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 27)


@pytest.fixture
def invoice(adv: User):  # type: ignore[no-untyped-def]
    return issue_invoice(
        actor=adv, invoice=draft_invoice(adv, lines=[line("10", "100")]), issue_date=DAY
    )


def test_full_credit_note_has_its_own_series_and_references_the_invoice(adv: User, invoice) -> None:  # type: ignore[no-untyped-def]
    note = create_credit_note(actor=adv, invoice=invoice, reason="duplicate")
    note = issue_invoice(actor=adv, invoice=note, issue_date=DAY)
    assert note.number == "AV2026-000001"
    assert note.credited_invoice == invoice and note.credit_reason == "duplicate"
    assert note.total_gross == invoice.total_gross == Decimal("1200.00")
    assert remaining_to_credit(invoice) == Decimal("0.00")


def test_credit_note_cannot_exceed_invoice_balance(adv: User, invoice) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        create_credit_note(
            actor=adv, invoice=invoice, reason="price_error", lines=[line("11", "100")]
        )
    assert err.value.code == "credit_exceeds_invoice"


def test_partial_credit_notes_together_never_exceed_the_invoice(
    adv: User, compta: User, invoice
) -> None:  # type: ignore[no-untyped-def]
    first = create_credit_note(
        actor=adv, invoice=invoice, reason="commercial_gesture", lines=[line("6", "100")]
    )
    second = create_credit_note(
        actor=compta, invoice=invoice, reason="price_error", lines=[line("6", "100")]
    )
    issue_invoice(actor=adv, invoice=first, issue_date=DAY)
    # both drafts fitted alone; issuing the second would take back 1440 € of 1200 €
    with pytest.raises(ValidationFailed):
        issue_invoice(actor=compta, invoice=second, issue_date=DAY)
    assert remaining_to_credit(invoice) == Decimal("480.00")


def test_a_credit_note_needs_a_known_reason_and_an_issued_invoice(adv: User, invoice) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed):
        create_credit_note(actor=adv, invoice=invoice, reason="because")
    with pytest.raises(NotAllowed):
        create_credit_note(actor=adv, invoice=draft_invoice(adv), reason="duplicate")
