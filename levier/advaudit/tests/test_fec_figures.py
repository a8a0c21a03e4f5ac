"""The FEC figures of kpis.md, worked out by hand on a small fiscal year (2025).

The book (d = 31/12/2025, the last EcritureDate; d − 365 = 31/12/2024, d − 90 = 02/10/2025):

    AN 01/01  D 411000/CC 1,000 (lettered AD, paid 20/01) · D 418100 100 · C 487000 50 · C 110000 1,050
    OD 01/01  reversal of last year's FAE and PCA: C 418100 100 / D 706000 100; D 487000 50 / C 706000 50
    invoices (D 411 TTC / C 706 HT / C 44571 VAT 20 %):
      Inv1 CA 01/10  1,200  paid 600 on 20/10 + 600 on 05/11, letter AA, DateLet 05/11 → 35 days
      Inv2 CB 10/11  2,400  paid 10/12, letter AB without DateLet → settled 10/12, 30 days
      Inv3 CA 01/12  3,600  letter AC, DateLet 15/01/2026 (payment in next year's file) → open at d
      Inv4 CC 01/08  4,800  never lettered                                   → open, 152 days
      Inv5 411900 (no auxiliary account, "Client Durand") 15/10  1,800  never lettered → 77 days
      Inv6 CB 20/11    600  never lettered                                   → open, 41 days
    credit note CN1 CB 05/12  240 TTC (C 411 / D 706 200 / D 44571 40)
    bank: 20/01 C 411/CC 1,000 (AD) · 20/10 and 05/11 C 411/CA 600 (AA) · 10/12 C 411/CB 2,400 (AB)
    OD 31/12  FAE D 418100 720 / C 706000 600 / C 445870 120; PCA D 706000 300 / C 487000 300
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from levier.advaudit.fec.figures import FecFigures, compute_fec_figures
from levier.advaudit.fec.reader import FecBook, load_fec
from levier.advaudit.tests.fec_builder import FecBuilder
from levier.kpis.tests.kpis_md_names import FEC_NAMES

CA = {"CompAuxNum": "CA", "CompAuxLib": "Client A"}
CB = {"CompAuxNum": "CB", "CompAuxLib": "Client B"}
CC = {"CompAuxNum": "CC", "CompAuxLib": "Client C"}


def invoice(
    fec: FecBuilder,
    number: str,
    date: str,
    customer: dict[str, str],
    ht: str,
    account: str = "411000",
    **letter: str,
) -> None:
    ht_amount = D(ht)
    vat = ht_amount / 5
    fec.entry(
        "VE", number, date,
        (account, ht_amount + vat, "", {**customer, **letter}),
        ("706000", "", ht_amount),
        ("445710", "", vat),
        PieceDate=date,
    )  # fmt: skip


def payment(
    fec: FecBuilder, number: str, date: str, customer: dict[str, str], amount: str, **letter: str
) -> None:
    fec.entry(
        "BQ", number, date,
        ("512000", amount, ""),
        ("411000", "", amount, {**customer, **letter}),
    )  # fmt: skip


def worked_book() -> FecBuilder:
    fec = FecBuilder()
    fec.entry(
        "AN", "AN1", "20250101",
        ("411000", "1000,00", "", {**CC, "EcritureLet": "AD", "DateLet": "20250120"}),
        ("418100", "100,00", ""),
        ("487000", "", "50,00"),
        ("110000", "", "1050,00"),
    )  # fmt: skip
    fec.entry("OD", "OD1", "20250101", ("418100", "", "100,00"), ("706000", "100,00", ""))
    fec.entry("OD", "OD2", "20250101", ("487000", "50,00", ""), ("706000", "", "50,00"))
    payment(fec, "BQ1", "20250120", CC, "1000,00", EcritureLet="AD", DateLet="20250120")
    invoice(fec, "VE1", "20250801", CC, "4000")  # Inv4
    invoice(fec, "VE2", "20251001", CA, "1000", EcritureLet="AA", DateLet="20251105")  # Inv1
    invoice(fec, "VE3", "20251015", {"CompteLib": "Client Durand"}, "1500", account="411900")
    payment(fec, "BQ2", "20251020", CA, "600,00", EcritureLet="AA", DateLet="20251105")
    payment(fec, "BQ3", "20251105", CA, "600,00", EcritureLet="AA", DateLet="20251105")
    invoice(fec, "VE4", "20251110", CB, "2000", EcritureLet="AB")  # Inv2
    invoice(fec, "VE5", "20251120", CB, "500")  # Inv6
    invoice(fec, "VE6", "20251201", CA, "3000", EcritureLet="AC", DateLet="20260115")  # Inv3
    fec.entry(
        "VE", "VE7", "20251205",
        ("411000", "", "240,00", CB),
        ("706000", "200,00", ""),
        ("445710", "40,00", ""),
    )  # fmt: skip
    payment(fec, "BQ4", "20251210", CB, "2400,00", EcritureLet="AB")
    fec.entry(
        "OD", "OD3", "20251231",
        ("418100", "720,00", ""),
        ("706000", "", "600,00"),
        ("445870", "", "120,00"),
    )  # fmt: skip
    fec.entry("OD", "OD4", "20251231", ("706000", "300,00", ""), ("487000", "", "300,00"))
    return fec


@pytest.fixture
def book(tmp_path: Path) -> FecBook:
    loaded = load_fec(worked_book().write(tmp_path / "123456789FEC20251231.txt"))
    yield loaded  # type: ignore[misc]
    loaded.close()


@pytest.fixture
def figures(book: FecBook) -> FecFigures:
    return compute_fec_figures(book)


def test_the_closing_date_is_the_last_entry_date(figures: FecFigures) -> None:
    assert figures.as_of == dt.date(2025, 12, 31)


def test_receivables_are_the_411_balance_opening_included(figures: FecFigures) -> None:
    # Debits 1,000 + 4,800 + 1,200 + 1,800 + 2,400 + 600 + 3,600 = 15,400;
    # credits 1,000 + 600 + 600 + 240 + 2,400 = 4,840 → 10,560.
    assert figures.receivables_ttc == D("10560.00")


def test_sales_are_invoices_less_credit_notes_by_piece_date(figures: FecFigures) -> None:
    # 365 days: 4,800 + 1,200 + 1,800 + 2,400 + 600 + 3,600 − 240 = 14,160.
    assert figures.sales_ttc_365d == D("14160.00")
    # (02/10, 31/12]: 1,800 + 2,400 + 600 + 3,600 − 240 = 8,160 (Inv1 of 01/10 is out).
    assert figures.sales_ttc_90d == D("8160.00")


def test_simple_dso_over_90_and_365_days(figures: FecFigures) -> None:
    # 10,560 ÷ 8,160 × 90 = 116.47 → 116.5; 10,560 ÷ 14,160 × 365 = 272.20 → 272.2.
    assert figures.dso_simple_90d == D("116.5")
    assert figures.dso_simple_365d == D("272.2")


def test_countback_dso_walks_back_through_a_month_without_sales(figures: FecFigures) -> None:
    # Monthly sales: Dec 3,600 − 240 = 3,360; Nov 3,000; Oct 3,000; Sep 0; Aug 4,800.
    # 10,560 − 3,360 = 7,200 (31 d) − 3,000 = 4,200 (30 d) − 3,000 = 1,200 (31 d);
    # September has no sales (30 d); August: 1,200 ÷ 4,800 × 31 = 7.75 → 129.75 → 129.8.
    assert figures.dso_countback == D("129.8")


def test_credit_note_rate_by_count_and_amount(figures: FecFigures) -> None:
    # 6 invoices, 1 credit note: 1/6 = 0.1667; 240 ÷ 14,400 = 0.0167.
    assert (figures.invoice_count, figures.credit_note_count) == (6, 1)
    assert figures.credit_note_rate == D("0.1667")
    assert figures.credit_note_rate_amount == D("0.0167")


def test_days_to_pay_count_partial_payments_and_letters_without_dateletter(
    figures: FecFigures,
) -> None:
    # Settled in 2025: Inv1 (DateLet 05/11: 35 days), Inv2 (no DateLet: its letter's last
    # line, the payment of 10/12: 30 days). Inv3 is settled after d, the rest never.
    # Mean (35 + 30) ÷ 2 = 32.5; weighted (1,200 × 35 + 2,400 × 30) ÷ 3,600 = 31.67 → 31.7.
    assert figures.average_days_to_pay == D("32.5")
    assert figures.average_days_to_pay_weighted == D("31.7")


def test_open_invoices_are_aged_from_their_date(figures: FecFigures) -> None:
    # Open at d: Inv3 3,600 (30 days, settled after d), Inv6 600 (41), Inv5 1,800 (77),
    # Inv4 4,800 (152).
    assert figures.open_invoices_aged == {
        "0_30": D("3600.00"),
        "31_60": D("600.00"),
        "61_90": D("1800.00"),
        "over_90": D("4800.00"),
    }


def test_fae_and_pca_are_the_balances_of_4181_and_487(figures: FecFigures) -> None:
    # 4181: 100 − 100 + 720 = 720 debit; 487: 50 − 50 + 300 = 300 credit.
    assert figures.fae == D("720.00")
    assert figures.pca == D("300.00")


def test_top_customers_with_their_share_of_receivables(figures: FecFigures) -> None:
    # CC 1,000 − 1,000 + 4,800 = 4,800; CA 1,200 + 3,600 − 1,200 = 3,600; 411900 1,800;
    # CB 2,400 + 600 − 240 − 2,400 = 360. Shares of 10,560: 0.4545, 0.3409, 0.1705, 0.0341.
    rows = [
        (row.customer, row.name, row.balance, row.share)
        for row in figures.top_customers_receivables
    ]
    assert rows == [
        ("CC", "Client C", D("4800.00"), D("0.4545")),
        ("CA", "Client A", D("3600.00"), D("0.3409")),
        ("411900", "Client Durand", D("1800.00"), D("0.1705")),
        ("CB", "Client B", D("360.00"), D("0.0341")),
    ]


def test_late_invoices_beyond_30_days_terms_with_their_euro_days(figures: FecFigures) -> None:
    # Inv1 paid after 35 days: 5 late × 1,200 = 6,000; Inv2 (30 days) and Inv3 (30 days
    # open) are not late; open Inv4 152 − 30 = 122 × 4,800 = 585,600; Inv5 47 × 1,800 =
    # 84,600; Inv6 11 × 600 = 6,600. Total 682,800 €·days over 4 invoices of 8,400 TTC.
    late = figures.late_invoices
    assert (late.count, late.amount_ttc, late.amount_days) == (
        4,
        D("8400.00"),
        D("682800.00"),
    )


def test_late_invoices_with_45_days_terms(book: FecBook) -> None:
    # Only the open Inv4 (152 − 45 = 107 × 4,800 = 513,600) and Inv5 (32 × 1,800 = 57,600).
    late = compute_fec_figures(book, payment_terms_days=45).late_invoices
    assert (late.count, late.amount_ttc, late.amount_days) == (2, D("6600.00"), D("571200.00"))


def test_late_payers_are_customers_with_invoices_open_over_60_days(figures: FecFigures) -> None:
    assert [
        (payer.customer, payer.amount, payer.oldest_invoice, payer.count)
        for payer in figures.late_payers
    ] == [
        ("CC", D("4800.00"), dt.date(2025, 8, 1), 1),
        ("411900", D("1800.00"), dt.date(2025, 10, 15), 1),
    ]


def test_customer_concentration(figures: FecFigures) -> None:
    concentration = figures.customer_concentration
    assert concentration.customers_with_balance == 4
    # 4,800 ÷ 10,560 = 0.4545; the top 5 hold it all.
    assert concentration.receivables_share == {
        "top_1": D("0.4545"),
        "top_5": D("1.0000"),
        "top_10": D("1.0000"),
    }
    # Sales per customer: CA 4,800, CC 4,800, CB 2,760, Durand 1,800; 4,800 ÷ 14,160 = 0.3390.
    assert concentration.customers_with_sales_365d == 4
    assert concentration.sales_365d_share["top_1"] == D("0.3390")


def test_monthly_series_at_each_month_end(figures: FecFigures) -> None:
    months = {month.month: month for month in figures.monthly}
    assert len(figures.monthly) == 12
    assert figures.monthly[0].month == dt.date(2025, 1, 1)
    december, november = months[dt.date(2025, 12, 1)], months[dt.date(2025, 11, 1)]
    assert (december.sales_ttc, december.receivables_ttc) == (D("3360.00"), D("10560.00"))
    assert december.dso_simple_90d == D("116.5")
    assert december.average_days_to_pay == D("30.0")  # Inv2
    # At 30/11: 1,000 + 4,800 + 1,200 + 1,800 + 2,400 + 600 − 1,000 − 600 − 600 = 9,600;
    # sales of (01/09, 30/11] 6,000 → 9,600 ÷ 6,000 × 90 = 144 days; Inv1 settled in November.
    assert (november.sales_ttc, november.receivables_ttc) == (D("3000.00"), D("9600.00"))
    assert november.dso_simple_90d == D("144.0")
    assert november.average_days_to_pay == D("35.0")
    assert months[dt.date(2025, 9, 1)].sales_ttc == D("0.00")


def test_a_months_dso_needs_its_90_days_inside_the_file(tmp_path: Path) -> None:
    """A file starting on 01/01 with a 1,200 TTC invoice on 10/01, never paid: at 31/01 and
    28/02 the 90 days before reach back into last year, which the file does not hold, so
    there is no DSO (not 90 days computed from a window half empty); at 31/03 the window
    (01/01, 31/03] is inside: 1,200 ÷ 1,200 × 90 = 90 days."""
    fec = FecBuilder()
    fec.entry("OD", "OD1", "20250101", ("471000", "1,00", ""), ("580000", "", "1,00"))
    invoice(fec, "VE1", "20250110", CA, "1000")  # 1,200 TTC
    fec.entry("OD", "OD2", "20251231", ("471000", "1,00", ""), ("580000", "", "1,00"))
    with load_fec(fec.write(tmp_path / "123456789FEC20251231.txt")) as book:
        months = {month.month: month for month in compute_fec_figures(book).monthly}
    assert months[dt.date(2025, 1, 1)].receivables_ttc == D("1200.00")
    assert months[dt.date(2025, 1, 1)].dso_simple_90d is None
    assert months[dt.date(2025, 2, 1)].dso_simple_90d is None
    assert months[dt.date(2025, 3, 1)].dso_simple_90d == D("90.0")


def test_settlements_are_411_credits_with_a_bank_line(figures: FecFigures) -> None:
    assert figures.settlement_count == 4


def test_figures_at_an_earlier_date_ignore_what_came_after(book: FecBook) -> None:
    earlier = compute_fec_figures(book, as_of=dt.date(2025, 11, 30))
    assert earlier.receivables_ttc == D("9600.00")
    # Inv2 is lettered with a payment of 10/12: open at 30/11 (20 days old).
    assert earlier.open_invoices_aged["0_30"] == D("3000.00")  # Inv2 2,400 + Inv6 600
    assert earlier.average_days_to_pay == D("35.0")


def test_the_json_has_kpis_md_names_and_formats(figures: FecFigures) -> None:
    data = json.loads(json.dumps(figures.as_json()))
    assert set(data["kpis"]) == {"as_of", *FEC_NAMES}
    kpis = data["kpis"]
    assert kpis["as_of"] == data["as_of"] == "2025-12-31"
    assert kpis["receivables_ttc"] == "10560.00"
    assert kpis["dso_simple_90d"] == 116.5
    assert kpis["credit_note_rate"] == 0.1667
    assert kpis["open_invoices_aged"] == {
        "0_30": "3600.00",
        "31_60": "600.00",
        "61_90": "1800.00",
        "over_90": "4800.00",
    }
    assert kpis["top_customers_receivables"][0] == {
        "customer": "CC",
        "name": "Client C",
        "balance": "4800.00",
        "share": 0.4545,
    }
    assert data["late_invoices"] == {
        "payment_terms_days": 30,
        "count": 4,
        "amount_ttc": "8400.00",
        "amount_days": "682800.00",
    }
    assert data["monthly"][-1]["month"] == "2025-12"
    assert set(data) >= {"monthly", "customer_concentration", "late_payers", "late_invoices"}


def test_figures_are_undefined_not_errors_without_sales_or_payments(tmp_path: Path) -> None:
    fec = FecBuilder()
    fec.entry("AN", "1", "20250101", ("411000", "500,00", "", CA), ("110000", "", "500,00"))
    with load_fec(fec.write(tmp_path / "a.txt")) as book:
        figures = compute_fec_figures(book)
    assert figures.receivables_ttc == D("500.00")
    assert figures.sales_ttc_365d == D("0.00")
    assert figures.dso_simple_90d is None and figures.dso_simple_365d is None
    assert figures.dso_countback is None
    assert figures.credit_note_rate is None and figures.credit_note_rate_amount is None
    assert figures.average_days_to_pay is None and figures.average_days_to_pay_weighted is None
    assert figures.as_json()["kpis"]["dso_countback"] is None


def test_credit_note_pieces_are_counted_once_per_piece(tmp_path: Path) -> None:
    # One credit-note piece with two 411 lines (two customers), one invoice piece batching
    # two customers' invoices (a daily sales entry): one of each, amounts summed.
    fec = FecBuilder()
    fec.entry(
        "VE", "1", "20250110",
        ("411000", "120,00", "", CA),
        ("411000", "240,00", "", CB),
        ("706000", "", "300,00"),
        ("445710", "", "60,00"),
    )  # fmt: skip
    fec.entry(
        "VE", "2", "20250120",
        ("411000", "", "12,00", CA),
        ("411000", "", "24,00", CB),
        ("706000", "30,00", ""),
        ("445710", "6,00", ""),
    )  # fmt: skip
    with load_fec(fec.write(tmp_path / "a.txt")) as book:
        figures = compute_fec_figures(book)
    assert (figures.invoice_count, figures.credit_note_count) == (1, 1)
    assert figures.sales_ttc_365d == D("324.00")  # 360 − 36
    assert figures.credit_note_rate_amount == D("0.1000")  # 36 ÷ 360
    # The batched invoice ages per customer line: 120 and 240, both 10 days old at 20/01.
    assert figures.open_invoices_aged["0_30"] == D("360.00")


def test_a_negative_invoice_in_the_sales_journal_is_a_credit_note(tmp_path: Path) -> None:
    # Some software books a credit note as an invoice with negative amounts.
    fec = FecBuilder()
    fec.entry("VE", "1", "20250110", ("411000", "600,00", "", CA), ("706000", "", "600,00"))
    fec.entry("VE", "2", "20250115", ("411000", "-60,00", "", CA), ("706000", "", "-60,00"))
    with load_fec(fec.write(tmp_path / "a.txt")) as book:
        figures = compute_fec_figures(book)
        assert "negative_amount" in book.quality.codes
    assert (figures.invoice_count, figures.credit_note_count) == (1, 1)
    assert figures.sales_ttc_365d == D("540.00")
    assert figures.receivables_ttc == D("540.00")


def test_a_piece_crediting_411_without_sales_or_bank_is_neither(tmp_path: Path) -> None:
    # A write-off (C 411 / D 654) counts in the balance, in no count.
    fec = FecBuilder()
    fec.entry("VE", "1", "20250110", ("411000", "100,00", "", CA), ("706000", "", "100,00"))
    fec.entry("OD", "1", "20250301", ("654000", "100,00", ""), ("411000", "", "100,00", CA))
    with load_fec(fec.write(tmp_path / "a.txt")) as book:
        figures = compute_fec_figures(book)
    assert (figures.invoice_count, figures.credit_note_count, figures.settlement_count) == (1, 0, 0)
    assert figures.receivables_ttc == D("0.00")
    assert figures.sales_ttc_365d == D("100.00")
