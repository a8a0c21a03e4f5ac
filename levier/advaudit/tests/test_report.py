"""The report: its JSON (every figure, kpis.md's names), the standalone HTML (nothing
external) and the French A4 PDF (cover, sections, amounts written the French way).

The figures are those of `test_services.sample_fec`, worked out by hand there."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext
from pypdf import PdfReader

from levier.advaudit.charts import radar_chart
from levier.advaudit.report import render_html, render_pdf, report_json
from levier.advaudit.services import AuditResult, audit_fec, audit_levier
from levier.advaudit.tests.test_services import sample_fec
from levier.billing.models import Invoice
from levier.kpis.tests.conftest import book as book  # the KPI tests' hand-made book
from levier.kpis.tests.kpis_md_names import FEC_NAMES, LEVIER_NAMES

D = Decimal
NBSP = "\u00a0"
SECTIONS = (
    "Executive summary",
    "ADV maturity",
    "Key figures",
    "Benchmarks",
    "Levers in euros",
    "Action plan",
    "Late payers and customer concentration",
    "Appendix A – Questionnaire answers",
    "Appendix B – Data quality",
    "Appendix C – Method and sources",
)


@pytest.fixture
def result(tmp_path: Path) -> AuditResult:
    from levier.advaudit.services import AuditParameters

    return audit_fec(
        sample_fec(tmp_path),
        answers={"roles.cash_sponsor": 1},
        parameters=AuditParameters(company_name="Alpha & Bêta <SAS>"),
    )


def pdf_text(pdf: bytes) -> str:
    """All pages' text, every run of spaces (no-break ones included) as one space."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def plain(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


# --------------------------------------------------------------------------- JSON


def test_the_json_has_every_fec_figure_under_kpis_with_kpis_md_names(result: AuditResult) -> None:
    data = report_json(result)
    assert set(data["kpis"]) == FEC_NAMES | {"as_of"}
    kpis = data["kpis"]
    # Worked out in test_services: receivables 2,880, DSO 257.6 / 90.0 / 61.0 days.
    assert (kpis["receivables_ttc"], kpis["sales_ttc_365d"]) == ("2880.00", "4080.00")
    assert (kpis["dso_simple_365d"], kpis["dso_simple_90d"], kpis["dso_countback"]) == (
        257.6,
        90.0,
        61.0,
    )
    assert kpis["open_invoices_aged"]["31_60"] == "2400.00"
    assert data["source"] == "fec" and data["as_of"] == "2025-12-31"
    assert data["company"] == {"name": "Alpha & Bêta <SAS>", "siren": "732829320"}
    assert data["file"]["records"] == 18 and len(data["file"]["sha256"]) == 64


def test_the_json_has_the_assessment_with_formulas_inputs_and_sources(
    result: AuditResult,
) -> None:
    data = report_json(result)
    for key in ("maturity", "levers", "benchmarks", "action_plan", "quality", "parameters"):
        assert key in data
    cash = next(lever for lever in data["levers"] if lever["key"] == "cash_dso")
    assert cash["amount"] == "2398.82"
    assert plain(cash["formula_fr"]).endswith("× (257,6 j − 43 j) = 2 398,82 €")
    assert [item["name"] for item in cash["inputs"]] == [
        "sales_ttc_365d",
        "dso",
        "target_dso_days",
    ]
    assert cash["source_ids"] == ["S38", "S10"]
    # Two kinds of euros, never added: 2,398.82 + 500 + 312 and 287.86 + 180 + 20.77 + 80.
    assert data["lever_totals"] == {"one_off_cash": "3210.82", "yearly": "568.63"}
    assert data["answers"]["scores"] == {"roles.cash_sponsor": 1}
    sponsor = next(q for q in data["maturity"]["questions"] if q["id"] == "roles.cash_sponsor")
    assert (sponsor["score"], sponsor["origin"]) == (1, "answer")
    dso = next(row for row in data["benchmarks"] if row["key"] == "dso_simple_365d")
    assert dso["verdict"] == "worse" and dso["benchmark"]["primary"] == "france_2023"
    assert data["parameters"]["target_dso_days"] == "43"
    assert data["quality"]["totals"]["records_read"] == 18
    assert data["action_plan"]["actions"][0]["rank"] == 1


@pytest.mark.django_db
def test_the_levier_json_has_the_names_in_json_set_under_kpis(book: dict[str, Invoice]) -> None:
    data = report_json(audit_levier(as_of=dt.date(2026, 3, 31)))
    assert set(data["kpis"]) >= LEVIER_NAMES
    assert data["kpis"]["period_days"] == 365
    assert data["source"] == "levier" and data["file"] is None and data["quality"] is None


@pytest.mark.django_db
def test_a_figure_without_public_reference_says_so(book: dict[str, Invoice]) -> None:
    result = audit_levier(as_of=dt.date(2026, 3, 31))
    data = report_json(result)
    delay = next(row for row in data["benchmarks"] if row["key"] == "invoicing_delay_days")
    assert delay["benchmark"] is None and "S27" in delay["no_figure"]["source_ids"]
    html = render_html(result, standalone=True)
    row = html[html.index('data-figure="invoicing_delay_days"') :]
    row = row[: row.index("</tr>")]
    assert gettext("no public reference") in row


# --------------------------------------------------------------------------- HTML


def test_the_standalone_html_loads_nothing_from_outside(result: AuditResult) -> None:
    html = render_html(result, standalone=True)
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "<style>" in html and "<svg" in html
    assert not re.search(
        r"<link\b|<script\b|<iframe\b|<img\b|@import|url\(\s*['\"]?(https?:)?//", html
    )
    assert not re.search(r"\b(src|href)\s*=\s*[\"']?(https?:)?//", html)
    # The company name is escaped, the amounts written the French way.
    assert "Alpha &amp; Bêta &lt;SAS&gt;" in html and "<SAS>" not in html
    assert f"2{NBSP}398,82{NBSP}€" in html


def test_the_page_fragment_is_not_a_whole_document(result: AuditResult) -> None:
    fragment = render_html(result, standalone=False)
    assert "<html" not in fragment and 'class="adv-report' in fragment


def test_the_report_follows_the_language(result: AuditResult) -> None:
    with translation.override("en"):
        english = render_html(result, standalone=True)
    assert "€2,398.82" in english
    assert "Cash released by bringing DSO to the target" in english


# --------------------------------------------------------------------------- PDF


def test_the_pdf_has_the_cover_the_sections_and_lever_amounts_in_french(
    result: AuditResult,
) -> None:
    pdf = render_pdf(result, language="fr")
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 8
    cover = plain(reader.pages[0].extract_text())
    with translation.override("fr"):
        assert gettext("ADV structuring audit").upper() in cover.upper()
        assert "Alpha & Bêta <SAS>" in cover and "31/12/2025" in cover
        text = pdf_text(pdf)
        for title in SECTIONS:
            assert gettext(title) in text, title
    # The cash lever and the totals, French formatting; a page number on the last page.
    assert "2 398,82 €" in text
    assert "3 210,82 €" in text and "568,63 €" in text
    assert f"Page {len(reader.pages)} / {len(reader.pages)}" in text


def test_a_stored_json_prints_the_same_pdf_text(result: AuditResult) -> None:
    data = report_json(result)
    assert pdf_text(render_pdf(data, language="fr")) == pdf_text(render_pdf(result, language="fr"))


# --------------------------------------------------------------------------- radar


def test_the_radar_is_accessible_and_shows_a_missing_pillar_as_such() -> None:
    svg = str(
        radar_chart(
            [("Rôles", D("50")), ("Processus", D("71.9")), ("Outils", None), ("KPI", D("0"))],
            label="Maturité par pilier",
        )
    )
    assert 'role="img"' in svg and 'aria-label="Maturité par pilier"' in svg
    assert "<title>Maturité par pilier</title>" in svg
    assert "<title>Processus\u00a0: 71,9</title>" in svg
    assert f"Outils ({gettext('n/a')})" in svg and "chart-point-missing" in svg
    assert svg.count('class="chart-point') == 4


def test_a_radar_with_too_few_axes_says_no_data() -> None:
    svg = str(radar_chart([("Rôles", D("50"))], label="Maturité"))
    assert gettext("No data") in svg
