"""Disputes, promises to pay, call notes and tasks: what a person handles, not the robot."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from levier.collections.choices import (
    DisputeReason,
    DisputeResolution,
    DisputeStatus,
    NoteKind,
    PromiseStatus,
    TaskKind,
    TaskStatus,
)


class Dispute(models.Model):
    """A customer contests an invoice, or some of its lines. Stops dunning for that invoice."""

    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="disputes"
    )
    lines = models.ManyToManyField("billing.InvoiceLine", blank=True, related_name="+")
    reason = models.CharField(_("reason"), max_length=20, choices=DisputeReason.choices)
    # TTC contested: the invoice's open amount, or the disputed lines with their VAT.
    amount = models.DecimalField(_("amount disputed"), max_digits=14, decimal_places=2)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="disputes_owned",
        verbose_name=_("owner"),
    )
    due_on = models.DateField(_("resolution due"))
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(
        max_length=20, choices=DisputeStatus.choices, default=DisputeStatus.OPEN, db_index=True
    )
    resolution = models.CharField(
        _("resolution"), max_length=20, choices=DisputeResolution.choices, blank=True
    )
    resolution_note = models.TextField(blank=True)
    credit_note = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    corrected_invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_on = models.DateField(_("opened on"))
    resolved_on = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_on", "pk"]
        indexes = [models.Index(fields=["invoice", "status"])]

    def __str__(self) -> str:
        return f"LIT-{self.pk}"


class PromiseToPay(models.Model):
    """The customer said it will pay by a date: no reminder for these invoices until then."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="promises"
    )
    invoices = models.ManyToManyField("billing.Invoice", related_name="promises")
    promised_on = models.DateField(_("promised payment date"))
    amount = models.DecimalField(_("amount promised"), max_digits=14, decimal_places=2)
    note = models.TextField(_("note"), blank=True)
    status = models.CharField(
        max_length=20, choices=PromiseStatus.choices, default=PromiseStatus.OPEN, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["promised_on", "pk"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.amount} @ {self.promised_on}"


class CollectionNote(models.Model):
    """A call, email or remark about a customer's account, kept on the customer."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="collection_notes"
    )
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=NoteKind.choices)
    text = models.TextField(_("note"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.text[:40]}"


class CollectionTask(models.Model):
    """Something a person must do on an account: a call, a hand-over, a strategic reminder."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="collection_tasks"
    )
    invoices = models.ManyToManyField("billing.Invoice", blank=True, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=TaskKind.choices)
    title = models.CharField(_("task"), max_length=300)
    due_on = models.DateField(_("due"))
    # Amount at stake and how late, frozen when created (the worklist sorts by their product).
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    days_late = models.IntegerField(default=0)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN, db_index=True
    )
    dunning_message = models.ForeignKey(
        "collections.DunningMessage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tasks",
    )
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return self.title
