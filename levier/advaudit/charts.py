"""The audit report's maturity radar, in the style of `levier.kpis.charts` (whose bar and line
charts the report reuses): one inline ``<svg>``, no JavaScript.

- **Accessible**: ``role="img"``, an ``aria-label`` and a ``<title>``; each pillar's point
  has its own ``<title>`` (pillar and score).
- **Readable in black and white**: the rings are thin grey lines labelled with their score,
  the company's polygon is a solid dark outline over a light hatch, each point is a filled
  square with its score printed beside it; a pillar without a score is drawn at the centre
  with a hollow marker and "n/a" beside its name, never as a silent 0.
- **Safe**: every label is escaped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from levier.kpis.charts import BAR, GRID, INK, MUTED, format_value

__all__ = ["radar_chart"]

RINGS = (20, 40, 60, 80, 100)
_ids = itertools.count(1)


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _wrap(label: str, width: int = 18) -> list[str]:
    """A label on at most four lines of about `width` characters."""
    words, lines, current = label.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    if len(lines) > 4:
        lines = [*lines[:3], " ".join(lines[3:])[: width - 1] + "…"]
    return lines


def radar_chart(
    axes: Sequence[tuple[str, Decimal | None]],
    *,
    label: str,
    width: int = 520,
    height: int = 400,
    maximum: Decimal = Decimal(100),
) -> SafeString:
    """A radar of scores from 0 to `maximum` (one axis per (label, score), clockwise from the
    top); None = not scored."""
    safe = escape(label)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-radar" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{safe}" '
        f'font-family="sans-serif" font-size="11">',
        f"<title>{safe}</title>",
    ]
    count = len(axes)
    if count < 3:
        no_data = escape(gettext("No data"))  # out of the f-string, for xgettext
        parts.append(
            f'<text x="{_num(width / 2)}" y="{_num(height / 2)}" text-anchor="middle" '
            f'fill="{MUTED}">{no_data}</text></svg>'
        )
        return mark_safe("".join(parts))
    cx, cy = width / 2, height / 2 + 4
    radius = min(width / 2 - 110, height / 2 - 48)
    top = float(maximum)

    def point(index: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * index / count
        distance = radius * max(0.0, min(value, top)) / top
        return cx + distance * math.cos(angle), cy + distance * math.sin(angle)

    pattern = f"levier-radar-hatch-{next(_ids)}"
    parts.append(
        f'<defs><pattern id="{pattern}" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{BAR}" stroke-width="1.2"/></pattern></defs>'
    )
    for ring in RINGS:
        corners = " ".join(
            f"{_num(x)},{_num(y)}" for x, y in (point(i, ring * top / 100) for i in range(count))
        )
        dash = "" if ring == 100 else ' stroke-dasharray="3 3"'
        parts.append(
            f'<polygon class="chart-grid" points="{corners}" fill="none" stroke="{GRID}" '
            f'stroke-width="1"{dash}/>'
        )
        _x, y = point(0, ring * top / 100)
        parts.append(
            f'<text class="chart-tick" x="{_num(cx + 3)}" y="{_num(y + 10)}" fill="{MUTED}" '
            f'font-size="8" text-anchor="start">{ring}</text>'
        )
    for index, (name, value) in enumerate(axes):
        x, y = point(index, top)
        parts.append(
            f'<line class="chart-axis" x1="{_num(cx)}" y1="{_num(cy)}" x2="{_num(x)}" '
            f'y2="{_num(y)}" stroke="{GRID}" stroke-width="1"/>'
        )
        lx, ly = point(index, top * (1.18 if index == 0 else 1.12))
        anchor = "middle" if abs(lx - cx) < 8 else ("start" if lx > cx else "end")
        not_scored = gettext("n/a")  # out of the f-string, for xgettext
        lines = _wrap(name if value is not None else f"{name} ({not_scored})")
        if ly < cy - radius * 0.5:  # above: the block ends on the label's point
            shift = -(len(lines) - 1) * 13.0
        elif ly > cy + radius * 0.5:  # below: it starts there
            shift = 8.0
        else:
            shift = -(len(lines) - 1) * 6.5
        tspans = "".join(
            f'<tspan x="{_num(lx)}" dy="{0 if n == 0 else 13}">{escape(line)}</tspan>'
            for n, line in enumerate(lines)
        )
        parts.append(
            f'<text class="chart-label" x="{_num(lx)}" y="{_num(ly + shift + 4)}" '
            f'text-anchor="{anchor}" fill="{INK}">{tspans}</text>'
        )
    scored = [(i, name, value) for i, (name, value) in enumerate(axes)]
    outline = " ".join(
        f"{_num(x)},{_num(y)}"
        for x, y in (
            point(i, float(value) if value is not None else 0.0) for i, _n, value in scored
        )
    )
    parts.append(
        f'<polygon class="chart-area" points="{outline}" fill="url(#{pattern})" '
        f'fill-opacity="0.6" stroke="{INK}" stroke-width="2" stroke-linejoin="round"/>'
    )
    for index, name, value in scored:
        x, y = point(index, float(value) if value is not None else 0.0)
        shown = format_value(value) if value is not None else gettext("n/a")
        title = f"{escape(name)}\u00a0: {escape(shown)}"
        if value is None:
            parts.append(
                f'<rect class="chart-point chart-point-missing" x="{_num(x - 3.5)}" '
                f'y="{_num(y - 3.5)}" width="7" height="7" fill="#ffffff" stroke="{INK}" '
                f'stroke-width="1.2"><title>{title}</title></rect>'
            )
        else:
            parts.append(
                f'<rect class="chart-point" x="{_num(x - 3.5)}" y="{_num(y - 3.5)}" width="7" '
                f'height="7" fill="{INK}"><title>{title}</title></rect>'
            )
        if value is None:
            continue  # "n/a" is printed with the pillar's name: the centre stays readable
        vx, vy = point(index, float(value) + top * 0.08)
        parts.append(
            f'<text class="chart-value" x="{_num(vx)}" y="{_num(vy + 4)}" text-anchor="middle" '
            f'fill="{INK}" font-weight="bold">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
