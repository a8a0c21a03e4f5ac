"""The levers in euros: what the company would gain by fixing each weak point, with the
formula shown and every number in it.

Each lever is computed exactly in Decimal and rounded once, half up, to the cent (the figure a
reader recomputes from the formula text, which shows the inputs as they are used). A lever
whose input is missing is *not applicable*, with the reason: never a 0 that would read as
"nothing to gain". A lever is never negative: a company already better than the target has
nothing to release (0), not a loss.

Two kinds, never added together: a **one-off cash** amount (released once from the balance
sheet: receivables collected sooner, invoices issued sooner, overdue amounts saved from loss)
and a **yearly P&L** amount (a cost avoided or an income claimed every year).

The formulas and their sources (audit-benchmarks.md §3):

- ``cash_dso``: sales TTC over 365 days ÷ 365 × max(0, DSO − target DSO) [S38]. The DSO is the
  given one (the FEC's ``dso_simple_365d``), else receivables TTC ÷ sales TTC × 365, rounded
  to one decimal like every day figure of kpis.md. The default target is 43 days, the French
  average of companies excluding micro-enterprises in 2023 (Banque de France [S10][S11][S15]):
  the national average is an attainable first step for an SME, where the APQC median (36
  days [S22]) is a next one (set `target_dso_days` to it).
- ``financing_cost``: the cash of ``cash_dso`` (as rounded and shown) × the annual financing
  rate [S6]. The default, 12 % a year, is [S6]'s rule of thumb "≈1 % of the invoice per month
  of credit"; the user should set their own short-term rate (overdraft, factoring).
- ``credit_note_rework``: credit notes × cost per credit note, the cost being hours × loaded
  hourly rate, 4 h × 45 € by default: [S41]'s vendor example for reworking a dispute. No public
  figure of the cost of a credit note exists (the reference says so): both are parameters.
  The credit notes' own amount is not counted (a corrected invoice is often re-issued).
- ``late_invoicing``: daily revenue HT × average invoicing delay (days between the billable
  date and the invoice) [S40] — the law requires the invoice at completion (C. com. L441-9),
  so the target delay is 0. When the delay is unknown (a FEC has no billable dates), the FAE
  balance is taken as it is: an upper bound, since it also holds revenue that could not be
  invoiced yet (periods billed in arrears). The lever says which one it used.
- ``overdue_at_risk``: overdue amounts × the loss the NACM curve gives at the next milestone
  they will reach if nothing is done [S3][S36]: overdue dollars are worth 87 ¢ at 3 months,
  67 ¢ at 6, 46 ¢ at 12, so the loss is 13 %, 33 %, 54 %. With ages counted from the due date
  (Levier's aged balance): up to 90 days past due → 13 % (the 3-month point), over 90 days →
  33 % (the 6-month point). With ages counted from the invoice date (a FEC has no due dates):
  0–30 days → nothing (not yet due under the legal default terms of 30 days), every older
  bucket → 13 %, because an invoice 90+ days old may be only 60 days past due. The 12-month
  point (54 %) needs a bucket the four-bucket ageing does not have: it is not used.
- ``late_interest_unclaimed``: Σ(amount TTC × days late) × penalty rate ÷ 365 × (1 − share
  already claimed) [S35]; the rate defaults to the legal one, ECB main refinancing rate + 10
  points (C. com. L441-10): 2.15 % + 10 = 12.15 %, the rate of 2026 H1 seeded in
  `levier.collections.dunning_defaults` (pass the audited period's rate).
- ``recovery_indemnities_unclaimed``: late invoices × 40 € × (1 − share already claimed)
  (C. com. D441-5, [S35]).

The share already claimed comes from the questionnaire's `processes.late_penalties_claimed`
answer (score ÷ 4: never, about 1 in 4, half, about 3 in 4, always); 0 when unanswered,
AFDCC finding that only 27 % of firms claim penalties systematically [S35].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal

from django.utils.translation import gettext as _

from levier.advaudit.benchmarks import (
    BENCHMARKS,
    FigureError,
    format_days,
    format_euros,
    format_number,
    format_percent,
    lookup_figure,
    to_figure,
)
from levier.collections.dunning_defaults import ECB_RATES, MARGIN_POINTS

__all__ = [
    "DEFAULT_FINANCING_RATE",
    "DEFAULT_PENALTY_RATE",
    "DEFAULT_TARGET_DSO_DAYS",
    "INDEMNITY",
    "LEVER_KEYS",
    "LOSS_AT_3_MONTHS",
    "LOSS_AT_6_MONTHS",
    "LOSS_AT_12_MONTHS",
    "PENALTIES_QUESTION_ID",
    "AgeBasis",
    "LateInvoices",
    "Lever",
    "LeverInput",
    "LeverInputs",
    "LeverInputsError",
    "LeverKind",
    "OverdueBuckets",
    "compute_levers",
    "inputs_from_figures",
    "share_claimed_from_score",
    "totals",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DAYS_A_YEAR = Decimal(365)
DEFAULT_TARGET_DSO_DAYS = BENCHMARKS["dso"].primary_point.value  # 43 days, [S10][S11][S15]
DEFAULT_FINANCING_RATE = Decimal("0.12")  # [S6]: ≈1 % of the invoice per month of credit
DEFAULT_PENALTY_RATE = (ECB_RATES[max(ECB_RATES)] + MARGIN_POINTS) / Decimal(100)  # 0.1215
DEFAULT_REWORK_HOURS = Decimal(4)  # [S41] vendor example
DEFAULT_HOURLY_RATE = Decimal(45)  # [S41] vendor example, € loaded
INDEMNITY = Decimal("40.00")  # C. com. D441-5
# NACM via [S3][S36]: overdue $ worth 87¢ at 3 months, 67¢ at 6, 46¢ at 12.
LOSS_AT_3_MONTHS = Decimal("0.13")
LOSS_AT_6_MONTHS = Decimal("0.33")
LOSS_AT_12_MONTHS = Decimal("0.54")
PENALTIES_QUESTION_ID = "processes.late_penalties_claimed"
BUCKETS = ("0_30", "31_60", "61_90", "over_90")


class LeverInputsError(ValueError):
    """An input of the levers is impossible (names the field)."""


class LeverKind(StrEnum):
    ONE_OFF_CASH = "one_off_cash"
    YEARLY = "yearly"


class AgeBasis(StrEnum):
    DUE_DATE = "due_date"  # Levier's aged balance: days past due (not-yet-due left out)
    INVOICE_DATE = "invoice_date"  # a FEC's open_invoices_aged: days since the invoice date


# bucket → loss factor, per basis (module docstring)
LOSS_FACTORS: dict[AgeBasis, dict[str, Decimal]] = {
    AgeBasis.DUE_DATE: {
        "0_30": LOSS_AT_3_MONTHS,
        "31_60": LOSS_AT_3_MONTHS,
        "61_90": LOSS_AT_3_MONTHS,
        "over_90": LOSS_AT_6_MONTHS,
    },
    AgeBasis.INVOICE_DATE: {
        "0_30": ZERO,
        "31_60": LOSS_AT_3_MONTHS,
        "61_90": LOSS_AT_3_MONTHS,
        "over_90": LOSS_AT_3_MONTHS,
    },
}
_BUCKET_LABELS = {"0_30": "0–30 j", "31_60": "31–60 j", "61_90": "61–90 j", "over_90": "> 90 j"}


@dataclass(frozen=True)
class OverdueBuckets:
    """Open amounts TTC by age, and which date the ages count from."""

    basis: AgeBasis
    d0_30: Decimal = ZERO
    d31_60: Decimal = ZERO
    d61_90: Decimal = ZERO
    over_90: Decimal = ZERO

    def amounts(self) -> dict[str, Decimal]:
        return {
            "0_30": self.d0_30,
            "31_60": self.d31_60,
            "61_90": self.d61_90,
            "over_90": self.over_90,
        }


@dataclass(frozen=True)
class LateInvoices:
    """Invoices paid or still open beyond their terms over the year (the FEC figure
    `late_invoices`): how many, their amount, and Σ amount × days beyond the terms."""

    count: int
    amount_ttc: Decimal
    amount_days: Decimal


@dataclass(frozen=True)
class LeverInputs:
    """Everything the levers read. Amounts TTC unless named HT; rates are annual ratios
    (0.12 = 12 %); None = unknown, which makes the levers that need it not applicable."""

    sales_ttc_365d: Decimal | None = None
    receivables_ttc: Decimal | None = None
    dso: Decimal | None = None  # days; derived from receivables and sales when None
    target_dso_days: Decimal = DEFAULT_TARGET_DSO_DAYS
    financing_rate: Decimal = DEFAULT_FINANCING_RATE
    credit_note_count: int | None = None
    credit_note_amount_ttc: Decimal | None = None  # shown beside the lever, never counted
    rework_hours_per_credit_note: Decimal = DEFAULT_REWORK_HOURS
    loaded_hourly_rate: Decimal = DEFAULT_HOURLY_RATE
    cost_per_credit_note: Decimal | None = None  # overrides hours × rate when given
    fae_balance: Decimal | None = None
    daily_revenue_ht: Decimal | None = None
    sales_ht_365d: Decimal | None = None  # daily revenue = this ÷ 365 when not given
    invoicing_delay_days: Decimal | None = None
    overdue: OverdueBuckets | None = None
    late_invoices: LateInvoices | None = None
    penalty_rate: Decimal = DEFAULT_PENALTY_RATE
    penalties_share_claimed: Decimal = ZERO

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float):
                raise LeverInputsError(
                    _("%(field)s: floats are not accepted, pass a Decimal") % {"field": item.name}
                )
            if item.name in _NUMBER_FIELDS and value is not None:
                if isinstance(value, bool) or not isinstance(value, Decimal | int):
                    raise LeverInputsError(
                        _("%(field)s: expected a Decimal, got %(value)r")
                        % {"field": item.name, "value": value}
                    )
                if not Decimal(value).is_finite():
                    raise LeverInputsError(
                        _("%(field)s: %(value)s is not a finite number")
                        % {"field": item.name, "value": value}
                    )
                object.__setattr__(self, item.name, Decimal(value))
        for name in ("financing_rate", "penalty_rate", "penalties_share_claimed"):
            _check_range(name, getattr(self, name), Decimal(0), Decimal(1))
        for name in (
            "target_dso_days",
            "rework_hours_per_credit_note",
            "loaded_hourly_rate",
            "cost_per_credit_note",
            "daily_revenue_ht",
            "invoicing_delay_days",
            "credit_note_amount_ttc",
        ):
            _check_range(name, getattr(self, name), Decimal(0), None)
        if self.credit_note_count is not None and (
            isinstance(self.credit_note_count, bool)
            or not isinstance(self.credit_note_count, int)
            or self.credit_note_count < 0
        ):
            raise LeverInputsError(
                _("%(field)s: expected a count ≥ 0, got %(value)r")
                % {"field": "credit_note_count", "value": self.credit_note_count}
            )
        if self.overdue is not None:
            for bucket, amount in self.overdue.amounts().items():
                _check_range(f"overdue.{bucket}", amount, Decimal(0), None)
        if self.late_invoices is not None:
            late = self.late_invoices
            if isinstance(late.count, bool) or not isinstance(late.count, int) or late.count < 0:
                raise LeverInputsError(
                    _("%(field)s: expected a count ≥ 0, got %(value)r")
                    % {"field": "late_invoices.count", "value": late.count}
                )
            _check_range("late_invoices.amount_ttc", late.amount_ttc, Decimal(0), None)
            _check_range("late_invoices.amount_days", late.amount_days, Decimal(0), None)


_NUMBER_FIELDS = frozenset(
    {
        "sales_ttc_365d",
        "receivables_ttc",
        "dso",
        "target_dso_days",
        "financing_rate",
        "credit_note_amount_ttc",
        "rework_hours_per_credit_note",
        "loaded_hourly_rate",
        "cost_per_credit_note",
        "fae_balance",
        "daily_revenue_ht",
        "sales_ht_365d",
        "invoicing_delay_days",
        "penalty_rate",
        "penalties_share_claimed",
    }
)


def _check_range(name: str, value: object, low: Decimal, high: Decimal | None) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise LeverInputsError(
            _("%(field)s: expected a Decimal, got %(value)r") % {"field": name, "value": value}
        )
    number = Decimal(value)
    if not number.is_finite() or number < low or (high is not None and number > high):
        if high is not None:
            message = _(
                "%(field)s: %(value)s is outside %(low)s–%(high)s (a rate is a ratio: 0.12 = 12 %%)"
            )
        else:
            message = _("%(field)s: %(value)s must be ≥ %(low)s")
        raise LeverInputsError(message % {"field": name, "value": value, "low": low, "high": high})


@dataclass(frozen=True)
class LeverInput:
    """One number a lever used, as shown beside its formula."""

    name: str
    label_fr: str
    label_en: str
    value: Decimal
    unit: Literal["euros", "days", "ratio", "count", "hours", "euro_days"]


@dataclass(frozen=True)
class Lever:
    key: str
    title_fr: str
    title_en: str
    kind: LeverKind
    applicable: bool
    amount: Decimal | None  # to the cent; None when not applicable
    formula_fr: str  # with the numbers: "4 812 000,00 € ÷ 365 × (62 j − 45 j) = 224 120,55 €"
    formula_generic_fr: str  # with the names: "CA TTC 365 j ÷ 365 × (DSO − DSO cible)"
    inputs: tuple[LeverInput, ...]
    source_ids: tuple[str, ...]
    reason: str = ""  # why not applicable (translated message)
    note_fr: str = ""  # a choice the reader must know (which basis was used...)
    note_en: str = ""

    @property
    def has_money(self) -> bool:
        return self.applicable and self.amount is not None and self.amount > 0


_TITLES: dict[str, tuple[str, str, LeverKind, str, tuple[str, ...]]] = {
    "cash_dso": (
        "Trésorerie libérée en ramenant le DSO à la cible",
        "Cash released by bringing DSO to the target",
        LeverKind.ONE_OFF_CASH,
        "CA TTC 365 j ÷ 365 × max(0 ; DSO − DSO cible)",
        ("S38", "S10"),
    ),
    "financing_cost": (
        "Coût annuel de financement de cette trésorerie",
        "Yearly financing cost of that cash",
        LeverKind.YEARLY,
        "trésorerie libérée × taux de financement annuel",
        ("S6",),
    ),
    "credit_note_rework": (
        "Coût des avoirs et des reprises",
        "Cost of credit notes and rework",
        LeverKind.YEARLY,
        "nombre d'avoirs × (heures × taux horaire chargé)",
        ("S41",),
    ),
    "late_invoicing": (
        "Coût de la facturation tardive (factures à établir)",
        "Cost of late invoicing (unbilled revenue)",
        LeverKind.ONE_OFF_CASH,
        "CA HT quotidien × délai moyen de facturation, ou solde des FAE",
        ("S40",),
    ),
    "overdue_at_risk": (
        "Créances échues à risque de perte",
        "Overdue amounts at risk",
        LeverKind.ONE_OFF_CASH,
        "Σ montant échu par ancienneté × taux de perte au prochain palier (13 % à 3 mois, 33 % à 6 mois)",
        ("S3", "S36"),
    ),
    "late_interest_unclaimed": (
        "Pénalités de retard non réclamées",
        "Late-payment interest not claimed",
        LeverKind.YEARLY,
        "Σ(montant × jours de retard) × taux des pénalités ÷ 365 × (1 − part déjà réclamée)",
        ("S35",),
    ),
    "recovery_indemnities_unclaimed": (
        "Indemnités forfaitaires de 40 € non réclamées",
        "40 € recovery indemnities not claimed",
        LeverKind.YEARLY,
        "factures payées en retard × 40 € × (1 − part déjà réclamée)",
        ("S35",),
    ),
}
LEVER_KEYS = tuple(_TITLES)


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _eur(amount: Decimal) -> str:
    return format_euros(amount, "fr")


def _days(days: Decimal) -> str:
    return format_days(days, "fr")


def _pct(ratio: Decimal) -> str:
    return format_percent(ratio, "fr")


def _lever(
    key: str,
    *,
    amount: Decimal | None = None,
    formula: str = "",
    inputs: tuple[LeverInput, ...] = (),
    reason: str = "",
    note_fr: str = "",
    note_en: str = "",
) -> Lever:
    title_fr, title_en, kind, generic, sources = _TITLES[key]
    return Lever(
        key=key,
        title_fr=title_fr,
        title_en=title_en,
        kind=kind,
        applicable=amount is not None,
        amount=None if amount is None else max(ZERO, _money(amount)),
        formula_fr=formula,
        formula_generic_fr=generic,
        inputs=inputs,
        source_ids=sources,
        reason=reason,
        note_fr=note_fr,
        note_en=note_en,
    )


def _input(name: str, label_fr: str, label_en: str, value: Decimal | int, unit: str) -> LeverInput:
    return LeverInput(name, label_fr, label_en, Decimal(value), unit)  # type: ignore[arg-type]


def _cash_dso(inputs: LeverInputs) -> Lever:
    sales = inputs.sales_ttc_365d
    if sales is None:
        return _lever("cash_dso", reason=_("Sales TTC over the last 365 days are unknown."))
    if sales <= 0:
        return _lever(
            "cash_dso", reason=_("No sales over the last 365 days: the DSO is undefined.")
        )
    used = [_input("sales_ttc_365d", "CA TTC 365 jours", "Sales TTC, 365 days", sales, "euros")]
    prefix = ""
    dso = inputs.dso
    if dso is None:
        if inputs.receivables_ttc is None:
            return _lever(
                "cash_dso",
                reason=_("The DSO is unknown: it needs the DSO or the receivables TTC."),
            )
        dso = (inputs.receivables_ttc / sales * DAYS_A_YEAR).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )
        used.append(
            _input(
                "receivables_ttc",
                "Créances clients TTC",
                "Receivables TTC",
                inputs.receivables_ttc,
                "euros",
            )
        )
        prefix = f"DSO = {_eur(inputs.receivables_ttc)} ÷ {_eur(sales)} × 365 = {_days(dso)} ; "
    used.append(_input("dso", "DSO", "DSO", dso, "days"))
    target = inputs.target_dso_days
    used.append(_input("target_dso_days", "DSO cible", "Target DSO", target, "days"))
    excess = max(Decimal(0), dso - target)
    amount = _money(sales / DAYS_A_YEAR * excess)
    if dso > target:
        formula = f"{_eur(sales)} ÷ 365 × ({_days(dso)} − {_days(target)}) = {_eur(amount)}"
    else:
        formula = (
            f"DSO {_days(dso)} ≤ cible {_days(target)} : {_eur(sales)} ÷ 365 × 0 j = {_eur(amount)}"
        )
    return _lever("cash_dso", amount=amount, formula=prefix + formula, inputs=tuple(used))


def _financing_cost(inputs: LeverInputs, cash: Lever) -> Lever:
    if cash.amount is None:
        return _lever("financing_cost", reason=cash.reason)
    rate = inputs.financing_rate
    amount = _money(cash.amount * rate)
    return _lever(
        "financing_cost",
        amount=amount,
        formula=f"{_eur(cash.amount)} × {_pct(rate)} = {_eur(amount)}",
        inputs=(
            _input("cash_dso", "Trésorerie libérée", "Cash released", cash.amount, "euros"),
            _input(
                "financing_rate",
                "Taux de financement annuel",
                "Annual financing rate",
                rate,
                "ratio",
            ),
        ),
    )


def _credit_note_rework(inputs: LeverInputs) -> Lever:
    count = inputs.credit_note_count
    if count is None:
        return _lever(
            "credit_note_rework", reason=_("The number of credit notes over the year is unknown.")
        )
    used = [
        _input("credit_note_count", "Avoirs sur 12 mois", "Credit notes, 12 months", count, "count")
    ]
    if inputs.cost_per_credit_note is not None:
        unit_cost = inputs.cost_per_credit_note
        used.append(
            _input(
                "cost_per_credit_note", "Coût par avoir", "Cost per credit note", unit_cost, "euros"
            )
        )
        cost_text = _eur(unit_cost)
    else:
        hours, rate = inputs.rework_hours_per_credit_note, inputs.loaded_hourly_rate
        unit_cost = hours * rate
        used.append(
            _input(
                "rework_hours_per_credit_note",
                "Heures de reprise par avoir",
                "Rework hours per credit note",
                hours,
                "hours",
            )
        )
        used.append(
            _input("loaded_hourly_rate", "Taux horaire chargé", "Loaded hourly rate", rate, "euros")
        )
        cost_text = f"({format_number(hours, 2, 'fr', trim=True)}\u00a0h × {_eur(rate)})"
    amount = _money(count * unit_cost)
    note_fr = note_en = ""
    if inputs.credit_note_amount_ttc is not None:
        note_fr = (
            f"Le montant des avoirs ({_eur(inputs.credit_note_amount_ttc)} TTC) n'est pas compté : "
            "une facture corrigée est souvent réémise."
        )
        note_en = (
            f"The credit notes' own amount ({format_euros(inputs.credit_note_amount_ttc, 'en')} "
            "incl. VAT) is not counted: a corrected invoice is often re-issued."
        )
    return _lever(
        "credit_note_rework",
        amount=amount,
        formula=f"{count} avoirs × {cost_text} = {_eur(amount)}",
        inputs=tuple(used),
        note_fr=note_fr,
        note_en=note_en,
    )


def _late_invoicing(inputs: LeverInputs) -> Lever:
    delay = inputs.invoicing_delay_days
    daily = inputs.daily_revenue_ht
    if delay is not None and (daily is not None or inputs.sales_ht_365d is not None):
        used = []
        if daily is not None:
            used.append(
                _input("daily_revenue_ht", "CA HT quotidien", "Daily revenue HT", daily, "euros")
            )
            daily_text = _eur(daily)
            amount = _money(daily * delay)
        else:
            sales_ht = inputs.sales_ht_365d
            assert sales_ht is not None
            used.append(
                _input("sales_ht_365d", "CA HT 365 jours", "Sales HT, 365 days", sales_ht, "euros")
            )
            daily_text = f"{_eur(sales_ht)} ÷ 365"
            amount = _money(max(Decimal(0), sales_ht) / DAYS_A_YEAR * delay)
        used.append(
            _input(
                "invoicing_delay_days",
                "Délai moyen de facturation",
                "Average invoicing delay",
                delay,
                "days",
            )
        )
        return _lever(
            "late_invoicing",
            amount=amount,
            formula=f"{daily_text} × {_days(delay)} = {_eur(amount)}",
            inputs=tuple(used),
            note_fr="Calculé sur le délai de facturation (cible : 0 jour, facture à l'achèvement).",
            note_en="Computed from the invoicing delay (target: 0 days, invoice at completion).",
        )
    if inputs.fae_balance is not None:
        amount = _money(max(Decimal(0), inputs.fae_balance))
        return _lever(
            "late_invoicing",
            amount=amount,
            formula=f"solde des factures à établir (4181) = {_eur(amount)}",
            inputs=(
                _input(
                    "fae_balance",
                    "Factures à établir",
                    "Unbilled revenue (FAE)",
                    inputs.fae_balance,
                    "euros",
                ),
            ),
            note_fr=(
                "Délai de facturation inconnu : le solde des factures à établir est pris tel quel, "
                "borne haute (il contient aussi ce qui ne pouvait pas encore être facturé)."
            ),
            note_en=(
                "Invoicing delay unknown: the unbilled balance is taken as it is, an upper bound "
                "(it also holds what could not be invoiced yet)."
            ),
        )
    return _lever(
        "late_invoicing",
        reason=_(
            "Needs the average invoicing delay with the daily revenue (or sales HT), or the "
            "FAE balance."
        ),
    )


def _overdue_at_risk(inputs: LeverInputs) -> Lever:
    overdue = inputs.overdue
    if overdue is None:
        return _lever("overdue_at_risk", reason=_("The ageing of open invoices is unknown."))
    factors = LOSS_FACTORS[overdue.basis]
    terms, used = [], []
    total = Decimal(0)
    for bucket, amount in overdue.amounts().items():
        used.append(
            _input(
                f"overdue.{bucket}",
                f"Ouvert {_BUCKET_LABELS[bucket]}",
                f"Open {bucket.replace('_', '–')} days",
                amount,
                "euros",
            )
        )
        factor = factors[bucket]
        if factor:
            terms.append(f"{_eur(amount)} × {_pct(factor)}")
            total += amount * factor
    amount = _money(total)
    if overdue.basis is AgeBasis.DUE_DATE:
        note_fr = (
            "Âges comptés depuis l'échéance : jusqu'à 90 jours de retard, perte de 13 % au palier "
            "de 3 mois ; au-delà, 33 % au palier de 6 mois."
        )
        note_en = (
            "Ages counted from the due date: up to 90 days past due, 13% loss at the 3-month "
            "point; beyond, 33% at the 6-month point."
        )
    else:
        note_fr = (
            "Âges comptés depuis la date de facture (le FEC n'a pas d'échéances) : 0–30 jours "
            "supposés non échus ; au-delà, perte de 13 % au palier de 3 mois."
        )
        note_en = (
            "Ages counted from the invoice date (a FEC has no due dates): 0–30 days taken as not "
            "yet due; older, 13% loss at the 3-month point."
        )
    return _lever(
        "overdue_at_risk",
        amount=amount,
        formula=f"{' + '.join(terms)} = {_eur(amount)}",
        inputs=tuple(used),
        note_fr=note_fr,
        note_en=note_en,
    )


def _share_text(share: Decimal) -> str:
    return f"(1 − {_pct(share)})"


def _late_interest(inputs: LeverInputs) -> Lever:
    late = inputs.late_invoices
    if late is None:
        return _lever(
            "late_interest_unclaimed",
            reason=_("The invoices paid or open beyond their terms are unknown."),
        )
    rate, share = inputs.penalty_rate, inputs.penalties_share_claimed
    amount = _money(late.amount_days * rate / DAYS_A_YEAR * (1 - share))
    return _lever(
        "late_interest_unclaimed",
        amount=amount,
        formula=(
            f"{format_number(late.amount_days, 2, 'fr', trim=True)}\u00a0€·j × {_pct(rate)} ÷ 365 × "
            f"{_share_text(share)} = {_eur(amount)}"
        ),
        inputs=(
            _input(
                "late_invoices.amount_days",
                "Σ montant × jours de retard",
                "Σ amount × days late",
                late.amount_days,
                "euro_days",
            ),
            _input("penalty_rate", "Taux des pénalités", "Penalty rate", rate, "ratio"),
            _input(
                "penalties_share_claimed",
                "Part déjà réclamée",
                "Share already claimed",
                share,
                "ratio",
            ),
        ),
    )


def _indemnities(inputs: LeverInputs) -> Lever:
    late = inputs.late_invoices
    if late is None:
        return _lever(
            "recovery_indemnities_unclaimed",
            reason=_("The invoices paid or open beyond their terms are unknown."),
        )
    share = inputs.penalties_share_claimed
    amount = _money(late.count * INDEMNITY * (1 - share))
    return _lever(
        "recovery_indemnities_unclaimed",
        amount=amount,
        formula=(
            f"{late.count} factures × {_eur(INDEMNITY)} × {_share_text(share)} = {_eur(amount)}"
        ),
        inputs=(
            _input(
                "late_invoices.count", "Factures en retard", "Late invoices", late.count, "count"
            ),
            _input(
                "penalties_share_claimed",
                "Part déjà réclamée",
                "Share already claimed",
                share,
                "ratio",
            ),
        ),
    )


def compute_levers(inputs: LeverInputs) -> list[Lever]:
    """Every lever, in the order of LEVER_KEYS, applicable or not (with the reason)."""
    cash = _cash_dso(inputs)
    return [
        cash,
        _financing_cost(inputs, cash),
        _credit_note_rework(inputs),
        _late_invoicing(inputs),
        _overdue_at_risk(inputs),
        _late_interest(inputs),
        _indemnities(inputs),
    ]


def totals(levers: list[Lever]) -> dict[LeverKind, Decimal]:
    """One-off cash and yearly P&L, each summed apart (adding them would mean nothing)."""
    result = {kind: ZERO for kind in LeverKind}
    for lever in levers:
        if lever.amount is not None:
            result[lever.kind] += lever.amount
    return result


def share_claimed_from_score(score: int | None) -> Decimal:
    """The share of penalties already claimed, read from the questionnaire answer."""
    if score is None:
        return ZERO
    return Decimal(score) / Decimal(4)


def _figure(figures: Mapping[str, object], path: str) -> Decimal | None:
    return to_figure(lookup_figure(figures, path), path)


def _count(figures: Mapping[str, object], path: str, name: str = "") -> int | None:
    value = _figure(figures, path)
    if value is None:
        return None
    if value != value.to_integral_value():
        raise FigureError(_("Figure “%(name)s” is not a count") % {"name": name or path})
    return int(value)


def inputs_from_figures(figures: Mapping[str, object], **parameters: object) -> LeverInputs:
    """LeverInputs from the figures' JSON names (a FEC's, or Levier's own KPIs), plus the
    user's parameters (target_dso_days, financing_rate, penalty_rate...).

    FEC names first: `open_invoices_aged` counts ages from the invoice date; Levier's
    `aged_balance` from the due date (its `1_30` is the `0_30` bucket, `not_due` is left
    out). Levier's `dso_simple` is used only when `period_days` is 365. A figure that is not
    a number raises FigureError naming it.
    """
    values: dict[str, object] = {
        "sales_ttc_365d": _figure(figures, "sales_ttc_365d"),
        "receivables_ttc": _figure(figures, "receivables_ttc"),
        "dso": _figure(figures, "dso_simple_365d"),
        "credit_note_count": None,
        "fae_balance": _figure(figures, "fae"),
        "invoicing_delay_days": _figure(figures, "invoicing_delay_days"),
    }
    if values["dso"] is None and _figure(figures, "period_days") == 365:
        values["dso"] = _figure(figures, "dso_simple")
        if values["sales_ttc_365d"] is None:
            values["sales_ttc_365d"] = _figure(figures, "sales_ttc_period")
    values["credit_note_count"] = _count(figures, "credit_note_count")
    aged = lookup_figure(figures, "open_invoices_aged")
    if isinstance(aged, Mapping):
        values["overdue"] = OverdueBuckets(
            basis=AgeBasis.INVOICE_DATE,
            **{
                field_name: _figure(aged, bucket) or ZERO
                for field_name, bucket in (
                    ("d0_30", "0_30"),
                    ("d31_60", "31_60"),
                    ("d61_90", "61_90"),
                    ("over_90", "over_90"),
                )
            },
        )
    else:
        aged = lookup_figure(figures, "aged_balance")
        if isinstance(aged, Mapping):
            values["overdue"] = OverdueBuckets(
                basis=AgeBasis.DUE_DATE,
                **{
                    field_name: _figure(aged, bucket) or ZERO
                    for field_name, bucket in (
                        ("d0_30", "1_30"),
                        ("d31_60", "31_60"),
                        ("d61_90", "61_90"),
                        ("over_90", "over_90"),
                    )
                },
            )
    late = lookup_figure(figures, "late_invoices")
    if isinstance(late, Mapping):
        late_count = _count(late, "count", "late_invoices.count")
        amount_ttc = _figure(late, "amount_ttc")
        amount_days = _figure(late, "amount_days")
        if late_count is not None and amount_ttc is not None and amount_days is not None:
            values["late_invoices"] = LateInvoices(
                count=late_count, amount_ttc=amount_ttc, amount_days=amount_days
            )
    values.update(parameters)
    known = {item.name for item in fields(LeverInputs)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise LeverInputsError(
            _("Unknown lever parameters: %(names)s") % {"names": ", ".join(unknown)}
        )
    return LeverInputs(**values)  # type: ignore[arg-type]
