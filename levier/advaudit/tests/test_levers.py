"""The levers in euros, each worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from levier.advaudit.benchmarks import NBSP, FigureError
from levier.advaudit.levers import (
    DEFAULT_FINANCING_RATE,
    DEFAULT_PENALTY_RATE,
    DEFAULT_TARGET_DSO_DAYS,
    LEVER_KEYS,
    AgeBasis,
    LateInvoices,
    Lever,
    LeverInputs,
    LeverInputsError,
    LeverKind,
    OverdueBuckets,
    compute_levers,
    inputs_from_figures,
    share_claimed_from_score,
    totals,
)
from levier.collections.dunning_defaults import ECB_RATES

D = Decimal


def lever(inputs: LeverInputs, key: str) -> Lever:
    return next(item for item in compute_levers(inputs) if item.key == key)


def plain(text: str) -> str:
    """Formulas use no-break spaces (thousands, units); compare them as plain spaces."""
    return text.replace(NBSP, " ")


EXAMPLE = LeverInputs(
    sales_ttc_365d=D("4812000"),
    dso=D("62"),
    target_dso_days=D("45"),
)


# --------------------------------------------------------------------------- DSO and financing


def test_bringing_dso_from_62_to_45_days_releases_224_120_55_euros() -> None:
    result = lever(EXAMPLE, "cash_dso")
    # 4,812,000 ÷ 365 × (62 − 45) = 13,183.5616… × 17 = 224,120.547… → 224,120.55
    assert result.amount == D("224120.55")
    assert result.kind is LeverKind.ONE_OFF_CASH
    assert plain(result.formula_fr) == "4 812 000,00 € ÷ 365 × (62 j − 45 j) = 224 120,55 €"
    assert [item.name for item in result.inputs] == ["sales_ttc_365d", "dso", "target_dso_days"]
    assert "S38" in result.source_ids


def test_a_dso_already_at_or_below_target_releases_nothing_but_is_applicable() -> None:
    for dso in ("45", "30"):
        result = lever(
            LeverInputs(sales_ttc_365d=D("4812000"), dso=D(dso), target_dso_days=D("45")),
            "cash_dso",
        )
        assert result.applicable
        assert result.amount == D("0.00")
    result = lever(
        LeverInputs(sales_ttc_365d=D("4812000"), dso=D("30"), target_dso_days=D("45")), "cash_dso"
    )
    assert plain(result.formula_fr) == "DSO 30 j ≤ cible 45 j : 4 812 000,00 € ÷ 365 × 0 j = 0,00 €"


def test_the_default_target_is_the_french_average_of_43_days() -> None:
    assert D("43") == DEFAULT_TARGET_DSO_DAYS
    assert LeverInputs().target_dso_days == D("43")


def test_without_a_dso_it_is_derived_from_receivables_and_sales() -> None:
    inputs = LeverInputs(sales_ttc_365d=D("1000000"), receivables_ttc=D("200000"))
    result = lever(inputs, "cash_dso")
    # DSO = 200,000 ÷ 1,000,000 × 365 = 73.0 days; 1,000,000 ÷ 365 × (73 − 43) = 82,191.78
    assert result.amount == D("82191.78")
    assert plain(result.formula_fr) == (
        "DSO = 200 000,00 € ÷ 1 000 000,00 € × 365 = 73 j ; "
        "1 000 000,00 € ÷ 365 × (73 j − 43 j) = 82 191,78 €"
    )
    assert "receivables_ttc" in [item.name for item in result.inputs]


def test_a_derived_dso_is_rounded_to_one_decimal_as_shown() -> None:
    inputs = LeverInputs(sales_ttc_365d=D("1000000"), receivables_ttc=D("166200"))
    # DSO = 166,200 ÷ 1,000,000 × 365 = 60.663 → 60.7; 1,000,000 ÷ 365 × 17.7 = 48,493.15
    assert lever(inputs, "cash_dso").amount == D("48493.15")


def test_the_yearly_financing_cost_is_the_cash_released_times_the_rate() -> None:
    result = lever(EXAMPLE, "financing_cost")
    # default 12 % [S6]: 224,120.55 × 0.12 = 26,894.466 → 26,894.47
    assert D("0.12") == DEFAULT_FINANCING_RATE
    assert result.amount == D("26894.47")
    assert result.kind is LeverKind.YEARLY
    assert plain(result.formula_fr) == "224 120,55 € × 12 % = 26 894,47 €"
    own = LeverInputs(
        sales_ttc_365d=D("4812000"), dso=D("62"), target_dso_days=D("45"), financing_rate=D("0.045")
    )
    # 224,120.55 × 0.045 = 10,085.42475 → 10,085.42
    assert lever(own, "financing_cost").amount == D("10085.42")


def test_without_sales_the_dso_levers_are_not_applicable_never_zero() -> None:
    for key in ("cash_dso", "financing_cost"):
        result = lever(LeverInputs(dso=D("62")), key)
        assert not result.applicable
        assert result.amount is None
        assert "365" in result.reason
    zero_sales = lever(LeverInputs(sales_ttc_365d=D("0"), dso=D("62")), "cash_dso")
    assert not zero_sales.applicable and "pas défini" in zero_sales.reason
    no_dso = lever(LeverInputs(sales_ttc_365d=D("100")), "cash_dso")
    assert not no_dso.applicable and "encours clients" in no_dso.reason


# --------------------------------------------------------------------------- credit notes


def test_credit_notes_cost_four_hours_at_45_euros_each_by_default() -> None:
    inputs = LeverInputs(credit_note_count=38, credit_note_amount_ttc=D("12300"))
    result = lever(inputs, "credit_note_rework")
    # 38 × (4 h × 45 €) = 38 × 180 = 6,840.00
    assert result.amount == D("6840.00")
    assert result.kind is LeverKind.YEARLY
    assert plain(result.formula_fr) == "38 avoirs × (4 h × 45,00 €) = 6 840,00 €"
    assert "12 300,00 €" in plain(result.note_fr)  # shown, not counted


def test_the_cost_per_credit_note_is_a_parameter() -> None:
    by_hours = LeverInputs(
        credit_note_count=10, rework_hours_per_credit_note=D("2.5"), loaded_hourly_rate=D("60")
    )
    # 10 × (2.5 × 60) = 1,500.00
    assert lever(by_hours, "credit_note_rework").amount == D("1500.00")
    flat = LeverInputs(credit_note_count=38, cost_per_credit_note=D("250"))
    # 38 × 250 = 9,500.00
    assert lever(flat, "credit_note_rework").amount == D("9500.00")
    assert (
        plain(lever(flat, "credit_note_rework").formula_fr) == "38 avoirs × 250,00 € = 9 500,00 €"
    )


def test_without_a_credit_note_count_the_rework_lever_is_not_applicable() -> None:
    result = lever(LeverInputs(), "credit_note_rework")
    assert not result.applicable and result.amount is None and result.reason


# --------------------------------------------------------------------------- late invoicing


def test_late_invoicing_is_daily_revenue_times_the_invoicing_delay() -> None:
    inputs = LeverInputs(
        sales_ht_365d=D("1200000"), invoicing_delay_days=D("6.5"), fae_balance=D("85000")
    )
    result = lever(inputs, "late_invoicing")
    # 1,200,000 ÷ 365 × 6.5 = 21,369.863… → 21,369.86 (the delay wins over the FAE balance)
    assert result.amount == D("21369.86")
    assert plain(result.formula_fr) == "1 200 000,00 € ÷ 365 × 6,5 j = 21 369,86 €"
    assert "délai de facturation" in result.note_fr
    given_daily = LeverInputs(daily_revenue_ht=D("3000"), invoicing_delay_days=D("6.5"))
    # 3,000 × 6.5 = 19,500.00
    assert lever(given_daily, "late_invoicing").amount == D("19500.00")


def test_without_the_delay_the_fae_balance_is_taken_and_the_lever_says_so() -> None:
    result = lever(
        LeverInputs(fae_balance=D("85000"), sales_ht_365d=D("1200000")), "late_invoicing"
    )
    assert result.amount == D("85000.00")
    assert plain(result.formula_fr) == "solde des factures à établir (4181) = 85 000,00 €"
    assert "inconnu" in result.note_fr and "borne haute" in result.note_fr
    assert result.kind is LeverKind.ONE_OFF_CASH


def test_without_delay_nor_fae_late_invoicing_is_not_applicable() -> None:
    result = lever(LeverInputs(invoicing_delay_days=D("5")), "late_invoicing")
    assert not result.applicable and "FAE" in result.reason


# --------------------------------------------------------------------------- overdue


def test_overdue_amounts_past_due_lose_13_percent_then_33_beyond_90_days() -> None:
    buckets = OverdueBuckets(AgeBasis.DUE_DATE, D("12000"), D("8000"), D("5000"), D("20000"))
    result = lever(LeverInputs(overdue=buckets), "overdue_at_risk")
    # 12,000 × 13 % + 8,000 × 13 % + 5,000 × 13 % + 20,000 × 33 %
    # = 1,560 + 1,040 + 650 + 6,600 = 9,850.00
    assert result.amount == D("9850.00")
    assert plain(result.formula_fr) == (
        "12 000,00 € × 13 % + 8 000,00 € × 13 % + 5 000,00 € × 13 % + 20 000,00 € × 33 % "
        "= 9 850,00 €"
    )
    assert result.source_ids == ("S3", "S36")
    assert "échéance" in result.note_fr


def test_ages_from_the_invoice_date_leave_the_first_month_out_and_cap_at_13_percent() -> None:
    buckets = OverdueBuckets(AgeBasis.INVOICE_DATE, D("10000"), D("8000"), D("5000"), D("20000"))
    result = lever(LeverInputs(overdue=buckets), "overdue_at_risk")
    # 0–30 days from the invoice: not yet due → 0; (8,000 + 5,000 + 20,000) × 13 % = 4,290.00
    assert result.amount == D("4290.00")
    assert "10 000,00 €" not in plain(result.formula_fr)
    assert result.inputs[0].value == D("10000")  # still shown as an input
    assert "date de facture" in result.note_fr


# --------------------------------------------------------------------------- penalties


LATE = LateInvoices(count=120, amount_ttc=D("300000"), amount_days=D("2400000"))


def test_the_default_penalty_rate_is_the_latest_seeded_ecb_rate_plus_10_points() -> None:
    latest = max(ECB_RATES)
    assert (ECB_RATES[latest] + D("10")) / D("100") == DEFAULT_PENALTY_RATE
    assert LeverInputs().penalty_rate == DEFAULT_PENALTY_RATE


def test_unclaimed_late_interest_at_the_legal_rate() -> None:
    # the legal rate of 2026 H1: ECB 2.15 % + 10 points = 12.15 %
    result = lever(
        LeverInputs(
            late_invoices=LATE, penalty_rate=D("0.1215"), penalties_share_claimed=D("0.25")
        ),
        "late_interest_unclaimed",
    )
    # 2,400,000 €·days × 12.15 % ÷ 365 = 798.904…; × (1 − 25 %) = 599.178 → 599.18
    assert result.amount == D("599.18")
    assert plain(result.formula_fr) == "2 400 000 €·j × 12,15 % ÷ 365 × (1 − 25 %) = 599,18 €"
    assert result.kind is LeverKind.YEARLY


def test_unclaimed_40_euro_indemnities() -> None:
    result = lever(
        LeverInputs(late_invoices=LATE, penalties_share_claimed=D("0.25")),
        "recovery_indemnities_unclaimed",
    )
    # 120 × 40 × (1 − 25 %) = 3,600.00
    assert result.amount == D("3600.00")
    assert plain(result.formula_fr) == "120 factures × 40,00 € × (1 − 25 %) = 3 600,00 €"


def test_the_share_claimed_comes_from_the_questionnaire_answer() -> None:
    assert share_claimed_from_score(None) == D("0")
    assert share_claimed_from_score(0) == D("0")
    assert share_claimed_from_score(1) == D("0.25")
    assert share_claimed_from_score(2) == D("0.5")
    assert share_claimed_from_score(4) == D("1")
    always = LeverInputs(late_invoices=LATE, penalties_share_claimed=share_claimed_from_score(4))
    assert lever(always, "late_interest_unclaimed").amount == D("0.00")
    assert lever(always, "recovery_indemnities_unclaimed").amount == D("0.00")
    unanswered = LeverInputs(late_invoices=LATE)
    # 120 × 40 × (1 − 0) = 4,800.00
    assert lever(unanswered, "recovery_indemnities_unclaimed").amount == D("4800.00")


def test_without_late_invoices_the_penalty_levers_are_not_applicable() -> None:
    for key in ("late_interest_unclaimed", "recovery_indemnities_unclaimed"):
        result = lever(LeverInputs(), key)
        assert not result.applicable and result.amount is None and result.reason


# --------------------------------------------------------------------------- the whole set


def test_every_lever_is_returned_in_order_applicable_or_not() -> None:
    levers = compute_levers(LeverInputs())
    assert [item.key for item in levers] == list(LEVER_KEYS)
    assert not any(item.applicable for item in levers)
    for item in levers:
        assert item.title_fr and item.title_en and item.formula_generic_fr and item.source_ids


def test_cash_and_yearly_totals_are_kept_apart() -> None:
    inputs = LeverInputs(
        sales_ttc_365d=D("4812000"),
        dso=D("62"),
        target_dso_days=D("45"),
        credit_note_count=38,
        late_invoices=LATE,
        penalty_rate=D("0.1215"),
        penalties_share_claimed=D("0.25"),
    )
    result = totals(compute_levers(inputs))
    # cash: 224,120.55; yearly: 26,894.47 + 6,840.00 + 599.18 + 3,600.00 = 37,933.65
    assert result[LeverKind.ONE_OFF_CASH] == D("224120.55")
    assert result[LeverKind.YEARLY] == D("37933.65")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"financing_rate": D("12")}, "financing_rate"),
        ({"penalty_rate": D("-0.01")}, "penalty_rate"),
        ({"penalties_share_claimed": D("1.5")}, "penalties_share_claimed"),
        ({"sales_ttc_365d": 4812000.0}, "sales_ttc_365d"),
        ({"receivables_ttc": "817315.07"}, "receivables_ttc"),
        ({"dso": D("NaN")}, "dso"),
        ({"credit_note_count": -1}, "credit_note_count"),
        ({"credit_note_count": True}, "credit_note_count"),
        ({"target_dso_days": D("-5")}, "target_dso_days"),
        ({"overdue": OverdueBuckets(AgeBasis.DUE_DATE, D("-1"))}, "overdue.0_30"),
        ({"late_invoices": LateInvoices(-2, D("0"), D("0"))}, "late_invoices.count"),
    ],
)
def test_impossible_inputs_are_refused_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(LeverInputsError, match=field.replace(".", r"\.")):
        LeverInputs(**changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- from the figures


def test_inputs_come_from_the_fec_figures_json() -> None:
    figures = {
        "as_of": "2026-11-28",
        "sales_ttc_365d": "4812000.00",
        "receivables_ttc": "817315.07",
        "dso_simple_365d": 62.0,
        "credit_note_count": 38,
        "fae": "85000.00",
        "open_invoices_aged": {
            "0_30": "10000.00",
            "31_60": "8000.00",
            "61_90": "5000.00",
            "over_90": "20000.00",
        },
        "late_invoices": {"count": 120, "amount_ttc": "300000.00", "amount_days": "2400000.00"},
    }
    inputs = inputs_from_figures(
        figures,
        target_dso_days=D("45"),
        penalty_rate=D("0.1215"),
        penalties_share_claimed=D("0.25"),
    )
    assert inputs.dso == D("62.0") and inputs.target_dso_days == D("45")
    assert inputs.overdue == OverdueBuckets(
        AgeBasis.INVOICE_DATE, D("10000.00"), D("8000.00"), D("5000.00"), D("20000.00")
    )
    assert inputs.late_invoices == LATE
    amounts = {item.key: item.amount for item in compute_levers(inputs)}
    assert amounts == {
        "cash_dso": D("224120.55"),
        "financing_cost": D("26894.47"),
        "credit_note_rework": D("6840.00"),
        "late_invoicing": D("85000.00"),  # a FEC has no invoicing delay: the FAE balance
        "overdue_at_risk": D("4290.00"),
        "late_interest_unclaimed": D("599.18"),
        "recovery_indemnities_unclaimed": D("3600.00"),
    }


def test_levier_s_own_aged_balance_counts_from_the_due_date() -> None:
    figures = {
        "period_days": 365,
        "sales_ttc_period": "4812000.00",
        "dso_simple": "62.0",
        "aged_balance": {
            "not_due": "50000",
            "1_30": "12000",
            "31_60": "8000",
            "61_90": "5000",
            "over_90": "20000",
            "total": "95000",
        },
        "invoicing_delay_days": "6.5",
    }
    inputs = inputs_from_figures(figures, sales_ht_365d=D("4010000"))
    assert inputs.overdue == OverdueBuckets(
        AgeBasis.DUE_DATE, D("12000"), D("8000"), D("5000"), D("20000")
    )
    assert inputs.dso == D("62.0") and inputs.sales_ttc_365d == D("4812000.00")
    assert lever(inputs, "overdue_at_risk").amount == D("9850.00")


def test_levier_s_dso_over_90_days_is_not_taken_for_a_yearly_one() -> None:
    inputs = inputs_from_figures({"period_days": 90, "dso_simple": "62.0"})
    assert inputs.dso is None


def test_a_figure_that_is_not_a_number_or_an_unknown_parameter_is_refused_naming_it() -> None:
    with pytest.raises(FigureError, match="sales_ttc_365d"):
        inputs_from_figures({"sales_ttc_365d": "lots"})
    with pytest.raises(LeverInputsError, match="target_dso"):
        inputs_from_figures({}, target_dso=D("40"))
    with pytest.raises(FigureError, match=r"late_invoices\.count"):
        inputs_from_figures({"late_invoices": {"count": "2.5", "amount_ttc": 1, "amount_days": 1}})


def test_whole_numbers_are_accepted_as_decimals() -> None:
    inputs = LeverInputs(sales_ttc_365d=4812000, dso=62, target_dso_days=45)  # type: ignore[arg-type]
    assert isinstance(inputs.sales_ttc_365d, Decimal)
    assert lever(inputs, "cash_dso").amount == D("224120.55")


# --------------------------------------------------------------------------- properties

money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
days = st.decimals(min_value=-30, max_value=400, places=1, allow_nan=False, allow_infinity=False)
ratio = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


@given(
    sales=st.decimals(
        min_value=-(10**6), max_value=10**9, places=2, allow_nan=False, allow_infinity=False
    ),
    receivables=st.one_of(
        st.none(),
        st.decimals(
            min_value=-(10**6), max_value=10**9, places=2, allow_nan=False, allow_infinity=False
        ),
    ),
    dso=st.one_of(st.none(), days),
    target=st.decimals(min_value=0, max_value=120, places=1, allow_nan=False, allow_infinity=False),
    rate=ratio,
    count=st.one_of(st.none(), st.integers(0, 10**5)),
    fae=st.one_of(
        st.none(),
        st.decimals(
            min_value=-(10**6), max_value=10**8, places=2, allow_nan=False, allow_infinity=False
        ),
    ),
    delay=st.one_of(
        st.none(),
        st.decimals(min_value=0, max_value=200, places=1, allow_nan=False, allow_infinity=False),
    ),
    buckets=st.one_of(st.none(), st.tuples(money, money, money, money)),
    basis=st.sampled_from(list(AgeBasis)),
    late=st.one_of(st.none(), st.tuples(st.integers(0, 10**5), money, money)),
    share=ratio,
)
def test_levers_are_never_negative(
    sales: Decimal,
    receivables: Decimal | None,
    dso: Decimal | None,
    target: Decimal,
    rate: Decimal,
    count: int | None,
    fae: Decimal | None,
    delay: Decimal | None,
    buckets: tuple[Decimal, Decimal, Decimal, Decimal] | None,
    basis: AgeBasis,
    late: tuple[int, Decimal, Decimal] | None,
    share: Decimal,
) -> None:
    inputs = LeverInputs(
        sales_ttc_365d=sales,
        receivables_ttc=receivables,
        dso=dso,
        target_dso_days=target,
        financing_rate=rate,
        credit_note_count=count,
        fae_balance=fae,
        sales_ht_365d=sales,
        invoicing_delay_days=delay,
        overdue=None if buckets is None else OverdueBuckets(basis, *buckets),
        late_invoices=None if late is None else LateInvoices(*late),
        penalties_share_claimed=share,
    )
    for item in compute_levers(inputs):
        if item.applicable:
            assert item.amount is not None and item.amount >= 0, item.key
            assert item.amount == item.amount.quantize(D("0.01"))
        else:
            assert item.amount is None and item.reason


@given(
    sales=st.decimals(
        min_value=1, max_value=10**9, places=2, allow_nan=False, allow_infinity=False
    ),
    better=days,
    worse=days,
    target=st.decimals(min_value=0, max_value=120, places=1, allow_nan=False, allow_infinity=False),
)
def test_a_better_dso_never_releases_more_cash(
    sales: Decimal, better: Decimal, worse: Decimal, target: Decimal
) -> None:
    assume(better <= worse)
    released = {
        dso: lever(
            LeverInputs(sales_ttc_365d=sales, dso=dso, target_dso_days=target), "cash_dso"
        ).amount
        for dso in (better, worse)
    }
    assert released[better] is not None and released[worse] is not None
    assert released[better] <= released[worse]
