"""The FEC export of Levier's own books, checked line by line and read back as an audit would.

The year's books (built through the real services, 2026):

- Atelier Dupont (A): F1 on 10/02, 8,000 HT at 20 % + 300 HT at 10 % = 9,930 TTC, paid 5,000
  on 10/03 and 4,930 on 10/04; F2 on 02/03, 1,000 HT at 20 % = 1,200 TTC, credit note AV1 of
  250 HT = 300 TTC on 20/03, the 900 left paid on 15/04.
- Bureau Martin (B): F3 on 04/05 (500 HT → 600 TTC) and F4 on 05/05 (1,500 HT → 1,800 TTC)
  paid together by 2,400 on 01/06; F5 on 01/07 (100 HT → 120 TTC) paid 150 on 20/07: 30 of
  customer credit.
- Maintenance customer (D): the kpis.md annual maintenance, 12,000 HT = 14,400 TTC invoiced on
  01/10 for 01/10/2026–30/09/2027, unpaid: PCA at 31/12 = 12,000 × 273 ÷ 365 = 8,975.34.
- Cabinet Leroy (C): F7 on 15/11, 2,000 HT = 2,400 TTC, unpaid.
- Audit customer (E): 6,000 HT delivered on 15/12, not invoiced: FAE 6,000 HT + 1,200 VAT.

Invoice numbers follow the issue dates: F1 = F2026-000001, F2 = …002, F3 …003, F4 …004,
F5 …005, maintenance …006, F7 …007; the credit note is AV2026-000001.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.billing.models import CompanyProfile, Invoice
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile, draft_invoice
from levier.collections.models import Payment
from levier.collections.payments import Portion, allocate_payment
from levier.collections.tests.factories import payment
from levier.contracts.services import record_delivery
from levier.contracts.tests.factories import contract_line, make_contract
from levier.contracts.tests.test_cutoff import annual_maintenance
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory
from levier.integrations.fec import (
    AccountPlan,
    AccountPlanError,
    FecExportResult,
    UnbalancedPiece,
    export_fec,
)
from levier.integrations.fec.accounts import load_account_plan, load_yaml_plan, plan_from_mapping
from levier.integrations.fec.entries import EntryBuilder, EntryLine, Piece, letter_code
from levier.integrations.fec.writer import COLUMNS, FecWriter
from levier.kpis.receivables import receivables
from levier.lib.money import document_totals, line_net
from levier.sales.tests.factories import line

D = Decimal
START, END = dt.date(2026, 1, 1), dt.date(2026, 12, 31)


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


# ---------------------------------------------------------------------------------------
# The books


@dataclass
class Books:
    a: Customer
    b: Customer
    c: Customer
    d: Customer
    f1: Invoice
    f2: Invoice
    av1: Invoice
    f3: Invoice
    f4: Invoice
    f5: Invoice
    maintenance: Invoice
    f7: Invoice
    p1a: Payment
    p1b: Payment
    p2: Payment
    p3: Payment
    p4: Payment


def _issue(adv: User, customer: Customer, day: dt.date, *lines: dict[str, Any]) -> Invoice:
    draft = draft_invoice(adv, customer, lines=list(lines), billable_on=day)
    return issue_invoice(actor=adv, invoice=draft, issue_date=day)


def _paid(
    compta: User, customer: Customer, amount: str, day: dt.date, *parts: tuple[Invoice, str]
) -> Payment:
    received = payment(compta, customer, amount, received_on=day)
    allocate_payment(
        actor=compta, payment=received, portions=[Portion(inv.pk, D(x)) for inv, x in parts]
    )
    return received


@pytest.fixture
def books(adv: User, compta: User, direction: User) -> Books:
    a = CustomerFactory(name="Atelier Dupont SAS")
    b = CustomerFactory(name="Bureau Martin SARL")
    c = CustomerFactory(name="Cabinet Leroy")
    day = dt.date
    # Issued in date order: a series' numbers follow its dates.
    f1 = _issue(adv, a, day(2026, 2, 10), line("10", "800"), line("2", "150", vat="10"))
    f2 = _issue(adv, a, day(2026, 3, 2), line("1", "1000"))
    note = create_credit_note(
        actor=adv, invoice=f2, reason="commercial_gesture", lines=[line("1", "250")]
    )
    av1 = issue_invoice(actor=adv, invoice=note, issue_date=day(2026, 3, 20))
    f3 = _issue(adv, b, day(2026, 5, 4), line("1", "500"))
    f4 = _issue(adv, b, day(2026, 5, 5), line("1", "1500"))
    f5 = _issue(adv, b, day(2026, 7, 1), line("1", "100"))
    contract, maintenance = annual_maintenance(adv)
    f7 = _issue(adv, c, day(2026, 11, 15), line("1", "2000"))
    audit = make_contract(
        adv,
        [contract_line("on_delivery", "6000", description="Audit SI")],
        start=day(2026, 9, 1),
    )
    record_delivery(actor=adv, line=audit.lines.get(), delivered_on=day(2026, 12, 15))
    p1a = _paid(compta, a, "5000.00", day(2026, 3, 10), (f1, "5000.00"))
    p1b = _paid(compta, a, "4930.00", day(2026, 4, 10), (f1, "4930.00"))
    p2 = _paid(compta, a, "900.00", day(2026, 4, 15), (f2, "900.00"))
    p3 = _paid(compta, b, "2400.00", day(2026, 6, 1), (f3, "600.00"), (f4, "1800.00"))
    p4 = _paid(compta, b, "150.00", day(2026, 7, 20), (f5, "120.00"))
    invoices = [f1, f2, av1, f3, f4, f5, maintenance, f7]
    for invoice in invoices:
        invoice.refresh_from_db()
    return Books(a, b, c, contract.customer, *invoices, p1a, p1b, p2, p3, p4)


# ---------------------------------------------------------------------------------------
# Reading the file back


Row = dict[str, str]


def export(
    date_from: dt.date = START, date_to: dt.date = END, **kw: Any
) -> tuple[list[Row], FecExportResult, bytes]:
    buffer = io.BytesIO()
    with translation.override("en"):
        result = export_fec(date_from=date_from, date_to=date_to, out=buffer, **kw)
    data = buffer.getvalue()
    records = data.decode(result.encoding).split("\r\n")
    assert records[-1] == "" and "\n" not in "".join(records)  # CRLF ends every record
    assert records[0].split("\t") == list(COLUMNS)
    rows = [dict(zip(COLUMNS, r.split("\t"), strict=True)) for r in records[1:-1]]
    return rows, result, data


def amount(text: str) -> Decimal:
    return D(text.replace(",", "."))


def date_of(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()


def pieces_of(rows: list[Row]) -> dict[tuple[str, str], list[Row]]:
    pieces: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        pieces[(row["JournalCode"], row["EcritureNum"])].append(row)
    return pieces


def by_ref(rows: list[Row], ref: str) -> list[Row]:
    return [row for row in rows if row["PieceRef"] == ref]


def aux(customer: Customer) -> str:
    return f"C{customer.pk:06d}"


@dataclass
class Audit:
    receivables: Decimal
    fae: Decimal
    pca: Decimal
    # invoice PieceRef → settlement date (None: not settled at d)
    settled: dict[str, dt.date | None]


def audit(rows: list[Row], d: dt.date) -> Audit:
    """kpis.md, "From a FEC file": what an audit tool reads from the file, by its accounts."""
    dated = [row for row in rows if date_of(row["EcritureDate"]) <= d]

    def balance(prefix: str) -> Decimal:
        return sum(
            (
                amount(r["Debit"]) - amount(r["Credit"])
                for r in dated
                if r["CompteNum"].startswith(prefix)
            ),
            D("0"),
        )

    settled: dict[str, dt.date | None] = {}
    for lines in pieces_of(dated).values():
        debits_411 = [r for r in lines if r["CompteNum"].startswith("411") and amount(r["Debit"])]
        credits_70 = [r for r in lines if r["CompteNum"].startswith("70") and amount(r["Credit"])]
        if not (debits_411 and credits_70):
            continue
        receivable = debits_411[0]
        letter = receivable["EcritureLet"]
        if not letter:
            settled[receivable["PieceRef"]] = None
            continue
        if receivable["DateLet"]:
            when = date_of(receivable["DateLet"])
        else:
            when = max(
                date_of(r["EcritureDate"])
                for r in dated
                if r["EcritureLet"] == letter and r["CompAuxNum"] == receivable["CompAuxNum"]
            )
        settled[receivable["PieceRef"]] = when if when <= d else None
    return Audit(balance("411"), balance("4181"), -balance("487"), settled)


# ---------------------------------------------------------------------------------------
# Sales journal


def test_an_invoice_with_two_vat_rates_is_one_sales_piece_written_line_by_line(
    books: Books,
) -> None:
    rows, _result, data = export()
    # F1: 10 × 800 = 8,000 HT at 20 % (VAT 1,600), 2 × 150 = 300 HT at 10 % (VAT 30);
    # TTC 8,000 + 300 + 1,600 + 30 = 9,930. Settled on 10/04 (5,000 + 4,930), letter AAA
    # (Atelier Dupont's first settled invoice).
    a = aux(books.a)
    head = "VE\tSales\tVE000001\t20260210\t"
    label = "Invoice F2026-000001 Atelier Dupont SAS"
    expected = [
        f"{head}411000\tCustomers\t{a}\tAtelier Dupont SAS\tF2026-000001\t20260210\t{label}"
        "\t9930,00\t0,00\tAAA\t20260410\t20260210\t\t",
        f"{head}706000\tServices rendered\t\t\tF2026-000001\t20260210\t{label}"
        "\t0,00\t8000,00\t\t\t20260210\t\t",
        f"{head}706000\tServices rendered\t\t\tF2026-000001\t20260210\t{label}"
        "\t0,00\t300,00\t\t\t20260210\t\t",
        f"{head}445711\tVAT collected 20 %\t\t\tF2026-000001\t20260210\t{label}"
        "\t0,00\t1600,00\t\t\t20260210\t\t",
        f"{head}445712\tVAT collected 10 %\t\t\tF2026-000001\t20260210\t{label}"
        "\t0,00\t30,00\t\t\t20260210\t\t",
    ]
    records = data.decode("iso-8859-15").split("\r\n")
    assert records[1:6] == expected
    assert len(by_ref(rows, "F2026-000001")) == 5


def test_a_credit_note_is_its_invoice_piece_reversed_and_takes_the_invoice_letter(
    books: Books,
) -> None:
    rows, _result, _data = export()
    lines = by_ref(rows, "AV2026-000001")
    # 250 HT at 20 % = 50 VAT, 300 TTC: C 411 300 / D 706 250 / D 445711 50. F2 is A's second
    # settled invoice (15/04, after F1 on 10/04): AAB.
    assert [
        (r["CompteNum"], r["Debit"], r["Credit"], r["EcritureLet"], r["DateLet"]) for r in lines
    ] == [
        ("411000", "0,00", "300,00", "AAB", "20260415"),
        ("706000", "250,00", "0,00", "", ""),
        ("445711", "50,00", "0,00", "", ""),
    ]
    assert {r["JournalCode"] for r in lines} == {"VE"}
    assert lines[0]["EcritureLib"] == "Credit note AV2026-000001 Atelier Dupont SAS"
    assert lines[0]["EcritureDate"] == lines[0]["PieceDate"] == "20260320"


def test_sales_pieces_follow_issue_dates_then_numbers(books: Books) -> None:
    rows, result, _data = export()
    sales = [r for r in rows if r["JournalCode"] == "VE"]
    refs = list(dict.fromkeys(r["PieceRef"] for r in sales))
    assert refs == [
        "F2026-000001",  # 10/02
        "F2026-000002",  # 02/03
        "AV2026-000001",  # 20/03
        "F2026-000003",  # 04/05
        "F2026-000004",  # 05/05
        "F2026-000005",  # 01/07
        "F2026-000006",  # 01/10, the maintenance
        "F2026-000007",  # 15/11
    ]
    assert list(dict.fromkeys(r["EcritureNum"] for r in sales)) == [
        f"VE{n:06d}" for n in range(1, 9)
    ]
    # Lines: F1 5 (two rates), F2 3, AV1 3, F3 3, F4 3, F5 3, maintenance 3, F7 3 = 26.
    assert result.pieces["VE"] == 8 and result.lines["VE"] == 26


# ---------------------------------------------------------------------------------------
# Bank journal and lettering


def test_a_partial_then_full_payment_letters_both_payments_with_the_invoice(
    books: Books,
) -> None:
    rows, _result, _data = export()
    first = by_ref(rows, f"PMT-{books.p1a.pk:06d}")
    second = by_ref(rows, f"PMT-{books.p1b.pk:06d}")
    # D 512 / C 411, each lettered AAA with F1's settlement date (10/04): 5,000 + 4,930 = 9,930.
    assert [
        (r["CompteNum"], r["Debit"], r["Credit"], r["EcritureLet"], r["DateLet"]) for r in first
    ] == [
        ("512000", "5000,00", "0,00", "", ""),
        ("411000", "0,00", "5000,00", "AAA", "20260410"),
    ]
    assert [
        (r["CompteNum"], r["Debit"], r["Credit"], r["EcritureLet"], r["DateLet"]) for r in second
    ] == [
        ("512000", "4930,00", "0,00", "", ""),
        ("411000", "0,00", "4930,00", "AAA", "20260410"),
    ]
    assert first[0]["EcritureDate"] == "20260310" and second[0]["EcritureDate"] == "20260410"
    lettered = [r for r in rows if r["EcritureLet"] == "AAA" and r["CompAuxNum"] == aux(books.a)]
    assert sum((amount(r["Debit"]) - amount(r["Credit"]) for r in lettered), D(0)) == 0


def test_one_payment_for_two_invoices_credits_each_invoice_under_its_own_letter(
    books: Books,
) -> None:
    rows, _result, _data = export()
    lines = by_ref(rows, f"PMT-{books.p3.pk:06d}")
    # Bureau Martin: F3 and F4 settled on 01/06 → AAA and AAB (by number), F5 on 20/07 → AAC.
    b = aux(books.b)
    assert [
        (r["CompteNum"], r["CompAuxNum"], r["Debit"], r["Credit"], r["EcritureLet"]) for r in lines
    ] == [
        ("512000", "", "2400,00", "0,00", ""),
        ("411000", b, "0,00", "600,00", "AAA"),
        ("411000", b, "0,00", "1800,00", "AAB"),
    ]
    assert by_ref(rows, "F2026-000003")[0]["EcritureLet"] == "AAA"
    assert by_ref(rows, "F2026-000004")[0]["EcritureLet"] == "AAB"


def test_an_overpayment_leaves_the_excess_unlettered_on_the_customer_account(
    books: Books,
) -> None:
    rows, _result, _data = export()
    lines = by_ref(rows, f"PMT-{books.p4.pk:06d}")
    # 150 received for F5 (120 TTC): 120 lettered AAC, 30 left as Bureau Martin's credit.
    assert [
        (r["CompteNum"], r["CompAuxNum"], r["Debit"], r["Credit"], r["EcritureLet"]) for r in lines
    ] == [
        ("512000", "", "150,00", "0,00", ""),
        ("411000", aux(books.b), "0,00", "120,00", "AAC"),
        ("411000", aux(books.b), "0,00", "30,00", ""),
    ]
    assert lines[2]["EcritureLib"] == "Customer credit Bureau Martin SARL"


def test_invoices_not_settled_at_the_end_date_are_not_lettered(books: Books) -> None:
    rows, _result, _data = export()
    for number in ("F2026-000006", "F2026-000007"):  # the maintenance and F7: unpaid
        assert [r["EcritureLet"] for r in by_ref(rows, number)] == ["", "", ""]
    # Ending on 12/04: F1 (settled 10/04) is lettered, F2 (settled 15/04) is not yet, nor
    # its credit note; the payment of 15/04 is outside the file.
    rows, _result, _data = export(date_to=dt.date(2026, 4, 12))
    assert by_ref(rows, "F2026-000001")[0]["EcritureLet"] == "AAA"
    assert by_ref(rows, "F2026-000002")[0]["EcritureLet"] == ""
    assert by_ref(rows, "AV2026-000001")[0]["EcritureLet"] == ""
    assert by_ref(rows, f"PMT-{books.p2.pk:06d}") == []


def test_a_payment_received_before_its_invoice_opens_as_a_credit_item_lettered_with_it(
    adv: User, compta: User
) -> None:
    customer = CustomerFactory(name="Avance SA")
    advance = payment(compta, customer, "600.00", received_on=dt.date(2026, 3, 25))
    invoice = _issue(adv, customer, dt.date(2026, 4, 5), line("1", "500"))  # 600 TTC
    allocate_payment(actor=compta, payment=advance, portions=[Portion(invoice.pk, D("600.00"))])
    invoice.refresh_from_db()
    # Levier: settled on the day the money came, before the invoice existed.
    assert invoice.settled_on == dt.date(2026, 3, 25)
    rows, result, _data = export(date_from=dt.date(2026, 4, 1))
    # Before 01/04 the 600 were received and allocated to F1: a credit item on F1.
    assert [
        (r["CompteNum"], r["Debit"], r["Credit"], r["EcritureLet"], r["DateLet"])
        for r in by_ref(rows, "AN-20260401-AR")
    ] == [
        ("411000", "0,00", "600,00", "AAA", "20260325"),
        ("890000", "600,00", "0,00", "", ""),
    ]
    receivable = by_ref(rows, "F2026-000001")[0]
    assert (receivable["Debit"], receivable["EcritureLet"]) == ("600,00", "AAA")
    assert result.receivables == receivables(END) == D("0.00")
    assert audit(rows, END).settled == {"F2026-000001": dt.date(2026, 3, 25)}


def test_an_advance_waits_on_the_credit_account_until_its_invoice_is_issued(
    adv: User, compta: User
) -> None:
    """With customer credit on 4191, money received before its invoice exists is no
    receivable: at 31/03 (paid 25/03, invoiced 05/04) 411 holds 0, as Levier's AR; on 05/04
    the 600 move from 4191 to 411, lettered with the invoice."""
    customer = CustomerFactory(name="Avance SA")
    advance = payment(compta, customer, "600.00", received_on=dt.date(2026, 3, 25))
    invoice = _issue(adv, customer, dt.date(2026, 4, 5), line("1", "500"))  # 600 TTC
    allocate_payment(actor=compta, payment=advance, portions=[Portion(invoice.pk, D("600.00"))])
    plan = AccountPlan(customer_credit="419100")
    march = dt.date(2026, 3, 31)
    rows, result, _data = export(date_from=dt.date(2026, 3, 1), date_to=march, accounts=plan)
    assert result.receivables == audit(rows, march).receivables == receivables(march) == 0
    assert result.balances["419100"] == D("-600.00")
    rows, result, _data = export(date_from=dt.date(2026, 3, 1), accounts=plan)
    moved = by_ref(rows, "ADV-F2026-000001")
    assert [(r["EcritureDate"], r["CompteNum"], r["Debit"], r["Credit"]) for r in moved] == [
        ("20260405", "419100", "600,00", "0,00"),
        ("20260405", "411000", "0,00", "600,00"),
    ]
    assert moved[1]["EcritureLet"] == by_ref(rows, "F2026-000001")[0]["EcritureLet"] == "AAA"
    assert result.balances["419100"] == 0
    assert result.receivables == audit(rows, END).receivables == receivables(END) == 0
    # Received before the period: the opening puts the advance on 4191, not on 411.
    rows, result, _data = export(date_from=dt.date(2026, 4, 1), accounts=plan)
    opening = by_ref(rows, "AN-20260401-AR")[0]
    assert (opening["CompteNum"], opening["Credit"]) == ("419100", "600,00")
    assert result.receivables == receivables(END) == 0


def test_a_credit_note_after_full_payment_stays_in_the_lettered_group_as_its_excess(
    adv: User, compta: User
) -> None:
    customer = CustomerFactory(name="Geste SARL")
    invoice = _issue(adv, customer, dt.date(2026, 5, 1), line("1", "1000"))  # 1,200 TTC
    _paid(compta, customer, "1200.00", dt.date(2026, 5, 20), (invoice, "1200.00"))
    note = create_credit_note(
        actor=adv, invoice=invoice, reason="commercial_gesture", lines=[line("1", "250")]
    )
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 6, 1))  # 300 TTC
    invoice.refresh_from_db()
    # Levier: settled on 20/05, open −300 (owed to the customer), in AR as −300.
    assert (invoice.settled_on, invoice.open_amount) == (dt.date(2026, 5, 20), D("-300.00"))
    rows, result, _data = export()
    group = [r for r in rows if r["EcritureLet"] == "AAA"]
    # 1,200 − 1,200 − 300: the group holds the −300 Levier shows on the invoice.
    assert [(r["PieceRef"], r["Debit"], r["Credit"]) for r in group] == [
        ("F2026-000001", "1200,00", "0,00"),
        (group[1]["PieceRef"], "0,00", "1200,00"),
        ("AV2026-000001", "0,00", "300,00"),
    ]
    assert {r["DateLet"] for r in group} == {"20260520"}
    assert result.receivables == receivables(END) == D("-300.00")


def test_a_payment_without_customer_and_allocation_waits_in_the_suspense_account(
    books: Books, compta: User
) -> None:
    unknown = payment(compta, None, "75.50", received_on=dt.date(2026, 8, 3))
    rows, _result, _data = export()
    lines = by_ref(rows, f"PMT-{unknown.pk:06d}")
    assert [(r["CompteNum"], r["CompAuxNum"], r["Debit"], r["Credit"]) for r in lines] == [
        ("512000", "", "75,50", "0,00"),
        ("471000", "", "0,00", "75,50"),
    ]


# ---------------------------------------------------------------------------------------
# Whole file


def test_every_piece_balances_and_numbers_run_on_without_gap_per_journal(books: Books) -> None:
    rows, result, _data = export()
    pieces = pieces_of(rows)
    for lines in pieces.values():
        assert sum(amount(r["Debit"]) for r in lines) == sum(amount(r["Credit"]) for r in lines)
    # 8 sales pieces, 5 payments, FAE and PCA at 31/12; nothing before 2026: no AN, no reversal.
    numbers: dict[str, list[str]] = defaultdict(list)
    for journal, number in pieces:
        numbers[journal].append(number)
    assert numbers == {
        "VE": [f"VE{n:06d}" for n in range(1, 9)],
        "BQ": [f"BQ{n:06d}" for n in range(1, 6)],
        "OD": ["OD000001", "OD000002"],
    }
    assert result.pieces == {"BQ": 5, "OD": 2, "VE": 8}
    assert result.total_debit == result.total_credit
    dates = [r["EcritureDate"] for r in rows]
    assert dates == sorted(dates)  # chronological
    assert all(r["ValidDate"] == r["EcritureDate"] for r in rows)


def test_closing_entries_book_fae_and_pca_at_the_end_date(books: Books) -> None:
    rows, _result, _data = export()
    fae = by_ref(rows, "FAE-20261231")
    pca = by_ref(rows, "PCA-20261231")
    # kpis.md: D 4181 7,200 / C 706 6,000 / C 44587 1,200; PCA 12,000 × 273 ÷ 365 = 8,975.34.
    assert [(r["CompteNum"], r["Debit"], r["Credit"]) for r in fae] == [
        ("418100", "7200,00", "0,00"),
        ("706000", "0,00", "6000,00"),
        ("445870", "0,00", "1200,00"),
    ]
    assert [(r["CompteNum"], r["Debit"], r["Credit"]) for r in pca] == [
        ("706000", "8975,34", "0,00"),
        ("487000", "0,00", "8975,34"),
    ]
    assert {r["JournalCode"] for r in fae + pca} == {"OD"}
    assert {r["EcritureDate"] for r in fae + pca} == {"20261231"}


def test_the_customer_accounts_hold_levier_receivables_less_the_customer_credit(
    books: Books,
) -> None:
    rows, result, _data = export()
    # Open at 31/12: the maintenance 14,400 + F7 2,400 = 16,800 (Levier's AR); the file also
    # nets Bureau Martin's 30 of credit, which Levier shows apart: 16,770.
    # From the lines: debits 9,930 + 1,200 + 600 + 1,800 + 120 + 14,400 + 2,400 = 30,450;
    # credits 300 + 5,000 + 4,930 + 900 + 2,400 + 150 = 13,680; 30,450 − 13,680 = 16,770.
    assert receivables(END) == D("16800.00")
    assert result.receivables == D("16770.00")
    assert audit(rows, END).receivables == receivables(END) - D("30.00")
    # With the credit on 4191 (advances received), 411 is exactly Levier's AR.
    rows, result, _data = export(accounts=AccountPlan(customer_credit="419100"))
    assert result.receivables == audit(rows, END).receivables == D("16800.00")
    assert result.balances["419100"] == D("-30.00")
    credit = by_ref(rows, f"PMT-{books.p4.pk:06d}")[2]
    assert (credit["CompteNum"], credit["CompteLib"], credit["CompAuxNum"]) == (
        "419100",
        "Customers - credit balances",
        aux(books.b),
    )


def test_an_audit_of_the_file_finds_levier_settlement_dates_fae_and_pca(books: Books) -> None:
    rows, _result, _data = export()
    found = audit(rows, END)
    invoices = Invoice.objects.filter(kind="invoice", status="issued")
    assert found.settled == {
        i.number: (i.settled_on if i.settled_on and i.settled_on <= END else None) for i in invoices
    }
    assert found.settled["F2026-000001"] == dt.date(2026, 4, 10)
    assert (found.fae, found.pca) == (D("7200.00"), D("8975.34"))


def test_opening_balances_carry_the_items_open_before_the_period_with_their_letters(
    books: Books,
) -> None:
    rows, result, _data = export(date_from=dt.date(2026, 4, 1))
    opening = by_ref(rows, "AN-20260401-AR")
    # Open on 31/03: F1 9,930 − 5,000 = 4,930 (settled 10/04: AAA); F2 1,200 − 300 − 0 = 900
    # (settled 15/04: AAB); against 890000: 5,830.
    a = aux(books.a)
    assert [
        (r["CompteNum"], r["CompAuxNum"], r["Debit"], r["Credit"], r["EcritureLet"], r["DateLet"])
        for r in opening
    ] == [
        ("411000", a, "4930,00", "0,00", "AAA", "20260410"),
        ("411000", a, "900,00", "0,00", "AAB", "20260415"),
        ("890000", "", "0,00", "5830,00", "", ""),
    ]
    assert {r["JournalCode"] for r in opening} == {"AN"} and result.pieces["AN"] == 1
    assert opening[0]["EcritureNum"] == "AN000001" and opening[0]["EcritureDate"] == "20260401"
    # The AN line and the payments of April letter to zero; the balance is still AR − credit.
    group = [r for r in rows if r["CompAuxNum"] == a and r["EcritureLet"] == "AAB"]
    assert sum((amount(r["Debit"]) - amount(r["Credit"]) for r in group), D(0)) == 0
    assert result.receivables == D("16770.00")
    assert audit(rows, END).settled["F2026-000003"] == dt.date(2026, 6, 1)


def test_consecutive_periods_chain_the_cutoff_through_opening_and_reversal(
    books: Books,
) -> None:
    rows, _result, _data = export(date_from=dt.date(2026, 11, 1))
    # PCA on 31/10: 01/11/2026–30/09/2027 = 365 − 31 = 334 days of 365:
    # 12,000 × 334 ÷ 365 = 10,980.82; no FAE yet (delivery on 15/12).
    assert [(r["CompteNum"], r["Debit"], r["Credit"]) for r in by_ref(rows, "AN-20261101-CUT")] == [
        ("487000", "0,00", "10980,82"),
        ("890000", "10980,82", "0,00"),
    ]
    reversal = by_ref(rows, "PCA-20261031-REV")
    assert [(r["CompteNum"], r["Debit"], r["Credit"]) for r in reversal] == [
        ("706000", "0,00", "10980,82"),
        ("487000", "10980,82", "0,00"),
    ]
    assert reversal[0]["JournalCode"] == "OD" and reversal[0]["EcritureNum"] == "OD000001"
    assert reversal[0]["EcritureDate"] == "20261101"
    assert reversal[0]["EcritureLib"].startswith("Reversal: ")
    # The earlier cut-off opened then reversed: 487 and 4181 hold 31/12's figures only.
    found = audit(rows, END)
    assert (found.fae, found.pca) == (D("7200.00"), D("8975.34"))
    # Without the AN journal the reversal stays, and the file is the period's movements.
    rows, result, _data = export(date_from=dt.date(2026, 11, 1), opening_balances=False)
    assert "AN" not in result.pieces and by_ref(rows, "PCA-20261031-REV")
    # F7's 2,400 (15/11), PCA 8,975.34 − 10,980.82 = −2,005.48: a debit balance on 487.
    assert result.receivables == D("2400.00")
    assert audit(rows, END).pca == D("-2005.48")


# ---------------------------------------------------------------------------------------
# File, encoding, determinism


def test_a_folder_gets_the_file_named_after_the_siren_and_the_end_date(
    books: Books, tmp_path: Path
) -> None:
    with translation.override("en"):
        result = export_fec(date_from=START, date_to=END, out=tmp_path)
    assert result.path == tmp_path / "404833048FEC20261231.txt"
    assert result.path.read_bytes().startswith(b"JournalCode\tJournalLib\tEcritureNum\t")
    assert [p.name for p in tmp_path.iterdir()] == ["404833048FEC20261231.txt"]


def test_euro_sign_and_oe_ligature_are_one_byte_each_in_iso_8859_15(adv: User) -> None:
    customer = CustomerFactory(name="Bœuf & Œufs – 100 €")
    _issue(adv, customer, dt.date(2026, 6, 1), line("1", "100"))
    rows, result, data = export()
    # ISO-8859-15: œ = 0xBD, Œ = 0xBC, € = 0xA4; the en dash is not in it: written "-".
    assert b"B\xbduf & \xbcufs - 100 \xa4" in data
    assert rows[0]["CompAuxLib"] == "Bœuf & Œufs - 100 €"
    assert result.encoding == "iso-8859-15"
    # The dash appears in CompAuxLib and EcritureLib of the 411 line, EcritureLib of the two
    # others: 4 replacements, one warning naming the piece and the character.
    assert result.replaced_characters == 4
    assert result.warnings == ("F2026-000001: “–” (U+2013) is not in iso-8859-15, written “-”",)
    _rows, utf8, data = export(encoding="utf-8")
    assert "Bœuf & Œufs – 100 €".encode() in data and utf8.replaced_characters == 0


def test_the_same_data_gives_a_byte_identical_file(books: Books, tmp_path: Path) -> None:
    _rows, _result, first = export()
    _rows, _result, second = export()
    assert first == second
    with translation.override("en"):
        export_fec(date_from=START, date_to=END, out=tmp_path / "a.txt")
        export_fec(date_from=START, date_to=END, out=tmp_path / "b.txt")
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes() == first
    # A text stream gets the same characters; its encoding is the caller's.
    text = io.StringIO(newline="")
    with translation.override("en"):
        export_fec(date_from=START, date_to=END, out=text)
    assert text.getvalue().encode("iso-8859-15") == first


def test_a_document_in_another_currency_is_left_out_with_a_warning(books: Books, adv: User) -> None:
    # No service issues foreign invoices yet; the field exists, so the export must not
    # book dollars as euros.
    Payment.objects.filter(pk=books.p4.pk).update(currency="USD")
    rows, result, _data = export()
    assert by_ref(rows, f"PMT-{books.p4.pk:06d}") == []
    assert result.warnings == (
        f"PMT-{books.p4.pk:06d} is in USD: not exported (Levier keeps no exchange rate)",
    )


def test_an_unbalanced_piece_is_refused_and_leaves_no_file(
    books: Books, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: EntryBuilder) -> Iterator[Piece]:
        lines = (
            EntryLine("418100", "FAE", "broken", debit=D("10.00")),
            EntryLine("706000", "Revenue", "broken", credit=D("9.99")),
        )
        yield Piece("OD", "Cut-off", END, "FAE-BROKEN", END, lines, 4)

    monkeypatch.setattr(EntryBuilder, "_closing_pieces", broken)
    with pytest.raises(UnbalancedPiece, match=r"FAE-BROKEN .* débit 10\.00, crédit 9\.99"):
        export_fec(date_from=START, date_to=END, out=tmp_path / "fec.txt")
    assert list(tmp_path.iterdir()) == []


def test_the_number_of_queries_does_not_grow_with_the_volume(adv: User, compta: User) -> None:
    customer = CustomerFactory()

    def add(count: int, first_day: int) -> None:
        for n in range(count):
            day = dt.date(2026, 3, first_day + n)
            invoice = _issue(adv, customer, day, line("1", "100"), line("1", "10", vat="10"))
            _paid(compta, customer, "131.00", day, (invoice, "131.00"))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            export_fec(date_from=START, date_to=END, out=io.BytesIO())
        return len(captured.captured_queries)

    add(2, 1)
    few = queries()
    add(20, 5)
    assert queries() == few


# ---------------------------------------------------------------------------------------
# Pieces of any invoice balance


AMOUNTS = st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2)
LINES = st.lists(
    st.tuples(
        st.decimals(min_value=D("0.001"), max_value=D("999.999"), places=3),  # quantity
        st.decimals(min_value=D("0"), max_value=D("99999.9999"), places=4),  # unit price
        st.decimals(min_value=D("0"), max_value=D("100"), places=2),  # discount %
        st.sampled_from([D("20.00"), D("10.00"), D("5.50"), D("2.10"), D("0.00")]),
        st.sampled_from(["706000", "706110", "706200"]),
    ),
    min_size=1,
    max_size=12,
)


@given(lines=LINES, is_invoice=st.booleans())
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_document_piece_balances_and_revenue_plus_vat_equals_the_receivable(
    lines: list[tuple[Decimal, Decimal, Decimal, Decimal, str]], is_invoice: bool
) -> None:
    priced = [
        (line_net(q, price, discount), rate, account) for q, price, discount, rate, account in lines
    ]
    totals = document_totals((net, rate) for net, rate, _account in priced)
    document = (
        1, "invoice" if is_invoice else "credit_note", "X-1", START, 7, "Client", "", 2, "EUR",
        totals.net, totals.vat, totals.gross,
    )  # fmt: skip
    builder = EntryBuilder(plan=AccountPlan(), date_from=START, date_to=END)
    with translation.override("en"):
        piece = builder._sales_piece(document, [(1, a, r, n) for n, r, a in priced], "VE", "Sales")
        assert piece is not None
        FecWriter(lambda text: None, encoding="iso-8859-15").piece(piece)  # refuses unbalanced
    receivable = piece.lines[0]
    assert receivable.account == "411000"
    assert (receivable.debit if is_invoice else receivable.credit) == totals.gross
    others = piece.lines[1:]
    assert all(x.account.startswith(("70", "4457")) for x in others)
    side = (lambda x: x.credit) if is_invoice else (lambda x: x.debit)
    assert sum((side(x) for x in others), D(0)) == totals.gross
    assert piece.debit == piece.credit


@given(st.integers(min_value=0, max_value=26**3 + 26**4 - 1))
def test_letter_codes_are_unique_and_grow_past_zzz(n: int) -> None:
    code = letter_code(n)
    assert code.isalpha() and code.isupper()
    assert len(code) == (3 if n < 26**3 else 4)
    assert n == 0 or letter_code(n - 1) != code


def test_letter_codes_start_at_aaa() -> None:
    assert [letter_code(n) for n in (0, 1, 25, 26, 17575, 17576)] == [
        "AAA", "AAB", "AAZ", "ABA", "ZZZ", "AAAA",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------
# Account plan


def test_the_setting_changes_accounts_and_one_vat_account_for_all_rates(
    books: Books, settings: Any
) -> None:
    settings.LEVIER_FEC_ACCOUNTS = {
        "vat_by_rate": {},
        "vat": "445710",
        "revenue_by_rate": {"10": "706010"},
        "sales_journal": "VT",
        "labels": {"706010": "Prestations à 10 %"},
    }
    rows, result, _data = export()
    f1 = by_ref(rows, "F2026-000001")
    assert [(r["JournalCode"], r["CompteNum"], r["CompteLib"], r["Credit"]) for r in f1[1:]] == [
        ("VT", "706000", "Services rendered", "8000,00"),
        ("VT", "706010", "Prestations à 10 %", "300,00"),
        ("VT", "445710", "VAT collected", "1600,00"),
        ("VT", "445710", "VAT collected", "30,00"),
    ]
    assert f1[0]["EcritureNum"] == "VT000001" and "VE" not in result.pieces


def test_a_yaml_plan_overrides_the_setting_key_by_key(tmp_path: Path, settings: Any) -> None:
    settings.LEVIER_FEC_ACCOUNTS = {"bank": "512100", "customers": "411100"}
    path = tmp_path / "plan.yaml"
    path.write_text("bank: 512200\nvat_by_rate:\n  5.5: 445715\nuse_product_accounts: false\n")
    with translation.override("en"):
        plan = load_yaml_plan(path, plan_from_mapping(settings.LEVIER_FEC_ACCOUNTS, source="s"))
    assert (plan.bank, plan.customers, plan.use_product_accounts) == ("512200", "411100", False)
    assert plan.vat_account(D("5.50")) == "445715" and plan.vat_account(D("20")) == "445710"
    assert plan.revenue_account(D("20"), "706110") == "706000"
    assert AccountPlan().revenue_account(D("20"), "706110") == "706110"


def test_the_deployments_plan_file_sits_between_the_setting_and_the_command_line(
    tmp_path: Path, settings: Any
) -> None:
    settings.LEVIER_FEC_ACCOUNTS = {"bank": "512100", "customers": "411100"}
    deployed = tmp_path / "deployed.yaml"
    deployed.write_text("bank: 512200\ncustomer_credit: 419100\n")
    settings.LEVIER_FEC_ACCOUNTS_FILE = str(deployed)
    plan = load_account_plan()
    assert (plan.bank, plan.customers, plan.customer_credit) == ("512200", "411100", "419100")
    given = tmp_path / "given.yaml"
    given.write_text("bank: 512300\n")
    assert load_account_plan(given).bank == "512300"
    settings.LEVIER_FEC_ACCOUNTS_FILE = str(tmp_path / "missing.yaml")
    with (
        translation.override("en"),
        pytest.raises(AccountPlanError, match=r"missing\.yaml: no such file"),
    ):
        load_account_plan()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"bank_account": "512000"}, "unknown key(s) bank_account"),
        ({"customers": "410000"}, "key “customers”: 410000 must start with 411"),
        (
            {"revenue_by_rate": {"20": "601000"}},
            "key “revenue_by_rate[20]”: 601000 must start with 70",
        ),
        ({"vat_by_rate": {"vingt": "445711"}}, "“vingt” is not a VAT rate"),
        ({"bank": "51"}, "“51” is not an account number"),
        ({"sales_journal": "BQ"}, "four different codes"),
        ({"use_product_accounts": "yes"}, "expected true or false"),
        ({"labels": {"706000": ""}}, "a label has 1 to 200 characters"),
    ],
)
def test_a_bad_account_plan_is_refused_naming_the_key(data: dict[str, Any], message: str) -> None:
    with translation.override("en"), pytest.raises(AccountPlanError, match=re.escape(message)):
        plan_from_mapping(data, source="LEVIER_FEC_ACCOUNTS")


# ---------------------------------------------------------------------------------------
# The command


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with translation.override("en"):
        call_command("export_fec", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_writes_the_file_and_summarises_it(books: Books, tmp_path: Path) -> None:
    out, err = run("--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp_path))
    path = tmp_path / "404833048FEC20261231.txt"
    assert path.exists() and err == ""
    assert f"{path}: FEC from 2026-01-01 to 2026-12-31 (iso-8859-15)" in out
    assert "  VE: 8 piece(s), 26 line(s)" in out
    assert "customers (411) 16770.00" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13-01", "--to", "2026-12-31"], "--from: “2026-13-01” is not a date"),
        (["--from", "2026-01-01", "--to", "31/12/2026"], "--to: “31/12/2026” is not a date"),
        (["--from", "2026-12-31", "--to", "2026-01-01"], "--from (2026-12-31) is after --to"),
        (
            ["--from", "2026-01-01", "--to", "2026-12-31", "--encoding", "cp1252"],
            "unsupported encoding “cp1252”",
        ),
    ],
)
def test_the_command_refuses_bad_options_with_a_clear_message(
    args: list[str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args, "--out", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_the_command_needs_the_siren_to_name_the_file_in_a_folder(tmp_path: Path) -> None:
    CompanyProfile.objects.filter(pk=1).update(siren="")
    with pytest.raises(CommandError, match="The company profile has no valid SIREN"):
        run("--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp_path))
    run("--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp_path / "fec.txt"))
    assert (tmp_path / "fec.txt").exists()


def test_the_command_names_the_yaml_file_and_key_it_refuses(tmp_path: Path) -> None:
    plan = tmp_path / "accounts.yaml"
    plan.write_text("customers: 411000\nbank_acount: 512000\n")
    with pytest.raises(CommandError, match=re.escape(f"{plan}: unknown key(s) bank_acount")):
        run(
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--out",
            str(tmp_path),
            "--accounts",
            str(plan),
        )
    plan.write_text("customers: [411000\n")
    with pytest.raises(CommandError, match=re.escape(f"{plan}: not valid YAML line 2")):
        run(
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--out",
            str(tmp_path),
            "--accounts",
            str(plan),
        )
    with pytest.raises(CommandError, match=r"missing\.yaml: no such file"):
        run(
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--out",
            str(tmp_path),
            "--accounts",
            str(tmp_path / "missing.yaml"),
        )
    assert [p.name for p in tmp_path.iterdir()] == ["accounts.yaml"]


def test_the_command_refuses_a_file_in_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        run("--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp_path / "no" / "f.txt"))


@pytest.mark.django_db(transaction=True)
def test_an_export_outside_a_transaction_reads_one_snapshot(
    adv: User, tmp_path: Path, settings: Any
) -> None:
    # Outside any transaction the export opens its own, REPEATABLE READ on PostgreSQL. Only
    # there: the test database is emptied after the test with DELETE on SQLite, which the
    # triggers protecting issued invoices refuse (TRUNCATE on PostgreSQL, which they allow).
    if connection.vendor != "postgresql":
        pytest.skip("runs on PostgreSQL (set DATABASE_URL)")
    settings.LEVIER_AUTO_SEND_INVOICES = False
    complete_company_profile()
    _issue(adv, CustomerFactory(name="Seule SA"), dt.date(2026, 5, 1), line("1", "100"))
    assert not connection.in_atomic_block
    with translation.override("en"):
        result = export_fec(date_from=START, date_to=END, out=tmp_path)
    assert result.pieces == {"VE": 1} and result.receivables == D("120.00")
