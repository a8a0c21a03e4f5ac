"""The documents behind each figure: every KPI opens the list it was computed from.

Each list is built from the very queryset its KPI aggregates (`levier.kpis.activity`,
`collection`, `process`, `levier.collections.aging.open_items`), so the number on the
dashboard and the total of its list cannot disagree. Rows are plain dicts (column key →
value, plus `url`: the document's page), read lazily by slices for the paginated page and
in chunks for the CSV / XLSX exports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, overload

from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from levier.accounts.choices import Role
from levier.billing.choices import CreditReason, DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.catalog.choices import InvoicingMode
from levier.collections.aging import open_items
from levier.collections.choices import DisputeReason
from levier.collections.models import Dispute
from levier.contracts.cutoff import compute_cutoff
from levier.contracts.models import Contract
from levier.kpis import activity, collection, process
from levier.kpis.breakdowns import MODE_LABELS, OTHER, with_invoicing_mode
from levier.kpis.sql import DaysBetween
from levier.lib.errors import ValidationFailed

ZERO = Decimal("0.00")
_AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=18, decimal_places=2)
BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    kind: str  # text, money, date, days, int, hours, rate


class _Pages(Sequence[dict[str, Any]]):
    """A list of rows read a page at a time (`_page`): what the paginated page slices, what
    `count()` and `len()` measure."""

    def count(self) -> int:  # type: ignore[override]
        return len(self)

    def _page(self, index: slice) -> list[dict[str, Any]]:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return self._page(index)
        if index < 0:
            index += len(self)
        page = self._page(slice(index, index + 1)) if index >= 0 else []
        if not page:
            raise IndexError(index)
        return page[0]


class Rows(_Pages):
    """A lazy list of rows over a queryset: `len()` counts in SQL, slices fetch one page."""

    def __init__(self, queryset: QuerySet[Any], to_row: Callable[[Any], dict[str, Any]]):
        self.queryset = queryset
        self.to_row = to_row
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = self.queryset.count()
        return self._count

    def _page(self, index: slice) -> list[dict[str, Any]]:
        return [self.to_row(obj) for obj in self.queryset[index]]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for obj in self.queryset.iterator(chunk_size=2000):
            yield self.to_row(obj)


@dataclass(frozen=True)
class DrillDown:
    key: str
    title: str | Promise
    explanation: str | Promise
    columns: tuple[Column, ...]
    rows: Sequence[dict[str, Any]]
    total: Decimal | None
    as_of: dt.date
    period_days: int


def _url_maker(name: str) -> Callable[[int | None], str]:
    """reverse() once: rows of a 100,000-line export must not each resolve the URL."""
    pattern = reverse(f"web:{name}", args=[987654321])

    def url(pk: int | None) -> str:
        return "" if pk is None else pattern.replace("987654321", str(pk))

    return url


# --- columns -------------------------------------------------------------------------------

NUMBER = Column("number", _("Number"), "text")
CUSTOMER = Column("customer", _("Customer"), "text")
ISSUED = Column("issue_date", _("Issued on"), "date")
DUE = Column("due_date", _("Due on"), "date")
TOTAL_TTC = Column("total_gross", _("Total incl. VAT"), "money")
TOTAL_HT = Column("total_net", _("Total excl. VAT"), "money")
OPEN = Column("open_at", _("Open amount"), "money")
DAYS_LATE = Column("days_late", _("Days late"), "days")


def _invoice_row(fields: Sequence[str]) -> Callable[[Any], dict[str, Any]]:
    url = _url_maker("invoice_detail")

    def row(invoice: Any) -> dict[str, Any]:
        values = {name: getattr(invoice, name, None) for name in fields}
        values["number"] = invoice.number
        values["customer"] = invoice.customer.name
        values["url"] = url(invoice.pk)
        return values

    return row


_INVOICE_FIELDS = frozenset(field.name for field in Invoice._meta.concrete_fields)


def _shown(invoices: QuerySet[Any], *fields: str) -> QuerySet[Any]:
    """The invoices with their customer, loading only what `_invoice_row` shows (number,
    customer name, and those of `fields` that are the invoice's own columns, not
    annotations): an export reads tens of thousands of them, and whole invoices and
    customers as models cost about 0.25 ms a row (bench/kpis.py's database)."""
    own = [name for name in fields if name in _INVOICE_FIELDS]
    return invoices.select_related("customer").only("number", "customer__name", *own)


def _customer_filter(filters: Mapping[str, str]) -> int | None:
    raw = (filters.get("customer") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationFailed.on("customer", str(_("customer: not a customer id")))
    return int(raw)


def _with_customer(queryset: QuerySet[Any], customer: int | None, path: str) -> QuerySet[Any]:
    return queryset if customer is None else queryset.filter(**{path: customer})


def _sum(queryset: QuerySet[Any], expression: Any) -> Decimal:
    total = queryset.aggregate(
        total=Coalesce(Sum(expression, output_field=_AMOUNT), Value(ZERO), output_field=_AMOUNT)
    )["total"]
    return Decimal(total).quantize(Decimal("0.01"))


# --- the lists -----------------------------------------------------------------------------


def _open_invoices(
    as_of: dt.date, filters: Mapping[str, str], where: Q | None = None
) -> tuple[QuerySet[Any], Rows, Decimal]:
    fields = ("issue_date", "due_date", "total_gross", "open_at", "days_late")
    invoices = _shown(open_items(None, as_of), *fields)
    invoices = _with_customer(invoices, _customer_filter(filters), "customer_id")
    if where is not None:
        invoices = invoices.filter(where)
    invoices = invoices.annotate(days_late=DaysBetween(Value(as_of), "due_date")).order_by(
        "due_date", "pk"
    )
    return invoices, Rows(invoices, _invoice_row(fields)), _sum(invoices, F("open_at"))


def _bucket(as_of: dt.date, bucket: str) -> Q:
    days = dt.timedelta
    if bucket == "not_due":
        return Q(due_date__gte=as_of) | Q(due_date__isnull=True)
    if bucket == "over_90":
        return Q(due_date__lte=as_of - days(days=91))
    first, last = (int(part) for part in bucket.split("_"))
    return Q(due_date__lte=as_of - days(days=first), due_date__gte=as_of - days(days=last))


OPEN_COLUMNS = (NUMBER, CUSTOMER, ISSUED, DUE, DAYS_LATE, TOTAL_TTC, OPEN)


def _receivables(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    _qs, rows, total = _open_invoices(as_of, filters)
    return DrillDown(
        "receivables",
        _("Receivables"),
        _(
            "Invoices issued on or before the date with something left to pay that day: "
            "total incl. VAT, less the credit notes and payments dated on or before it."
        ),
        OPEN_COLUMNS,
        rows,
        total,
        as_of,
        period,
    )


def _dso(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    _qs, rows, total = _open_invoices(as_of, filters)
    return DrillDown(
        "dso",
        _("DSO: the receivables behind it"),
        _(
            "DSO = receivables ÷ sales incl. VAT of the last P days × P. These are the "
            "invoices open at the date; the sales are in the « Sales » list."
        ),
        OPEN_COLUMNS,
        rows,
        total,
        as_of,
        period,
    )


def _aged(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    bucket = (filters.get("bucket") or "").strip()
    if bucket and bucket not in BUCKETS:
        raise ValidationFailed.on("bucket", str(_("bucket: one of %s") % ", ".join(BUCKETS)))
    _qs, rows, total = _open_invoices(as_of, filters, _bucket(as_of, bucket) if bucket else None)
    return DrillDown(
        "aged_balance",
        _("Aged balance"),
        _("Open amounts at the date by days past the due date (not due, 1–30, 31–60, 61–90, >90)."),
        OPEN_COLUMNS,
        rows,
        total,
        as_of,
        period,
    )


def _overdue(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    _qs, rows, total = _open_invoices(as_of, filters, Q(due_date__lt=as_of))
    return DrillDown(
        "overdue",
        _("Overdue invoices"),
        _("Overdue ratio = open amounts past their due date ÷ receivables."),
        OPEN_COLUMNS,
        rows,
        total,
        as_of,
        period,
    )


def _sales(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    after, until = activity.window(as_of, period)
    documents = Invoice.objects.filter(
        status=InvoiceStatus.ISSUED, issue_date__gt=after, issue_date__lte=until
    )
    documents = _with_customer(documents, _customer_filter(filters), "customer_id")
    signed = Case(
        When(kind=DocumentKind.CREDIT_NOTE, then=-F("total_gross")),
        default=F("total_gross"),
        output_field=_AMOUNT,
    )
    fields = ("issue_date", "signed_total")
    documents = (
        _shown(documents, "kind", *fields)
        .annotate(signed_total=signed)
        .order_by("issue_date", "number")
    )
    to_row = _invoice_row(fields)

    def row(document: Any) -> dict[str, Any]:
        values = to_row(document)
        values["kind"] = document.get_kind_display()
        return values

    return DrillDown(
        "sales",
        _("Sales incl. VAT"),
        _("Invoices less credit notes issued in the period, incl. VAT."),
        (
            NUMBER,
            Column("kind", _("Document"), "text"),
            CUSTOMER,
            ISSUED,
            Column("signed_total", _("Amount incl. VAT"), "money"),
        ),
        Rows(documents, row),
        _sum(documents, signed),
        as_of,
        period,
    )


def _invoicing_delay(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    invoices = with_invoicing_mode(
        activity.with_invoicing_delay(activity.invoices_issued(as_of, period))
    )
    mode = (filters.get("mode") or "").strip()
    if mode:
        if mode not in (*InvoicingMode.values, OTHER):
            raise ValidationFailed.on("mode", str(_("mode: not an invoicing mode")))
        invoices = invoices.filter(mode=mode)
    invoices = _with_customer(invoices, _customer_filter(filters), "customer_id")
    fields = ("billable_on", "issue_date", "delay_days", "total_net")
    invoices = _shown(invoices, *fields).order_by("-delay_days", "issue_date", "pk")
    to_row = _invoice_row(fields)

    def row(invoice: Any) -> dict[str, Any]:
        values = to_row(invoice)
        values["mode"] = str(MODE_LABELS.get(invoice.mode, invoice.mode))
        return values

    return DrillDown(
        "invoicing_delay",
        _("Invoicing delay"),
        _(
            "Invoices issued in the period with the days from the date they could be issued "
            "(delivery, milestone, period) to their issue; the KPI is the mean."
        ),
        (
            NUMBER,
            CUSTOMER,
            Column("mode", _("Invoicing mode"), "text"),
            Column("billable_on", _("Billable on"), "date"),
            ISSUED,
            Column("delay_days", _("Delay (days)"), "days"),
            TOTAL_HT,
        ),
        Rows(invoices, row),
        _sum(invoices, F("total_net")),
        as_of,
        period,
    )


def _credit_notes(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    notes = activity.credit_notes_issued(as_of, period)
    notes = _with_customer(notes, _customer_filter(filters), "customer_id")
    notes = notes.select_related("customer", "credited_invoice").order_by("issue_date", "number")
    to_row = _invoice_row(("issue_date", "total_net"))
    reasons = dict(CreditReason.choices)

    def row(note: Any) -> dict[str, Any]:
        values = to_row(note)
        values["credited"] = note.credited_invoice.number if note.credited_invoice else ""
        values["reason"] = str(reasons.get(note.credit_reason, note.credit_reason))
        return values

    return DrillDown(
        "credit_notes",
        _("Credit notes"),
        _("Credit notes issued in the period; the rate divides them by the invoices issued."),
        (
            NUMBER,
            Column("credited", _("Invoice credited"), "text"),
            CUSTOMER,
            ISSUED,
            Column("reason", _("Reason"), "text"),
            TOTAL_HT,
        ),
        Rows(notes, row),
        _sum(notes, F("total_net")),
        as_of,
        period,
    )


def _invoice_list(
    key: str,
    title: Promise,
    explanation: Promise,
    invoices: QuerySet[Any],
    as_of: dt.date,
    period: int,
    filters: Mapping[str, str],
) -> DrillDown:
    invoices = _with_customer(invoices, _customer_filter(filters), "customer_id")
    fields = ("issue_date", "due_date", "total_net", "total_gross")
    invoices = _shown(invoices, *fields).order_by("issue_date", "number")
    return DrillDown(
        key,
        title,
        explanation,
        (NUMBER, CUSTOMER, ISSUED, DUE, TOTAL_HT, TOTAL_TTC),
        Rows(invoices, _invoice_row(fields)),
        _sum(invoices, F("total_gross")),
        as_of,
        period,
    )


def _invoice_errors(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    return _invoice_list(
        "invoice_errors",
        _("Invoices found wrong"),
        _(
            "Invoices issued in the period that got a credit note for a billing error or a "
            "dispute for a billing reason (price, quantity, duplicate, missing PO)."
        ),
        activity.invoices_in_error(as_of, period),
        as_of,
        period,
        filters,
    )


def _disputed_invoices(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    return _invoice_list(
        "disputed_invoices",
        _("Disputed invoices"),
        _("Invoices issued in the period with at least one dispute opened by the date."),
        activity.disputed_invoices(as_of, period),
        as_of,
        period,
        filters,
    )


def _dispute_rows(disputes: QuerySet[Dispute]) -> Rows:
    url = _url_maker("dispute_detail")
    reasons = dict(DisputeReason.choices)

    def row(dispute: Any) -> dict[str, Any]:
        return {
            "number": dispute.invoice.number,
            "customer": dispute.invoice.customer.name,
            "reason": str(reasons.get(dispute.reason, dispute.reason)),
            "opened_on": dispute.opened_on,
            "resolved_on": dispute.resolved_on,
            "resolution_days": getattr(dispute, "resolution_days", None),
            "due_on": dispute.due_on,
            "owner": str(dispute.owner),
            "amount": dispute.amount,
            "url": url(dispute.pk),
        }

    return Rows(disputes.select_related("invoice__customer", "owner"), row)


def _reason_filter(disputes: QuerySet[Dispute], filters: Mapping[str, str]) -> QuerySet[Dispute]:
    reason = (filters.get("reason") or "").strip()
    if not reason:
        return disputes
    if reason not in DisputeReason.values:
        raise ValidationFailed.on("reason", str(_("reason: not a dispute reason")))
    return disputes.filter(reason=reason)


def _disputes(
    key: str,
    title: Promise,
    explanation: Promise,
    disputes: QuerySet[Dispute],
    columns: tuple[Column, ...],
    as_of: dt.date,
    period: int,
    filters: Mapping[str, str],
) -> DrillDown:
    disputes = _with_customer(disputes, _customer_filter(filters), "invoice__customer_id")
    disputes = _reason_filter(disputes, filters).order_by("opened_on", "pk")
    return DrillDown(
        key,
        title,
        explanation,
        columns,
        _dispute_rows(disputes),
        _sum(disputes, F("amount")),
        as_of,
        period,
    )


INVOICE_OF_DISPUTE = Column("number", _("Invoice"), "text")
REASON = Column("reason", _("Reason"), "text")
OPENED = Column("opened_on", _("Opened on"), "date")
AMOUNT = Column("amount", _("Amount disputed"), "money")


def _dispute_resolution(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    return _disputes(
        "dispute_resolution",
        _("Disputes resolved"),
        _("Disputes resolved in the period, with the days from opening to resolution."),
        activity.disputes_resolved(as_of, period),
        (
            INVOICE_OF_DISPUTE,
            CUSTOMER,
            REASON,
            OPENED,
            Column("resolved_on", _("Resolved on"), "date"),
            Column("resolution_days", _("Days to resolve"), "days"),
            AMOUNT,
        ),
        as_of,
        period,
        filters,
    )


def _open_disputes(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    return _disputes(
        "open_disputes",
        _("Open disputes"),
        _("Disputes opened on or before the date and not resolved by then."),
        activity.open_disputes(as_of),
        (
            INVOICE_OF_DISPUTE,
            CUSTOMER,
            REASON,
            OPENED,
            Column("due_on", _("Resolution due"), "date"),
            Column("owner", _("Owner"), "text"),
            AMOUNT,
        ),
        as_of,
        period,
        filters,
    )


def _disputes_opened(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    after, until = activity.window(as_of, period)
    return _disputes(
        "disputes_opened",
        _("Disputes opened"),
        _("Disputes opened in the period, by reason."),
        Dispute.objects.filter(opened_on__gt=after, opened_on__lte=until),
        (
            INVOICE_OF_DISPUTE,
            CUSTOMER,
            REASON,
            OPENED,
            Column("resolved_on", _("Resolved on"), "date"),
            AMOUNT,
        ),
        as_of,
        period,
        filters,
    )


def _payment_delay(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    invoices = collection.invoices_settled(as_of - dt.timedelta(days=period), as_of)
    invoices = _with_customer(invoices, _customer_filter(filters), "customer_id")
    fields = ("due_date", "settled_on", "payment_delay_days", "total_gross")
    invoices = _shown(invoices, *fields).order_by("-payment_delay_days", "pk")
    return DrillDown(
        "payment_delay",
        _("Payment delay"),
        _(
            "Invoices settled in the period, with the days from their due date to the day "
            "they were fully paid or credited (negative: paid early)."
        ),
        (
            NUMBER,
            CUSTOMER,
            DUE,
            Column("settled_on", _("Settled on"), "date"),
            Column("payment_delay_days", _("Delay (days)"), "days"),
            TOTAL_TTC,
        ),
        Rows(invoices, _invoice_row(fields)),
        _sum(invoices, F("total_gross")),
        as_of,
        period,
    )


def _cei(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    start = as_of - dt.timedelta(days=period)
    invoices = Invoice.objects.filter(
        Q(settled_on__isnull=True) | Q(settled_on__gt=start),
        status=InvoiceStatus.ISSUED,
        kind=DocumentKind.INVOICE,
        issue_date__lte=as_of,
    )
    invoices = _with_customer(invoices, _customer_filter(filters), "customer_id")
    fields = ("issue_date", "due_date", "settled_on", "total_gross")
    invoices = _shown(invoices, *fields).order_by("issue_date", "number")
    return DrillDown(
        "cei",
        _("Collection effectiveness (CEI)"),
        _(
            "What there was to collect in the period: the invoices open at its start or "
            "issued during it, with the day each was settled (empty: still open)."
        ),
        (NUMBER, CUSTOMER, ISSUED, DUE, Column("settled_on", _("Settled on"), "date"), TOTAL_TTC),
        Rows(invoices, _invoice_row(fields)),
        _sum(invoices, F("total_gross")),
        as_of,
        period,
    )


def _order_validation(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    url = _url_maker("order_detail")
    role = (filters.get("role") or "").strip()
    if role:
        steps = process.steps_decided(as_of, period).filter(role=role)
        if role not in Role.values:
            raise ValidationFailed.on("role", str(_("role: not a role of the circuit")))
        steps = steps.select_related("order__customer").order_by("-step_hours", "pk")

        def step_row(step: Any) -> dict[str, Any]:
            return {
                "number": step.order.number,
                "customer": step.order.customer.name,
                "role": step.get_role_display(),
                "decided_at": step.decided_at,
                "hours": step.step_hours,
                "url": url(step.order_id),
            }

        return DrillDown(
            "order_validation",
            _("Validation step times"),
            _("Approved steps of the orders validated in the period, with the hours waited."),
            (
                NUMBER,
                CUSTOMER,
                Column("role", _("Step"), "text"),
                Column("decided_at", _("Decided at"), "date"),
                Column("hours", _("Hours"), "hours"),
            ),
            Rows(steps, step_row),
            None,
            as_of,
            period,
        )
    orders = process.orders_validated(as_of, period)
    orders = _with_customer(orders, _customer_filter(filters), "customer_id")
    orders = orders.select_related("customer").order_by("-validation_hours", "pk")

    def row(order: Any) -> dict[str, Any]:
        return {
            "number": order.number,
            "customer": order.customer.name,
            "submitted_at": order.submitted_at,
            "validated_at": order.validated_at,
            "hours": order.validation_hours,
            "total_net": order.total_net,
            "url": url(order.pk),
        }

    return DrillDown(
        "order_validation",
        _("Order validation time"),
        _("Orders validated in the period: hours from submission to the final approval."),
        (
            NUMBER,
            CUSTOMER,
            Column("submitted_at", _("Submitted at"), "date"),
            Column("validated_at", _("Validated at"), "date"),
            Column("hours", _("Hours"), "hours"),
            TOTAL_HT,
        ),
        Rows(orders, row),
        None,
        as_of,
        period,
    )


class _PlacedRows(_Pages):
    """The forecast's open invoices, placed and ordered in Python (`expected_collections`):
    a page, or a chunk of an export, reads its invoices by id."""

    def __init__(self, placed: list[collection.Expected], monday: dt.date):
        self.placed = placed
        self.monday = monday
        self.url = _url_maker("invoice_detail")

    def __len__(self) -> int:
        return len(self.placed)

    def _page(self, index: slice) -> list[dict[str, Any]]:
        placed = self.placed[index]
        # Two columns only, not the invoices and customers as models: an export reads
        # 79,000 of them (bench/kpis.py's database: about 0.25 ms a row as models).
        names = {
            pk: (number, customer)
            for pk, number, customer in Invoice.objects.filter(
                pk__in=[p.invoice_id for p in placed]
            ).values_list("pk", "number", "customer__name")
        }
        return [
            {
                "number": names[p.invoice_id][0],
                "customer": names[p.invoice_id][1],
                "due_date": p.due_date,
                "expected_delay": p.expected_delay,
                "open_at": p.open_at,
                "week_start": self.monday + dt.timedelta(weeks=p.forecast_week),
                "url": self.url(p.invoice_id),
            }
            for p in placed
        ]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for first in range(0, len(self.placed), 2000):
            yield from self._page(slice(first, first + 2000))


def _cash_forecast(as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    monday = collection.week_start(as_of)
    week = (filters.get("week") or "").strip()
    index: int | None = None
    if week:
        try:
            start = dt.date.fromisoformat(week)
        except ValueError:
            raise ValidationFailed.on("week", str(_("week: a date (YYYY-MM-DD)"))) from None
        index = (start - monday).days // 7
        if start.weekday() != 0 or not 0 <= index <= collection.FORECAST_WEEKS:
            raise ValidationFailed.on(
                "week", str(_("week: the Monday of one of the 13 weeks of the forecast"))
            )
    placed = collection.expected_collections(as_of, _customer_filter(filters))
    if index is not None:
        placed = [p for p in placed if p.forecast_week == index]
    total = sum((p.open_at for p in placed), ZERO).quantize(Decimal("0.01"))
    return DrillDown(
        "cash_forecast",
        _("Cash forecast"),
        _(
            "Open invoices placed at their due date plus the customer's usual payment delay "
            "(the company's when the customer settled fewer than 3 invoices in the year); "
            "overdue amounts in the current week."
        ),
        (
            NUMBER,
            CUSTOMER,
            DUE,
            Column("expected_delay", _("Usual delay (days)"), "days"),
            Column("week_start", _("Expected week of"), "date"),
            OPEN,
        ),
        _PlacedRows(placed, monday),
        total,
        as_of,
        period,
    )


class _ListRows(_Pages):
    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def _page(self, index: slice) -> list[dict[str, Any]]:
        return self.rows[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)


def _cutoff(which: str, as_of: dt.date, period: int, filters: Mapping[str, str]) -> DrillDown:
    customer = _customer_filter(filters)
    url = _url_maker("contract_detail")
    # Invoiced and earned per contract; the "no contract" row shows its FAE or PCA alone.
    cutoff = compute_cutoff(as_of, invoiced_without_contract=False)
    loose = str(_("Documents without a contract"))
    kept = None
    if customer is not None:
        kept = set(Contract.objects.filter(customer_id=customer).values_list("pk", flat=True))
    rows = [
        {
            "number": row.contract_number if row.contract_id is not None else loose,
            "customer": row.customer_name,
            "invoiced": row.invoiced if row.contract_id is not None else None,
            "earned": row.earned if row.contract_id is not None else None,
            which: getattr(row, which),
            "url": url(row.contract_id),
        }
        for row in cutoff.contracts
        if getattr(row, which) and (kept is None or row.contract_id in kept)
    ]
    total = sum((r[which] for r in rows), ZERO)
    if which == "fae":
        title, explanation = (
            _("Accrued revenue (FAE)"),
            _(
                "Per contract, revenue excl. VAT earned on or before the date and not invoiced by "
                "then: deliveries, milestones reached, elapsed part of periods billed in arrears, "
                "time and materials."
            ),
        )
    else:
        title, explanation = (
            _("Deferred revenue (PCA)"),
            _(
                "Per contract, the part of invoices issued on or before the date that pays for "
                "service after it (pro rata by days)."
            ),
        )
    return DrillDown(
        which,
        title,
        explanation,
        (
            Column("number", _("Contract"), "text"),
            CUSTOMER,
            Column("invoiced", _("Invoiced excl. VAT"), "money"),
            Column("earned", _("Earned excl. VAT"), "money"),
            Column(which, title, "money"),
        ),
        _ListRows(rows),
        total,
        as_of,
        period,
    )


Builder = Callable[[dt.date, int, Mapping[str, str]], DrillDown]

BUILDERS: dict[str, Builder] = {
    "receivables": _receivables,
    "sales": _sales,
    "dso": _dso,
    "invoicing_delay": _invoicing_delay,
    "credit_notes": _credit_notes,
    "invoice_errors": _invoice_errors,
    "fae": lambda d, p, f: _cutoff("fae", d, p, f),
    "pca": lambda d, p, f: _cutoff("pca", d, p, f),
    "disputed_invoices": _disputed_invoices,
    "dispute_resolution": _dispute_resolution,
    "open_disputes": _open_disputes,
    "disputes_opened": _disputes_opened,
    "aged_balance": _aged,
    "overdue": _overdue,
    "payment_delay": _payment_delay,
    "cei": _cei,
    "order_validation": _order_validation,
    "cash_forecast": _cash_forecast,
}
DRILLDOWN_KEYS = tuple(BUILDERS)


def drilldown(key: str, as_of: dt.date, period_days: int, filters: Mapping[str, str]) -> DrillDown:
    """The list behind one figure. KeyError for an unknown key; ValidationFailed for a bad
    filter (its message names the filter)."""
    return BUILDERS[key](as_of, period_days, filters)
