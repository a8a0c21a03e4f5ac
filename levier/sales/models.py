from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from levier.accounts.choices import Role
from levier.catalog.choices import InvoicingMode, Unit
from levier.customers.choices import TermsBasis
from levier.lib.payment_terms import PaymentTerms
from levier.lib.payment_terms import TermsBasis as LibTermsBasis
from levier.sales.choices import ApprovalStatus, OrderStatus, QuoteStatus, RuleKind, SendStatus

ZERO = Decimal("0.00")


class DocumentCounter(models.Model):
    """Last number given per key ("order-2026"), locked with select_for_update when used."""

    key = models.CharField(max_length=40, unique=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}={self.last_value}"


class SalesDocument(models.Model):
    """What quotes and orders share: customer, terms, totals (all HT totals at the cent)."""

    number = models.CharField(_("number"), max_length=30, unique=True)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    invoicing_mode = models.CharField(
        _("invoicing mode"),
        max_length=20,
        choices=InvoicingMode.choices,
        default=InvoicingMode.ON_ORDER,
    )
    payment_terms_days = models.PositiveSmallIntegerField(_("payment terms (days)"))
    payment_terms_basis = models.CharField(
        _("payment terms basis"), max_length=20, choices=TermsBasis.choices, default=TermsBasis.NET
    )
    notes = models.TextField(_("notes"), blank=True)
    # Totals are recomputed by the services from the lines (levier/lib/money.py rules).
    total_net = models.DecimalField(_("total HT"), max_digits=14, decimal_places=2, default=ZERO)
    total_vat = models.DecimalField(_("VAT"), max_digits=14, decimal_places=2, default=ZERO)
    total_gross = models.DecimalField(_("total TTC"), max_digits=14, decimal_places=2, default=ZERO)
    # Optimistic locking: an edit based on an older version is refused, never overwrites.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.number

    @property
    def payment_terms(self) -> PaymentTerms:
        return PaymentTerms(self.payment_terms_days, LibTermsBasis(self.payment_terms_basis))


class SalesLine(models.Model):
    position = models.PositiveSmallIntegerField(default=0)
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(_("description"), max_length=500)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices, default=Unit.DAY)
    unit_price = models.DecimalField(_("unit price HT"), max_digits=14, decimal_places=4)
    discount_percent = models.DecimalField(
        _("discount %"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    vat_rate = models.DecimalField(_("VAT rate %"), max_digits=5, decimal_places=2)
    net_amount = models.DecimalField(_("amount HT"), max_digits=14, decimal_places=2)

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.description} × {self.quantity}"


class Quote(SalesDocument):
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=QuoteStatus.choices,
        default=QuoteStatus.DRAFT,
        db_index=True,
    )
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("quote")


class QuoteLine(SalesLine):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")

    class Meta(SalesLine.Meta):
        pass


class Order(SalesDocument):
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=OrderStatus.choices,
        default=OrderStatus.DRAFT,
        db_index=True,
    )
    quote = models.OneToOneField(
        Quote, null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )
    po_number = models.CharField(_("customer PO number"), max_length=50, blank=True)
    requested_delivery_date = models.DateField(_("requested delivery date"), null=True, blank=True)
    delivery_address = models.ForeignKey(
        "customers.DeliveryAddress",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Incremented at each submission: approval steps belong to one round.
    submission_round = models.PositiveSmallIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Who submitted the current round and who last edited the draft: like the author, they
    # may not approve it (nobody approves an order they wrote or changed).
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    validated_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(_("rejection reason"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        indexes = [models.Index(fields=["status", "-created_at"])]


class OrderLine(SalesLine):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")

    class Meta(SalesLine.Meta):
        pass


class ApprovalRule(models.Model):
    """A rule of the validation circuit, edited by the Administrateur.

    When its condition holds for a submitted order, a step for `approver_role` is added.
    ADV's own check is always added and needs no rule.
    """

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("condition"), max_length=30, choices=RuleKind.choices)
    # Euros HT for AMOUNT_OVER, percent for DISCOUNT_OVER; unused by the other kinds.
    threshold = models.DecimalField(
        _("threshold"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    approver_role = models.CharField(
        _("approver role"),
        max_length=20,
        choices=[(r.value, r.label) for r in (Role.ADV, Role.COMPTABILITE, Role.DIRECTION)],
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "threshold"]
        verbose_name = _("approval rule")

    def __str__(self) -> str:
        return self.name


class ApprovalStep(models.Model):
    """One required approval for one submission round of an order (data, not states)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="approval_steps")
    round = models.PositiveSmallIntegerField()
    sequence = models.PositiveSmallIntegerField()  # steps are decided in this order
    role = models.CharField(max_length=20, choices=Role.choices)
    # Why the step is required ("Montant HT 62 000,00 € > seuil 50 000,00 €"), one per line.
    reasons = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["order", "round", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "round", "role"], name="one_step_per_role_and_round"
            )
        ]
        indexes = [models.Index(fields=["status", "role"])]

    def __str__(self) -> str:
        return f"{self.order} #{self.round} {self.role}: {self.status}"


class ProcedureSheet(models.Model):
    """The checklist shown to whoever owns a step (editable by the Administrateur)."""

    role = models.CharField(_("step owner"), max_length=20, choices=Role.choices, unique=True)
    title = models.CharField(_("title"), max_length=200)
    # One check per line.
    checklist = models.TextField(_("checklist"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["role"]
        verbose_name = _("procedure sheet")

    def __str__(self) -> str:
        return self.title

    @property
    def items(self) -> list[str]:
        return [line.strip() for line in self.checklist.splitlines() if line.strip()]


class OrderEmail(models.Model):
    """The send log of an order's emails (the confirmation, for now)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=30, default="confirmation")
    recipients = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=SendStatus.choices, default=SendStatus.QUEUED)
    error = models.TextField(blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a job took the row for sending; a row left "sending" long after this is stale
    # (the worker died) and may be taken again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.order} {self.kind} {self.status}"
