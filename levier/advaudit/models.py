"""A kept ADV audit: who ran it on what, and its report as JSON, so it can be reopened,
re-scored with new answers and downloaded again. The FEC itself is never stored: its name,
size and SHA-256 identify it."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditSource(models.TextChoices):
    FEC = "fec", _("FEC file")
    LEVIER = "levier", _("Levier's data")


class AuditRun(models.Model):
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    source = models.CharField(max_length=10, choices=AuditSource.choices)
    company_name = models.CharField(max_length=200, blank=True)
    # The uploaded FEC, identified but not kept; empty for an audit of Levier's data.
    file_name = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True)  # bytes
    as_of = models.DateField()
    parameters = models.JSONField(default=dict)  # AuditParameters.as_json()
    answers = models.JSONField(default=dict)  # {"scores": {id: 0..4}, "comments": {id: text}}
    result = models.JSONField(default=dict)  # report_json(): every figure of the report
    # Copied out of `result` for the list of past audits (which does not load the JSON).
    maturity_score = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    # One-off cash and yearly P&L of the levers: two kinds, never added together.
    cash_total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    yearly_total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        what = self.file_name or str(AuditSource(self.source).label)
        return f"Audit ADV {self.company_name} ({what}, {self.as_of.isoformat()})"
