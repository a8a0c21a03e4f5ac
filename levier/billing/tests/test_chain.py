import datetime as dt
import io
import itertools
from decimal import Decimal

import pytest
from django.core.management import call_command

from levier.accounts.models import User
from levier.billing import chain
from levier.billing.selectors import issued_in_chain_order
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import draft_invoice

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 27)


def issue_some(adv: User, n: int = 3) -> None:
    for _ in range(n):
        invoice = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY)
    note = create_credit_note(actor=adv, invoice=invoice, reason="duplicate")
    issue_invoice(actor=adv, invoice=note, issue_date=DAY)


def test_each_issued_document_is_chained_to_the_previous_one(adv: User) -> None:
    issue_some(adv)
    documents = list(issued_in_chain_order())
    assert [d.chain_index for d, _ in documents] == [1, 2, 3, 4]
    for (prev, _), (doc, _) in itertools.pairwise(documents):
        assert doc.previous_hash == prev.content_hash
    assert chain.verify(iter(documents)) == (4, [])


def test_verify_chain_reports_a_document_whose_content_changed(adv: User) -> None:
    issue_some(adv)
    documents = list(issued_in_chain_order())
    tampered, _lines = documents[1]
    tampered.total_gross += Decimal("0.01")  # as if someone edited the row behind our back
    checked, breaks = chain.verify(iter(documents))
    assert checked == 4
    assert [(b.number, b.problem) for b in breaks] == [
        (tampered.number, "content changed since issue")
    ]


def test_verify_chain_reports_a_removed_document(adv: User) -> None:
    issue_some(adv)
    documents = list(issued_in_chain_order())
    del documents[1]
    _, breaks = chain.verify(iter(documents))
    assert breaks and breaks[0].problem == "expected position 2"


def test_verify_chain_command_is_clean_on_an_untouched_chain(adv: User) -> None:
    issue_some(adv)
    out = io.StringIO()
    call_command("verify_chain", stdout=out)
    assert "4 documents checked, 0 break(s)" in out.getvalue()
