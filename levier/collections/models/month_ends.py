"""Open amounts stored at month ends (`levier.collections.month_ends`).

A stored month end is a base the open amounts at any past date are counted from: a date
then costs the credit notes and payments between it and the nearest stored month end, at
most half a month, instead of every payment since (bench/kpis.py). The rows are derived
data, never typed: the services that change an open amount keep them exact.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MonthEnd(models.Model):
    """A month end whose open items are stored (all of them, built in one transaction)."""

    day = models.DateField(_("month end"), unique=True)
    built_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return self.day.isoformat()


class MonthEndItem(models.Model):
    """What an invoice owed at the end of a month (never zero: settled invoices have no row).

    The invoice's customer, issue and due dates are copied so that an aged balance or a
    forecast reads these rows alone.
    """

    month_end = models.ForeignKey(MonthEnd, on_delete=models.CASCADE, related_name="items")
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.CASCADE, related_name="month_end_items"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    issue_date = models.DateField()
    due_date = models.DateField(null=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        constraints = [
            # Also the index the services use to replace an invoice's rows.
            models.UniqueConstraint(fields=["invoice", "month_end"], name="month_end_item_once")
        ]
        indexes = [
            # A month end's rows (by customer for a statement), read from the index alone.
            # Every column in the key: SQLite has no INCLUDE (a warning at each migrate).
            models.Index(
                fields=["month_end", "customer", "issue_date", "due_date", "amount"],
                name="month_end_items",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month_end_id}/{self.invoice_id}: {self.amount}"
