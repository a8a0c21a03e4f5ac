"""Parsing of contract lines: the priced part as for orders, plus how each line is invoiced.

Errors are keyed `lines.<n>.<field>` (1-based) like order lines, all collected before
raising, so the user fixes every line in one go.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from levier.catalog.choices import InvoicingMode
from levier.contracts.choices import Frequency, MilestoneTrigger
from levier.lib.errors import ValidationFailed
from levier.lib.money import MoneyError, quantize, to_decimal
from levier.sales.lines import LineData, parse_lines

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class MilestoneData:
    label: str
    amount: Decimal  # HT, resolved from a percentage when one was given
    percent: Decimal | None
    trigger: str
    planned_on: dt.date | None


@dataclass(frozen=True)
class ContractLineData:
    priced: LineData
    mode: str
    frequency: str
    in_advance: bool
    start_date: dt.date | None
    end_date: dt.date | None
    milestones: tuple[MilestoneData, ...]


def parse_date(raw: Any) -> dt.date | None:
    """An ISO date (2026-01-31) or a French one (31/01/2026); None when blank."""
    if raw in (None, ""):
        return None
    if isinstance(raw, dt.date):
        return raw
    text = str(raw).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _flag(raw: Any, default: bool) -> bool:
    if raw in (None, ""):
        return default
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in {"1", "true", "yes", "oui", "on"}


def _milestones(
    n: int, raw: Any, net: Decimal, errors: dict[str, list[str]]
) -> tuple[MilestoneData, ...]:
    """Milestones whose amounts add up exactly to the line's net amount.

    A percentage is resolved to the cent; the last percentage milestone takes what rounding
    left over, so 33.33 % × 3 of 1,000 € gives 333.33 + 333.33 + 333.34, never 999.99.
    """
    key = f"lines.{n}.milestones"
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        errors.setdefault(key, []).append(
            _("line %(line)s: a milestone line needs at least one milestone") % {"line": n}
        )
        return ()
    parsed: list[dict[str, Any]] = []
    for m, item in enumerate(raw, start=1):
        where = _("line %(line)s, milestone %(m)s") % {"line": n, "m": m}
        if not isinstance(item, Mapping):
            problem = _("not a milestone")  # out of the f-string, where xgettext reads it
            errors.setdefault(key, []).append(f"{where}: {problem}")
            continue
        label = str(item.get("label") or "").strip()
        trigger = str(item.get("trigger") or "")
        amount = percent = None
        problems = []
        if not label:
            problems.append(_("label required"))
        if trigger not in MilestoneTrigger.values:
            problems.append(_("unknown trigger “%(value)s”") % {"value": trigger})
        try:
            if item.get("amount") not in (None, ""):
                amount = quantize(to_decimal(item["amount"]))
            if item.get("percent") not in (None, ""):
                percent = to_decimal(item["percent"])
        except MoneyError as exc:
            problems.append(str(exc))
        if (amount is None) == (percent is None):
            problems.append(_("give either an amount or a percentage"))
        elif percent is not None and not (Decimal(0) < percent <= HUNDRED):
            problems.append(_("a percentage must be above 0 and at most 100"))
        elif amount is not None and amount <= 0:
            problems.append(_("an amount must be positive"))
        try:
            planned = parse_date(item.get("planned_on"))
        except ValueError:
            problems.append(_("“%(value)s” is not a date") % {"value": item.get("planned_on")})
            planned = None
        if trigger == MilestoneTrigger.DATE and planned is None:
            problems.append(_("a milestone triggered by a date needs that date"))
        if problems:
            errors.setdefault(key, []).append(f"{where}: {'; '.join(problems)}")
            continue
        parsed.append(
            {
                "label": label,
                "amount": amount,
                "percent": percent,
                "trigger": trigger,
                "planned_on": planned,
            }
        )
    if len(parsed) != len(raw):
        return ()
    percents = [p for p in parsed if p["percent"] is not None]
    if percents and len(percents) != len(parsed):
        errors.setdefault(key, []).append(
            _("line %(line)s: give every milestone as an amount, or every one as a percentage")
            % {"line": n}
        )
        return ()
    if percents:
        percent_total = sum((p["percent"] for p in percents), Decimal(0))
        if percent_total != HUNDRED:
            errors.setdefault(key, []).append(
                _("line %(line)s: the milestones add up to %(total)s %%, not 100 %%")
                % {"line": n, "total": percent_total}
            )
            return ()
        for p in percents:
            p["amount"] = quantize(net * p["percent"] / HUNDRED)
        percents[-1]["amount"] += net - sum((p["amount"] for p in percents), Decimal(0))
    total = sum((p["amount"] for p in parsed), Decimal(0))
    if total != net:
        errors.setdefault(key, []).append(
            _("line %(line)s: the milestones add up to %(total)s € but the line is %(net)s €")
            % {"line": n, "total": total, "net": net}
        )
        return ()
    return tuple(MilestoneData(**p) for p in parsed)


def parse_contract_lines(
    raw_lines: Sequence[Mapping[str, Any]], *, contract_start: dt.date, contract_end: dt.date | None
) -> list[ContractLineData]:
    priced_errors: dict[str, list[str]] = {}
    try:
        priced = parse_lines(raw_lines)
    except ValidationFailed as exc:
        priced, priced_errors = [], dict(exc.errors)
    errors: dict[str, list[str]] = dict(priced_errors)
    result: list[ContractLineData] = []
    for n, raw in enumerate(raw_lines, start=1):
        key = f"lines.{n}"
        mode = str(raw.get("mode") or "")
        if mode not in InvoicingMode.values:
            errors.setdefault(f"{key}.mode", []).append(
                _("line %(line)s: unknown invoicing mode “%(value)s”") % {"line": n, "value": mode}
            )
        frequency = str(raw.get("frequency") or "")
        if mode == InvoicingMode.RECURRING and frequency not in Frequency.values:
            errors.setdefault(f"{key}.frequency", []).append(
                _("line %(line)s: a recurring line needs a frequency (monthly, quarterly, yearly)")
                % {"line": n}
            )
        dates: dict[str, dt.date | None] = {}
        for name in ("start_date", "end_date"):
            try:
                dates[name] = parse_date(raw.get(name))
            except ValueError:
                errors.setdefault(f"{key}.{name}", []).append(
                    _("line %(line)s: “%(value)s” is not a date")
                    % {"line": n, "value": raw.get(name)}
                )
                dates[name] = None
        start = dates["start_date"] or contract_start
        end = dates["end_date"] or contract_end
        if start < contract_start or (contract_end and end and end > contract_end):
            errors.setdefault(f"{key}.start_date", []).append(
                _("line %(line)s: its dates must lie within the contract's") % {"line": n}
            )
        if end is not None and end < start:
            errors.setdefault(f"{key}.end_date", []).append(
                _("line %(line)s: it cannot end before it starts") % {"line": n}
            )
        milestones: tuple[MilestoneData, ...] = ()
        if priced and mode == InvoicingMode.MILESTONES:
            line = priced[n - 1]
            milestones = _milestones(n, raw.get("milestones"), line.net_amount, errors)
        if priced:
            result.append(
                ContractLineData(
                    priced=priced[n - 1],
                    mode=mode,
                    frequency=frequency if mode == InvoicingMode.RECURRING else "",
                    in_advance=_flag(raw.get("in_advance"), True),
                    start_date=dates["start_date"],
                    end_date=dates["end_date"],
                    milestones=milestones,
                )
            )
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first, errors=errors)
    return result
