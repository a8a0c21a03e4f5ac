"""What is billable on a date: the heart of the billing run, computed without writing.

Each billable thing has a **billing key** naming it for good:

- ``L<line>:once``: a one-off line (on order: from signature; on delivery: once delivered);
- ``M<milestone>``: a milestone, once reached;
- ``L<line>:P:<period start>``: a period of a recurring line;
- ``L<line>:T:<YYYY-MM>``: a month of time and materials, after the month ends.

An invoice line stores the key of what it bills and the database refuses a key twice among
live lines (discarding a draft empties its keys). So the run computes "everything due on or
before the date" minus "every key already billed", and a rerun after a crash, or a second run
the same day, finds nothing left to bill.

Prices: a revisable recurring or T&M line due for its yearly price revision is billed at the
revised price from the anniversary on. When an index value is missing the revision is
**blocked**: the contract reports which index and month are missing, and nothing on or after
the anniversary is billed for its revisable lines until the value is entered (never billed at
the old price silently).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from django.db.models import Max, Q
from django.utils.translation import gettext as _

from levier.billing.models import InvoiceLine
from levier.catalog.choices import InvoicingMode, Unit
from levier.contracts.models import (
    Contract,
    ContractLine,
    IndexValue,
    Milestone,
    PriceRevision,
    TimeEntry,
)
from levier.lib.money import line_net
from levier.lib.periods import (
    ONE_DAY,
    BillingPeriod,
    Frequency,
    Period,
    add_months,
    billing_date,
    periods_due,
)
from levier.lib.revision import MissingIndex, RevisionResult, revise_on_anniversary

PRICE_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class BillableItem:
    key: str
    line: ContractLine
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount_percent: Decimal
    vat_rate: Decimal
    billable_on: dt.date
    period: Period | None = None
    milestone: Milestone | None = None

    @property
    def net_amount(self) -> Decimal:
        return line_net(self.quantity, self.unit_price, self.discount_percent)

    def as_invoice_line(self) -> dict[str, object]:
        """The raw line `levier.billing.services` turns into an invoice line."""
        return {
            "product_id": self.line.product_id or "",
            "description": self.description,
            "quantity": self.quantity,
            "unit": self.unit,
            "unit_price": self.unit_price,
            "discount_percent": self.discount_percent,
            "vat_rate": self.vat_rate,
        }


@dataclass(frozen=True)
class DueRevision:
    line: ContractLine
    anniversary: dt.date
    result: RevisionResult


@dataclass
class ContractBilling:
    """What one contract has to bill on the date, the revisions due and what blocks it."""

    contract: Contract
    items: list[BillableItem] = field(default_factory=list)
    revisions: list[DueRevision] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    @property
    def net_total(self) -> Decimal:
        return sum((item.net_amount for item in self.items), Decimal(0))


class ContractDates(Protocol):
    @property
    def start_date(self) -> dt.date: ...
    @property
    def end_date(self) -> dt.date | None: ...


class LineDates(Protocol):
    """What a line's schedule bounds read: a `ContractLine`, or the cut-off's plain rows."""

    @property
    def start_date(self) -> dt.date | None: ...
    @property
    def end_date(self) -> dt.date | None: ...
    @property
    def contract(self) -> ContractDates: ...


def _line_start(line: LineDates) -> dt.date:
    return line.start_date or line.contract.start_date


def _line_end(line: LineDates) -> dt.date | None:
    ends = [d for d in (line.end_date, line.contract.end_date) if d is not None]
    return min(ends) if ends else None


def _anniversaries(contract: Contract, as_of: dt.date) -> list[dt.date]:
    """Revision dates not yet applied, up to the billing horizon, oldest first."""
    dates: list[dt.date] = []
    k = 1
    while True:
        day = add_months(contract.start_date, 12 * k)
        if day > as_of:
            return dates
        if contract.last_revision_on is None or day > contract.last_revision_on:
            dates.append(day)
        k += 1


class _Revisions:
    """The price in force for each revisable line, period by period, with revisions due."""

    def __init__(
        self,
        contract: Contract,
        as_of: dt.date,
        index_values: dict[int, dict[dt.date, Decimal]],
        applied: dict[int, list[tuple[dt.date, Decimal, Decimal]]] | None = None,
    ) -> None:
        self.contract = contract
        # Revisions already applied, per line: (anniversary, previous price, new price).
        self.applied = applied or {}
        # (anniversary, {line id: new price}) in order; `blocked_from` stops everything after.
        self.steps: list[tuple[dt.date, dict[int, Decimal]]] = []
        self.due: list[DueRevision] = []
        self.blocked_from: dt.date | None = None
        self.message = ""
        series = contract.index_series
        if series is None:
            return
        lines = [
            line
            for line in contract.lines.all()
            if line.revisable
            and line.mode in (InvoicingMode.RECURRING, InvoicingMode.TIME_AND_MATERIALS)
        ]
        if not lines:
            return
        values = index_values.get(series.pk, {})
        prices = {line.pk: line.unit_price for line in lines}
        base = contract.base_index_month
        for anniversary in _anniversaries(contract, as_of):
            try:
                results = {
                    line.pk: revise_on_anniversary(
                        prices[line.pk],
                        series.code,
                        values,
                        anniversary,
                        publication_lag_months=series.publication_lag_months,
                        base_month=base,
                        fixed_part=contract.revision_fixed_part,
                        floor=contract.revision_floor,
                        cap=contract.revision_cap,
                    )
                    for line in lines
                    if _line_end(line) is None or _line_end(line) >= anniversary  # type: ignore[operator]
                }
            except MissingIndex as exc:
                self.blocked_from = anniversary
                self.message = _("%(contract)s, revision of %(date)s: %(reason)s") % {
                    "contract": contract.number,
                    "date": f"{anniversary:%d/%m/%Y}",
                    "reason": str(exc),
                }
                return
            by_line = {line.pk: line for line in lines}
            for line_id, result in results.items():
                prices[line_id] = result.new_price
                self.due.append(DueRevision(by_line[line_id], anniversary, result))
            self.steps.append((anniversary, {k: r.new_price for k, r in results.items()}))
            if results:
                base = next(iter(results.values())).s1.month

    def price_on(self, line: ContractLine, period: Period) -> Decimal | None:
        """The unit price in force on the period's first day; None when a blocked revision
        falls within it or before (nothing on or after the anniversary at the old price).

        Work done before a revision already applied keeps the price of its time: a late
        time entry or a period billed in arrears is priced from the revision history.
        """
        if not self._revisable(line):
            return line.unit_price
        if self.blocked_from is not None and period.end >= self.blocked_from:
            return None
        day = period.start
        price = line.unit_price
        history = self.applied.get(line.pk, [])
        if history and day < history[-1][0]:
            earlier = [new for anniversary, _old, new in history if anniversary <= day]
            price = earlier[-1] if earlier else history[0][1]
        for anniversary, prices in self.steps:
            if day >= anniversary and line.pk in prices:
                price = prices[line.pk]
        return price

    def _revisable(self, line: ContractLine) -> bool:
        return (
            self.contract.index_series_id is not None
            and line.revisable
            and line.mode in (InvoicingMode.RECURRING, InvoicingMode.TIME_AND_MATERIALS)
        )


def _prorated_price(price: Decimal, period: BillingPeriod) -> Decimal:
    if not period.is_partial:
        return price
    exact = price * Decimal(period.days) / Decimal(period.full.days)
    return exact.quantize(PRICE_STEP, rounding=ROUND_HALF_UP)


def _recurring_items(
    line: ContractLine,
    as_of: dt.date,
    billed_until: dt.date | None,
    billed: set[str],
    revisions: _Revisions,
) -> list[BillableItem]:
    items = []
    due = periods_due(
        as_of,
        _line_start(line),
        _line_end(line),
        Frequency(line.frequency),
        line.in_advance,
        billed_until,
        anchor_day=1,
        anchor_month=1,
    )
    for period in due:
        key = f"L{line.pk}:P:{period.start.isoformat()}"
        if key in billed:
            continue
        price = revisions.price_on(line, period)
        if price is None:
            break
        description = f"{line.description} – {period.label_fr()}"
        if period.is_partial:
            description += f" (prorata {period.days}/{period.full.days} j)"
        items.append(
            BillableItem(
                key=key,
                line=line,
                description=description,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=_prorated_price(price, period),
                discount_percent=line.discount_percent,
                vat_rate=line.vat_rate,
                billable_on=billing_date(period, line.in_advance),
                period=Period(period.start, period.end),
            )
        )
    return items


def _month_label(month: dt.date) -> str:
    names = [
        "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
        "septembre", "octobre", "novembre", "décembre",
    ]  # fmt: skip
    return f"{names[month.month - 1]} {month.year}"


def _time_items(
    line: ContractLine,
    entries: Sequence[TimeEntry],
    as_of: dt.date,
    billed: set[str],
    revisions: _Revisions,
) -> list[BillableItem]:
    items = []
    for entry in entries:
        month_end = add_months(entry.month, 1) - ONE_DAY
        key = f"L{line.pk}:T:{entry.month:%Y-%m}"
        if month_end > as_of or key in billed or entry.quantity == 0:
            continue
        price = revisions.price_on(line, Period(entry.month, month_end))
        if price is None:
            continue
        items.append(
            BillableItem(
                key=key,
                line=line,
                description=f"{line.description} – {_month_label(entry.month)}",
                quantity=entry.quantity,
                unit=line.unit,
                unit_price=price,
                discount_percent=line.discount_percent,
                vat_rate=line.vat_rate,
                billable_on=month_end,
                period=Period(entry.month, month_end),
            )
        )
    return items


def _once_item(line: ContractLine, as_of: dt.date, billed: set[str]) -> list[BillableItem]:
    key = f"L{line.pk}:once"
    if key in billed:
        return []
    if line.mode == InvoicingMode.ON_ORDER:
        day = max(line.contract.signed_on, _line_start(line))
    elif line.delivered_on is not None:
        day = line.delivered_on
    else:
        return []
    if day > as_of:
        return []
    return [
        BillableItem(
            key=key,
            line=line,
            description=line.description,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
            vat_rate=line.vat_rate,
            billable_on=day,
        )
    ]


def _milestone_items(line: ContractLine, as_of: dt.date, billed: set[str]) -> list[BillableItem]:
    items = []
    for milestone in line.milestones.all():
        key = f"M{milestone.pk}"
        if milestone.reached_on is None or milestone.reached_on > as_of or key in billed:
            continue
        assert milestone.amount is not None
        items.append(
            BillableItem(
                key=key,
                line=line,
                description=f"{line.description} – {milestone.label}",
                quantity=Decimal(1),
                unit=Unit.FLAT,
                unit_price=milestone.amount,
                discount_percent=Decimal(0),
                vat_rate=line.vat_rate,
                billable_on=milestone.reached_on,
                milestone=milestone,
            )
        )
    return items


def _index_values(contracts: Sequence[Contract]) -> dict[int, dict[dt.date, Decimal]]:
    series_ids = {c.index_series_id for c in contracts if c.index_series_id is not None}
    values: dict[int, dict[dt.date, Decimal]] = defaultdict(dict)
    for series_id, month, value in IndexValue.objects.filter(series_id__in=series_ids).values_list(
        "series_id", "month", "value"
    ):
        values[series_id][month] = value
    return values


def billable(contracts: Iterable[Contract], as_of: dt.date) -> list[ContractBilling]:
    """Everything the given contracts have to bill on `as_of` (a constant number of queries).

    Pass a queryset or list; lines, milestones and time entries are loaded in bulk, with the
    keys already billed and, per recurring line, the last day already billed.
    """
    contracts = list(contracts)
    if not contracts:
        return []
    ids = [c.pk for c in contracts]
    lines = list(
        ContractLine.objects.filter(contract_id__in=ids)
        .prefetch_related("milestones")
        .order_by("contract_id", "position", "id")
    )
    by_contract: dict[int, list[ContractLine]] = defaultdict(list)
    contract_by_id = {c.pk: c for c in contracts}
    for line in lines:
        line.contract = contract_by_id[line.contract_id]
        by_contract[line.contract_id].append(line)
    for contract in contracts:
        # The prefetch cache `contract.lines.all()` reads (used by _Revisions).
        contract._prefetched_objects_cache = {"lines": by_contract[contract.pk]}  # type: ignore[attr-defined]
    line_ids = [line.pk for line in lines]
    live = InvoiceLine.objects.filter(contract_line_id__in=line_ids).exclude(billing_key="")
    billed = set(live.values_list("billing_key", flat=True))
    billed_until = dict(
        live.filter(period_end__isnull=False, contract_line__mode=InvoicingMode.RECURRING)
        .values("contract_line_id")
        .annotate(last=Max("period_end"))
        .values_list("contract_line_id", "last")
    )
    entries: dict[int, list[TimeEntry]] = defaultdict(list)
    for entry in TimeEntry.objects.filter(Q(line_id__in=line_ids) & Q(month__lte=as_of)).order_by(
        "month"
    ):
        entries[entry.line_id].append(entry)
    index_values = _index_values(contracts)
    applied: dict[int, dict[int, list[tuple[dt.date, Decimal, Decimal]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for contract_id, line_id, anniversary, old, new in (
        PriceRevision.objects.filter(line_id__in=line_ids)
        .order_by("anniversary")
        .values_list("contract_id", "line_id", "anniversary", "previous_price", "new_price")
    ):
        applied[contract_id][line_id].append((anniversary, old, new))
    result = []
    for contract in contracts:
        revisions = _Revisions(contract, as_of, index_values, applied.get(contract.pk))
        billing = ContractBilling(contract=contract, revisions=revisions.due)
        if revisions.message:
            billing.blocked.append(revisions.message)
        for line in by_contract[contract.pk]:
            if line.mode == InvoicingMode.RECURRING:
                billing.items += _recurring_items(
                    line, as_of, billed_until.get(line.pk), billed, revisions
                )
            elif line.mode == InvoicingMode.TIME_AND_MATERIALS:
                billing.items += _time_items(line, entries[line.pk], as_of, billed, revisions)
            elif line.mode == InvoicingMode.MILESTONES:
                billing.items += _milestone_items(line, as_of, billed)
            else:
                billing.items += _once_item(line, as_of, billed)
        if billing.items or billing.blocked:
            result.append(billing)
    return result
