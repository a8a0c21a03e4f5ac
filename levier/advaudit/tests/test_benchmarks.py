"""The published reference figures, and how a company's figure is set beside them."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from levier.advaudit.benchmarks import (
    BENCHMARKS,
    FACTS,
    NBSP,
    NO_FIGURE,
    SOURCES,
    Direction,
    FigureError,
    Verdict,
    benchmark_for,
    compare,
    format_days,
    format_euros,
    format_percent,
    no_figure,
    to_figure,
)

REFERENCE = Path(__file__).resolve().parents[3].parent / "shared" / "reference"
BENCHMARKS_MD = REFERENCE / "audit-benchmarks.md"


def reference_text() -> str:
    if not BENCHMARKS_MD.exists():
        pytest.skip(f"{BENCHMARKS_MD} does not exist (shared reference not checked out)")
    return BENCHMARKS_MD.read_text(encoding="utf-8")


def test_the_dso_benchmark_is_the_banque_de_france_2023_figure_with_its_sources() -> None:
    comparison = compare("dso_simple_365d", Decimal("62"))
    assert comparison is not None
    primary = comparison.primary.point
    assert primary.value == Decimal("43")
    assert primary.year == "2023"
    assert primary.source_ids == ("S10", "S11", "S15")
    assert primary.label_en == "Customer / supplier payment terms, excl. micro"
    assert primary.value_text == "43 / 51 days (micro: 28 / 35)"
    # 62 − 43 = 19 days worse than the French average
    assert comparison.primary.gap == Decimal("19")
    assert comparison.primary.verdict is Verdict.WORSE
    assert comparison.worse
    sources = dict(comparison.sources)
    assert sources["S10"] == (
        "banque-france.fr/…/rapport-de-lobservatoire-des-delais-de-paiement-2024"
    )
    assert sources["S22"] == "cfo.com/accounting-tax/2018/05/metric-days-sales-outstanding-dso/"


def test_the_dso_is_also_set_beside_the_apqc_quartiles() -> None:
    comparison = compare("dso_simple_365d", 33)
    assert comparison is not None
    verdicts = {item.point.key: item.verdict for item in comparison.points}
    # 33 days: worse than the top quartile (30), better than the median (36) and bottom (48)
    assert verdicts["apqc_top_quartile"] is Verdict.WORSE
    assert verdicts["apqc_median"] is Verdict.BETTER
    assert verdicts["apqc_bottom_quartile"] is Verdict.BETTER
    # and better than the French average of 43 days: not a weak point
    assert not comparison.worse


def test_every_dso_variant_of_the_fec_and_of_levier_shares_one_benchmark() -> None:
    for key in ("dso_simple_365d", "dso_simple_90d", "dso_simple", "dso_countback", "dso"):
        benchmark = benchmark_for(key)
        assert benchmark is not None and benchmark.key == "dso"


def test_a_figure_equal_to_its_reference_is_neither_better_nor_worse() -> None:
    comparison = compare("credit_note_rate", "0.02")
    assert comparison is not None
    assert comparison.primary.verdict is Verdict.EQUAL
    assert not comparison.worse


def test_there_is_no_benchmark_for_the_invoice_error_rate() -> None:
    assert compare("invoice_error_rate", Decimal("0.05")) is None
    reason = no_figure("invoice_error_rate")
    assert reason is not None and reason.source_ids == ("S27",)
    assert "APQC" in reason.reason_en


@pytest.mark.parametrize(
    "key", ["invoicing_delay_days", "dispute_rate", "invoices_per_fte", "overdue_ratio"]
)
def test_figures_the_reference_marks_no_figure_are_never_benchmarked(key: str) -> None:
    assert compare(key, Decimal("1")) is None
    assert no_figure(key) is not None


def test_a_figure_nobody_published_has_neither_benchmark_nor_reason() -> None:
    assert compare("cei", 80) is None
    assert no_figure("cei") is None


def test_a_whole_figures_json_can_be_compared_key_by_key() -> None:
    figures = {
        "as_of": "2026-11-28",
        "dso_simple_365d": 62.0,
        "open_invoices_aged": {"0_30": "1.00"},
        "top_customers_receivables": [],
        "invoice_error_rate": "0.05",
    }
    compared = {key: compare(key, value) for key, value in figures.items()}
    assert [key for key, item in compared.items() if item is not None] == ["dso_simple_365d"]


def test_an_undefined_figure_gives_no_comparison() -> None:
    # kpis.md: DSO with zero sales is null, never a division error
    assert compare("dso_simple_365d", None) is None
    assert compare("dso_simple_365d", "") is None


def test_a_figure_that_is_not_a_number_is_refused_naming_it() -> None:
    with pytest.raises(FigureError, match="dso_simple_365d"):
        compare("dso_simple_365d", "soixante")
    with pytest.raises(FigureError, match="credit_note_rate"):
        to_figure(True, "credit_note_rate")
    with pytest.raises(FigureError, match="dso"):
        to_figure("NaN", "dso")


def test_figures_arrive_as_json_numbers_strings_or_french_decimals() -> None:
    assert to_figure(62.3, "dso") == Decimal("62.3")
    assert to_figure("0,031", "credit_note_rate") == Decimal("0.031")
    assert to_figure(f"4{NBSP}812{NBSP}000,00", "sales") == Decimal("4812000.00")
    assert to_figure(45, "dso") == Decimal(45)


def test_dispute_resolution_is_compared_with_apqcs_best_four_days() -> None:
    comparison = compare("dispute_resolution_days", Decimal("12.5"))
    assert comparison is not None
    assert comparison.primary.point.value == Decimal("4")
    assert comparison.worse
    bottom = next(item for item in comparison.points if item.point.key == "apqc_bottom")
    # 12.5 − 30 = −17.5: better than APQC's worst
    assert bottom.gap == Decimal("-17.5") and bottom.verdict is Verdict.BETTER


def test_every_point_of_every_benchmark_has_a_source_known_to_the_reference() -> None:
    for benchmark in BENCHMARKS.values():
        assert benchmark.primary_point in benchmark.points
        for point in benchmark.points:
            assert point.source_ids, point.key
            for source_id in point.source_ids:
                assert source_id in SOURCES
    for fact in FACTS:
        for source_id in fact.source_ids:
            assert source_id in SOURCES
    for item in NO_FIGURE.values():
        for source_id in item.source_ids:
            assert source_id in SOURCES


def test_sources_are_the_reference_files_url_texts_verbatim() -> None:
    text = reference_text()
    section = text.split("## Sources\n", 1)[1].strip()
    parsed = {}
    for part in section.split(" · "):
        match = re.match(r"(S\d+) (.*)$", part, re.S)
        assert match is not None
        parsed[match.group(1)] = match.group(2)
    assert parsed == SOURCES


def test_every_reference_point_is_a_row_of_the_reference_file_with_its_sources() -> None:
    text = reference_text()
    lines = text.splitlines()
    for benchmark in BENCHMARKS.values():
        for point in benchmark.points:
            rows = [line for line in lines if point.label_en in line]
            assert rows, f"{benchmark.key}/{point.key}: label not in the reference"
            row = rows[0]
            for piece in point.value_text.split(" / "):
                assert piece.strip("≤≥~$ ") in row or piece in text, (point.key, piece)
            for source_id in point.source_ids:
                assert f"[{source_id}]" in row, (point.key, source_id)


def test_the_reference_says_no_figure_for_each_no_figure_entry() -> None:
    text = reference_text()
    assert (
        "% invoices error-free first time, billing cycle time, invoices per FTE, % invoices disputed [S27]"
        in text
    )
    assert "cost of one invoice error or credit note" in text


def test_numbers_are_written_the_french_way() -> None:
    assert format_euros(Decimal("4812000")) == f"4{NBSP}812{NBSP}000,00{NBSP}€"
    assert format_euros(Decimal("224120.545")) == f"224{NBSP}120,55{NBSP}€"  # half up
    assert format_euros(Decimal("1234.5"), "en") == "€1,234.50"
    assert format_percent(Decimal("0.031")) == f"3,1{NBSP}%"
    assert format_percent(Decimal("0.1215")) == f"12,15{NBSP}%"
    assert format_percent(Decimal("0.02"), "en") == "2%"
    assert format_days(Decimal("62")) == f"62{NBSP}j"
    assert format_days(Decimal("60.66")) == f"60,7{NBSP}j"


@given(st.decimals(min_value=0, max_value=400, places=1, allow_nan=False, allow_infinity=False))
def test_lower_is_better_a_higher_dso_is_worse_exactly_above_the_reference(value: Decimal) -> None:
    comparison = compare("dso", value)
    assert comparison is not None
    assert comparison.benchmark.direction is Direction.LOWER_IS_BETTER
    assert comparison.worse == (value > Decimal("43"))
    for item in comparison.points:
        assert item.gap == value - item.point.value
