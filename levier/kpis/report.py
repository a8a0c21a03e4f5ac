"""The weekly report: the dashboard as a printable PDF, emailed every Monday to the Direction.

**Which figures.** The report of a week is its stored snapshot (`levier.kpis.history`): the
figures as of the Sunday before its Monday, as reported, taken first if the week has none.
The change since last week and the 52-week sparklines come from the stored snapshots too,
so the PDF shows what the dashboard's history shows. The top overdue customers and the
disputes by reason are computed at that Sunday (`levier.kpis.breakdowns`).

**Language.** Like the account statement and the reminder letters, the PDF and the email
are French documents (the Direction of a French company reads them): their text is written
in French in the template and here, and the labels that come from elsewhere (dispute
reasons) are rendered with French active.

**Recipients.** Every active Direction user with an email address receives it without being
listed; the Administrateur can leave one out (a disabled row), add other users or outside
addresses, disable or remove them (`ReportRecipient`). Each sending is logged
(`WeeklyReportSending`: when, which week, to whom, sent or why not) and audited.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.company import company_profile
from levier.kpis.figures import AGED_KEYS
from levier.kpis.history import (
    figures_date,
    monday_of,
    snapshot_for_week,
    take_snapshot,
    value_of,
    weekly_figures,
)
from levier.kpis.models import (
    KpiSnapshot,
    ReportRecipient,
    SendingStatus,
    SendingTrigger,
    SnapshotSource,
    WeeklyReportSending,
)
from levier.kpis.thresholds import RATIO_KEYS, statuses
from levier.lib.errors import NotAllowed, ValidationFailed

log = logging.getLogger(__name__)

__all__ = [
    "ReportNotSent",
    "add_recipient",
    "recipient_lines",
    "remove_recipient",
    "report_recipients",
    "send_weekly_report",
    "set_recipient_enabled",
    "weekly_report_pdf",
]

REPORT_TEMPLATE = "kpis/weekly_report.html"
LOCALE = "fr_FR"
NBSP = "\u00a0"
ZERO = Decimal("0.00")
HISTORY_WEEKS = 52
TOP_OVERDUE = 10

# The five headline cards (`levier.kpis.services.HEADLINE` gives their order and keys), in
# French, with the figure shown beside each (credit-note rate, PCA).
HEADLINE_FR: dict[str, str] = {
    "invoicing_delay_days": "Délai moyen de facturation",
    "invoice_error_rate": "Taux d'erreur de facturation",
    "dso_simple": "DSO (délai moyen de paiement clients)",
    "fae": "Factures à établir (FAE)",
    "dispute_rate": "Taux de litiges",
}
BESIDE_FR: dict[str, tuple[str, str]] = {
    "invoice_error_rate": ("credit_note_rate", "taux d'avoirs"),
    "fae": ("pca", "PCA"),
}
STATUS_FR = {"green": "vert", "amber": "orange", "red": "rouge"}
BUCKETS_FR = {
    "not_due": "Non échu",
    "1_30": "1 à 30 jours",
    "31_60": "31 à 60 jours",
    "61_90": "61 à 90 jours",
    "over_90": "Plus de 90 jours",
}


class ReportNotSent(NotAllowed):
    """The weekly report could not go: no recipient, or the mail server refused it."""

    code = "report_not_sent"


# --- formatting (French) ------------------------------------------------------------------------


def _decimal(value: Decimal, places: int = 1) -> str:
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return str(format_decimal(value, format=pattern, locale=LOCALE))


def money(value: Decimal | None) -> str:
    from levier.billing.documents import money as euros

    return "n/d" if value is None else str(euros(value))


def _unit_of(key: str) -> str:
    if key in RATIO_KEYS:
        return "rate"
    if key in ("fae", "pca") or key.startswith("aged_balance") or key.endswith("_amount"):
        return "money"
    return "days"


def shown(key: str, value: Decimal | None) -> str:
    """A figure as the report prints it: « 42,5 j », « 3,1 % », « 12 345,00 € », « n/d »."""
    if value is None:
        return "n/d"
    unit = _unit_of(key)
    if unit == "rate":
        return f"{_decimal(value * 100)}{NBSP}%"
    if unit == "money":
        return money(value)
    return f"{_decimal(value)}{NBSP}j"


def change(key: str, now: Decimal | None, before: Decimal | None) -> str:
    """The change since last week: « +2,0 j », « −0,4 pt », « +1 200,00 € », « = »."""
    if now is None or before is None:
        return "n/d"
    delta = now - before
    if not delta:
        return "="
    sign = "+" if delta > 0 else "\u2212"
    unit = _unit_of(key)
    if unit == "rate":
        return f"{sign}{_decimal(abs(delta) * 100)}{NBSP}pt"
    if unit == "money":
        return f"{sign}{money(abs(delta))}"
    return f"{sign}{_decimal(abs(delta))}{NBSP}j"


def french_date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def long_date(day: dt.date) -> str:
    """« lundi 12 octobre 2026 »."""
    return str(format_date(day, format="EEEE d MMMM y", locale=LOCALE))


def report_filename(week_start: dt.date) -> str:
    return f"levier-tableau-de-bord-{week_start.isoformat()}.pdf"


def report_subject(week_start: dt.date) -> str:
    return f"Levier — tableau de bord de la semaine du {french_date(week_start)}"


# --- the report's content -----------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    key: str
    label: str
    value: str
    status: str | None  # green / amber / red
    status_label: str
    change: str
    trend: str  # "better" / "worse" / ""
    beside: str
    sparkline: str


def _week_snapshot(day: dt.date, source: str) -> KpiSnapshot:
    week = monday_of(day)
    return snapshot_for_week(week) or take_snapshot(week, source=source)


def _weeks(week_start: dt.date) -> list[dt.date]:
    """The Mondays of the 52 weeks up to `week_start`, oldest first."""
    return [week_start - dt.timedelta(weeks=n) for n in range(HISTORY_WEEKS - 1, -1, -1)]


def _cards(snapshot: KpiSnapshot, history: dict[dt.date, dict[str, Any]]) -> list[Card]:
    from levier.kpis.charts import sparkline
    from levier.kpis.services import HEADLINE

    figures = snapshot.figures
    previous = history.get(snapshot.week_start - dt.timedelta(days=7))
    weeks = _weeks(snapshot.week_start)
    keys = [headline.key for headline in HEADLINE]
    found = statuses({key: value_of(figures, key) for key in keys})
    cards = []
    for headline in HEADLINE:
        key = headline.key
        now = value_of(figures, key)
        before = value_of(previous, key) if previous is not None else None
        trend = ""
        if now is not None and before is not None and now != before:
            trend = "better" if (now > before) == headline.higher_is_better else "worse"
        beside = ""
        if key in BESIDE_FR:
            other, label = BESIDE_FR[key]
            beside = f"{label} {shown(other, value_of(figures, other))}"
        # The sparkline spans the 52 weeks up to this one, gaps for weeks with no snapshot.
        values = [value_of(history[monday], key) if monday in history else None for monday in weeks]
        label = HEADLINE_FR.get(key) or str(headline.label)
        status = found.get(key)
        cards.append(
            Card(
                key=key,
                label=label,
                value=shown(key, now),
                status=status,
                status_label=STATUS_FR.get(status or "", ""),
                change=change(key, now, before),
                trend=trend,
                beside=beside,
                sparkline=str(
                    sparkline(values, width=150, height=28, label=f"{label} sur 52 semaines")
                ),
            )
        )
    return cards


def report_context(
    as_of: dt.date | None = None, *, source: str = SnapshotSource.ON_DEMAND
) -> dict[str, Any]:
    """Everything the template prints for the week containing `as_of`, formatted in French."""
    from levier.kpis.breakdowns import disputes_by_reason, top_overdue_customers
    from levier.kpis.charts import bar_chart, line_chart, pareto_chart

    snapshot = _week_snapshot(as_of or timezone.localdate(), source)
    figures = snapshot.figures
    day = snapshot.as_of
    history = weekly_figures(snapshot.week_start, HISTORY_WEEKS)
    profile = company_profile()
    with translation.override("fr"):
        cards = _cards(snapshot, history)
        aged = {key: value_of(figures, f"aged_balance.{key}") or ZERO for key in AGED_KEYS}
        aged_rows = [
            {"label": BUCKETS_FR[key], "amount": money(aged[key])}
            for key in AGED_KEYS
            if key != "total"
        ]
        aged_chart = bar_chart(
            [(BUCKETS_FR[key], aged[key]) for key in AGED_KEYS if key != "total"],
            label="Balance âgée (TTC)",
            unit="€",
            horizontal=True,
            width=430,
            height=150,
        )
        dso_points = [
            (french_date(monday)[:5], value_of(history.get(monday, {}), "dso_simple"))
            for monday in _weeks(snapshot.week_start)
        ]
        dso_chart = line_chart(
            dso_points, label="DSO sur 52 semaines (jours)", unit="j", width=680, height=150
        )
        forecast = [
            (dt.date.fromisoformat(week["week_start"]), value_of(week, "expected") or ZERO)
            for week in figures.get("cash_forecast") or []
            if isinstance(week, dict) and "week_start" in week
        ]
        later = value_of(figures, "cash_forecast_later")
        forecast_chart = bar_chart(
            [(french_date(monday)[:5], amount) for monday, amount in forecast],
            label="Encaissements attendus sur 13 semaines (TTC)",
            unit="€",
            width=680,
            height=200,
        )
        overdue = top_overdue_customers(day, limit=TOP_OVERDUE)
        disputes = disputes_by_reason(day, snapshot.period_days)
        disputes_chart = pareto_chart(
            [(str(row.label), Decimal(row.count)) for row in disputes],
            label=f"Litiges ouverts sur {snapshot.period_days} jours, par motif",
            width=430,
            height=190,
        )
        dispute_rows = [
            {"label": str(row.label), "count": row.count, "amount": money(row.amount)}
            for row in disputes
        ]
    forecast_rows = [
        {"week": french_date(monday), "amount": money(amount)} for monday, amount in forecast
    ]
    half = (len(forecast_rows) + 1) // 2
    return {
        "company": profile.legal_name or settings.LEVIER_COMPANY_NAME,
        "week_start": french_date(snapshot.week_start),
        "week_start_long": long_date(snapshot.week_start),
        "as_of": french_date(day),
        "as_of_long": long_date(day),
        "period_days": snapshot.period_days,
        "computed_at": timezone.localtime(snapshot.computed_at).strftime("%d/%m/%Y %H:%M"),
        "recomputed": snapshot.recomputed,
        "cards": cards,
        "receivables": money(value_of(figures, "receivables_ttc")),
        "dso_countback": shown("dso_countback", value_of(figures, "dso_countback")),
        "overdue_ratio": shown("overdue_ratio", value_of(figures, "overdue_ratio")),
        "open_disputes": f"{figures.get('open_disputes_count', 0)} "
        f"({money(value_of(figures, 'open_disputes_amount'))})",
        "aged_rows": aged_rows,
        "aged_total": money(aged["total"]),
        "aged_chart": aged_chart,
        "dso_chart": dso_chart,
        "forecast_halves": [forecast_rows[:half], forecast_rows[half:]],
        "forecast_later": money(later) if later is not None else "",
        "forecast_total": money(sum((amount for _m, amount in forecast), ZERO)),
        "forecast_chart": forecast_chart,
        "overdue": [
            {
                "name": row.name,
                "amount": money(row.overdue),
                "invoices": row.invoices,
                "oldest_due": french_date(row.oldest_due),
                "days_late": row.days_late,
            }
            for row in overdue
        ],
        "disputes": dispute_rows,
        "disputes_chart": disputes_chart,
    }


def weekly_report_pdf(as_of: dt.date | None = None) -> bytes:
    """The PDF of the week containing `as_of` (default: this week): A4, French."""
    from levier.collections.statement import render_pdf

    return render_pdf(REPORT_TEMPLATE, report_context(as_of))


def email_body(context: dict[str, Any]) -> str:
    lines = [
        "Bonjour,",
        "",
        f"Vous trouverez ci-joint le tableau de bord de {context['company']} pour la semaine "
        f"du {context['week_start_long']}, chiffres arrêtés au {context['as_of_long']}.",
        "",
    ]
    for card in context["cards"]:
        status = f" [{card.status_label}]" if card.status_label else ""
        beside = f" ({card.beside})" if card.beside else ""
        if card.change == "=":
            moved = "inchangé depuis la semaine dernière"
        elif card.change == "n/d":
            moved = "pas de chiffre la semaine dernière pour comparer"
        else:
            moved = f"{card.change} depuis la semaine dernière"
        lines.append(f"- {card.label} : {card.value}{beside}{status}, {moved}")
    lines += [
        "",
        "Ce message est envoyé chaque lundi par Levier. La liste des destinataires se modifie "
        "dans Administration › Indicateurs.",
    ]
    return "\n".join(lines) + "\n"


# --- recipients ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientLine:
    """One line of the recipients screen: a Direction user (automatic) or a listed recipient."""

    row_id: int | None
    user_id: int | None
    name: str
    email: str
    automatic: bool  # an active Direction user, included unless disabled
    enabled: bool
    problem: str  # why nothing is sent to this line although enabled ("" when it is)

    @property
    def receives(self) -> bool:
        return self.enabled and not self.problem


def recipient_lines() -> list[RecipientLine]:
    """The Direction users first, then the listed users and addresses (two queries)."""
    rows = list(ReportRecipient.objects.select_related("user").order_by("pk"))
    by_user = {row.user_id: row for row in rows if row.user_id is not None}
    lines: list[RecipientLine] = []
    for user in User.objects.filter(role=Role.DIRECTION, is_active=True).order_by(
        "last_name", "first_name", "username"
    ):
        row = by_user.pop(user.pk, None)
        lines.append(
            RecipientLine(
                row_id=row.pk if row else None,
                user_id=user.pk,
                name=str(user),
                email=user.email,
                automatic=True,
                enabled=row.enabled if row else True,
                problem="" if user.email else gettext("no email address"),
            )
        )
    for row in rows:
        if row.user_id is not None and row.user_id not in by_user:
            continue  # shown above with the Direction users
        listed = row.user
        problem = ""
        if listed is not None and not listed.is_active:
            problem = gettext("account deactivated")
        elif listed is not None and not listed.email:
            problem = gettext("no email address")
        lines.append(
            RecipientLine(
                row_id=row.pk,
                user_id=row.user_id,
                name=str(listed) if listed is not None else "",
                email=listed.email if listed is not None else row.email,
                automatic=False,
                enabled=row.enabled,
                problem=problem,
            )
        )
    return lines


def report_recipients() -> list[str]:
    """The addresses the report goes to: each once (case-insensitive), in the screen's order."""
    seen: set[str] = set()
    addresses: list[str] = []
    for line in recipient_lines():
        if line.receives and line.email.lower() not in seen:
            seen.add(line.email.lower())
            addresses.append(line.email)
    return addresses


def _audit(actor: User, verb: Verb, row: ReportRecipient, comment: str) -> None:
    record_event(
        actor=actor,
        verb=verb,
        instance=row,
        changes={"user": row.user_id, "email": row.email, "enabled": row.enabled},
        comment=comment,
    )


@transaction.atomic
def add_recipient(
    *, actor: User, email: str = "", user_id: int | str | None = None
) -> ReportRecipient:
    """Add an outside address or a user to the weekly report's recipients. Audited."""
    require(actor, Action.MANAGE_KPI_SETTINGS)
    address = (email or "").strip().lower()
    has_user = user_id not in (None, "")
    if bool(address) == has_user:
        raise ValidationFailed.on(
            "email", gettext("Give either an email address or a user, not both")
        )
    if has_user:
        user = _user(user_id)
        if ReportRecipient.objects.filter(user=user).exists() or (
            user.role == Role.DIRECTION and user.is_active
        ):
            raise ValidationFailed.on(
                "user", gettext("%(user)s is already on the list") % {"user": user}
            )
        row = ReportRecipient.objects.create(user=user, created_by=actor)
        _audit(
            actor,
            Verb.CREATE,
            row,
            gettext("Weekly report recipient added: %(who)s") % {"who": user},
        )
        return row
    if len(address) > 254:
        raise ValidationFailed.on("email", gettext("Email address: too long"))
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationFailed.on(
            "email", gettext("Email address: not a valid address (name@domain.fr)")
        ) from None
    if address in {line.email.lower() for line in recipient_lines()}:
        raise ValidationFailed.on(
            "email", gettext("%(email)s is already on the list") % {"email": address}
        )
    row = ReportRecipient.objects.create(email=address, created_by=actor)
    _audit(
        actor,
        Verb.CREATE,
        row,
        gettext("Weekly report recipient added: %(who)s") % {"who": address},
    )
    return row


def _user(user_id: int | str | None) -> User:
    try:
        pk = int(str(user_id))
    except ValueError:
        pk = 0
    user = User.objects.filter(pk=pk, is_active=True).first() if 0 < pk < 2**63 else None
    if user is None:
        raise ValidationFailed.on("user", gettext("User: no such active user"))
    if not user.email:
        raise ValidationFailed.on("user", gettext("%(user)s has no email address") % {"user": user})
    return user


@transaction.atomic
def set_recipient_enabled(
    *, actor: User, enabled: bool, row_id: int | None = None, user_id: int | None = None
) -> ReportRecipient:
    """Enable or disable a listed recipient (row_id) or a Direction user (user_id). Audited."""
    require(actor, Action.MANAGE_KPI_SETTINGS)
    if row_id is not None:
        row = ReportRecipient.objects.select_for_update().filter(pk=row_id).first()
        if row is None:
            raise ValidationFailed.on("recipient", gettext("Recipient: not on the list"))
    else:
        user = User.objects.filter(pk=user_id or 0, role=Role.DIRECTION, is_active=True).first()
        if user is None:
            raise ValidationFailed.on("recipient", gettext("Recipient: not on the list"))
        row = ReportRecipient.objects.select_for_update().filter(user=user).first() or (
            ReportRecipient(user=user, created_by=actor)
        )
    row.enabled = enabled
    row.save()
    comment = (
        gettext("Weekly report recipient enabled: %(who)s")
        if enabled
        else gettext("Weekly report recipient disabled: %(who)s")
    )
    _audit(actor, Verb.UPDATE, row, comment % {"who": row})
    return row


@transaction.atomic
def remove_recipient(*, actor: User, row_id: int) -> None:
    """Remove a listed recipient (a Direction user is disabled instead, never removed)."""
    require(actor, Action.MANAGE_KPI_SETTINGS)
    row = (
        ReportRecipient.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=row_id)
    )
    found = row.first()
    if found is None:
        raise ValidationFailed.on("recipient", gettext("Recipient: not on the list"))
    if found.user is not None and found.user.role == Role.DIRECTION and found.user.is_active:
        raise ValidationFailed.on(
            "recipient",
            gettext("The Direction users receive the report: disable it for them instead"),
        )
    _audit(
        actor,
        Verb.DELETE,
        found,
        gettext("Weekly report recipient removed: %(who)s") % {"who": found},
    )
    found.delete()


# --- sending ------------------------------------------------------------------------------------


def _log(
    week_start: dt.date,
    trigger: str,
    status: str,
    recipients: list[str],
    actor: User | None,
    error: str = "",
) -> WeeklyReportSending:
    return WeeklyReportSending.objects.create(
        week_start=week_start,
        as_of=figures_date(week_start),
        trigger=trigger,
        status=status,
        recipients=recipients,
        error=error[:2000],
        requested_by=actor,
    )


def already_sent(week_start: dt.date) -> bool:
    """Whether the weekly job already sent this week's report (a second run sends nothing)."""
    return WeeklyReportSending.objects.filter(
        week_start=week_start, trigger=SendingTrigger.WEEKLY_JOB, status=SendingStatus.SENT
    ).exists()


def send_weekly_report(
    as_of: dt.date | None = None, *, actor: User | None = None, trigger: str = ""
) -> list[str]:
    """Email the report of the week containing `as_of` (default: this week) to its
    recipients; returns the addresses it went to.

    `actor`: the Administrateur's "send now" (checked, logged as on demand); None: the
    weekly job, or the command line with `trigger="on_demand"`. Raises ReportNotSent (logged first) when there is no recipient or the mail
    server refuses the message.
    """
    if actor is not None:
        require(actor, Action.MANAGE_KPI_SETTINGS)
    if actor is not None:
        trigger = SendingTrigger.ON_DEMAND
    trigger = trigger or SendingTrigger.WEEKLY_JOB
    if trigger not in SendingTrigger.values:
        raise ValueError(f"unknown trigger {trigger!r}")
    source = (
        SnapshotSource.WEEKLY_JOB
        if trigger == SendingTrigger.WEEKLY_JOB
        else SnapshotSource.ON_DEMAND
    )
    day = as_of or timezone.localdate()
    week_start = monday_of(day)
    recipients = report_recipients()
    if not recipients:
        _log(week_start, trigger, SendingStatus.NO_RECIPIENT, [], actor)
        raise ReportNotSent(
            gettext(
                "The weekly report has no recipient: no active Direction user with an email "
                "address, and no other recipient enabled"
            )
        )
    context = report_context(day, source=source)
    message = EmailMessage(
        subject=report_subject(week_start),
        body=email_body(context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )
    try:
        from levier.collections.statement import render_pdf

        message.attach(
            report_filename(week_start), render_pdf(REPORT_TEMPLATE, context), "application/pdf"
        )
        message.send(fail_silently=False)
    except OSError as exc:  # smtplib errors are OSErrors too
        error = f"{type(exc).__name__}: {exc}"
        _log(week_start, trigger, SendingStatus.FAILED, recipients, actor, error)
        log.warning("weekly KPI report of %s not sent: %s", week_start, error)
        raise ReportNotSent(
            gettext("The weekly report could not be sent: %(error)s") % {"error": error}
        ) from exc
    with transaction.atomic():
        row = _log(week_start, trigger, SendingStatus.SENT, recipients, actor)
        record_event(
            actor=actor,
            verb=Verb.SEND,
            instance=row,
            changes={"week_start": week_start, "to": recipients},
            comment=f"{report_subject(week_start)} envoyé à {', '.join(recipients)}",
        )
    log.info("weekly KPI report of %s sent to %s", week_start, ", ".join(recipients))
    return recipients
