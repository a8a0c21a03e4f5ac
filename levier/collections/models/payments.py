"""Money received and what it paid: payments, their allocations to invoices, match proposals.

A payment is entered by hand (cheque, card…) or comes from a credit line of an imported
statement (one payment per bank line, never two: the bank line is unique on the payment).
An allocation says "this much of this payment settles this invoice"; what a payment has not
allocated is the customer's credit (an overpayment, or money not matched yet). The invoice
keeps its open amount (`Invoice.open_amount`) up to date in the same transaction.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from levier.collections.choices import MatchReason, PaymentMethod, PaymentStatus, ProposalStatus

ZERO = Decimal("0.00")


class Payment(models.Model):
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("customer"),
    )
    method = models.CharField(_("payment method"), max_length=20, choices=PaymentMethod.choices)
    received_on = models.DateField(_("received on"), db_index=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    # Sum of live allocations: `amount - allocated` is the customer's credit.
    allocated = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    status = models.CharField(
        max_length=20,
        choices=PaymentStatus.choices,
        default=PaymentStatus.UNMATCHED,
        db_index=True,
    )
    payer_name = models.CharField(_("payer"), max_length=200, blank=True)
    payer_iban = models.CharField(_("payer IBAN"), max_length=34, blank=True)
    reference = models.CharField(_("reference"), max_length=500, blank=True)
    bank_transaction = models.OneToOneField(
        "collections.BankTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payment",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(allocated__gte=0) & Q(allocated__lte=models.F("amount")),
                name="payment_allocated_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.received_on:%d/%m/%Y} {self.amount} {self.payer_name[:40]}".strip()

    @property
    def unallocated(self) -> Decimal:
        return self.amount - self.allocated


class Allocation(models.Model):
    """Part of a payment settling an invoice. Deleted (and audited) when unmatched."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="allocations"
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=20, choices=MatchReason.choices)
    confidence = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("1.00"))
    automatic = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            # One allocation per payment and invoice: a second one is a change of the first.
            models.UniqueConstraint(fields=["payment", "invoice"], name="allocate_once"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.invoice_id}: {self.amount}"


class MatchProposal(models.Model):
    """What the matcher suggests for a payment it is not certain about (or applied).

    `allocations` is a list of {"invoice": id, "number": "F…", "amount": "123.45"}; an empty
    list with a customer means "the payer is known, the invoices are not".
    """

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="proposals")
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=MatchReason.choices)
    confidence = models.DecimalField(max_digits=3, decimal_places=2)
    explanation = models.CharField(max_length=500, blank=True)
    allocations = models.JSONField(default=list)
    status = models.CharField(
        max_length=20,
        choices=ProposalStatus.choices,
        default=ProposalStatus.PENDING,
        db_index=True,
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-confidence", "pk"]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.reason} {self.confidence}"
