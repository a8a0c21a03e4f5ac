"""Contracts: the only code that writes them. Each function is one transaction, audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event, snapshot
from levier.billing.models import InvoiceLine
from levier.catalog.choices import InvoicingMode
from levier.contracts.choices import (
    ContractStatus,
    Frequency,
    InvoiceGrouping,
    MilestoneTrigger,
    TimeEntrySource,
)
from levier.contracts.lines import ContractLineData, parse_contract_lines, parse_date
from levier.contracts.models import (
    Amendment,
    Contract,
    ContractLine,
    IndexSeries,
    IndexValue,
    Milestone,
    PriceRevision,
    TimeEntry,
)
from levier.contracts.schedule import ContractBilling
from levier.contracts.transitions import check_contract_transition
from levier.customers.models import Customer
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.lib.money import MoneyError, to_decimal
from levier.lib.periods import add_months, first_of_month, next_renewal, notice_deadline
from levier.lib.revision import last_published_month
from levier.sales.choices import OrderStatus
from levier.sales.lines import raw_lines_of
from levier.sales.models import Order
from levier.sales.services import next_number

HEADER_FIELDS = (
    "title",
    "end_date",
    "po_number",
    "invoice_grouping",
    "initial_term_months",
    "tacit_renewal",
    "renewal_term_months",
    "notice_months",
    "index_series_id",
    "revision_fixed_part",
    "revision_floor",
    "revision_cap",
    "base_index_month",
    "late_interest_rate",
)
LINE_FIELDS = (
    "position",
    "description",
    "mode",
    "quantity",
    "unit",
    "unit_price",
    "base_unit_price",
    "discount_percent",
    "vat_rate",
    "frequency",
    "in_advance",
    "start_date",
    "end_date",
    "delivered_on",
)


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={field: [message]})


def _optional_decimal(raw: Any, field: str, label: str) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        return to_decimal(raw)
    except MoneyError as exc:
        raise _fail(field, f"{label}: {exc}") from exc


def _clean_header(values: Mapping[str, Any]) -> dict[str, Any]:
    """Terms of renewal and revision, checked together (they only make sense together)."""
    clean: dict[str, Any] = {}
    for name in ("initial_term_months", "renewal_term_months", "notice_months"):
        raw = values.get(name)
        if raw in (None, ""):
            clean[name] = 0 if name == "notice_months" else None
            continue
        try:
            number = int(str(raw))
        except (TypeError, ValueError):
            raise _fail(name, _("%(field)s: a whole number of months") % {"field": name}) from None
        if not 0 <= number <= 240:
            raise _fail(name, _("%(field)s: between 0 and 240 months") % {"field": name})
        clean[name] = number
    clean["tacit_renewal"] = bool(values.get("tacit_renewal"))
    if clean["tacit_renewal"] and not clean["initial_term_months"]:
        raise _fail("initial_term_months", _("A tacitly renewed contract needs its initial term"))
    grouping = values.get("invoice_grouping") or InvoiceGrouping.PER_CONTRACT
    if grouping not in InvoiceGrouping.values:
        raise _fail("invoice_grouping", _("unknown invoice grouping “%(v)s”") % {"v": grouping})
    clean["invoice_grouping"] = grouping
    series = values.get("index_series")
    if series not in (None, "") and not isinstance(series, IndexSeries):
        series = (
            IndexSeries.objects.filter(pk=int(str(series))).first()
            if str(series).isdigit()
            else None
        )
        if series is None:
            raise _fail("index_series", _("unknown index series"))
    clean["index_series"] = series or None
    fixed = _optional_decimal(values.get("revision_fixed_part"), "revision_fixed_part", "a")
    if fixed is not None and not Decimal(0) <= fixed < 1:
        raise _fail("revision_fixed_part", _("the fixed part a must be between 0 and 1"))
    clean["revision_fixed_part"] = fixed or Decimal(0)
    clean["revision_floor"] = _optional_decimal(
        values.get("revision_floor"), "revision_floor", _("floor")
    )
    clean["revision_cap"] = _optional_decimal(values.get("revision_cap"), "revision_cap", _("cap"))
    floor, cap = clean["revision_floor"], clean["revision_cap"]
    if floor is not None and cap is not None and floor > cap:
        raise _fail("revision_cap", _("the cap cannot be below the floor"))
    try:
        base = parse_date(values.get("base_index_month"))
    except ValueError:
        raise _fail("base_index_month", _("not a date")) from None
    clean["base_index_month"] = first_of_month(base) if base else None
    # Agreed late-payment interest; blank: the legal rate (ECB + 10 points). C. com. L441-10
    # forbids less than 3 × the legal interest rate: that floor is the signer's to check.
    rate = _optional_decimal(
        values.get("late_interest_rate"), "late_interest_rate", _("late-payment interest")
    )
    if rate is not None and not Decimal(0) < rate <= Decimal(50):
        raise _fail("late_interest_rate", _("late-payment interest: between 0 and 50 % a year"))
    clean["late_interest_rate"] = rate
    return clean


def _line_row(contract: Contract, n: int, data: ContractLineData) -> ContractLine:
    priced = data.priced
    return ContractLine(
        contract=contract,
        position=n,
        product_id=priced.product_id,
        description=priced.description,
        mode=data.mode,
        quantity=priced.quantity,
        unit=priced.unit,
        unit_price=priced.unit_price,
        base_unit_price=priced.unit_price,
        discount_percent=priced.discount_percent,
        vat_rate=priced.vat_rate,
        frequency=data.frequency,
        in_advance=data.in_advance,
        start_date=data.start_date,
        end_date=data.end_date,
    )


def _create_lines(contract: Contract, parsed: Sequence[ContractLineData], first: int = 1) -> None:
    rows = ContractLine.objects.bulk_create(
        [_line_row(contract, n, data) for n, data in enumerate(parsed, start=first)]
    )
    Milestone.objects.bulk_create(
        Milestone(
            line=row,
            position=m,
            label=ms.label,
            amount=ms.amount,
            percent=ms.percent,
            trigger=ms.trigger,
            planned_on=ms.planned_on,
        )
        for row, data in zip(rows, parsed, strict=True)
        for m, ms in enumerate(data.milestones, start=1)
    )


def contract_snapshot(contract: Contract) -> dict[str, Any]:
    """The whole contract as plain JSON: what an amendment keeps of the state after it."""
    return {
        "header": snapshot(contract, [*HEADER_FIELDS, "start_date", "signed_on"]),
        "lines": [
            {
                "id": line.pk,
                **snapshot(line, list(LINE_FIELDS)),
                "milestones": [
                    snapshot(m, ["label", "amount", "percent", "trigger", "planned_on"])
                    for m in line.milestones.all()
                ],
            }
            for line in contract.lines.prefetch_related("milestones")
        ],
    }


@transaction.atomic
def create_contract(
    *,
    actor: User,
    customer: Customer,
    title: str,
    signed_on: dt.date,
    start_date: dt.date,
    lines: Sequence[Mapping[str, Any]],
    end_date: dt.date | None = None,
    order: Order | None = None,
    po_number: str = "",
    **terms: Any,
) -> Contract:
    """A contract with its lines; `terms` are the renewal, revision and grouping fields."""
    require(actor, Action.MANAGE_CONTRACTS)
    if not title.strip():
        raise _fail("title", _("title: required"))
    if end_date is not None and end_date < start_date:
        raise _fail("end_date", _("The contract cannot end before it starts"))
    unknown = set(terms) - set(HEADER_FIELDS) - {"index_series"}
    if unknown:
        raise _fail("__all__", _("unknown field(s): %(f)s") % {"f": ", ".join(sorted(unknown))})
    header = _clean_header(terms)
    parsed = parse_contract_lines(lines, contract_start=start_date, contract_end=end_date)
    if header["index_series"] is not None and header["base_index_month"] is None:
        # S0 defaults to the last value published at signature.
        lag = header["index_series"].publication_lag_months
        header["base_index_month"] = last_published_month(signed_on, lag)
    contract = Contract.objects.create(
        number=next_number("CT", start_date.year),
        customer=customer,
        order=order,
        title=title.strip(),
        signed_on=signed_on,
        start_date=start_date,
        end_date=end_date,
        po_number=(po_number or (order.po_number if order else "")).strip()[:50],
        created_by=actor,
        **header,
    )
    _create_lines(contract, parsed)
    record_event(
        actor=actor,
        verb=Verb.CREATE,
        instance=contract,
        changes={
            "customer_id": customer.pk,
            "order": order.number if order else None,
            "lines": len(parsed),
        },
    )
    return contract


def create_contract_from_order(
    *, actor: User, order: Order, start_date: dt.date | None = None, **terms: Any
) -> Contract:
    """A contract carrying a validated order's lines, each in the order's invoicing mode.

    Recurring lines start monthly, billed in advance; a milestone line starts with the usual
    30 % at signature and 70 % at acceptance. ADV adjusts them by amendment.
    """
    if order.status != OrderStatus.VALIDATED:
        raise NotAllowed(
            _("%(number)s is not validated: no contract yet") % {"number": order.number}
        )
    signed_on = (
        timezone.localdate(order.validated_at) if order.validated_at else timezone.localdate()
    )
    lines = []
    for raw in raw_lines_of(order.lines.all()):
        line = {**raw, "mode": order.invoicing_mode}
        if order.invoicing_mode == InvoicingMode.RECURRING:
            line["frequency"] = Frequency.MONTHLY
        if order.invoicing_mode == InvoicingMode.MILESTONES:
            line["milestones"] = [
                {
                    "label": _("On signature"),
                    "percent": "30",
                    "trigger": MilestoneTrigger.SIGNATURE,
                },
                {
                    "label": _("On acceptance"),
                    "percent": "70",
                    "trigger": MilestoneTrigger.ACCEPTANCE,
                },
            ]
        lines.append(line)
    return create_contract(
        actor=actor,
        customer=order.customer,
        title=_("Order %(number)s") % {"number": order.number},
        signed_on=signed_on,
        start_date=start_date or signed_on,
        lines=lines,
        order=order,
        **terms,
    )


def _live_keys(prefix: str) -> bool:
    return InvoiceLine.objects.filter(billing_key__startswith=prefix).exists()


@transaction.atomic
def record_delivery(
    *, actor: User, line: ContractLine, delivered_on: dt.date, reference: str = ""
) -> ContractLine:
    """Delivery or acceptance of a one-off line invoiced on delivery: it becomes billable."""
    require(actor, Action.MANAGE_CONTRACTS)
    line = ContractLine.objects.select_for_update().get(pk=line.pk)
    if line.mode != InvoicingMode.ON_DELIVERY:
        raise NotAllowed(_("Only a line invoiced on delivery records a delivery"))
    if _live_keys(f"L{line.pk}:once"):
        raise NotAllowed(_("This delivery is already invoiced: correct it with a credit note"))
    before = line.delivered_on
    line.delivered_on, line.delivery_note = delivered_on, reference.strip()[:200]
    line.save(update_fields=["delivered_on", "delivery_note"])
    record_event(
        actor=actor,
        verb=Verb.UPDATE,
        instance=line.contract,
        changes={"line": line.description, "delivered_on": [before, delivered_on]},
        comment=reference,
    )
    return line


@transaction.atomic
def mark_milestone_reached(*, actor: User, milestone: Milestone, reached_on: dt.date) -> Milestone:
    require(actor, Action.MANAGE_CONTRACTS)
    milestone = (
        Milestone.objects.select_for_update().select_related("line__contract").get(pk=milestone.pk)
    )
    if _live_keys(f"M{milestone.pk}"):
        raise NotAllowed(_("This milestone is already invoiced"))
    before = milestone.reached_on
    milestone.reached_on, milestone.reached_by = reached_on, actor
    milestone.save(update_fields=["reached_on", "reached_by"])
    record_event(
        actor=actor,
        verb=Verb.UPDATE,
        instance=milestone.line.contract,
        changes={"milestone": milestone.label, "reached_on": [before, reached_on]},
    )
    return milestone


@transaction.atomic
def enter_time(
    *,
    actor: User,
    line: ContractLine,
    month: dt.date,
    quantity: Decimal,
    comment: str = "",
    source: str = TimeEntrySource.MANUAL,
) -> TimeEntry:
    """The quantity delivered in a month on a T&M line (replaces the month's previous entry).

    A month already invoiced cannot change: the invoice is issued or in a draft; correct it
    with a credit note, or discard the draft first.
    """
    require(actor, Action.MANAGE_CONTRACTS)
    month = first_of_month(month)
    if line.mode != InvoicingMode.TIME_AND_MATERIALS:
        raise NotAllowed(_("Only a time-and-materials line records time"))
    if quantity < 0:
        raise _fail("quantity", _("quantity: cannot be negative"))
    if _live_keys(f"L{line.pk}:T:{month:%Y-%m}"):
        raise NotAllowed(
            _("%(month)s is already invoiced on this line") % {"month": f"{month:%m/%Y}"}
        )
    entry, created = TimeEntry.objects.update_or_create(
        line=line,
        month=month,
        defaults={"quantity": quantity, "comment": comment, "source": source, "entered_by": actor},
    )
    record_event(
        actor=actor,
        verb=Verb.CREATE if created else Verb.UPDATE,
        instance=line.contract,
        changes={"line": line.description, "month": f"{month:%Y-%m}", "quantity": quantity},
    )
    return entry


@transaction.atomic
def record_index_value(
    *, actor: User, series: IndexSeries, month: dt.date, value: Decimal
) -> IndexValue:
    """A published index value; a value already used by a revision can no longer change."""
    require(actor, Action.MANAGE_INDEXES)
    month = first_of_month(month)
    if value <= 0:
        raise _fail("value", _("an index value is positive"))
    existing = IndexValue.objects.filter(series=series, month=month).first()
    if existing is not None and existing.value != value:
        used = (
            PriceRevision.objects.filter(contract__index_series=series, s1_month=month).exists()
            or PriceRevision.objects.filter(contract__index_series=series, s0_month=month).exists()
        )
        if used:
            raise NotAllowed(
                _("%(series)s %(month)s was used by a revision and cannot change")
                % {"series": series.name, "month": f"{month:%m/%Y}"}
            )
    entry, _created = IndexValue.objects.update_or_create(
        series=series, month=month, defaults={"value": value, "entered_by": actor}
    )
    record_event(
        actor=actor,
        verb=Verb.UPDATE,
        instance=series,
        changes={"month": f"{month:%Y-%m}", "value": [existing.value if existing else None, value]},
    )
    return entry


@transaction.atomic
def amend_contract(
    *,
    actor: User,
    contract: Contract,
    effective_on: dt.date,
    reason: str,
    header: Mapping[str, Any] | None = None,
    line_changes: Mapping[int, Mapping[str, Any]] | None = None,
    new_lines: Sequence[Mapping[str, Any]] = (),
    end_lines: Sequence[int] = (),
) -> Amendment:
    """An avenant, effective on a date, that keeps the history.

    A price or quantity change of a recurring or T&M line ends that line the day before
    `effective_on` and continues it as a new line from that day, so what was billed before
    stays as it was and later periods use the new terms. Other lines change in place
    unless already invoiced. The amendment stores its changes and the whole contract after.
    """
    require(actor, Action.MANAGE_CONTRACTS)
    if not reason.strip():
        raise _fail("reason", _("reason: required"))
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if contract.status == ContractStatus.ENDED:
        raise NotAllowed(_("An ended contract cannot be amended"))
    if effective_on < contract.start_date:
        raise _fail("effective_on", _("An amendment cannot take effect before the contract"))
    changes: dict[str, Any] = {}
    if header:
        merged = {
            name: getattr(contract, name) for name in HEADER_FIELDS if name != "index_series_id"
        }
        merged["index_series"] = contract.index_series_id
        merged.update(header)
        clean = _clean_header(merged)
        for name in ("title", "po_number"):
            if name in header:
                clean[name] = str(header[name]).strip()
        if "end_date" in header:
            try:
                clean["end_date"] = parse_date(header["end_date"])
            except ValueError:
                raise _fail("end_date", _("not a date")) from None
        for name, value in clean.items():
            before = getattr(contract, name)
            if before != value and (
                name in header or (name == "index_series" and "index_series" in header)
            ):
                changes[name] = [str(before), str(value)]
                setattr(contract, name, value)
    lines = {line.pk: line for line in contract.lines.all()}
    next_position = max((line.position for line in lines.values()), default=0) + 1
    for line_id, edits in (line_changes or {}).items():
        line = lines.get(int(line_id))
        if line is None:
            raise _fail("lines", _("line %(id)s is not on this contract") % {"id": line_id})
        new: dict[str, Any] = {}
        for name in ("unit_price", "quantity", "discount_percent"):
            if name in edits:
                value = _optional_decimal(edits[name], name, name)
                if value is None or value < 0:
                    raise _fail(name, _("%(field)s: a positive number") % {"field": name})
                if value != getattr(line, name):
                    new[name] = value
        if "description" in edits and str(edits["description"]).strip() != line.description:
            new["description"] = str(edits["description"]).strip()
        if not new:
            continue
        changes[f"line {line.position}"] = {
            k: [str(getattr(line, k)), str(v)] for k, v in new.items()
        }
        continuing = line.mode in (InvoicingMode.RECURRING, InvoicingMode.TIME_AND_MATERIALS)
        billed_until = (
            InvoiceLine.objects.filter(contract_line=line)
            .exclude(billing_key="")
            .aggregate(last=Max("period_end"))["last"]
        )
        if continuing and billed_until is not None and billed_until >= effective_on:
            raise NotAllowed(
                _(
                    "line %(n)s is invoiced until %(date)s: credit what is billed from "
                    "%(effective)s first, or amend from %(next)s"
                )
                % {
                    "n": line.position,
                    "date": f"{billed_until:%d/%m/%Y}",
                    "effective": f"{effective_on:%d/%m/%Y}",
                    "next": f"{billed_until + dt.timedelta(days=1):%d/%m/%Y}",
                }
            )
        if continuing and effective_on > (line.start_date or contract.start_date):
            successor = ContractLine.objects.get(pk=line.pk)
            successor.pk = None
            successor.position = next_position
            next_position += 1
            successor.start_date = effective_on
            for name, value in new.items():
                setattr(successor, name, value)
            if "unit_price" in new:
                successor.base_unit_price = new["unit_price"]
            successor.save()
            line.end_date = effective_on - dt.timedelta(days=1)
            line.save(update_fields=["end_date"])
        else:
            if InvoiceLine.objects.filter(contract_line=line).exclude(billing_key="").exists():
                raise NotAllowed(
                    _("line %(n)s is already invoiced: correct it with a credit note")
                    % {"n": line.position}
                )
            for name, value in new.items():
                setattr(line, name, value)
            if "unit_price" in new:
                line.base_unit_price = new["unit_price"]
            line.save()
    for line_id in end_lines:
        line = lines.get(int(line_id))
        if line is None:
            raise _fail("lines", _("line %(id)s is not on this contract") % {"id": line_id})
        line.end_date = effective_on - dt.timedelta(days=1)
        line.save(update_fields=["end_date"])
        changes[f"line {line.position}"] = {"end_date": [None, str(line.end_date)]}
    if new_lines:
        parsed = parse_contract_lines(
            [{"start_date": effective_on, **raw} for raw in new_lines],
            contract_start=contract.start_date,
            contract_end=contract.end_date,
        )
        _create_lines(contract, parsed, first=next_position)
        changes["new_lines"] = [data.priced.description for data in parsed]
    if not changes:
        raise _fail("__all__", _("The amendment changes nothing"))
    contract.version += 1
    contract.save()
    amendment = Amendment.objects.create(
        contract=contract,
        number=contract.version,
        effective_on=effective_on,
        reason=reason.strip(),
        changes=changes,
        snapshot=contract_snapshot(contract),
        created_by=actor,
    )
    record_event(actor=actor, verb=Verb.UPDATE, instance=contract, changes=changes, comment=reason)
    return amendment


@transaction.atomic
def give_notice(*, actor: User, contract: Contract, given_on: dt.date, reason: str) -> Contract:
    """Notice not to renew: the contract ends at the end of the term the notice reaches.

    Given on or before the notice deadline, it ends at the current term's end; later, the
    contract renews once more (the clause governs) and ends at the following term's end.
    """
    require(actor, Action.MANAGE_CONTRACTS)
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    check_contract_transition(contract.status, ContractStatus.NOTICE_GIVEN)
    if not reason.strip():
        raise _fail("reason", _("reason: required"))
    end = contract.end_date
    if contract.tacit_renewal and contract.initial_term_months:
        renewal = next_renewal(
            contract.start_date,
            contract.initial_term_months,
            given_on,
            renewal_term_months=contract.renewal_term_months,
        )
        if given_on > notice_deadline(renewal, contract.notice_months):
            renewal = next_renewal(
                contract.start_date,
                contract.initial_term_months,
                renewal,
                renewal_term_months=contract.renewal_term_months,
            )
        end = renewal - dt.timedelta(days=1)
    elif end is None:
        # An open-ended contract runs for the notice period from the day notice is given.
        end = add_months(given_on, contract.notice_months)
    before = contract.status
    contract.status = ContractStatus.NOTICE_GIVEN
    contract.notice_given_on, contract.end_date = given_on, end
    contract.termination_reason = reason.strip()
    contract.save()
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=contract,
        changes={"status": [before, contract.status], "end_date": str(end)},
        comment=reason,
    )
    return contract


@transaction.atomic
def close_contract(*, actor: User, contract: Contract, today: dt.date | None = None) -> Contract:
    """An active or noticed contract whose end date has passed ends."""
    require(actor, Action.MANAGE_CONTRACTS)
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    today = today or timezone.localdate()
    check_contract_transition(contract.status, ContractStatus.ENDED)
    if contract.end_date is None or contract.end_date >= today:
        raise NotAllowed(_("The contract has not reached its end date"))
    before = contract.status
    contract.status = ContractStatus.ENDED
    contract.save(update_fields=["status", "updated_at"])
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=contract,
        changes={"status": [before, contract.status]},
    )
    return contract


@transaction.atomic
def apply_price_revisions(*, actor: User, billing: ContractBilling) -> list[PriceRevision]:
    """Apply the yearly revisions a billing computation found due, with their formula.

    Called by the billing run in the same transaction as the invoice the revised prices go
    on. A revision already recorded (another run) is left as it is.
    """
    require(actor, Action.RUN_BILLING)
    contract = Contract.objects.select_for_update().get(pk=billing.contract.pk)
    done = []
    for due in billing.revisions:
        result = due.result
        if contract.last_revision_on is not None and due.anniversary <= contract.last_revision_on:
            continue
        revision, created = PriceRevision.objects.get_or_create(
            line=due.line,
            anniversary=due.anniversary,
            defaults={
                "contract": contract,
                "s0_month": result.s0.month,
                "s0_value": result.s0.value,
                "s1_month": result.s1.month,
                "s1_value": result.s1.value,
                "previous_price": result.previous_price,
                "new_price": result.new_price,
                "coefficient": result.coefficient.quantize(Decimal("0.00000001")),
                "limited_by": result.limited_by or "",
                "formula": result.formula_fr[:300],
                "applied_by": actor,
            },
        )
        if created:
            ContractLine.objects.filter(pk=due.line.pk).update(unit_price=result.new_price)
            done.append(revision)
    if billing.revisions:
        last = billing.revisions[-1]
        if contract.last_revision_on is None or last.anniversary > contract.last_revision_on:
            contract.last_revision_on = last.anniversary
            contract.base_index_month = last.result.s1.month
            contract.save(update_fields=["last_revision_on", "base_index_month", "updated_at"])
    if done:
        record_event(
            actor=actor,
            verb=Verb.UPDATE,
            instance=contract,
            changes={
                "price_revision": [{"line": r.line.description, "formula": r.formula} for r in done]
            },
        )
    return done
