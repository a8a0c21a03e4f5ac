"""The SVG charts: well-formed, accessible, one shape per value, safe with hostile labels."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.utils import translation
from django.utils.safestring import SafeString

from levier.kpis.charts import bar_chart, format_value, line_chart, pareto_chart, sparkline

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if cls in (e.get("class") or "").split()]


def texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter(f"{SVG}text")]


def assert_accessible(root: ET.Element, label: str) -> None:
    assert root.get("role") == "img"
    assert root.get("aria-label") == label
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == label


D = Decimal


def test_a_sparkline_is_accessible_svg_with_one_polyline_and_the_last_point_marked():
    svg = sparkline([D("1"), D("3"), D("2"), D("5")], label="DSO")
    assert isinstance(svg, SafeString)
    root = parse(svg)
    assert_accessible(root, "DSO")
    lines = by_class(root, "polyline", "chart-line")
    assert len(lines) == 1
    assert len(lines[0].get("points", "").split()) == 4
    last = by_class(root, "circle", "chart-last")
    assert len(last) == 1
    assert float(last[0].get("cx", "0")) == pytest.approx(120 - 3)


def test_a_sparkline_leaves_a_gap_where_a_week_has_no_value():
    root = parse(sparkline([D("1"), D("2"), None, D("4"), D("5"), None], label="x"))
    lines = by_class(root, "polyline", "chart-line")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    # the last known value (5) is the one marked, not the trailing gap
    last = by_class(root, "circle", "chart-last")
    assert len(last) == 1


def test_a_sparkline_with_no_value_or_one_value_or_a_flat_series_does_not_crash():
    for values in ([], [None, None], [D("7")], [D("2"), D("2"), D("2")]):
        root = parse(sparkline(values, label="vide"))
        assert_accessible(root, "vide")


def test_a_line_chart_draws_one_marker_per_known_point_and_axis_ticks():
    points = [(f"S{i}", D(i * 10)) for i in range(1, 53)]
    points[10] = ("S11", None)
    root = parse(line_chart(points, label="DSO sur 52 semaines", unit="j"))
    assert_accessible(root, "DSO sur 52 semaines")
    assert len(by_class(root, "circle", "chart-point")) == 51
    assert len(by_class(root, "polyline", "chart-line")) == 2
    ticks = by_class(root, "text", "chart-tick")
    x_labels = [t.text for t in ticks if t.text and t.text.startswith("S")]
    assert "S1" in x_labels
    assert 5 <= len(x_labels) <= 10  # a label every few points, not 52
    assert any(t.text and t.text.endswith("j") for t in ticks)  # y ticks carry the unit


def test_a_line_chart_without_data_says_so():
    with translation.override("en"):
        root = parse(line_chart([("a", None), ("b", None)], label="rien"))
        assert "No data" in texts(root)
        root = parse(line_chart([], label="rien"))
        assert "No data" in texts(root)


def test_a_bar_chart_draws_one_bar_per_value_with_the_value_printed():
    bars = [("Non échu", D("1200.50")), ("1-30 j", D("300")), ("> 90 j", D("45000"))]
    with translation.override("fr"):
        root = parse(bar_chart(bars, label="Balance âgée", unit="€"))
    assert_accessible(root, "Balance âgée")
    rects = by_class(root, "rect", "chart-bar")
    assert len(rects) == 3
    values = [t.text for t in by_class(root, "text", "chart-value")]
    assert values == ["1\u00a0200,5\u00a0€", "300\u00a0€", "45\u00a0k\u00a0€"]
    # each bar has its exact value in its own title
    titles = [r.find(f"{SVG}title").text for r in rects]
    assert titles[2] == "> 90 j\u00a0: 45\u00a0000\u00a0€"


def test_thirteen_weeks_of_bars_print_their_values_without_the_unit_so_they_do_not_overlap():
    weeks = [(f"{day:02d}/11", D("589200") + day) for day in range(1, 14)]
    with translation.override("fr"):
        narrow = parse(bar_chart(weeks, label="Prévision", unit="€", width=680))
        wide = parse(bar_chart(weeks[:4], label="Prévision", unit="€", width=680))
    assert next(t.text for t in by_class(narrow, "text", "chart-value")) == "589,2\u00a0k"
    assert next(t.text for t in by_class(wide, "text", "chart-value")) == "589,2\u00a0k\u00a0€"
    # the axis still says the unit, and each bar's title its exact amount
    assert "400\u00a0k\u00a0€" in texts(narrow)
    assert by_class(narrow, "rect", "chart-bar")[0].find(f"{SVG}title").text == (
        "01/11\u00a0: 589\u00a0201\u00a0€"
    )


def test_a_bar_chart_hatches_negative_bars_below_the_zero_line():
    root = parse(bar_chart([("a", D("100")), ("b", D("-50"))], label="solde"))
    negative = by_class(root, "rect", "chart-bar-negative")
    assert len(negative) == 1
    assert negative[0].get("fill", "").startswith("url(#levier-hatch-")
    positive = [r for r in by_class(root, "rect", "chart-bar") if r not in negative]
    zero = next(float(line.get("y1", "0")) for line in by_class(root, "line", "chart-axis"))
    assert float(positive[0].get("y", "0")) + float(positive[0].get("height", "0")) == (
        pytest.approx(zero)
    )
    assert float(negative[0].get("y", "0")) == pytest.approx(zero)


def test_a_bar_chart_of_zeros_or_of_nothing_does_not_crash():
    root = parse(bar_chart([("a", D("0")), ("b", D("0"))], label="zéro"))
    assert len(by_class(root, "rect", "chart-bar")) == 2
    root = parse(bar_chart([], label="zéro", horizontal=True))
    assert_accessible(root, "zéro")


def test_a_horizontal_bar_chart_has_one_bar_and_one_name_per_value():
    bars = [(f"Client {i}", D(i * 1000)) for i in range(1, 11)]
    root = parse(bar_chart(bars, label="Top 10", unit="€", horizontal=True, height=300))
    assert len(by_class(root, "rect", "chart-bar")) == 10
    names = [t.text for t in by_class(root, "text", "chart-tick")]
    assert names[0] == "Client 1" and len(names) == 10


def test_a_pareto_chart_sorts_bars_descending_and_ends_its_cumulative_line_at_100_percent():
    bars = [("Prix", D("2")), ("Quantité", D("5")), ("Autre", D("3"))]
    root = parse(pareto_chart(bars, label="Litiges par motif"))
    assert_accessible(root, "Litiges par motif")
    rects = by_class(root, "rect", "chart-bar")
    assert [r.find(f"{SVG}title").text.split("\u00a0")[0] for r in rects] == [
        "Quantité",
        "Autre",
        "Prix",
    ]
    heights = [float(r.get("height", "0")) for r in rects]
    assert heights == sorted(heights, reverse=True)
    points = by_class(root, "rect", "chart-cumulative-point")
    shares = [p.find(f"{SVG}title").text.rsplit(" ", 1)[-1] for p in points]
    assert [s.replace("\u00a0", " ") for s in shares] == ["50 %", "80 %", "100 %"]
    assert len(by_class(root, "polyline", "chart-cumulative")) == 1


def test_a_pareto_chart_of_zeros_draws_no_cumulative_line():
    root = parse(pareto_chart([("a", D("0")), ("b", D("0"))], label="p"))
    assert by_class(root, "polyline", "chart-cumulative") == []
    root = parse(pareto_chart([], label="p"))
    assert_accessible(root, "p")


HOSTILE = '<script>alert("x")</script> & "quotes"'


@pytest.mark.parametrize(
    "draw",
    [
        lambda: sparkline([D(1), D(2)], label=HOSTILE),
        lambda: line_chart([(HOSTILE, D(1)), ("b", D(2))], label=HOSTILE, unit="<u>"),
        lambda: bar_chart([(HOSTILE, D(1))], label=HOSTILE, unit="<u>"),
        lambda: bar_chart([(HOSTILE, D(1))], label=HOSTILE, horizontal=True),
        lambda: pareto_chart([(HOSTILE, D(1)), ("b", D(3))], label=HOSTILE),
    ],
)
def test_every_label_is_escaped(draw):
    svg = draw()
    assert "<script>" not in svg
    root = parse(svg)  # still well-formed XML
    assert root.get("aria-label") == HOSTILE
    assert not list(root.iter(f"{SVG}script"))


def test_several_charts_on_one_page_get_distinct_pattern_ids():
    first = parse(bar_chart([("a", D(-1))], label="a"))
    second = parse(bar_chart([("a", D(-1))], label="b"))
    ids = [p.get("id") for root in (first, second) for p in root.iter(f"{SVG}pattern")]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_values_are_shortened_on_the_chart_and_given_in_full_in_french():
    with translation.override("fr"):
        assert format_value(D("1234567.89"), "€") == "1,2\u00a0M\u00a0€"
        assert format_value(D("12345.6")) == "12,3\u00a0k"
        assert format_value(D("9999.5")) == "9\u00a0999,5"
        assert format_value(D("12345.6"), full=True) == "12\u00a0345,6"
        assert format_value(D("-45.25"), "j") == "-45,25\u00a0j"
