"""Server-side SVG charts for the KPI dashboard and the weekly PDF report.

No JavaScript and no CDN: each function returns one inline ``<svg>`` element (a
``SafeString``) that a template prints as is and WeasyPrint renders in the PDF.

Rules every chart follows:

- **Accessible**: ``role="img"``, an ``aria-label`` and a ``<title>`` carrying the chart's
  label; each bar or point has its own ``<title>`` (label and exact value) so a screen reader
  or a hover shows the figure.
- **Readable in print and in black and white**: values are printed as text on the chart,
  points are marked with shapes (not only a coloured line), negative bars are hatched (a
  pattern, not a colour) and the cumulative line of a Pareto chart is dashed with its own
  axis. Colours come from CSS classes (``levier.css``, ``/* KPI dashboard */``) with
  presentation attributes as the fallback, so an SVG copied out of the page still renders.
- **Safe**: every label is escaped with ``django.utils.html.escape``.
- **Robust**: empty data, all-``None`` series, all-zero bars and negative values draw a
  chart (possibly with a "no data" note), never raise.

Numbers are formatted in the active language (``django.utils.formats.number_format``: a
decimal comma and narrow spaces in French); large amounts are shortened on the chart
("12,3 k") and given in full in each element's ``<title>``.

Geometry uses floats (pixel positions only); the values shown are the ``Decimal`` given.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

__all__ = ["bar_chart", "line_chart", "pareto_chart", "sparkline"]

NBSP = "\u00a0"
CHAR_WIDTH = 6.5  # px, an average character of the charts' 11 px sans-serif
_ids = itertools.count(1)  # unique pattern ids when several charts share one page

# Fallback paints (CSS classes in levier.css override them on screen).
INK = "#1f2933"
MUTED = "#6b7280"
GRID = "#d1d5db"
BAR = "#4b6584"


# --------------------------------------------------------------------------- formatting


def _decimal_places(value: Decimal, maximum: int = 2) -> int:
    exponent = value.normalize().as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    return min(-exponent, maximum)


def format_value(value: Decimal, unit: str = "", *, full: bool = False) -> str:
    """A value as shown on a chart: shortened (12,3 k / 1,2 M) unless `full`, then the unit."""
    shown: str
    magnitude = abs(value)
    if not full and magnitude >= 1_000_000:
        scaled = (value / Decimal(1_000_000)).quantize(Decimal("0.1"))
        shown = f"{number_format(scaled, _decimal_places(scaled, 1), use_l10n=True)}{NBSP}M"
    elif not full and magnitude >= 10_000:
        scaled = (value / Decimal(1_000)).quantize(Decimal("0.1"))
        shown = f"{number_format(scaled, _decimal_places(scaled, 1), use_l10n=True)}{NBSP}k"
    else:
        places = _decimal_places(value, 2)
        shown = number_format(value, places, use_l10n=True, force_grouping=True)
    if unit:
        shown = f"{shown}{NBSP}{unit}"
    return shown


def _num(value: float) -> str:
    """A coordinate, short and locale-independent."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


# --------------------------------------------------------------------------- scales


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] (low < high)."""
    step = _nice_step(high - low, count)
    start = math.floor(low / step) * step
    end = math.ceil(high / step) * step
    ticks: list[float] = []
    value = start
    while value <= end + step / 1000 and len(ticks) < 50:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _domain(values: Sequence[float], *, include_zero: bool) -> tuple[float, float]:
    low = min(values, default=0.0)
    high = max(values, default=0.0)
    if include_zero:
        low = min(low, 0.0)
        high = max(high, 0.0)
    if low == high:  # flat or all zero: give the axis some room
        if low == 0:
            return 0.0, 1.0
        pad = abs(low) * 0.1
        return low - pad, high + pad
    return low, high


def _tick_label(tick: float, unit: str) -> str:
    return format_value(Decimal(repr(tick)).normalize(), unit)


# --------------------------------------------------------------------------- svg pieces


def _open(width: int, height: int, label: str, kind: str) -> list[str]:
    safe = escape(label)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{safe}" font-family="sans-serif" font-size="11">',
        f"<title>{safe}</title>",
    ]


def _close(parts: list[str]) -> SafeString:
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _hatch(pattern_id: str) -> str:
    return (
        f'<defs><pattern id="{pattern_id}" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{INK}" stroke-width="2"/></pattern></defs>'
    )


def _no_data(parts: list[str], width: int, height: int) -> None:
    # Out of the f-string: xgettext (makemessages) does not read inside one.
    label = escape(gettext("No data"))
    parts.append(
        f'<text class="chart-empty" x="{_num(width / 2)}" y="{_num(height / 2)}" '
        f'text-anchor="middle" dominant-baseline="middle" fill="{MUTED}">'
        f"{label}</text>"
    )


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "middle",
    cls: str = "chart-label",
    extra: str = "",
) -> str:
    return (
        f'<text class="{cls}" x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" '
        f'fill="{INK}"{extra}>{escape(content)}</text>'
    )


def _y_axis(
    parts: list[str],
    ticks: list[float],
    scale_y: object,
    left: float,
    right: float,
    unit: str,
    *,
    side: str = "left",
) -> None:
    assert callable(scale_y)
    for tick in ticks:
        y = scale_y(tick)
        if side == "left":
            parts.append(
                f'<line class="chart-grid" x1="{_num(left)}" y1="{_num(y)}" x2="{_num(right)}" '
                f'y2="{_num(y)}" stroke="{GRID}" stroke-width="1"/>'
            )
            parts.append(
                _text(left - 4, y + 4, _tick_label(tick, unit), anchor="end", cls="chart-tick")
            )
        else:
            parts.append(
                _text(right + 4, y + 4, _tick_label(tick, unit), anchor="start", cls="chart-tick")
            )


# --------------------------------------------------------------------------- sparkline


def sparkline(
    values: Sequence[Decimal | None],
    *,
    width: int = 120,
    height: int = 28,
    label: str = "",
) -> SafeString:
    """A small trend line: gaps where a value is None, the last point marked with a dot."""
    parts = _open(width, height, label, "sparkline")
    known = [float(v) for v in values if v is not None]
    if not known:
        parts.append(
            f'<line class="chart-grid" x1="2" y1="{_num(height / 2)}" x2="{width - 2}" '
            f'y2="{_num(height / 2)}" stroke="{GRID}" stroke-dasharray="2 2"/>'
        )
        return _close(parts)
    pad = 3.0
    low, high = _domain(known, include_zero=False)
    count = len(values)
    step = (width - 2 * pad) / (count - 1) if count > 1 else 0.0

    def x_of(index: int) -> float:
        return pad + index * step if count > 1 else width / 2

    def y_of(value: float) -> float:
        return height - pad - (value - low) / (high - low) * (height - 2 * pad)

    segment: list[str] = []
    segments: list[list[str]] = []
    last: tuple[float, float, Decimal] | None = None
    for index, value in enumerate(values):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        x, y = x_of(index), y_of(float(value))
        segment.append(f"{_num(x)},{_num(y)}")
        last = (x, y, value)
    if segment:
        segments.append(segment)
    for points in segments:
        if len(points) == 1:
            px, py = points[0].split(",")
            parts.append(f'<circle class="chart-point" cx="{px}" cy="{py}" r="1.2" fill="{BAR}"/>')
        else:
            parts.append(
                f'<polyline class="chart-line" points="{" ".join(points)}" fill="none" '
                f'stroke="{BAR}" stroke-width="1.5" stroke-linejoin="round"/>'
            )
    if last is not None:
        x, y, value = last
        parts.append(
            f'<circle class="chart-last" cx="{_num(x)}" cy="{_num(y)}" r="2.5" fill="{INK}">'
            f"<title>{escape(format_value(value, full=True))}</title></circle>"
        )
    return _close(parts)


# --------------------------------------------------------------------------- line chart


def line_chart(
    points: Sequence[tuple[str, Decimal | None]],
    *,
    label: str,
    unit: str = "",
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """A line over labelled points (gaps for None), y axis with a few ticks, x labels spaced."""
    parts = _open(width, height, label, "line")
    known = [float(v) for _, v in points if v is not None]
    if not known:
        _no_data(parts, width, height)
        return _close(parts)
    left, right, top, bottom = 64.0, width - 12.0, 12.0, height - 30.0
    low, high = _domain(known, include_zero=min(known) >= 0 and max(known) > 0)
    ticks = _ticks(low, high)
    low, high = ticks[0], ticks[-1]

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    count = len(points)
    step = (right - left) / (count - 1) if count > 1 else 0.0

    def x_of(index: int) -> float:
        return left + index * step if count > 1 else (left + right) / 2

    _y_axis(parts, ticks, y_of, left, right, unit)
    parts.append(
        f'<line class="chart-axis" x1="{_num(left)}" y1="{_num(bottom)}" x2="{_num(right)}" '
        f'y2="{_num(bottom)}" stroke="{INK}" stroke-width="1"/>'
    )
    every = max(1, math.ceil(count / 8))
    for index, (name, _value) in enumerate(points):
        # Every `every`-th point, and the last one when it is far enough from the previous.
        if index % every == 0 or (index == count - 1 and index % every >= every / 2):
            parts.append(_text(x_of(index), bottom + 16, name, cls="chart-tick"))
    segment: list[str] = []
    segments: list[list[str]] = []
    markers: list[str] = []
    for index, (name, value) in enumerate(points):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        x, y = x_of(index), y_of(float(value))
        segment.append(f"{_num(x)},{_num(y)}")
        markers.append(
            f'<circle class="chart-point" cx="{_num(x)}" cy="{_num(y)}" r="2.5" fill="{INK}">'
            f"<title>{escape(name)}{NBSP}: {escape(format_value(value, unit, full=True))}</title>"
            "</circle>"
        )
    if segment:
        segments.append(segment)
    for line in segments:
        if len(line) > 1:
            parts.append(
                f'<polyline class="chart-line" points="{" ".join(line)}" fill="none" '
                f'stroke="{BAR}" stroke-width="2" stroke-linejoin="round"/>'
            )
    parts.extend(markers)
    last_known = next((v for _, v in reversed(points) if v is not None), None)
    if last_known is not None:
        last_index = max(i for i, (_, v) in enumerate(points) if v is not None)
        parts.append(
            _text(
                x_of(last_index),
                y_of(float(last_known)) - 7,
                format_value(last_known, unit),
                anchor="end" if last_index == count - 1 and count > 1 else "middle",
                cls="chart-value",
            )
        )
    return _close(parts)


# --------------------------------------------------------------------------- bar chart


def bar_chart(
    bars: Sequence[tuple[str, Decimal]],
    *,
    label: str,
    unit: str = "",
    horizontal: bool = False,
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """Bars with their value printed; negative bars hatched below/left of the zero line."""
    parts = _open(width, height, label, "bar-horizontal" if horizontal else "bar")
    if not bars:
        _no_data(parts, width, height)
        return _close(parts)
    pattern_id = f"levier-hatch-{next(_ids)}"
    parts.append(_hatch(pattern_id))
    values = [float(v) for _, v in bars]
    low, high = _domain(values, include_zero=True)
    if horizontal:
        _horizontal_bars(parts, bars, low, high, unit, width, height, pattern_id)
    else:
        _vertical_bars(parts, bars, low, high, unit, width, height, pattern_id)
    return _close(parts)


def _bar_rect(x: float, y: float, w: float, h: float, negative: bool, pattern_id: str) -> str:
    fill = f"url(#{pattern_id})" if negative else BAR
    cls = "chart-bar chart-bar-negative" if negative else "chart-bar"
    return (
        f'<rect class="{cls}" x="{_num(x)}" y="{_num(y)}" width="{_num(max(w, 0.0))}" '
        f'height="{_num(max(h, 0.0))}" fill="{fill}" stroke="{INK}" stroke-width="0.5">'
    )


def _vertical_bars(
    parts: list[str],
    bars: Sequence[tuple[str, Decimal]],
    low: float,
    high: float,
    unit: str,
    width: int,
    height: int,
    pattern_id: str,
) -> None:
    left, right, top, bottom = 64.0, width - 8.0, 16.0, height - 30.0
    ticks = _ticks(low, high)
    low, high = ticks[0], ticks[-1]

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    _y_axis(parts, ticks, y_of, left, right, unit)
    zero = y_of(0.0)
    slot = (right - left) / len(bars)
    bar_width = max(slot * 0.7, 1.0)
    every = max(1, math.ceil(len(bars) * 60 / (right - left)))  # ~60 px per x label

    def value_label(value: Decimal) -> str:
        # Within its slot, or the labels of 13 weeks overlap: the unit, which the axis
        # carries, goes first.
        shown = format_value(value, unit)
        return shown if len(shown) * CHAR_WIDTH <= slot else format_value(value)

    for index, (name, value) in enumerate(bars):
        x = left + index * slot + (slot - bar_width) / 2
        y = y_of(float(value))
        negative = value < 0
        top_y, bar_height = (zero, y - zero) if negative else (y, zero - y)
        parts.append(_bar_rect(x, top_y, bar_width, bar_height, negative, pattern_id))
        parts.append(
            f"<title>{escape(name)}{NBSP}: {escape(format_value(value, unit, full=True))}</title>"
            "</rect>"
        )
        value_y = y + 12 if negative else y - 3
        parts.append(_text(x + bar_width / 2, value_y, value_label(value), cls="chart-value"))
        if index % every == 0:
            parts.append(_text(x + bar_width / 2, bottom + 16, name, cls="chart-tick"))
    parts.append(
        f'<line class="chart-axis" x1="{_num(left)}" y1="{_num(zero)}" x2="{_num(right)}" '
        f'y2="{_num(zero)}" stroke="{INK}" stroke-width="1"/>'
    )


def _horizontal_bars(
    parts: list[str],
    bars: Sequence[tuple[str, Decimal]],
    low: float,
    high: float,
    unit: str,
    width: int,
    height: int,
    pattern_id: str,
) -> None:
    left, right, top, bottom = min(200.0, width * 0.35), width - 70.0, 6.0, height - 6.0
    span = high - low

    def x_of(value: float) -> float:
        return left + (value - low) / span * (right - left)

    zero = x_of(0.0)
    slot = (bottom - top) / len(bars)
    bar_height = max(min(slot * 0.7, 24.0), 1.0)
    max_chars = max(int(left / CHAR_WIDTH), 4)
    for index, (name, value) in enumerate(bars):
        y = top + index * slot + (slot - bar_height) / 2
        x = x_of(float(value))
        negative = value < 0
        start, length = (x, zero - x) if negative else (zero, x - zero)
        parts.append(_bar_rect(start, y, length, bar_height, negative, pattern_id))
        parts.append(
            f"<title>{escape(name)}{NBSP}: {escape(format_value(value, unit, full=True))}</title>"
            "</rect>"
        )
        shown = name if len(name) <= max_chars else name[: max_chars - 1] + "…"
        parts.append(
            _text(4, y + bar_height / 2 + 4, shown, anchor="start", cls="chart-tick chart-category")
        )
        value_x = x - 4 if negative else x + 4
        parts.append(
            _text(
                value_x,
                y + bar_height / 2 + 4,
                format_value(value, unit),
                anchor="end" if negative else "start",
                cls="chart-value",
            )
        )
    parts.append(
        f'<line class="chart-axis" x1="{_num(zero)}" y1="{_num(top)}" x2="{_num(zero)}" '
        f'y2="{_num(bottom)}" stroke="{INK}" stroke-width="1"/>'
    )


# --------------------------------------------------------------------------- pareto


def pareto_chart(
    bars: Sequence[tuple[str, Decimal]],
    *,
    label: str,
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """Bars sorted in descending order and the cumulative share (dashed line, right axis, %).

    Negative values make no sense in a Pareto chart: they are drawn as given (hatched) but
    count as zero in the cumulative share. With no positive total there is no line.
    """
    parts = _open(width, height, label, "pareto")
    if not bars:
        _no_data(parts, width, height)
        return _close(parts)
    ordered = sorted(bars, key=lambda bar: bar[1], reverse=True)
    pattern_id = f"levier-hatch-{next(_ids)}"
    parts.append(_hatch(pattern_id))
    values = [float(v) for _, v in ordered]
    low, high = _domain(values, include_zero=True)
    left, right, top, bottom = 64.0, width - 48.0, 16.0, height - 30.0
    ticks = _ticks(low, high)
    low, high = ticks[0], ticks[-1]

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    def y_share(share: float) -> float:
        return bottom - share / 100 * (bottom - top)

    _y_axis(parts, ticks, y_of, left, right, "")
    for percent in (0, 50, 100):
        parts.append(
            _text(
                right + 4,
                y_share(percent) + 4,
                f"{percent}{NBSP}%",
                anchor="start",
                cls="chart-tick",
            )
        )
    zero = y_of(0.0)
    slot = (right - left) / len(ordered)
    bar_width = max(slot * 0.7, 1.0)
    every = max(1, math.ceil(len(ordered) * 70 / (right - left)))
    total = sum((max(v, Decimal(0)) for _, v in ordered), Decimal(0))
    cumulative = Decimal(0)
    cumulative_label = escape(gettext("cumulative"))  # out of the f-string, for xgettext
    line: list[str] = []
    markers: list[str] = []
    for index, (name, value) in enumerate(ordered):
        x = left + index * slot + (slot - bar_width) / 2
        y = y_of(float(value))
        negative = value < 0
        top_y, bar_height = (zero, y - zero) if negative else (y, zero - y)
        parts.append(_bar_rect(x, top_y, bar_width, bar_height, negative, pattern_id))
        parts.append(
            f"<title>{escape(name)}{NBSP}: {escape(format_value(value, full=True))}</title></rect>"
        )
        parts.append(
            _text(
                x + bar_width / 2,
                y + 12 if negative else y - 3,
                format_value(value),
                cls="chart-value",
            )
        )
        if index % every == 0:
            parts.append(_text(x + bar_width / 2, bottom + 16, name, cls="chart-tick"))
        if total > 0:
            cumulative += max(value, Decimal(0))
            share = (cumulative / total * 100).quantize(Decimal("1"))
            cx, cy = x + bar_width / 2, y_share(float(share))
            line.append(f"{_num(cx)},{_num(cy)}")
            markers.append(
                f'<rect class="chart-cumulative-point" x="{_num(cx - 2.5)}" y="{_num(cy - 2.5)}" '
                f'width="5" height="5" fill="{INK}"><title>{escape(name)}{NBSP}: '
                f"{cumulative_label} {share}{NBSP}%</title></rect>"
            )
    parts.append(
        f'<line class="chart-axis" x1="{_num(left)}" y1="{_num(zero)}" x2="{_num(right)}" '
        f'y2="{_num(zero)}" stroke="{INK}" stroke-width="1"/>'
    )
    if len(line) > 1:
        parts.append(
            f'<polyline class="chart-cumulative" points="{" ".join(line)}" fill="none" '
            f'stroke="{INK}" stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
    parts.extend(markers)
    return _close(parts)
