import datetime as dt

import pytest
from django.utils.translation import override
from hypothesis import given
from hypothesis import strategies as st

from levier.lib.payment_terms import EndOfMonthMethod, PaymentTerms, PaymentTermsError, TermsBasis


def test_sixty_days_net_is_the_legal_maximum() -> None:
    PaymentTerms(60).check_legal()
    with override("en"), pytest.raises(PaymentTermsError, match="legal maximum of 60"):
        PaymentTerms(61).check_legal()
    with pytest.raises(PaymentTermsError, match="plafond légal de 60 jours net"):
        PaymentTerms(61).check_legal()


def test_forty_five_days_end_of_month_is_the_derogation_maximum() -> None:
    PaymentTerms(45, TermsBasis.END_OF_MONTH).check_legal()
    with override("en"), pytest.raises(PaymentTermsError, match="legal maximum of 45"):
        PaymentTerms(46, TermsBasis.END_OF_MONTH).check_legal()


def test_net_due_date_counts_days_from_invoice_date() -> None:
    assert PaymentTerms(30).due_date(dt.date(2026, 1, 15)) == dt.date(2026, 2, 14)


def test_end_of_month_methods_differ_and_are_a_parameter() -> None:
    terms = PaymentTerms(45, TermsBasis.END_OF_MONTH)
    invoice = dt.date(2026, 1, 10)
    # +45 days = 24 Feb, then end of month → 28 Feb
    assert terms.due_date(invoice, EndOfMonthMethod.DAYS_THEN_EOM) == dt.date(2026, 2, 28)
    # end of month = 31 Jan, then +45 days → 17 Mar
    assert terms.due_date(invoice, EndOfMonthMethod.EOM_THEN_DAYS) == dt.date(2026, 3, 17)


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)), st.integers(0, 45))
def test_due_date_is_never_before_invoice_date(invoice: dt.date, days: int) -> None:
    for basis in TermsBasis:
        assert PaymentTerms(days, basis).due_date(invoice) >= invoice
