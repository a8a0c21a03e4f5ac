"""Dunning as data: scenarios of steps, the rate table for late interest, and the history.

A `DunningItem` row is written for each (invoice, step) the run handled, under a unique
constraint: a second run, a concurrent run or a rerun after a crash never sends the same
step of the same invoice twice. Items of one customer on one run share a `DunningMessage`
(one email or letter listing every invoice due, with the account statement attached).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from levier.collections.choices import DunningChannel, DunningOutcome, MessageStatus


class DunningScenario(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    # Customers of this segment follow this scenario (unless one is assigned to the customer).
    segment = models.CharField(_("customer segment"), max_length=50, blank=True)
    is_default = models.BooleanField(_("default scenario"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_scenario"
            ),
            models.UniqueConstraint(
                fields=["segment"], condition=~Q(segment=""), name="one_scenario_per_segment"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerScenario(models.Model):
    """A scenario chosen for one customer, overriding its segment's and the default."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="dunning_scenario"
    )
    scenario = models.ForeignKey(DunningScenario, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.scenario_id}"


class DunningStep(models.Model):
    """One step: `offset_days` from the due date (negative: before it), a channel, a text.

    `subject` and `body` are Django templates over the merge fields listed in
    `levier.collections.dunning.MERGE_FIELDS` ({{ customer_name }}, {{ invoices_table }}…).
    """

    scenario = models.ForeignKey(DunningScenario, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(_("name"), max_length=100)
    offset_days = models.SmallIntegerField(_("days from the due date"))
    channel = models.CharField(_("channel"), max_length=20, choices=DunningChannel.choices)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("text"), blank=True)
    # The formal notice (mise en demeure): interest and the 40 € indemnity are claimed.
    is_formal_notice = models.BooleanField(_("formal notice"), default=False)

    class Meta:
        ordering = ["scenario", "offset_days"]
        constraints = [
            models.UniqueConstraint(fields=["scenario", "offset_days"], name="one_step_per_offset")
        ]

    def __str__(self) -> str:
        return f"{self.name} (J{self.offset_days:+d})"


class LateInterestRate(models.Model):
    """The ECB main refinancing rate in force on 1 January or 1 July (C. com. L441-10).

    The legal late-payment rate for the half-year starting `valid_from` is this rate plus
    `margin_points` (10). Entered by accounting each half-year: a configurable table, never
    a constant.
    """

    valid_from = models.DateField(_("half-year starting"), unique=True)
    ecb_rate = models.DecimalField(_("ECB refinancing rate (%)"), max_digits=5, decimal_places=2)
    margin_points = models.DecimalField(
        _("points added"), max_digits=5, decimal_places=2, default=Decimal("10.00")
    )

    class Meta:
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.valid_from}: {self.ecb_rate} + {self.margin_points}"

    @property
    def legal_rate(self) -> Decimal:
        return self.ecb_rate + self.margin_points


class DunningRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    run_date = models.DateField(_("run date"), db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    messages = models.PositiveIntegerField(default=0)
    tasks = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict)  # reason → count

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.run_date} {self.status}"


class DunningLock(models.Model):
    """The single row a run locks (SELECT … FOR UPDATE NOWAIT): one run at a time."""

    name = models.CharField(max_length=20, unique=True)

    def __str__(self) -> str:
        return self.name


class DunningMessage(models.Model):
    """The reminder one customer receives from one run: email, letter, or a person's task."""

    run = models.ForeignKey(DunningRun, on_delete=models.PROTECT, related_name="dunning_messages")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="dunning_messages"
    )
    step = models.ForeignKey(DunningStep, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=20, choices=DunningChannel.choices)
    recipients = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    total_due = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    interest = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    indemnity = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    status = models.CharField(
        max_length=20, choices=MessageStatus.choices, default=MessageStatus.QUEUED, db_index=True
    )
    error = models.TextField(blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.step_id} {self.status}"


class DunningItem(models.Model):
    message = models.ForeignKey(DunningMessage, on_delete=models.PROTECT, related_name="items")
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="dunning_items"
    )
    step = models.ForeignKey(DunningStep, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=20, choices=DunningOutcome.choices)
    open_amount = models.DecimalField(max_digits=14, decimal_places=2)
    days_late = models.IntegerField()
    interest = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    indemnity = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "step"], name="dun_each_step_once")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.step_id}"


class StatementEmail(models.Model):
    """The send log of an account statement emailed on request (customer page).

    Queued with the request, sent by a job after the commit, retried by `levier
    send-reminders` like the reminders: a failed sending is visible and never lost.
    """

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="statement_emails"
    )
    as_of = models.DateField(_("statement date"))
    recipients = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=20, choices=MessageStatus.choices, default=MessageStatus.QUEUED, db_index=True
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.as_of} {self.status}"
