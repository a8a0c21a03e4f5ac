"""The KPI dashboard and its drill-down lists (issue 5).

**Dashboard** (`kpis_dashboard`): the five headline cards (value, change since last week,
52-week sparkline, status against the thresholds), the aged balance, the DSO trend, the
13-week cash forecast, the top overdue customers, disputes by reason, invoicing delay by
mode, order validation time per step and what waits for each member of the team. Every
figure links to the list of documents behind it, with the same date and period.

Cost of a page: `compute_kpis` runs once for `as_of`, and once more for the week before
unless that week has a stored snapshot at the same date and period (`levier.kpis.history`:
a Sunday, 90 days); the 52-week series are the stored snapshots, read in one query, never
recomputed here; the breakdowns are a few GROUP BY queries each, read meanwhile on a second
connection in the same snapshot (`dashboard_figures`).

**Drill-down** (`kpis_drilldown`): `levier.kpis.drilldown.drilldown(key, …)` paginated by 100,
or exported whole with `?format=csv|xlsx` (streamed CSV, write-only XLSX).

**Parameters**: `as_of` (YYYY-MM-DD, default today, from 2000-01-01 to today), `period_days`
(30, 90, 180 or 365, default 90), the drill-down's filters (`customer`, `bucket`, `week`,
`mode`, `reason`, `role`: shown on the list in words), `page`, `format`. A bad one is a 400
page naming it (`ValidationFailed` through the error middleware), an unknown list a 404,
never a 500.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.collections.choices import DisputeReason
from levier.customers.models import Customer
from levier.kpis import breakdowns, charts
from levier.kpis.drilldown import BUCKETS, Column, DrillDown, drilldown
from levier.kpis.exports import (
    CSV_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    drilldown_csv_chunks,
    drilldown_xlsx,
)
from levier.kpis.figures import KpiFigures
from levier.kpis.history import figures_date, value_of, weekly_figures
from levier.kpis.services import (
    HEADLINE,
    Headline,
    dashboard_figures,
)
from levier.kpis.thresholds import statuses
from levier.lib.errors import ValidationFailed
from levier.web.views.customers import request_actor

NBSP = "\u00a0"
HUNDRED = Decimal(100)
PERIODS = (30, 90, 180, 365)
DEFAULT_PERIOD = 90
EARLIEST = dt.date(2000, 1, 1)
SERIES_WEEKS = 52
# Chart sizes close to what they are drawn at (a half panel, a full-width one), so that
# their text stays at its size on screen and in print.
HALF_WIDTH = 480
FULL_WIDTH = 1040
SPLIT_WIDTH = 700  # a chart beside its table in a full-width panel
PAGE_SIZE = 100
FILTER_KEYS = ("customer", "bucket", "week", "mode", "reason", "role")
MAX_PARAM_LENGTH = 40
FORMATS = ("", "html", "csv", "xlsx")

# The list behind each headline card.
HEADLINE_DRILLDOWN = {
    "invoicing_delay_days": "invoicing_delay",
    "invoice_error_rate": "invoice_errors",
    "dso_simple": "dso",
    "fae": "fae",
    "dispute_rate": "disputed_invoices",
}
BUCKET_LABELS: dict[str, Promise] = {
    "not_due": _("Not due"),
    "1_30": _("1–30 days"),
    "31_60": _("31–60 days"),
    "61_90": _("61–90 days"),
    "over_90": _("Over 90 days"),
}
STATUS_LABELS: dict[str, Promise] = {
    "green": _("On target"),
    "amber": _("Watch"),
    "red": _("Alert"),
}


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Params:
    as_of: dt.date
    period_days: int
    filters: dict[str, str]

    def query(self, **filters: str) -> str:
        """The query string of a link with these parameters (and the filters given)."""
        values = {"as_of": self.as_of.isoformat(), "period_days": str(self.period_days)}
        values.update({key: value for key, value in filters.items() if value != ""})
        return urlencode(values)


def _param(request: HttpRequest, name: str) -> str:
    raw = request.GET.get(name, "")
    if len(raw) > MAX_PARAM_LENGTH or "\x00" in raw:
        raise ValidationFailed.on(name, gettext("%(name)s: too long") % {"name": name})
    return raw.strip()


def parse_params(request: HttpRequest) -> Params:
    """as_of, period_days and the filters of a KPI page, refused by name when wrong."""
    today = timezone.localdate()
    raw_date = _param(request, "as_of")
    if raw_date:
        try:
            as_of = dt.date.fromisoformat(raw_date)
        except ValueError:
            raise ValidationFailed.on(
                "as_of", gettext("as_of: a date written YYYY-MM-DD")
            ) from None
        if not EARLIEST <= as_of <= today:
            raise ValidationFailed.on(
                "as_of",
                gettext("as_of: between %(first)s and today")
                % {"first": EARLIEST.strftime("%d/%m/%Y")},
            )
    else:
        as_of = today
    raw_period = _param(request, "period_days")
    if raw_period:
        if not raw_period.isdigit() or int(raw_period) not in PERIODS:
            raise ValidationFailed.on(
                "period_days",
                gettext("period_days: one of %(periods)s")
                % {"periods": ", ".join(str(p) for p in PERIODS)},
            )
        period = int(raw_period)
    else:
        period = DEFAULT_PERIOD
    filters = {key: _param(request, key) for key in FILTER_KEYS}
    return Params(as_of, period, {key: value for key, value in filters.items() if value})


def drill_url(key: str, params: Params, **filters: str) -> str:
    """The link to a list. Only with filters the list's view reads (`FILTER_KEYS`): the
    dashboard's delay-by-mode links once carried a `mode` it dropped, and listed every mode."""
    unread = sorted(set(filters) - set(FILTER_KEYS))
    if unread:
        raise ValueError(f"drill-down filters the view does not read: {unread}")
    return f"{reverse('web:kpis_drilldown', args=[key])}?{params.query(**filters)}"


# --------------------------------------------------------------------------- formatting


def fmt_number(value: Decimal | int, places: int) -> str:
    return number_format(value, places, use_l10n=True, force_grouping=True)


def fmt_value(value: Decimal | int | None, unit: str) -> str:
    """A figure as the dashboard prints it: money, days, hours, rate (a ratio), count."""
    if value is None:
        return gettext("n/a")
    if unit == "money":
        return f"{fmt_number(value, 2)}{NBSP}€"
    if unit == "days":
        return gettext("%(value)s d") % {"value": fmt_number(value, 1)}
    if unit == "hours":
        return gettext("%(value)s h") % {"value": fmt_number(value, 1)}
    if unit == "rate":
        return f"{fmt_number(Decimal(value) * HUNDRED, 1)}{NBSP}%"
    return fmt_number(value, 0)


def fmt_change(change: Decimal, unit: str) -> str:
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    size = abs(change)
    if unit == "rate":
        text = gettext("%(value)s pt") % {"value": fmt_number(size * HUNDRED, 1)}
    else:
        text = fmt_value(size, unit)
    return f"{sign}{text}"


def fmt_cell(column: Column, value: Any) -> str:
    """One cell of a drill-down table."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    kind = column.kind
    if kind in ("money", "days", "hours", "rate", "int"):
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
        except ArithmeticError:
            return str(value)
        if kind == "money":
            return fmt_number(number, 2)
        if kind == "rate":
            return fmt_value(number, "rate")
        if kind == "hours":
            return fmt_number(number, 1)
        places = 0 if number == number.to_integral_value() else 1
        return fmt_number(number, places)
    return str(value)


NUMERIC_KINDS = frozenset({"money", "days", "hours", "rate", "int"})


# --------------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class Card:
    key: str
    label: str | Promise
    value: str
    url: str
    change: str  # "" when there is nothing to compare with
    since: str  # the date `change` counts from (dd/mm)
    trend: str  # better, worse, same or ""
    arrow: str  # ▲ up, ▼ down, "" unchanged or unknown
    status: str | None
    status_label: str | Promise
    sparkline: str
    extras: list[tuple[str | Promise, str, str]]  # (label, value, url) shown beside


def _reported_week(
    params: Params, stored: Mapping[dt.date, Mapping[str, Any]]
) -> tuple[dt.date, Mapping[str, Any]] | None:
    """What the cards compare with when it was reported, and its date: the stored snapshot
    at `as_of − 7` (as reported that week); else the latest one of the six days after it
    (the last weekly report: on a Thursday, last Sunday's). None: `as_of − 7`'s headline
    must be computed now (`dashboard_figures(week_before=…)`). Only a snapshot of the same
    period counts."""
    week_before = params.as_of - dt.timedelta(days=7)
    reported = sorted(
        (figures_date(monday), figures)
        for monday, figures in stored.items()
        if week_before <= figures_date(monday) < params.as_of
        and figures.get("period_days") == params.period_days
    )
    if reported:
        return reported[0] if reported[0][0] == week_before else reported[-1]
    return None


def _series(
    stored: Mapping[dt.date, Mapping[str, Any]], key: str, params: Params, current: Any
) -> list[tuple[dt.date, Decimal | None]]:
    """The stored weekly values (as of each Sunday) over the 52 weeks, then `as_of`'s."""
    last_monday = params.as_of - dt.timedelta(days=params.as_of.weekday())
    mondays = [last_monday - dt.timedelta(weeks=n) for n in range(SERIES_WEEKS - 1, -1, -1)]
    points: list[tuple[dt.date, Decimal | None]] = [
        (figures_date(monday), value_of(stored[monday], key) if monday in stored else None)
        for monday in mondays
    ]
    points.append((params.as_of, None if current is None else Decimal(current)))
    return points


def _card(
    headline: Headline,
    figures: KpiFigures,
    previous: tuple[dt.date, Mapping[str, Any]],
    stored: Mapping[dt.date, Mapping[str, Any]],
    status: str | None,
    params: Params,
) -> Card:
    value = getattr(figures, headline.key)
    since, previous_figures = previous
    before = value_of(previous_figures, headline.key)
    change, trend, arrow = "", "", ""
    if value is not None and before is not None:
        delta = Decimal(value) - before
        change = fmt_change(delta, headline.unit)
        if delta == 0:
            trend = "same"
        else:
            trend = "better" if (delta > 0) == headline.higher_is_better else "worse"
            arrow = "▲" if delta > 0 else "▼"
    series = _series(stored, headline.key, params, value)
    label = str(headline.label)
    spark = charts.sparkline(
        [point for _day, point in series],
        label=gettext("%(label)s over 52 weeks") % {"label": label},
    )
    extras: list[tuple[str | Promise, str, str]] = []
    if headline.key == "invoice_error_rate":
        extras.append(
            (
                _("Credit-note rate"),
                fmt_value(figures.credit_note_rate, "rate"),
                drill_url("credit_notes", params),
            )
        )
    elif headline.key == "dso_simple":
        extras.append(
            (
                _("Countback method"),
                fmt_value(figures.dso_countback, "days"),
                drill_url("receivables", params),
            )
        )
    elif headline.key == "fae":
        extras.append(
            (_("Deferred revenue (PCA)"), fmt_value(figures.pca, "money"), drill_url("pca", params))
        )
    elif headline.key == "dispute_rate":
        extras.append(
            (
                _("Open disputes"),
                f"{figures.open_disputes_count} · {fmt_value(figures.open_disputes_amount, 'money')}",
                drill_url("open_disputes", params),
            )
        )
    return Card(
        key=headline.key,
        label=headline.label,
        value=fmt_value(value, headline.unit),
        url=drill_url(HEADLINE_DRILLDOWN.get(headline.key, "receivables"), params),
        change=change,
        since=_short_date(since),
        trend=trend,
        arrow=arrow,
        status=status,
        status_label=STATUS_LABELS.get(status or "", ""),
        sparkline=spark,
        extras=extras,
    )


def _short_date(day: dt.date) -> str:
    return day.strftime("%d/%m")


def dashboard_context(params: Params) -> dict[str, Any]:
    """Everything the dashboard shows at `params` (see the module docstring for its cost)."""
    stored = weekly_figures(params.as_of, SERIES_WEEKS)
    reported = _reported_week(params, stored)
    week_before = params.as_of - dt.timedelta(days=7)
    board = dashboard_figures(
        params.as_of, params.period_days, week_before=None if reported else week_before
    )
    figures, parts = board.figures, board.breakdowns
    previous = reported or (week_before, board.week_before or {})
    status = statuses({h.key: getattr(figures, h.key) for h in HEADLINE})
    cards = [_card(h, figures, previous, stored, status.get(h.key), params) for h in HEADLINE]

    aged = [
        {
            "key": key,
            "label": BUCKET_LABELS[key],
            "amount": fmt_value(figures.aged_balance[key], "money"),
            "url": drill_url("aged_balance", params, bucket=key),
        }
        for key in BUCKETS
    ]
    aged_chart = charts.bar_chart(
        [(str(BUCKET_LABELS[key]), figures.aged_balance[key]) for key in BUCKETS],
        label=gettext("Aged balance at %(date)s") % {"date": params.as_of.strftime("%d/%m/%Y")},
        unit="€",
        width=HALF_WIDTH,
    )
    dso_points = _series(stored, "dso_simple", params, figures.dso_simple)
    dso_chart = charts.line_chart(
        [(_short_date(day), value) for day, value in dso_points],
        label=gettext("DSO over 52 weeks (days)"),
        unit=gettext("d"),
        width=FULL_WIDTH,
    )
    forecast = [
        {
            "week": week.week_start,
            "amount": fmt_value(week.expected, "money"),
            "url": drill_url("cash_forecast", params, week=week.week_start.isoformat()),
        }
        for week in figures.cash_forecast
    ]
    later_week = (
        figures.cash_forecast[-1].week_start + dt.timedelta(weeks=1)
        if figures.cash_forecast
        else None
    )
    forecast_chart = charts.bar_chart(
        [(_short_date(week.week_start), week.expected) for week in figures.cash_forecast],
        label=gettext("Expected collections over 13 weeks"),
        unit="€",
        width=SPLIT_WIDTH,
    )

    overdue = parts.overdue
    overdue_rows = [
        {
            "name": row.name,
            "amount": fmt_value(row.overdue, "money"),
            "invoices": row.invoices,
            "days_late": row.days_late,
            "url": drill_url("overdue", params, customer=str(row.customer_id)),
        }
        for row in overdue
    ]
    overdue_chart = charts.bar_chart(
        [(row.name, row.overdue) for row in overdue],
        label=gettext("Top overdue customers"),
        unit="€",
        horizontal=True,
        width=HALF_WIDTH,
        height=max(60, 26 * len(overdue) + 12),
    )

    reasons = parts.reasons
    reason_rows = [
        {
            "label": row.label,
            "count": row.count,
            "amount": fmt_value(row.amount, "money"),
            "url": drill_url("disputes_opened", params, reason=row.reason),
        }
        for row in reasons
    ]
    reasons_chart = charts.pareto_chart(
        [(str(row.label), Decimal(row.count)) for row in reasons],
        label=gettext("Disputes opened by reason"),
        width=HALF_WIDTH,
    )

    delay_rows = [
        {
            "label": row.label,
            "invoices": row.invoices,
            "mean": fmt_value(row.mean_days, "days"),
            "url": drill_url("invoicing_delay", params, mode=row.mode),
        }
        for row in parts.delays
    ]
    delays_chart = charts.bar_chart(
        [(str(row.label), row.mean_days or Decimal(0)) for row in parts.delays],
        label=gettext("Invoicing delay by invoicing mode (days)"),
        unit=gettext("d"),
        horizontal=True,
        width=HALF_WIDTH,
        height=max(60, 26 * len(parts.delays) + 12),
    )

    role_labels = dict(Role.choices)
    steps = [
        {
            "label": role_labels.get(step.role, step.role),
            "count": step.count,
            "median": fmt_value(step.median_hours, "hours"),
            "p90": fmt_value(step.p90_hours, "hours"),
            "url": drill_url("order_validation", params, role=step.role),
        }
        for step in figures.order_validation_steps
    ]

    collection = [
        (
            _("Receivables incl. VAT"),
            fmt_value(figures.receivables_ttc, "money"),
            drill_url("receivables", params),
        ),
        (
            _("Sales incl. VAT over the period"),
            fmt_value(figures.sales_ttc_period, "money"),
            drill_url("sales", params),
        ),
        (
            _("Overdue ratio"),
            fmt_value(figures.overdue_ratio, "rate"),
            drill_url("overdue", params),
        ),
        (
            _("Average payment delay"),
            fmt_value(figures.average_payment_delay_days, "days"),
            drill_url("payment_delay", params),
        ),
        (
            _("Collection effectiveness (CEI)"),
            gettext("n/a") if figures.cei is None else f"{fmt_number(figures.cei, 1)}{NBSP}%",
            drill_url("cei", params),
        ),
        (
            _("Dispute resolution time"),
            fmt_value(figures.dispute_resolution_days, "days"),
            drill_url("dispute_resolution", params),
        ),
    ]

    return {
        "params": params,
        "periods": PERIODS,
        "figures": figures,
        "cards": cards,
        "collection": collection,
        "aged": aged,
        "aged_total": fmt_value(figures.aged_balance["total"], "money"),
        "aged_total_url": drill_url("receivables", params),
        "aged_chart": aged_chart,
        "dso_chart": dso_chart,
        "has_history": bool(stored),
        "forecast": forecast,
        "forecast_chart": forecast_chart,
        "forecast_later": fmt_value(figures.cash_forecast_later, "money"),
        "forecast_later_url": (
            drill_url("cash_forecast", params, week=later_week.isoformat()) if later_week else ""
        ),
        "overdue": overdue_rows,
        "overdue_chart": overdue_chart,
        "reasons": reason_rows,
        "reasons_chart": reasons_chart,
        "reasons_url": drill_url("disputes_opened", params),
        "delays": delay_rows,
        "delays_chart": delays_chart,
        "validation_median": fmt_value(figures.order_validation_hours_median, "hours"),
        "validation_p90": fmt_value(figures.order_validation_hours_p90, "hours"),
        "validation_url": drill_url("order_validation", params),
        "steps": steps,
        "team": [
            {
                "user_id": member.user_id,
                "name": member.name,
                "role_label": member.role_label,
                "counts": [member.counts.get(key, 0) for key, _label in breakdowns.WORK_KINDS],
                "total": member.total,
            }
            for member in parts.team
        ],
        "work_kinds": breakdowns.WORK_KINDS,
        "is_today": params.as_of == timezone.localdate(),
    }


def dashboard_response(
    request: HttpRequest, actor: User, *, worklists: Sequence[Any] = ()
) -> HttpResponse:
    """The dashboard page; `worklists` (the home's cards, for the Direction whose home this
    is) are shown above the figures."""
    require(actor, Action.VIEW_KPIS)
    params = parse_params(request)
    context = dashboard_context(params)
    context["worklists"] = list(worklists)
    context["show_worklist_link"] = actor.role == Role.DIRECTION
    return render(request, "web/kpis/dashboard.html", context)


@login_required
@require_GET
def kpi_dashboard(request: HttpRequest) -> HttpResponse:
    return dashboard_response(request, request_actor(request))


# --------------------------------------------------------------------------- drill-down


def _filename(key: str, as_of: dt.date, extension: str) -> str:
    return f"levier-{key.replace('_', '-')}-{as_of.isoformat()}.{extension}"


def _attachment(response: HttpResponse | StreamingHttpResponse, filename: str) -> None:
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=filename) or "attachment"
    )


def _table(list_: DrillDown, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for row in rows:
        cells = [
            {
                "text": fmt_cell(column, row.get(column.key)),
                "numeric": column.kind in NUMERIC_KINDS,
            }
            for column in list_.columns
        ]
        table.append({"cells": cells, "url": row.get("url") or ""})
    return table


FILTER_NAMES: dict[str, Promise] = {
    "customer": _("Customer"),
    "bucket": _("Days late"),
    "week": _("Week of"),
    "mode": _("Invoicing mode"),
    "reason": _("Reason"),
    "role": _("Step"),
}


def described_filters(filters: Mapping[str, str]) -> list[tuple[str, str]]:
    """The list's filters as its reader says them: (name, value) in words, the customer by
    name, not `customer = 9`. A value the list does not read (a week on the DSO's list) is
    shown as given."""
    values: dict[str, Mapping[str, Any]] = {
        "bucket": BUCKET_LABELS,
        "mode": breakdowns.MODE_LABELS,
        "reason": dict(DisputeReason.choices),
        "role": dict(Role.choices),
    }
    described = []
    for key, raw in filters.items():
        value = raw
        if key == "customer" and raw.isdigit() and len(raw) <= 12:
            customer = Customer.objects.filter(pk=int(raw)).values_list("name", flat=True)
            value = customer.first() or raw
        elif key == "week":
            with contextlib.suppress(ValueError):
                value = dt.date.fromisoformat(raw).strftime("%d/%m/%Y")
        else:
            value = str(values.get(key, {}).get(raw, raw))
        described.append((str(FILTER_NAMES.get(key, key)), value))
    return described


@login_required
@require_GET
def kpi_drilldown(request: HttpRequest, key: str) -> HttpResponse:
    actor = request_actor(request)
    require(actor, Action.VIEW_KPIS)
    params = parse_params(request)
    output = _param(request, "format")
    if output not in FORMATS:
        raise ValidationFailed.on("format", gettext("format: csv or xlsx"))
    try:
        list_ = drilldown(key, params.as_of, params.period_days, params.filters)
    except KeyError:
        raise Http404(gettext("No such KPI list")) from None
    if output == "csv":
        stream = StreamingHttpResponse(drilldown_csv_chunks(list_), content_type=CSV_CONTENT_TYPE)
        _attachment(stream, _filename(key, params.as_of, "csv"))
        return stream  # type: ignore[return-value]
    if output == "xlsx":
        response = HttpResponse(drilldown_xlsx(list_), content_type=XLSX_CONTENT_TYPE)
        _attachment(response, _filename(key, params.as_of, "xlsx"))
        return response
    page = Paginator(list_.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = dict(params.filters)
    export_query = params.query(**filters)
    return render(
        request,
        "web/kpis/drilldown.html",
        {
            "list": list_,
            "params": params,
            "periods": PERIODS,
            "filters": [(name, value) for name, value in filters.items()],
            "described_filters": described_filters(filters),
            "page": page,
            "table": _table(list_, page.object_list),
            "total": None if list_.total is None else fmt_value(list_.total, "money"),
            "count": page.paginator.count,
            "numeric": [column.kind in NUMERIC_KINDS for column in list_.columns],
            "page_query": export_query,
            "csv_url": f"?{export_query}&format=csv",
            "xlsx_url": f"?{export_query}&format=xlsx",
            "dashboard_url": f"{reverse('web:kpis_dashboard')}?{params.query()}",
        },
    )
