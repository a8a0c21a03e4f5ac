"""Issuing drafts in a batch: consecutive numbers in order, failures isolated, constant cost."""

import datetime as dt

import pytest

from levier.accounts.models import User
from levier.billing.choices import InvoiceStatus
from levier.billing.models import ChainHead, Invoice
from levier.billing.services import create_credit_note, issue_invoice, issue_invoices
from levier.billing.tests.factories import draft_invoice
from levier.customers.tests.factories import CustomerFactory
from levier.lib.errors import ValidationFailed
from levier.sales.tests.factories import line

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 27)


def test_a_batch_numbers_its_drafts_consecutively_in_the_order_given(adv: User) -> None:
    drafts = [draft_invoice(adv) for _ in range(4)]
    issued, failures = issue_invoices(actor=adv, invoices=drafts[::-1], issue_date=DAY)
    assert failures == []
    assert [i.pk for i in issued] == [d.pk for d in drafts[::-1]]
    assert [i.number for i in issued] == [f"F2026-00000{n}" for n in range(1, 5)]
    assert [i.chain_index for i in issued] == [1, 2, 3, 4]
    assert ChainHead.objects.get().last_hash == issued[-1].content_hash


def test_a_draft_that_fails_stays_a_draft_and_the_others_are_issued(adv: User) -> None:
    legacy = CustomerFactory()
    type(legacy).objects.filter(pk=legacy.pk).update(siren="", siret="")
    legacy.refresh_from_db()
    good, bad, good2 = draft_invoice(adv), draft_invoice(adv, customer=legacy), draft_invoice(adv)
    issued, failures = issue_invoices(actor=adv, invoices=[good, bad, good2], issue_date=DAY)
    assert [i.number for i in issued] == ["F2026-000001", "F2026-000002"]
    assert [f.invoice.pk for f in failures] == [bad.pk] and "SIREN" in failures[0].message
    bad.refresh_from_db()
    assert bad.status == InvoiceStatus.DRAFT and bad.number is None


def test_two_credit_notes_of_one_batch_cannot_together_exceed_the_invoice(adv: User) -> None:
    invoice = issue_invoice(
        actor=adv, invoice=draft_invoice(adv, lines=[line("1", "100")]), issue_date=DAY
    )  # 120.00 TTC
    notes = [
        create_credit_note(
            actor=adv, invoice=invoice, reason="price_error", lines=[line("1", "60")]
        )
        for _ in range(2)
    ]  # 72.00 TTC each
    issued, failures = issue_invoices(actor=adv, invoices=notes, issue_date=DAY)
    assert len(issued) == 1 and len(failures) == 1
    assert failures[0].error.code == "credit_exceeds_invoice"  # type: ignore[attr-defined]


def test_a_single_issue_raises_what_stopped_it(adv: User) -> None:
    legacy = CustomerFactory()
    type(legacy).objects.filter(pk=legacy.pk).update(siren="", siret="")
    legacy.refresh_from_db()
    with pytest.raises(ValidationFailed):
        issue_invoice(actor=adv, invoice=draft_invoice(adv, customer=legacy), issue_date=DAY)
    assert not Invoice.objects.filter(status=InvoiceStatus.ISSUED).exists()


def test_a_batch_costs_the_same_queries_whatever_its_size(adv: User) -> None:
    issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY)  # creates the counter
    small = [draft_invoice(adv) for _ in range(3)]
    large = [draft_invoice(adv) for _ in range(30)]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        issue_invoices(actor=adv, invoices=small, issue_date=DAY)
    with CaptureQueriesContext(connection) as many:
        issue_invoices(actor=adv, invoices=large, issue_date=DAY)
    assert len(many) == len(few)
