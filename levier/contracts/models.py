"""Contracts: what the customer bought, how and when it is invoiced, at what (revised) price.

A contract has lines, each with its own invoicing mode, so one engagement can mix a set-up
fee invoiced on order, milestones, a monthly subscription and time and materials. What the
billing run already invoiced is not stored here: each invoice line carries the `billing_key`
of what it bills (`levier.contracts.billing`), and the database refuses a key twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from levier.catalog.choices import InvoicingMode, Unit
from levier.contracts.choices import (
    ArchiveKind,
    ContractStatus,
    Frequency,
    InvoiceGrouping,
    MilestoneTrigger,
    TimeEntrySource,
)


class ArchiveImmutableError(Exception):
    """Archived contractual documents are kept ten years and can never change or go."""


class IndexSeries(models.Model):
    """A published price index (Syntec révisé, INSEE…) contracts revise their prices by."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    # How many months after its month a value is published (January's Syntec in March: 2).
    publication_lag_months = models.PositiveSmallIntegerField(_("publication lag (months)"))

    class Meta:
        verbose_name = _("index series")
        verbose_name_plural = _("index series")

    def __str__(self) -> str:
        return self.name


class IndexValue(models.Model):
    series = models.ForeignKey(IndexSeries, on_delete=models.PROTECT, related_name="values")
    month = models.DateField(_("month"))  # first day of the month
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=4)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["series", "month"], name="one_value_per_index_month")
        ]

    def __str__(self) -> str:
        return f"{self.series.code} {self.month:%Y-%m} = {self.value}"


class Contract(models.Model):
    number = models.CharField(_("number"), max_length=30, unique=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="contracts",
    )
    order = models.ForeignKey(
        "sales.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="contracts"
    )
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ContractStatus.choices,
        default=ContractStatus.ACTIVE,
        db_index=True,
    )
    signed_on = models.DateField(_("signed on"))
    start_date = models.DateField(_("start date"))
    # None: open-ended (or tacitly renewed until notice is given).
    end_date = models.DateField(_("end date"), null=True, blank=True)
    po_number = models.CharField(_("customer PO number"), max_length=50, blank=True)
    invoice_grouping = models.CharField(
        _("invoice grouping"),
        max_length=20,
        choices=InvoiceGrouping.choices,
        default=InvoiceGrouping.PER_CONTRACT,
    )
    # --- renewal ----------------------------------------------------------------------
    initial_term_months = models.PositiveSmallIntegerField(
        _("initial term (months)"), null=True, blank=True
    )
    tacit_renewal = models.BooleanField(_("tacit renewal"), default=False)
    renewal_term_months = models.PositiveSmallIntegerField(
        _("renewal term (months)"), null=True, blank=True
    )
    notice_months = models.PositiveSmallIntegerField(_("notice (months)"), default=0)
    # --- price revision: P1 = P0 × (a + (1 − a) × S1/S0), bounded by floor and cap -------
    index_series = models.ForeignKey(
        IndexSeries,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contracts",
        verbose_name=_("revision index"),
    )
    revision_fixed_part = models.DecimalField(
        _("fixed part a"), max_digits=5, decimal_places=4, default=Decimal("0")
    )
    revision_floor = models.DecimalField(
        _("floor coefficient"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    revision_cap = models.DecimalField(
        _("cap coefficient"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    # S0: the index month of the prices in force (signature, then each applied revision's S1).
    base_index_month = models.DateField(_("base index month (S0)"), null=True, blank=True)
    # The anniversary of the last revision applied (None: never revised).
    last_revision_on = models.DateField(null=True, blank=True)
    # Late-payment interest agreed in the contract (% a year); None: the legal default,
    # ECB rate + 10 points (levier.collections.interest).
    late_interest_rate = models.DecimalField(
        _("late-payment interest (% a year)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    # --- life -------------------------------------------------------------------------
    version = models.PositiveSmallIntegerField(default=0)  # number of amendments
    notice_given_on = models.DateField(null=True, blank=True)
    termination_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "-number"]
        indexes = [models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class ContractLine(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(_("description"), max_length=500)
    mode = models.CharField(_("invoicing mode"), max_length=20, choices=InvoicingMode.choices)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices, default=Unit.DAY)
    # The price in force; `base_unit_price` is P0, the price at signature (or last amendment).
    unit_price = models.DecimalField(_("unit price HT"), max_digits=14, decimal_places=4)
    base_unit_price = models.DecimalField(max_digits=14, decimal_places=4)
    discount_percent = models.DecimalField(
        _("discount %"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    vat_rate = models.DecimalField(_("VAT rate %"), max_digits=5, decimal_places=2)
    # Recurring lines.
    frequency = models.CharField(
        _("frequency"), max_length=10, choices=Frequency.choices, blank=True
    )
    in_advance = models.BooleanField(_("billed in advance"), default=True)
    start_date = models.DateField(_("start date"), null=True, blank=True)  # default: contract's
    end_date = models.DateField(_("end date"), null=True, blank=True)  # default: contract's
    # One-off lines invoiced on delivery: the delivery or acceptance, recorded with its date.
    delivered_on = models.DateField(_("delivered on"), null=True, blank=True)
    delivery_note = models.CharField(_("delivery reference"), max_length=200, blank=True)
    revisable = models.BooleanField(_("revised by index"), default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.description


class Milestone(models.Model):
    """A step of an échéancier: an amount (or a percentage of its line) due when reached."""

    line = models.ForeignKey(ContractLine, on_delete=models.CASCADE, related_name="milestones")
    position = models.PositiveSmallIntegerField(default=0)
    label = models.CharField(_("label"), max_length=200)
    # Exactly one of amount (HT) or percent of the line's total HT.
    amount = models.DecimalField(
        _("amount HT"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    percent = models.DecimalField(
        _("percentage"), max_digits=6, decimal_places=3, null=True, blank=True
    )
    trigger = models.CharField(_("trigger"), max_length=20, choices=MilestoneTrigger.choices)
    planned_on = models.DateField(_("planned date"), null=True, blank=True)
    reached_on = models.DateField(_("reached on"), null=True, blank=True)
    reached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.label


class TimeEntry(models.Model):
    """Quantity delivered in one month on a time-and-materials line, billed after month end."""

    line = models.ForeignKey(ContractLine, on_delete=models.CASCADE, related_name="time_entries")
    month = models.DateField(_("month"))  # first day of the month
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    source = models.CharField(max_length=10, choices=TimeEntrySource.choices)
    comment = models.CharField(max_length=200, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["line", "month"]
        constraints = [
            models.UniqueConstraint(fields=["line", "month"], name="one_time_entry_per_line_month")
        ]

    def __str__(self) -> str:
        return f"{self.line_id} {self.month:%Y-%m}: {self.quantity}"


class Amendment(models.Model):
    """An avenant: what changed, from when, and the whole contract as it stood after it."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="amendments")
    number = models.PositiveSmallIntegerField()
    effective_on = models.DateField(_("effective on"))
    reason = models.TextField(_("reason"))
    changes = models.JSONField(default=dict)
    snapshot = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="one_amendment_number")
        ]

    def __str__(self) -> str:
        return f"{self.contract.number} avenant {self.number}"


class PriceRevision(models.Model):
    """One line's price revised on an anniversary: the indices used and the formula shown."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="revisions")
    line = models.ForeignKey(ContractLine, on_delete=models.PROTECT, related_name="revisions")
    anniversary = models.DateField()
    s0_month = models.DateField()
    s0_value = models.DecimalField(max_digits=12, decimal_places=4)
    s1_month = models.DateField()
    s1_value = models.DecimalField(max_digits=12, decimal_places=4)
    previous_price = models.DecimalField(max_digits=14, decimal_places=4)
    new_price = models.DecimalField(max_digits=14, decimal_places=4)
    coefficient = models.DecimalField(max_digits=12, decimal_places=8)
    limited_by = models.CharField(max_length=10, blank=True)
    formula = models.CharField(max_length=300)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contract", "-anniversary", "line"]
        constraints = [
            models.UniqueConstraint(
                fields=["line", "anniversary"], name="one_revision_per_line_year"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.contract.number} {self.anniversary}: {self.previous_price} → {self.new_price}"
        )


class ArchivedDocument(models.Model):
    """A contractual document kept ten years, with its SHA-256: never updated, never deleted.

    The bytes live in the archive folder under their hash (`levier.contracts.archive`); a
    database trigger (migration 0002) refuses any UPDATE or DELETE of these rows.
    """

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="documents")
    amendment = models.ForeignKey(
        Amendment, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ArchiveKind.choices)
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    archived_at = models.DateTimeField()
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    retain_until = models.DateField(_("kept until"))

    class Meta:
        ordering = ["contract", "archived_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ArchiveImmutableError(f"{self.filename} is archived and cannot change")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ArchiveImmutableError(f"{self.filename} is archived and cannot be deleted")
