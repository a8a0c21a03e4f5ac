"""What the KPI layer stores: weekly snapshots, status thresholds, the weekly report's
recipients and its send log. The figures themselves are always computed (`compute_kpis`).

**Weeks.** A snapshot belongs to a Monday (`week_start`) and holds the figures **as of the
Sunday before** (`as_of = week_start − 1 day`): the state at the start of that Monday, the
week just finished and complete. The Monday job (7:30) then never half-counts that
morning's activity (the 6:00 billing run, the 7:00 dunning run), and a job that runs late
(the server was down until Wednesday) still reports the same Sunday. The weekly report sent
on a Monday is that Monday's snapshot: « tableau de bord de la semaine du <Monday> »,
« chiffres arrêtés au <Sunday> ».

**Immutability.** A stored snapshot is never recomputed nor overwritten: trends show each
week as it was reported, even after later corrections (a credit note dated in the past).
A backfill only fills the missing weeks, and says so (`source`).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SnapshotSource(models.TextChoices):
    WEEKLY_JOB = "weekly_job", _("Weekly job")
    # Computed later from the books as they are now, so later corrections are in it.
    BACKFILL = "backfill", _("Backfill")
    # Taken by hand (`levier kpis-snapshot`), e.g. for a Monday the job missed.
    ON_DEMAND = "on_demand", _("On demand")


class KpiSnapshot(models.Model):
    """The figures of one week, as `KpiFigures.as_json()` returned them when it was taken."""

    week_start = models.DateField(_("week (Monday)"), unique=True)
    as_of = models.DateField(_("figures as of"))  # the Sunday before week_start
    period_days = models.PositiveIntegerField(_("period (days)"))
    figures = models.JSONField(_("figures"))
    computed_at = models.DateTimeField(_("computed at"), auto_now_add=True)
    source = models.CharField(_("source"), max_length=20, choices=SnapshotSource.choices)

    class Meta:
        ordering = ["-week_start"]
        verbose_name = _("KPI snapshot")
        verbose_name_plural = _("KPI snapshots")
        constraints = [
            models.CheckConstraint(
                condition=Q(as_of__lt=models.F("week_start")), name="kpis_snapshot_as_of_before"
            )
        ]

    def __str__(self) -> str:
        return f"KPIs {self.week_start.isoformat()} ({self.as_of.isoformat()})"

    @property
    def recomputed(self) -> bool:
        """True when the figures were computed after the week (a backfill), not reported then."""
        return self.source == SnapshotSource.BACKFILL or (
            self.computed_at is not None
            and self.computed_at.date() > self.week_start + dt.timedelta(days=6)
        )


class KpiThreshold(models.Model):
    """The Administrateur's limits for one figure's status (green / amber / red).

    Limits are in the unit the dashboard shows (days, %, €, hours): a rate of 0.05 is
    compared as 5 %. A limit is the last value still in the better band: with amber 45 and
    red 60 days (lower is better), 45 is green, 45.1 amber, 60 amber, 60.1 red. No row: the
    default of `levier.kpis.thresholds.DEFAULTS`; a row with no limits: no status at all.
    """

    key = models.CharField(_("figure"), max_length=60, unique=True)
    amber = models.DecimalField(_("amber limit"), max_digits=14, decimal_places=2, null=True)
    red = models.DecimalField(_("red limit"), max_digits=14, decimal_places=2, null=True)
    higher_is_better = models.BooleanField(_("higher is better"), default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["key"]
        verbose_name = _("KPI threshold")
        verbose_name_plural = _("KPI thresholds")
        constraints = [
            models.CheckConstraint(
                condition=(Q(amber__isnull=True) & Q(red__isnull=True))
                | (Q(amber__isnull=False) & Q(red__isnull=False)),
                name="kpis_threshold_both_or_none",
            )
        ]

    def __str__(self) -> str:
        return self.key


class ReportRecipient(models.Model):
    """One line of the weekly report's recipient list: a user or an extra address.

    Every active Direction user receives the report without a row (the issue: "emailed to
    the Direction role"); a row for one of them with `enabled` off leaves them out. Other
    users and outside addresses are added as rows, and can be disabled or removed.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="kpi_report_recipient",
    )
    email = models.EmailField(_("email address"), blank=True)  # stored lowercased
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["pk"]
        verbose_name = _("weekly report recipient")
        verbose_name_plural = _("weekly report recipients")
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=True) & ~Q(email=""))
                | (Q(user__isnull=False) & Q(email="")),
                name="kpis_recipient_user_or_email",
            ),
            models.UniqueConstraint(
                fields=["email"], condition=~Q(email=""), name="kpis_recipient_email_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.email or str(self.user)


class SendingStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    NO_RECIPIENT = "no_recipient", _("No recipient")


class SendingTrigger(models.TextChoices):
    WEEKLY_JOB = "weekly_job", _("Weekly job")
    ON_DEMAND = "on_demand", _("On demand")


class WeeklyReportSending(models.Model):
    """The send log of the weekly report: when, which week, to whom, and how it went."""

    week_start = models.DateField(_("week (Monday)"), db_index=True)
    as_of = models.DateField(_("figures as of"))
    sent_at = models.DateTimeField(_("at"), auto_now_add=True)
    trigger = models.CharField(_("trigger"), max_length=20, choices=SendingTrigger.choices)
    status = models.CharField(_("status"), max_length=20, choices=SendingStatus.choices)
    recipients = models.JSONField(_("recipients"), default=list)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-sent_at", "-pk"]
        verbose_name = _("weekly report sending")
        verbose_name_plural = _("weekly report sendings")

    def __str__(self) -> str:
        return f"{self.week_start.isoformat()} {self.status}"
