"""Green / amber / red: the status of a figure against the Administrateur's thresholds.

Limits are in the unit the dashboard shows: days, hours, euros, and percent for the rates
(`KpiFigures` holds rates as ratios, 0.05; they are compared as 5 %). A limit is the last
value still in the better band ("DSO up to 45 days is green"):

    lower is better:   value ≤ amber → green;  ≤ red → amber;  > red → red
    higher is better:  value ≥ amber → green;  ≥ red → amber;  < red → red

Each figure has a default below (`DEFAULTS`, with where it comes from) until the
Administrateur saves their own (`save_threshold`), or clears it to show no status
(`clear_threshold`), or goes back to the default (`reset_threshold`). Sources are those of
`../shared/reference/audit-benchmarks.md` ([Sn]); "choice" marks a default no public figure
supports, picked as a sensible start for a French service company.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import diff, record_event, snapshot
from levier.kpis.models import KpiThreshold
from levier.lib.errors import ValidationFailed

GREEN, AMBER, RED = "green", "amber", "red"
STATUSES = (GREEN, AMBER, RED)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
MAX_LIMIT = Decimal("999999999999.99")  # max_digits=14, decimal_places=2

# Units of the limits (how the settings screen labels them).
DAYS, PERCENT, EUR, HOURS = "days", "percent", "eur", "hours"
UNIT_LABELS: dict[str, Promise] = {
    DAYS: _("days"),
    PERCENT: _("%"),
    EUR: _("€"),
    HOURS: _("hours"),
}


@dataclass(frozen=True)
class Spec:
    """A figure that can have a status: its label, unit, and default limits (None: none)."""

    label: Promise
    unit: str
    amber: Decimal | None
    red: Decimal | None
    higher_is_better: bool
    source: str  # where the default comes from


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# The headline KPIs first (the dashboard's cards), then the others worth a status.
DEFAULTS: dict[str, Spec] = {
    "invoicing_delay_days": Spec(
        _("Average invoicing delay"),
        DAYS,
        _d("3"),
        _d("7"),
        False,
        "choice: invoicing is due at delivery or completion [S50], so every day counts; "
        "a billing lag of 5 to 15 days is typical [S40], red before that range ends",
    ),
    "invoice_error_rate": Spec(
        _("Invoice error rate"),
        PERCENT,
        _d("2"),
        _d("5"),
        False,
        "choice: no public figure for invoices error-free the first time [S27]; aligned on "
        "the credit-note rate of the best companies, 0 to 2 % [S33]",
    ),
    "credit_note_rate": Spec(
        _("Credit-note rate"),
        PERCENT,
        _d("2"),
        _d("5"),
        False,
        "amber above 2 %: the best companies stay within 0 to 2 % [S33]; red 5 %: choice",
    ),
    "dso_simple": Spec(
        _("DSO (simple method)"),
        DAYS,
        _d("45"),
        _d("60"),
        False,
        "amber above 45 days: French customer terms average 43 to 44 days [S10][S12]; red "
        "above 60 days, the LME's cap on payment terms (Code de commerce L441-10)",
    ),
    "fae": Spec(
        _("Accrued revenue (FAE)"),
        EUR,
        None,
        None,
        False,
        "none: an amount, its scale depends on the company (set one in euros)",
    ),
    "pca": Spec(
        _("Deferred revenue (PCA)"),
        EUR,
        None,
        None,
        False,
        "none: deferred revenue billed in advance is not a problem in itself",
    ),
    "dispute_rate": Spec(
        _("Dispute rate"),
        PERCENT,
        _d("2"),
        _d("5"),
        False,
        "choice: no public figure for the share of invoices disputed [S27]",
    ),
    "credit_note_rate_amount": Spec(
        _("Credit-note rate (amount)"),
        PERCENT,
        _d("2"),
        _d("5"),
        False,
        "amber above 2 % of invoicing, as the best companies [S33]; red 5 %: choice",
    ),
    "dso_countback": Spec(
        _("DSO (countback method)"),
        DAYS,
        _d("45"),
        _d("60"),
        False,
        "as the simple DSO: 43 to 44 days average terms [S10][S12], 60 days the LME cap",
    ),
    "dispute_resolution_days": Spec(
        _("Dispute resolution time"),
        DAYS,
        _d("15"),
        _d("30"),
        False,
        "red above 30 days, where the bottom performers are; the top ones take 4 days "
        "[S25]; amber 15: choice",
    ),
    "overdue_ratio": Spec(
        _("Overdue ratio"),
        PERCENT,
        _d("15"),
        _d("30"),
        False,
        "choice, after the usual 10 to 15 % target of customers more than 30 days past due [S26]",
    ),
    "average_payment_delay_days": Spec(
        _("Average payment delay"),
        DAYS,
        _d("13"),
        _d("30"),
        False,
        "amber above the French average lateness, 13 days in 2024 [S11]; red a month late: choice",
    ),
    "cei": Spec(
        _("Collection effectiveness index"),
        PERCENT,
        _d("80"),
        _d("70"),
        True,
        "choice: no public figure in the references; 80 % is the usual target",
    ),
    "order_validation_hours_median": Spec(
        _("Order validation time (median)"),
        HOURS,
        _d("24"),
        _d("48"),
        False,
        "choice: an order validated within a working day",
    ),
    "order_validation_hours_p90": Spec(
        _("Order validation time (90th percentile)"),
        HOURS,
        _d("48"),
        _d("96"),
        False,
        "choice: nine orders in ten validated within two days",
    ),
}
# KpiFigures holds these as ratios (0.05); their limits are percents.
RATIO_KEYS = frozenset(
    {
        "credit_note_rate",
        "credit_note_rate_amount",
        "invoice_error_rate",
        "dispute_rate",
        "overdue_ratio",
    }
)


@dataclass(frozen=True)
class Threshold:
    """The limits in force for one figure (the Administrateur's, or the default)."""

    key: str
    label: str
    unit: str
    amber: Decimal | None
    red: Decimal | None
    higher_is_better: bool
    is_default: bool
    source: str

    @property
    def defined(self) -> bool:
        return self.amber is not None and self.red is not None

    def status(self, value: Decimal | None) -> str | None:
        """Green, amber or red for a figure in KpiFigures' unit; None if undefined."""
        if value is None or self.amber is None or self.red is None:
            return None
        shown = value * HUNDRED if self.key in RATIO_KEYS else value
        if self.higher_is_better:
            return GREEN if shown >= self.amber else AMBER if shown >= self.red else RED
        return GREEN if shown <= self.amber else AMBER if shown <= self.red else RED


def _threshold(key: str, row: KpiThreshold | None) -> Threshold:
    spec = DEFAULTS[key]
    if row is None:
        return Threshold(
            key=key,
            label=str(spec.label),
            unit=spec.unit,
            amber=spec.amber,
            red=spec.red,
            higher_is_better=spec.higher_is_better,
            is_default=True,
            source=spec.source,
        )
    return Threshold(
        key=key,
        label=str(spec.label),
        unit=spec.unit,
        amber=row.amber,
        red=row.red,
        higher_is_better=row.higher_is_better,
        is_default=False,
        source=spec.source,
    )


def thresholds(keys: Iterable[str] | None = None) -> dict[str, Threshold]:
    """The limits in force, by key (all of DEFAULTS' keys unless given), in one query."""
    wanted = [key for key in (DEFAULTS if keys is None else keys) if key in DEFAULTS]
    rows = {row.key: row for row in KpiThreshold.objects.filter(key__in=wanted)}
    return {key: _threshold(key, rows.get(key)) for key in wanted}


def threshold_for(key: str) -> Threshold | None:
    """The limits in force for one figure; None for a figure that cannot have a status."""
    return thresholds([key]).get(key)


def status_of(key: str, value: Decimal | None) -> str | None:
    """Green, amber or red; None when the value is undefined or there is no threshold."""
    if value is None:
        return None
    threshold = threshold_for(key)
    return None if threshold is None else threshold.status(value)


def statuses(values: Mapping[str, Decimal | None]) -> dict[str, str | None]:
    """`status_of` of several figures in one query (the dashboard's cards)."""
    found = thresholds(values.keys())
    return {
        key: (found[key].status(value) if key in found else None) for key, value in values.items()
    }


# --- the Administrateur's settings --------------------------------------------------------------


def _limit(field: str, raw: Decimal | str | None) -> Decimal:
    label = {"amber": gettext("Amber limit"), "red": gettext("Red limit")}[field]
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValidationFailed.on(field, gettext("%(field)s: required") % {"field": label})
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(raw.strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise ValidationFailed.on(
            field, gettext("%(field)s: not a number (e.g. 45 or 2.5)") % {"field": label}
        ) from None
    if not value.is_finite():
        raise ValidationFailed.on(
            field, gettext("%(field)s: not a number (e.g. 45 or 2.5)") % {"field": label}
        )
    if value < 0:
        raise ValidationFailed.on(
            field, gettext("%(field)s: must be zero or more") % {"field": label}
        )
    if value > MAX_LIMIT:
        raise ValidationFailed.on(field, gettext("%(field)s: too large") % {"field": label})
    return value.quantize(CENT)


def _known(key: str) -> Spec:
    spec = DEFAULTS.get(key)
    if spec is None:
        raise ValidationFailed.on(
            "key", gettext("No threshold can be set on “%(key)s”") % {"key": key[:60]}
        )
    return spec


def _record(actor: User, row: KpiThreshold, before: dict[str, object], verb: Verb) -> None:
    after = snapshot(row, ["amber", "red", "higher_is_better"])
    record_event(
        actor=actor,
        verb=verb,
        instance=row,
        changes=diff(before, after),
        comment=gettext("KPI threshold: %(label)s") % {"label": DEFAULTS[row.key].label},
    )


@transaction.atomic
def save_threshold(
    *,
    actor: User,
    key: str,
    amber: Decimal | str | None,
    red: Decimal | str | None,
    higher_is_better: bool,
) -> Threshold:
    """Set one figure's limits (in the unit shown: days, %, €, hours). Audited.

    Refused (ValidationFailed naming the field) when a limit is missing, not a number,
    negative, or on the wrong side of the other: lower is better → amber ≤ red; higher is
    better → amber ≥ red (equal limits: no amber band).
    """
    require(actor, Action.MANAGE_KPI_SETTINGS)
    _known(key)
    amber_value, red_value = _limit("amber", amber), _limit("red", red)
    if higher_is_better and amber_value < red_value:
        raise ValidationFailed.on(
            "red",
            gettext(
                "Red limit: when higher is better, it must be at most the amber limit (%(amber)s)"
            )
            % {"amber": amber_value},
        )
    if not higher_is_better and red_value < amber_value:
        raise ValidationFailed.on(
            "red",
            gettext(
                "Red limit: when lower is better, it must be at least the amber limit (%(amber)s)"
            )
            % {"amber": amber_value},
        )
    return _store(actor, key, amber_value, red_value, higher_is_better)


@transaction.atomic
def clear_threshold(*, actor: User, key: str) -> Threshold:
    """No status for this figure (its card shows the value alone). Audited."""
    require(actor, Action.MANAGE_KPI_SETTINGS)
    return _store(actor, key, None, None, higher_is_better=None)


def _store(
    actor: User,
    key: str,
    amber: Decimal | None,
    red: Decimal | None,
    higher_is_better: bool | None,
) -> Threshold:
    """Write the figure's row (created from its default when there is none) and audit the
    change. `higher_is_better=None` keeps the direction in force."""
    spec = _known(key)
    row = KpiThreshold.objects.select_for_update().filter(key=key).first()
    if row is None:
        before: dict[str, object] = {
            "amber": _plain(spec.amber),
            "red": _plain(spec.red),
            "higher_is_better": spec.higher_is_better,
        }
        row, verb = KpiThreshold(key=key, higher_is_better=spec.higher_is_better), Verb.CREATE
    else:
        before, verb = snapshot(row, ["amber", "red", "higher_is_better"]), Verb.UPDATE
    row.amber, row.red = amber, red
    if higher_is_better is not None:
        row.higher_is_better = higher_is_better
    row.updated_by = actor
    row.save()
    _record(actor, row, before, verb)
    return _threshold(key, row)


@transaction.atomic
def reset_threshold(*, actor: User, key: str) -> Threshold:
    """Back to the default limits (the row is deleted). Audited."""
    require(actor, Action.MANAGE_KPI_SETTINGS)
    spec = _known(key)
    row = KpiThreshold.objects.select_for_update().filter(key=key).first()
    if row is not None:
        record_event(
            actor=actor,
            verb=Verb.DELETE,
            instance=row,
            changes={
                "amber": [_plain(row.amber), _plain(spec.amber)],
                "red": [_plain(row.red), _plain(spec.red)],
                "higher_is_better": [row.higher_is_better, spec.higher_is_better],
            },
            comment=gettext("KPI threshold back to its default: %(label)s") % {"label": spec.label},
        )
        row.delete()
    return _threshold(key, None)


def _plain(value: Decimal | None) -> str | None:
    """A limit as the audit trail stores it ("45.00", the column's two decimals)."""
    return None if value is None else str(value.quantize(CENT))
