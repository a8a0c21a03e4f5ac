"""Bank statements imported, and their lines: the money that came in (and went out).

Each imported file is kept with its SHA-256, so the same file is never imported twice; each
line has a fingerprint, unique in the database, so an overlapping statement (the same days
exported again, or a monthly file after the daily ones) never imports a line twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StatementFile(models.Model):
    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64, unique=True)
    format = models.CharField(_("format"), max_length=20)
    size = models.PositiveIntegerField()
    statements = models.PositiveIntegerField(default=0)
    lines_imported = models.PositiveIntegerField(default=0)
    lines_already_known = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(default=list)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return self.filename


class BankTransaction(models.Model):
    """One booked line of a statement (credit > 0: money received)."""

    file = models.ForeignKey(StatementFile, on_delete=models.PROTECT, related_name="lines")
    account_iban = models.CharField(_("account"), max_length=34, db_index=True)
    booking_date = models.DateField(_("booking date"), db_index=True)
    value_date = models.DateField(_("value date"), null=True, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=5)
    currency = models.CharField(max_length=3)
    label = models.CharField(_("label"), max_length=500, blank=True)
    remittance = models.TextField(_("remittance information"), blank=True)
    reference = models.CharField(_("creditor reference"), max_length=64, blank=True)
    counterparty_name = models.CharField(_("counterparty"), max_length=200, blank=True)
    counterparty_iban = models.CharField(max_length=34, blank=True)
    bank_reference = models.CharField(max_length=100, blank=True)
    end_to_end_id = models.CharField(max_length=100, blank=True)
    # What identifies this line whatever file it comes in: see collections.statements.keys.
    fingerprint = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-booking_date", "-pk"]

    def __str__(self) -> str:
        return f"{self.booking_date} {self.amount} {self.label[:40]}"
