"""Running an audit: a small FEC worked out by hand, bad input, Levier's own books, stored runs.

The FEC of `sample_fec` (d = 31/12/2025, the last entry date; customers CA and CB):

    VE1  01/10/2025  D 411 CA 1,200 (letter AA) / C 706 1,000 / C 44571 200     invoice
    VE2  15/11/2025  D 411 CB 2,400 / C 706 2,000 / C 44571 400                   invoice, open
    VE3  10/12/2025  D 411 CA   600 / C 706   500 / C 44571 100                   invoice, open
    VE4  20/12/2025  C 411 CA   120 / D 706   100 / D 44571  20                   credit note
    BQ1  20/11/2025  D 512 1,200 / C 411 CA 1,200 (letter AA, DateLet 20/11)      settles VE1
    OD1  31/12/2025  D 4181 500 / C 706 500                                       FAE
    OD2  31/12/2025  D 706 300 / C 487 300                                        PCA

Hand arithmetic of the figures (kpis.md, "From a FEC file"):

- receivables = 1,200 + 2,400 + 600 − 120 − 1,200 = 2,880;
- sales 365 d = 1,200 + 2,400 + 600 − 120 = 4,080; sales 90 d (after 02/10) = 2,880;
- DSO 90 d = 2,880 × 90 ÷ 2,880 = 90.0; DSO 365 d = 2,880 × 365 ÷ 4,080 = 257.647 → 257.6;
- countback: December 600 − 120 = 480 → 2,400 left, 31 d; November 2,400 → 0 left, 30 d:
  61.0 d;
- 3 invoices, 1 credit note: rate 0.3333, by amount 120 ÷ 4,200 = 0.02857 → 0.0286;
- VE1 paid 01/10 → 20/11: 50 days (plain and weighted);
- open at d: VE2 46 days old (31–60) 2,400; VE3 21 days (0–30) 600;
- FAE 500, PCA 300; balances CB 2,400 (0.8333), CA 1,200 − 1,200 + 600 − 120 = 480
  (0.1667);
- late beyond 30 days: VE1 50 − 30 = 20 days × 1,200 = 24,000; VE2 46 − 30 = 16 × 2,400 =
  38,400; VE3 not late: 2 invoices, 3,600, 62,400 €·days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.advaudit.fec.reader import FecUnreadable
from levier.advaudit.models import AuditRun
from levier.advaudit.questionnaire import AnswersError
from levier.advaudit.services import (
    AuditError,
    AuditParameters,
    AuditResult,
    audit_fec,
    audit_levier,
    rescore_audit_run,
    result_from_json,
    save_audit_run,
)
from levier.advaudit.tests.fec_builder import FecBuilder
from levier.audit.models import AuditEvent
from levier.billing.models import Invoice
from levier.kpis.receivables import receivables
from levier.kpis.services import compute_kpis
from levier.kpis.tests.conftest import book as book  # the KPI tests' hand-made book

D = Decimal
SIREN = "732829320"
FEC_AS_OF = dt.date(2025, 12, 31)


def sample_builder() -> FecBuilder:
    fec = FecBuilder()
    ca = {"CompAuxNum": "CA", "CompAuxLib": "Alpha Conseil"}
    cb = {"CompAuxNum": "CB", "CompAuxLib": "Bêta Services"}
    fec.entry(
        "VE",
        "VE1",
        "20251001",
        ("411000", "1200", "", {**ca, "EcritureLet": "AA", "DateLet": "20251120"}),
        ("706000", "", "1000"),
        ("445710", "", "200"),
    )
    fec.entry(
        "VE",
        "VE2",
        "20251115",
        ("411000", "2400", "", cb),
        ("706000", "", "2000"),
        ("445710", "", "400"),
    )
    fec.entry(
        "VE",
        "VE3",
        "20251210",
        ("411000", "600", "", ca),
        ("706000", "", "500"),
        ("445710", "", "100"),
    )
    fec.entry(
        "VE",
        "VE4",
        "20251220",
        ("411000", "", "120", ca),
        ("706000", "100", ""),
        ("445710", "20", ""),
    )
    fec.entry(
        "BQ",
        "BQ1",
        "20251120",
        ("512000", "1200", ""),
        ("411000", "", "1200", {**ca, "EcritureLet": "AA", "DateLet": "20251120"}),
    )
    fec.entry("OD", "OD1", "20251231", ("418100", "500", ""), ("706000", "", "500"))
    fec.entry("OD", "OD2", "20251231", ("706000", "300", ""), ("487000", "", "300"))
    return fec


def sample_fec(folder: Path, builder: FecBuilder | None = None) -> Path:
    return (builder or sample_builder()).write(folder / f"{SIREN}FEC20251231.txt")


@pytest.fixture
def fec_file(tmp_path: Path) -> Path:
    return sample_fec(tmp_path)


@pytest.fixture
def fec_result(fec_file: Path) -> AuditResult:
    return audit_fec(fec_file)


def lever_amount(result: AuditResult, key: str) -> Decimal | None:
    return next(lever.amount for lever in result.levers if lever.key == key)


# --------------------------------------------------------------------------- the FEC path


def test_a_fec_audit_gives_every_kpis_md_figure_worked_out_by_hand(
    fec_result: AuditResult,
) -> None:
    kpis = fec_result.figures.kpis
    assert fec_result.as_of == FEC_AS_OF
    assert kpis["receivables_ttc"] == "2880.00"
    assert kpis["sales_ttc_365d"] == "4080.00"
    assert kpis["sales_ttc_90d"] == "2880.00"
    assert kpis["dso_simple_90d"] == 90.0
    assert kpis["dso_simple_365d"] == 257.6
    assert kpis["dso_countback"] == 61.0
    assert (kpis["invoice_count"], kpis["credit_note_count"]) == (3, 1)
    assert kpis["credit_note_rate"] == 0.3333
    assert kpis["credit_note_rate_amount"] == 0.0286
    assert kpis["average_days_to_pay"] == 50.0
    assert kpis["average_days_to_pay_weighted"] == 50.0
    assert kpis["open_invoices_aged"] == {
        "0_30": "600.00",
        "31_60": "2400.00",
        "61_90": "0.00",
        "over_90": "0.00",
    }
    assert (kpis["fae"], kpis["pca"]) == ("500.00", "300.00")
    assert [
        (row["customer"], row["balance"], row["share"]) for row in kpis["top_customers_receivables"]
    ] == [("CB", "2400.00", 0.8333), ("CA", "480.00", 0.1667)]
    assert fec_result.figures.late_invoices == {
        "payment_terms_days": 30,
        "count": 2,
        "amount_ttc": "3600.00",
        "amount_days": "62400.00",
    }


def test_the_levers_of_the_sample_fec_with_the_default_parameters(fec_result: AuditResult) -> None:
    # cash: 4,080 ÷ 365 × (257.6 − 43) = 2,398.816… → 2,398.82; financing 12 % → 287.86.
    assert lever_amount(fec_result, "cash_dso") == D("2398.82")
    assert lever_amount(fec_result, "financing_cost") == D("287.86")
    # One credit note × 4 h × 45 € = 180.00; no invoicing delay in a FEC: the FAE, 500.00.
    assert lever_amount(fec_result, "credit_note_rework") == D("180.00")
    assert lever_amount(fec_result, "late_invoicing") == D("500.00")
    # From the invoice date: 0–30 days 0 %, 31–60 days 2,400 × 13 % = 312.00.
    assert lever_amount(fec_result, "overdue_at_risk") == D("312.00")
    # 62,400 × 12.15 % ÷ 365 = 20.7715… → 20.77; 2 late invoices × 40 € = 80.00.
    assert lever_amount(fec_result, "late_interest_unclaimed") == D("20.77")
    assert lever_amount(fec_result, "recovery_indemnities_unclaimed") == D("80.00")


def test_the_parameters_change_the_levers_and_the_late_invoices(fec_file: Path) -> None:
    result = audit_fec(
        fec_file,
        parameters=AuditParameters(
            target_dso_days=D("36"), financing_rate=D("0.05"), payment_terms_days=45
        ),
    )
    # 4,080 × 221.6 ÷ 365 = 2,477.063… → 2,477.06; × 5 % = 123.853 → 123.85.
    assert lever_amount(result, "cash_dso") == D("2477.06")
    assert lever_amount(result, "financing_cost") == D("123.85")
    # 45-day terms: VE1 5 days × 1,200 = 6,000; VE2 1 day × 2,400: 2 invoices, 8,400 €·days.
    assert result.figures.late_invoices["amount_days"] == "8400.00"


def test_the_cover_name_is_the_siren_of_the_file_name_unless_given(fec_file: Path) -> None:
    assert audit_fec(fec_file).company_name == f"SIREN {SIREN}"
    named = audit_fec(fec_file, parameters=AuditParameters(company_name="Gamma SAS"))
    assert named.company_name == "Gamma SAS"
    # 4 sales pieces of 3 lines, 3 pieces of 2: 18 entry lines.
    assert named.file is not None and named.file.siren == SIREN and named.file.records == 18


def test_answers_score_the_maturity_and_the_share_of_penalties_claimed(fec_file: Path) -> None:
    # Penalties claimed "half the time" (2/4): interest 20.7715… × 0.5 = 10.39, indemnities
    # 80 × 0.5 = 40.00.
    result = audit_fec(fec_file, answers={"processes.late_penalties_claimed": 2})
    assert lever_amount(result, "late_interest_unclaimed") == D("10.39")
    assert lever_amount(result, "recovery_indemnities_unclaimed") == D("40.00")
    assert result.maturity.result("processes.late_penalties_claimed").origin == "answer"


def test_the_data_prefills_what_it_answers(fec_result: AuditResult) -> None:
    # Credit-note rate 33.33 % > 10 % → 0; DSO 257.6 days > 60 → 0 (questionnaire.yaml).
    assert fec_result.prefilled["processes.invoice_quality"].score == 0
    assert fec_result.prefilled["processes.collection_effective"].score == 0
    assert "processes.invoice_on_delivery" not in fec_result.prefilled  # no delay in a FEC


def test_an_unknown_question_or_a_score_of_5_is_refused_before_the_file_is_read(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "never-read.txt"
    with pytest.raises(AnswersError) as error:
        audit_fec(missing, answers={"roles.nope": 2, "processes.invoice_quality": 5})
    text = "\n".join(error.value.problems)
    assert "roles.nope" in text and "processes.invoice_quality" in text


def test_a_file_that_is_not_a_fec_stops_the_audit_with_its_reason(tmp_path: Path) -> None:
    csv = tmp_path / "export.csv"
    csv.write_text("JournalCode;EcritureNum;Debit\nVE;1;12,00\n", encoding="utf-8")
    with pytest.raises(FecUnreadable) as error:
        audit_fec(csv)
    assert "export.csv" in str(error.value) and "« ; »" in str(error.value)


def test_bad_lines_are_reported_with_their_number_and_the_audit_goes_on(tmp_path: Path) -> None:
    builder = sample_builder()
    # A line whose Debit cannot be read (left out), and a piece that does not balance.
    builder.line(
        JournalCode="OD",
        JournalLib="OD",
        EcritureNum="OD3",
        EcritureDate="20251231",
        CompteNum="471000",
        CompteLib="Attente",
        PieceRef="OD3",
        EcritureLib="bad amount",
        Debit="12x,00",
        Credit="0,00",
    )
    bad_amount_line = builder.last_line
    builder.entry("OD", "OD4", "20251231", ("471000", "10", ""), ("471100", "", "9"))
    unbalanced_line = builder.last_line
    result = audit_fec(sample_fec(tmp_path, builder))
    assert result.quality is not None
    found = {issue.code: issue for issue in result.quality.issues}
    amount_issue = next(issue for issue in found.values() if bad_amount_line in issue.sample_lines)
    assert amount_issue.severity == "error"
    assert any(
        unbalanced_line - 1 in issue.sample_lines or unbalanced_line in issue.sample_lines
        for issue in found.values()
        if issue.severity == "error" and issue is not amount_issue
    )
    # The trusted lines still give the same receivables.
    assert result.figures.kpis["receivables_ttc"] == "2880.00"
    assert result.quality.totals.records_excluded == 1


def test_impossible_parameters_are_refused_naming_them() -> None:
    with pytest.raises(AuditError, match="financing_rate"):
        AuditParameters(financing_rate=D("5"))
    with pytest.raises(AuditError, match="payment_terms_days"):
        AuditParameters(payment_terms_days=-3)
    with pytest.raises(AuditError, match="target_dso_days"):
        AuditParameters(target_dso_days="abc")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Levier's books

LEVIER_AS_OF = dt.date(2026, 3, 31)


@pytest.mark.django_db
def test_levier_audit_has_the_receivables_and_dso_of_compute_kpis_over_365_days(
    book: dict[str, Invoice],
) -> None:
    result = audit_levier(as_of=LEVIER_AS_OF)
    kpis = compute_kpis(LEVIER_AS_OF, 365)
    assert result.source == "levier"
    assert result.figures.kpis == kpis.as_json()
    # The book: receivables 1,400 (I2) + 480 (I3) = 1,880; sales over 365 days 3,600 + 1,200
    # + 2,400 + 1,800 + 600 − 120 = 9,480; DSO 1,880 ÷ 9,480 × 365 = 72.38 → 72.4.
    assert result.figures.kpis["receivables_ttc"] == "1880.00"
    assert result.figures.kpis["dso_simple"] == 72.4
    # The cash lever reads that DSO: 9,480 ÷ 365 × (72.4 − 43) = 763.59.
    assert lever_amount(result, "cash_dso") == D("763.59")


@pytest.mark.django_db
def test_levier_monthly_receivables_are_those_of_each_month_end(
    book: dict[str, Invoice],
) -> None:
    monthly = audit_levier(as_of=LEVIER_AS_OF).figures.monthly
    assert [row["month"] for row in monthly][-4:] == ["2025-12", "2026-01", "2026-02", "2026-03"]
    ends = [dt.date(2025, 12, 31), dt.date(2026, 1, 31), dt.date(2026, 2, 28), LEVIER_AS_OF]
    for row, end in zip(monthly[-4:], ends, strict=True):
        assert row["receivables_ttc"] == f"{receivables(end):.2f}"
    # 31/12/2025: I0 3,600 open; 31/01: I1 1,200 (I0 paid 14/01); 28/02: I2 2,400;
    # 31/03: 1,880. January sales I1 1,200; March 1,800 + 600 − 120 = 2,280.
    assert [row["receivables_ttc"] for row in monthly[-4:]] == [
        "3600.00",
        "1200.00",
        "2400.00",
        "1880.00",
    ]
    assert [row["sales_ttc"] for row in monthly[-4:]] == ["0.00", "1200.00", "2400.00", "2280.00"]


@pytest.mark.django_db
def test_levier_late_invoices_count_from_each_due_date(book: dict[str, Invoice]) -> None:
    # I0 due 15/12, paid 14/01: 30 days × 3,600 = 108,000; I2 due 17/03, open at 31/03:
    # 14 days × 2,400 = 33,600; I1 paid early, I4 on time, I3 not due: 2 invoices.
    result = audit_levier(as_of=LEVIER_AS_OF)
    assert result.figures.late_invoices == {
        "payment_terms_days": None,
        "count": 2,
        "amount_ttc": "6000.00",
        "amount_days": "141600.00",
    }
    # Credit notes over the year: 1 (120 TTC); sales HT 3,000 + 1,000 + 2,000 + 1,500 + 500
    # − 100 = 7,900.
    assert result.figures.extras["credit_note_count"] == 1
    assert result.figures.extras["sales_ht_365d"] == "7900.00"
    # 2 × 40 € of indemnities, none claimed by default.
    assert lever_amount(result, "recovery_indemnities_unclaimed") == D("80.00")


# --------------------------------------------------------------------------- stored runs


@pytest.mark.django_db
def test_a_stored_run_keeps_the_file_identity_not_the_file_and_is_audited(
    fec_result: AuditResult, auditeur: User
) -> None:
    run = save_audit_run(actor=auditeur, result=fec_result)
    assert run.file_name == f"{SIREN}FEC20251231.txt"
    assert len(run.file_sha256) == 64 and run.file_size and run.file_size > 0
    assert run.result["kpis"]["receivables_ttc"] == "2880.00"
    assert run.cash_total == D("3210.82")  # 2,398.82 + 500.00 + 312.00
    assert run.yearly_total == D("568.63")  # 287.86 + 180.00 + 20.77 + 80.00
    event = AuditEvent.objects.get(object_type="advaudit.auditrun", object_id=str(run.pk))
    assert event.actor == auditeur and event.changes["file_sha256"] == run.file_sha256


@pytest.mark.django_db
def test_a_commercial_may_not_run_an_audit(fec_result: AuditResult, commercial: User) -> None:
    with pytest.raises(PermissionDenied):
        save_audit_run(actor=commercial, result=fec_result)
    assert not AuditRun.objects.exists()


@pytest.mark.django_db
def test_new_answers_rescore_a_stored_run_from_its_stored_figures(
    fec_result: AuditResult, direction: User
) -> None:
    run = save_audit_run(actor=direction, result=fec_result)
    rescore_audit_run(
        actor=direction,
        run=run,
        answers={"processes.late_penalties_claimed": 4, "roles.cash_sponsor": 3},
        comments={"roles.cash_sponsor": "Le DAF suit le DSO"},
    )
    run.refresh_from_db()
    assert run.answers["scores"] == {"processes.late_penalties_claimed": 4, "roles.cash_sponsor": 3}
    assert run.answers["comments"] == {"roles.cash_sponsor": "Le DAF suit le DSO"}
    # Penalties always claimed: nothing left to claim; the figures are the stored ones.
    levers = {lever["key"]: lever["amount"] for lever in run.result["levers"]}
    assert levers["late_interest_unclaimed"] == "0.00"
    assert run.result["kpis"] == fec_result.figures.kpis
    assert run.yearly_total == D("467.86")  # 287.86 + 180.00 + 0 + 0
    assert AuditEvent.objects.filter(object_id=str(run.pk), verb="update").count() == 1


def test_a_report_json_rebuilds_the_same_assessment(fec_result: AuditResult) -> None:
    from levier.advaudit.report import report_json

    data = report_json(fec_result)
    again = report_json(result_from_json(data))
    data.pop("generated_at")
    again.pop("generated_at")
    assert again == data
