"""Running an ADV audit: figures (from a FEC or from Levier's own books), then one shared
assessment (pre-filled questionnaire, maturity, benchmarks, levers in euros, action plan).

The two sources differ only up to `AuditFigures`: everything after it is `_assess`, so a FEC
audit and a Levier audit are scored, priced and planned by the same code. `AuditFigures`
holds the figures in their JSON form (kpis.md's names), which is also what a stored run
keeps: `result_from_json` re-assesses a stored run with new answers without the FEC (which
is never stored).

Choices where the brief is silent:

- **Levier's period** is 365 days, as the FEC's yearly figures, so both feed the same DSO
  lever (`dso_simple` is used by the levers only when `period_days` is 365).
- **Late invoices in Levier** are counted against each invoice's own due date (the FEC has
  none, so it uses `payment_terms_days` from the invoice date): invoices issued in the year
  to d, paid after their due date or still open past it at d; days late = (settlement date,
  or d when unsettled at d) − due date.
- **Late payers in Levier** are the customers with the most overdue at d
  (`levier.kpis.breakdowns.top_overdue_customers`, past the due date); in a FEC, the
  customers with the most open invoices older than 60 days (from the invoice date). The JSON
  says which (`late_payers_basis`).
- **The share of penalties already claimed** comes from the score of
  `processes.late_penalties_claimed` (an answer, as no data pre-fills it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, DateField, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.permissions import Action, require
from levier.advaudit.benchmarks import Comparison, NoFigure, compare, no_figure, to_figure
from levier.advaudit.fec.figures import FecFigures, compute_fec_figures
from levier.advaudit.fec.quality import QualityIssue, QualityReport, QualityTotals
from levier.advaudit.fec.reader import load_fec
from levier.advaudit.levers import (
    DEFAULT_FINANCING_RATE,
    DEFAULT_HOURLY_RATE,
    DEFAULT_PENALTY_RATE,
    DEFAULT_REWORK_HOURS,
    DEFAULT_TARGET_DSO_DAYS,
    PENALTIES_QUESTION_ID,
    Lever,
    LeverInputsError,
    LeverKind,
    compute_levers,
    inputs_from_figures,
    share_claimed_from_score,
)
from levier.advaudit.models import AuditRun
from levier.advaudit.plan import ActionPlan, build_action_plan
from levier.advaudit.questionnaire import Answers, Maturity, Prefilled, prefill, score
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import CompanyProfile, Invoice
from levier.collections.aging import open_parts
from levier.collections.models import Allocation
from levier.customers.models import Customer
from levier.kpis.activity import credit_notes_issued, invoices_issued
from levier.kpis.breakdowns import top_overdue_customers
from levier.kpis.services import compute_kpis
from levier.kpis.sql import DaysBetween
from levier.lib.periods import add_months

if TYPE_CHECKING:
    from levier.accounts.models import User

Source = Literal["fec", "levier"]
ZERO: Final = Decimal("0.00")
CENT: Final = Decimal("0.01")
DAYS: Final = Decimal("0.1")
RATE: Final = Decimal("0.0001")
LEVIER_PERIOD_DAYS: Final = 365
DEFAULT_PAYMENT_TERMS_DAYS: Final = 30
MONTHS: Final = 12
TOP: Final = 10
_AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=18, decimal_places=2)

# The figures set beside a benchmark in the report, per source (kpis.md names). A figure with
# no public reference is listed too: the report says so rather than leaving it out.
FEC_BENCHMARK_KEYS: Final = (
    "dso_simple_365d",
    "dso_simple_90d",
    "dso_countback",
    "average_days_to_pay",
    "average_days_to_pay_weighted",
    "credit_note_rate",
    "credit_note_rate_amount",
)
LEVIER_BENCHMARK_KEYS: Final = (
    "dso_simple",
    "dso_countback",
    "average_payment_delay_days",
    "average_payment_delay_days_weighted",
    "credit_note_rate",
    "credit_note_rate_amount",
    "invoice_error_rate",
    "invoicing_delay_days",
    "dispute_rate",
    "dispute_resolution_days",
    "overdue_ratio",
)
RATIO_KEYS: Final = frozenset(
    {"credit_note_rate", "credit_note_rate_amount", "invoice_error_rate", "dispute_rate"}
    | {"overdue_ratio"}
)


class AuditError(ValueError):
    """A parameter of the audit is impossible; the message names it."""


# --------------------------------------------------------------------------- parameters


def _decimal(name: str, value: object, *, low: Decimal, high: Decimal | None = None) -> Decimal:
    if isinstance(value, bool | float):
        raise AuditError(_("%(field)s: expected a decimal number") % {"field": name})
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise AuditError(
            _("%(field)s: “%(value)s” is not a number") % {"field": name, "value": value}
        ) from None
    if not number.is_finite() or number < low or (high is not None and number > high):
        if high is None:
            message = _("%(field)s: %(value)s must be ≥ %(low)s")
        else:
            message = _("%(field)s: %(value)s is outside %(low)s–%(high)s")
        raise AuditError(message % {"field": name, "value": value, "low": low, "high": high})
    return number


@dataclass(frozen=True)
class AuditParameters:
    """The user's inputs to the levers, with levers.py's defaults, and the cover's name.

    Rates are ratios (0.05 = 5 %). `payment_terms_days` only serves a FEC (which has no due
    dates): an invoice is late past that many days from its date."""

    company_name: str = ""
    target_dso_days: Decimal = DEFAULT_TARGET_DSO_DAYS
    financing_rate: Decimal = DEFAULT_FINANCING_RATE
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS
    rework_hours_per_credit_note: Decimal = DEFAULT_REWORK_HOURS
    loaded_hourly_rate: Decimal = DEFAULT_HOURLY_RATE
    cost_per_credit_note: Decimal | None = None
    penalty_rate: Decimal = DEFAULT_PENALTY_RATE

    def __post_init__(self) -> None:
        name = str(self.company_name or "").strip()
        if len(name) > 200:
            raise AuditError(_("company_name: at most 200 characters"))
        object.__setattr__(self, "company_name", name)
        terms = self.payment_terms_days
        if isinstance(terms, bool) or not isinstance(terms, int) or not 0 <= terms <= 365:
            raise AuditError(
                _("payment_terms_days: a whole number of days from 0 to 365, not %(value)s")
                % {"value": terms}
            )
        one = Decimal(1)
        checks: dict[str, tuple[Decimal, Decimal | None]] = {
            "target_dso_days": (ZERO, Decimal(3660)),
            "financing_rate": (ZERO, one),
            "rework_hours_per_credit_note": (ZERO, Decimal(1000)),
            "loaded_hourly_rate": (ZERO, None),
            "penalty_rate": (ZERO, one),
        }
        for key, (low, high) in checks.items():
            object.__setattr__(self, key, _decimal(key, getattr(self, key), low=low, high=high))
        if self.cost_per_credit_note is not None:
            object.__setattr__(
                self,
                "cost_per_credit_note",
                _decimal("cost_per_credit_note", self.cost_per_credit_note, low=ZERO),
            )

    def lever_parameters(self) -> dict[str, object]:
        return {
            "target_dso_days": self.target_dso_days,
            "financing_rate": self.financing_rate,
            "rework_hours_per_credit_note": self.rework_hours_per_credit_note,
            "loaded_hourly_rate": self.loaded_hourly_rate,
            "cost_per_credit_note": self.cost_per_credit_note,
            "penalty_rate": self.penalty_rate,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            item.name: (str(value) if isinstance(value, Decimal) else value)
            for item in fields(self)
            for value in [getattr(self, item.name)]
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditParameters:
        known = {item.name for item in fields(cls)}
        values: dict[str, Any] = {
            key: value for key, value in data.items() if key in known and value is not None
        }
        if "payment_terms_days" in values:
            values["payment_terms_days"] = int(values["payment_terms_days"])
        return cls(**values)


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class FileInfo:
    """The audited FEC: what identifies it (never its content)."""

    name: str
    size_bytes: int
    sha256: str
    encoding: str
    separator: str
    records: int
    siren: str | None
    closing_date_from_name: dt.date | None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "encoding": self.encoding,
            "separator": "tab" if self.separator == "\t" else self.separator,
            "records": self.records,
            "siren": self.siren,
            "closing_date_from_name": _iso(self.closing_date_from_name),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileInfo:
        separator = str(data.get("separator") or "")
        return cls(
            name=str(data["name"]),
            size_bytes=int(data.get("size_bytes") or 0),
            sha256=str(data.get("sha256") or ""),
            encoding=str(data.get("encoding") or ""),
            separator="\t" if separator == "tab" else separator,
            records=int(data.get("records") or 0),
            siren=data.get("siren"),
            closing_date_from_name=_date(data.get("closing_date_from_name")),
        )


@dataclass(frozen=True)
class AuditFigures:
    """The figures the assessment reads, in their JSON form (amounts as strings, days and
    rates as numbers, undefined as None), so that a stored run can be re-assessed.

    `kpis`: kpis.md's "From a FEC file" names (FEC) or its "Names in JSON" (Levier).
    `monthly`: the 12 months up to d (sales TTC, receivables at month end, 90-day DSO).
    `late_invoices`: count, amount TTC and Σ amount × days late (the levers' input).
    `extras`: what the levers or the report need beyond kpis.md's names."""

    source: Source
    as_of: dt.date
    kpis: dict[str, Any]
    monthly: list[dict[str, Any]] = field(default_factory=list)
    customer_concentration: dict[str, Any] | None = None
    top_customers_receivables: list[dict[str, Any]] = field(default_factory=list)
    late_payers: list[dict[str, Any]] = field(default_factory=list)
    late_payers_basis: str = ""
    late_invoices: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def flat(self) -> dict[str, Any]:
        """kpis, extras and `late_invoices` in one mapping: what prefill, compare and
        inputs_from_figures look figures up in."""
        return {**self.kpis, **self.extras, "late_invoices": self.late_invoices}

    def as_json(self) -> dict[str, Any]:
        return {
            "kpis": self.kpis,
            "monthly": self.monthly,
            "customer_concentration": self.customer_concentration,
            "top_customers_receivables": self.top_customers_receivables,
            "late_payers": self.late_payers,
            "late_payers_basis": self.late_payers_basis,
            "late_invoices": self.late_invoices,
            "extras": self.extras,
        }

    @classmethod
    def from_json(cls, source: Source, as_of: dt.date, data: Mapping[str, Any]) -> AuditFigures:
        return cls(
            source=source,
            as_of=as_of,
            kpis=dict(data["kpis"]),
            monthly=list(data.get("monthly") or []),
            customer_concentration=data.get("customer_concentration"),
            top_customers_receivables=list(data.get("top_customers_receivables") or []),
            late_payers=list(data.get("late_payers") or []),
            late_payers_basis=str(data.get("late_payers_basis") or ""),
            late_invoices=dict(data.get("late_invoices") or {}),
            extras=dict(data.get("extras") or {}),
        )


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _date(value: object) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value else None


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP) + ZERO:.2f}"


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _ratio(part: Decimal, whole: Decimal, step: Decimal = RATE) -> Decimal | None:
    if whole <= 0:
        return None
    return (part / whole).quantize(step, rounding=ROUND_HALF_UP)


def fec_audit_figures(figures: FecFigures) -> AuditFigures:
    """A FEC's figures as the assessment reads them (kpis.md's FEC names under `kpis`)."""
    data = figures.as_json()
    return AuditFigures(
        source="fec",
        as_of=figures.as_of,
        kpis=data["kpis"],
        monthly=data["monthly"],
        customer_concentration=data["customer_concentration"],
        top_customers_receivables=list(data["kpis"]["top_customers_receivables"]),
        late_payers=[
            {
                "customer": payer["customer"],
                "name": payer["name"],
                "amount": payer["amount"],
                "oldest": payer["oldest_invoice"],
                "count": payer["count"],
            }
            for payer in data["late_payers"]
        ],
        late_payers_basis="invoice_date_over_60_days",
        late_invoices=data["late_invoices"],
        extras={"settlement_count": data["settlement_count"]},
    )


# --------------------------------------------------------------------------- Levier's figures


def _month(value: object) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value  # type: ignore[return-value]


def _levier_monthly(as_of: dt.date) -> list[dict[str, Any]]:
    """Sales TTC per month, receivables at each month end and the 90-day DSO there, for the
    12 months up to d (d's month cut at d), in four GROUP BY queries.

    AR(t) (kpis.md, as `levier.kpis.receivables.receivables`) is the invoices issued by t,
    less the credit notes issued by t on invoices issued by t, less the payments received by
    t allocated to invoices issued by t: each credit note or allocation counts from the later
    of its two months, so summing those groups month by month gives AR at every month end."""
    starts = [add_months(as_of.replace(day=1), -offset) for offset in range(MONTHS - 1, -1, -1)]
    ends = [min(add_months(start, 1) - dt.timedelta(days=1), as_of) for start in starts]
    issued = Q(status=InvoiceStatus.ISSUED)
    movement: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)  # month → change of AR
    for row in (
        Invoice.objects.filter(issued, kind=DocumentKind.INVOICE, issue_date__lte=as_of)
        .annotate(month=TruncMonth("issue_date"))
        .order_by()
        .values("month")
        .annotate(total=Sum("total_gross"))
    ):
        movement[_month(row["month"])] += Decimal(row["total"])
    for queryset, first, second, amount in (
        (
            Invoice.objects.filter(
                issued,
                kind=DocumentKind.CREDIT_NOTE,
                issue_date__lte=as_of,
                credited_invoice__issue_date__lte=as_of,
            ),
            "issue_date",
            "credited_invoice__issue_date",
            "total_gross",
        ),
        (
            Allocation.objects.filter(
                payment__received_on__lte=as_of, invoice__issue_date__lte=as_of
            ),
            "payment__received_on",
            "invoice__issue_date",
            "amount",
        ),
    ):
        rows = (
            queryset.annotate(first=TruncMonth(first), second=TruncMonth(second))
            .order_by()
            .values("first", "second")
            .annotate(total=Sum(amount))
        )
        for row in rows:
            movement[max(_month(row["first"]), _month(row["second"]))] -= Decimal(row["total"])
    earliest = ends[0] - dt.timedelta(days=90)
    daily: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    for row in (
        Invoice.objects.filter(
            issued,
            kind__in=(DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE),
            issue_date__gt=earliest,
            issue_date__lte=as_of,
        )
        .order_by()
        .values("issue_date", "kind")
        .annotate(total=Sum("total_gross"))
    ):
        sign = 1 if row["kind"] == DocumentKind.INVOICE else -1
        daily[row["issue_date"]] += sign * Decimal(row["total"])
    months = sorted(movement)
    result = []
    for start, end in zip(starts, ends, strict=True):
        ar = sum((movement[month] for month in months if month <= start), ZERO)
        sales = sum((amount for day, amount in daily.items() if start <= day <= end), ZERO)
        window = end - dt.timedelta(days=90)
        sales_90 = sum((amount for day, amount in daily.items() if window < day <= end), ZERO)
        dso = None
        if sales_90 != 0:
            dso = (ar / sales_90 * 90).quantize(DAYS, rounding=ROUND_HALF_UP)
        result.append(
            {
                "month": start.isoformat()[:7],
                "sales_ttc": _money(sales),
                "receivables_ttc": _money(ar),
                "dso_simple_90d": _number(dso),
                "average_days_to_pay": None,
            }
        )
    return result


def _levier_concentration(
    as_of: dt.date, receivables: Decimal, sales_365: Decimal
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Receivables per customer at d (summed from `open_parts`, grouped by customer) and
    sales TTC per customer over the year: the top 1/5/10 shares and the ten largest
    balances."""
    balances: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for part in open_parts(None, as_of):
        for debtor, total in (
            part.order_by()
            .values_list("debtor")
            .annotate(total=Sum("signed", output_field=_AMOUNT))
        ):
            balances[debtor] += Decimal(total)
    sales: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in (
        Invoice.objects.filter(
            status=InvoiceStatus.ISSUED,
            kind__in=(DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE),
            issue_date__gt=as_of - dt.timedelta(days=365),
            issue_date__lte=as_of,
        )
        .order_by()
        .values("customer", "kind")
        .annotate(total=Sum("total_gross"))
    ):
        sign = 1 if row["kind"] == DocumentKind.INVOICE else -1
        sales[row["customer"]] += sign * Decimal(row["total"])
    owing = sorted(
        ((amount, pk) for pk, amount in balances.items() if amount > 0), key=lambda p: (-p[0], p[1])
    )
    selling = sorted((amount for amount in sales.values() if amount > 0), reverse=True)

    def shares(amounts: list[Decimal], whole: Decimal) -> dict[str, float | None]:
        return {f"top_{n}": _number(_ratio(sum(amounts[:n], ZERO), whole)) for n in (1, 5, TOP)}

    names = dict(
        Customer.objects.filter(pk__in=[pk for _a, pk in owing[:TOP]]).values_list("pk", "name")
    )
    concentration = {
        "customers_with_balance": len(owing),
        "receivables_share": shares([amount for amount, _pk in owing], receivables),
        "customers_with_sales_365d": len(selling),
        "sales_365d_share": shares(selling, sales_365),
    }
    top = [
        {
            "customer": str(pk),
            "name": names.get(pk, ""),
            "balance": _money(amount),
            "share": _number(_ratio(amount, receivables)),
        }
        for amount, pk in owing[:TOP]
    ]
    return concentration, top


def _levier_late_invoices(as_of: dt.date) -> dict[str, Any]:
    """Invoices issued in the year to d paid after their due date, or open past it at d."""
    end = Case(
        When(settled_on__lte=as_of, then=F("settled_on")),
        default=Value(as_of, output_field=DateField()),
        output_field=DateField(),
    )
    late = (
        invoices_issued(as_of, LEVIER_PERIOD_DAYS)
        .filter(due_date__isnull=False)
        .annotate(late_days=DaysBetween(end, "due_date"))
        .filter(late_days__gt=0)
        .aggregate(
            count=Count("pk"),
            amount=Coalesce(Sum("total_gross"), Value(ZERO), output_field=_AMOUNT),
            amount_days=Coalesce(
                Sum(F("total_gross") * F("late_days"), output_field=_AMOUNT),
                Value(ZERO),
                output_field=_AMOUNT,
            ),
        )
    )
    return {
        "payment_terms_days": None,
        "count": int(late["count"]),
        "amount_ttc": _money(Decimal(late["amount"])),
        "amount_days": _money(Decimal(late["amount_days"])),
    }


def levier_audit_figures(as_of: dt.date) -> AuditFigures:
    """Levier's own figures at d: `compute_kpis` over 365 days, and what the levers and the
    report need beside it (aggregate queries; nothing loops over documents)."""
    kpis = compute_kpis(as_of, LEVIER_PERIOD_DAYS)
    notes = credit_notes_issued(as_of, LEVIER_PERIOD_DAYS).aggregate(
        count=Count("pk"), net=Coalesce(Sum("total_net"), Value(ZERO), output_field=_AMOUNT)
    )
    invoiced = invoices_issued(as_of, LEVIER_PERIOD_DAYS).aggregate(
        count=Count("pk"), net=Coalesce(Sum("total_net"), Value(ZERO), output_field=_AMOUNT)
    )
    concentration, top = _levier_concentration(as_of, kpis.receivables_ttc, kpis.sales_ttc_period)
    return AuditFigures(
        source="levier",
        as_of=as_of,
        kpis=kpis.as_json(),
        monthly=_levier_monthly(as_of),
        customer_concentration=concentration,
        top_customers_receivables=top,
        late_payers=[
            {
                "customer": str(row.customer_id),
                "name": row.name,
                "amount": _money(row.overdue),
                "oldest": row.oldest_due.isoformat(),
                "count": row.invoices,
            }
            for row in top_overdue_customers(as_of, limit=TOP)
        ],
        late_payers_basis="due_date",
        late_invoices=_levier_late_invoices(as_of),
        extras={
            "invoice_count": int(invoiced["count"]),
            "credit_note_count": int(notes["count"]),
            "sales_ht_365d": _money(Decimal(invoiced["net"]) - Decimal(notes["net"])),
        },
    )


# --------------------------------------------------------------------------- the assessment


@dataclass(frozen=True)
class BenchmarkRow:
    """A figure of the report's benchmark table: its comparison, or why there is none."""

    key: str
    value: Decimal | None
    unit: str  # "days" or "ratio"
    comparison: Comparison | None
    no_figure: NoFigure | None


@dataclass(frozen=True)
class AuditResult:
    source: Source
    as_of: dt.date
    company_name: str
    company_siren: str | None
    file: FileInfo | None
    parameters: AuditParameters
    figures: AuditFigures
    benchmarks: tuple[BenchmarkRow, ...]
    answers: Answers
    prefilled: dict[str, Prefilled]
    maturity: Maturity
    levers: tuple[Lever, ...]
    plan: ActionPlan
    quality: QualityReport | None
    generated_at: dt.datetime

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        return tuple(row.comparison for row in self.benchmarks if row.comparison is not None)


def _benchmark_rows(figures: AuditFigures) -> tuple[BenchmarkRow, ...]:
    keys = FEC_BENCHMARK_KEYS if figures.source == "fec" else LEVIER_BENCHMARK_KEYS
    rows = []
    for key in keys:
        value = to_figure(figures.kpis.get(key), key)
        rows.append(
            BenchmarkRow(
                key=key,
                value=value,
                unit="ratio" if key in RATIO_KEYS else "days",
                comparison=compare(key, value),
                no_figure=no_figure(key),
            )
        )
    return tuple(rows)


def _answers(answers: Mapping[str, int | None] | None) -> Answers:
    if answers is None:
        return Answers({})
    if isinstance(answers, Answers):
        return answers
    return Answers.build(answers)


def _assess(
    figures: AuditFigures,
    *,
    answers: Mapping[str, int | None] | None,
    parameters: AuditParameters,
    company_name: str,
    company_siren: str | None,
    file: FileInfo | None = None,
    quality: QualityReport | None = None,
) -> AuditResult:
    """Everything after the figures, the same for both sources."""
    checked = _answers(answers)
    flat = figures.flat()
    prefilled = prefill(flat)
    maturity = score(checked, prefilled)
    claimed = share_claimed_from_score(maturity.result(PENALTIES_QUESTION_ID).score)
    extra: dict[str, object] = {}
    if figures.extras.get("sales_ht_365d") is not None:
        extra["sales_ht_365d"] = Decimal(str(figures.extras["sales_ht_365d"]))
    try:
        inputs = inputs_from_figures(
            flat, **parameters.lever_parameters(), penalties_share_claimed=claimed, **extra
        )
    except LeverInputsError as exc:
        raise AuditError(str(exc)) from None
    levers = tuple(compute_levers(inputs))
    benchmarks = _benchmark_rows(figures)
    plan = build_action_plan(
        maturity, levers, [row.comparison for row in benchmarks if row.comparison]
    )
    return AuditResult(
        source=figures.source,
        as_of=figures.as_of,
        company_name=company_name,
        company_siren=company_siren,
        file=file,
        parameters=parameters,
        figures=figures,
        benchmarks=benchmarks,
        answers=checked,
        prefilled=prefilled,
        maturity=maturity,
        levers=levers,
        plan=plan,
        quality=quality,
        generated_at=timezone.now(),
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def audit_fec(
    path: Path | str,
    *,
    answers: Mapping[str, int | None] | None = None,
    as_of: dt.date | None = None,
    parameters: AuditParameters | None = None,
    progress: Callable[[int, int], None] | None = None,
    sha256: str | None = None,
) -> AuditResult:
    """Audit a FEC. Raises `FecUnreadable` (its message names the file and the reason) when
    nothing in it can be trusted; otherwise the lines that could not be used are left out
    and listed in the result's quality report. `sha256`: when the caller hashed the file
    while receiving it."""
    parameters = parameters or AuditParameters()
    path = Path(path)
    checked = _answers(answers)  # a bad answer is refused before the file is read
    with load_fec(path, progress=progress) as book:
        figures = compute_fec_figures(
            book, as_of=as_of, payment_terms_days=parameters.payment_terms_days
        )
        info = FileInfo(
            name=path.name,
            size_bytes=path.stat().st_size,
            sha256=sha256 or file_sha256(path),
            encoding=book.encoding,
            separator=book.separator,
            records=book.record_count,
            siren=book.siren,
            closing_date_from_name=book.closing_date_from_name,
        )
        quality = book.quality
    name = parameters.company_name or (
        _("SIREN %(siren)s") % {"siren": info.siren} if info.siren else info.name
    )
    return _assess(
        fec_audit_figures(figures),
        answers=checked,
        parameters=parameters,
        company_name=name,
        company_siren=info.siren,
        file=info,
        quality=quality,
    )


def audit_levier(
    *,
    as_of: dt.date,
    answers: Mapping[str, int | None] | None = None,
    parameters: AuditParameters | None = None,
) -> AuditResult:
    """Audit Levier's own books at `as_of`."""
    parameters = parameters or AuditParameters()
    checked = _answers(answers)
    profile = CompanyProfile.objects.filter(pk=1).first()  # read only: never created here
    name = parameters.company_name or (
        (profile.legal_name if profile else "") or settings.LEVIER_COMPANY_NAME
    )
    return _assess(
        levier_audit_figures(as_of),
        answers=checked,
        parameters=parameters,
        company_name=name,
        company_siren=(profile.siren or None) if profile else None,
    )


def _quality_from_json(data: Mapping[str, Any] | None) -> QualityReport | None:
    if not data:
        return None
    totals = data["totals"]
    return QualityReport(
        totals=QualityTotals(
            records_read=int(totals["records_read"]),
            records_used=int(totals["records_used"]),
            blank_lines=int(totals["blank_lines"]),
            pieces=int(totals["pieces"]),
            pieces_unbalanced=int(totals["pieces_unbalanced"]),
            total_debit=Decimal(str(totals["total_debit"])),
            total_credit=Decimal(str(totals["total_credit"])),
        ),
        issues=tuple(
            QualityIssue(
                code=str(issue["code"]),
                severity=issue["severity"],
                message=str(issue["message"]),
                count=int(issue["count"]),
                sample_lines=tuple(int(line) for line in issue.get("sample_lines") or ()),
                details=tuple(str(text) for text in issue.get("details") or ()),
            )
            for issue in data.get("issues") or ()
        ),
    )


def answers_from_json(data: Mapping[str, Any] | None) -> Answers:
    """The `answers` object of a report's JSON back as Answers (checked again)."""
    if not data:
        return Answers({})
    return Answers.build(dict(data.get("scores") or {}), comments=dict(data.get("comments") or {}))


def result_from_json(
    data: Mapping[str, Any],
    *,
    answers: Mapping[str, int | None] | None = None,
    parameters: AuditParameters | None = None,
) -> AuditResult:
    """Re-assess a stored report (its `report_json`) with other answers or parameters: the
    figures are those stored, the FEC is not read again (it is not kept)."""
    source: Source = "fec" if data["source"] == "fec" else "levier"
    as_of = dt.date.fromisoformat(str(data["as_of"]))
    figures = AuditFigures.from_json(source, as_of, data)
    stored = AuditParameters.from_json(data.get("parameters") or {})
    company = data.get("company") or {}
    parameters = parameters or stored
    if parameters.payment_terms_days != stored.payment_terms_days and source == "fec":
        # The FEC's late invoices were counted with the stored terms; keep them.
        parameters = replace(parameters, payment_terms_days=stored.payment_terms_days)
    file_data = data.get("file")
    return _assess(
        figures,
        answers=answers if answers is not None else answers_from_json(data.get("answers")),
        parameters=parameters,
        company_name=parameters.company_name or str(company.get("name") or ""),
        company_siren=company.get("siren"),
        file=FileInfo.from_json(file_data) if file_data else None,
        quality=_quality_from_json(data.get("quality")),
    )


# --------------------------------------------------------------------------- stored runs


def _summary(result: AuditResult) -> dict[str, Any]:
    return {
        "maturity_score": result.maturity.overall,
        "cash_total": sum(
            (
                lever.amount or ZERO
                for lever in result.levers
                if lever.kind is LeverKind.ONE_OFF_CASH
            ),
            ZERO,
        ),
        "yearly_total": sum(
            (lever.amount or ZERO for lever in result.levers if lever.kind is LeverKind.YEARLY),
            ZERO,
        ),
    }


def save_audit_run(*, actor: User, result: AuditResult) -> AuditRun:
    """Keep an audit (its figures, answers and report JSON; never the FEC), audited."""
    from levier.advaudit.report import report_json

    require(actor, Action.RUN_ADV_AUDIT)
    data = report_json(result)
    with transaction.atomic():
        run = AuditRun.objects.create(
            created_by=actor,
            source=result.source,
            company_name=result.company_name[:200],
            file_name=result.file.name[:255] if result.file else "",
            file_sha256=result.file.sha256 if result.file else "",
            file_size=result.file.size_bytes if result.file else None,
            as_of=result.as_of,
            parameters=result.parameters.as_json(),
            answers=data["answers"],
            result=data,
            **_summary(result),
        )
        record_event(
            actor=actor,
            verb=Verb.CREATE,
            instance=run,
            changes={
                "source": run.source,
                "file_name": run.file_name,
                "file_sha256": run.file_sha256,
                "file_size": run.file_size,
                "as_of": run.as_of,
                "parameters": run.parameters,
                "answers": run.answers,
            },
            comment=_("ADV audit of %(company)s at %(date)s")
            % {"company": run.company_name, "date": run.as_of.strftime("%d/%m/%Y")},
        )
    return run


def rescore_audit_run(
    *,
    actor: User,
    run: AuditRun,
    answers: Mapping[str, int | None],
    comments: Mapping[str, str] | None = None,
) -> AuditRun:
    """New answers for a stored audit: maturity, levers and plan computed again from its
    stored figures; the run keeps its id, the trail keeps the answers before and after."""
    require(actor, Action.RUN_ADV_AUDIT)
    checked = Answers.build(answers, comments=comments)
    with transaction.atomic():
        locked = AuditRun.objects.select_for_update().get(pk=run.pk)
        before = locked.answers
        result = result_from_json(locked.result, answers=checked)
        from levier.advaudit.report import report_json

        data = report_json(result)
        locked.answers = data["answers"]
        locked.result = data
        for name, value in _summary(result).items():
            setattr(locked, name, value)
        locked.save(
            update_fields=["answers", "result", "maturity_score", "cash_total", "yearly_total"]
        )
        record_event(
            actor=actor,
            verb=Verb.UPDATE,
            instance=locked,
            changes={"answers": [before, locked.answers]},
            comment=_("ADV audit answers changed"),
        )
    return locked
