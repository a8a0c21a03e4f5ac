from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from levier.customers.choices import InvoiceChannel, TermsBasis
from levier.lib.payment_terms import PaymentTerms
from levier.lib.payment_terms import TermsBasis as LibTermsBasis


class Customer(models.Model):
    """The single customer master (référentiel client unique).

    Every order, contract, invoice and payment points here; nothing keeps its own copy of a
    customer's legal identity. Written only by `levier.customers.services`.
    """

    name = models.CharField(_("legal name"), max_length=200)
    trade_name = models.CharField(_("trade name"), max_length=200, blank=True)
    # Name lowered and stripped of legal forms and punctuation: what duplicate detection and
    # search compare (indexed, so search over 100k customers stays an index scan).
    search_name = models.CharField(max_length=200, db_index=True, editable=False, default="")
    country = models.CharField(_("country"), max_length=2, default="FR")
    siren = models.CharField(_("SIREN"), max_length=9, blank=True, db_index=True)
    siret = models.CharField(_("SIRET"), max_length=14, blank=True, db_index=True)
    vat_number = models.CharField(_("intra-EU VAT number"), max_length=20, blank=True)
    address_line1 = models.CharField(_("billing address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True, db_index=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(_("payment terms (days)"), default=30)
    payment_terms_basis = models.CharField(
        _("payment terms basis"), max_length=20, choices=TermsBasis.choices, default=TermsBasis.NET
    )
    invoice_channel = models.CharField(
        _("invoice channel"),
        max_length=20,
        choices=InvoiceChannel.choices,
        default=InvoiceChannel.EMAIL,
    )
    # A mailbox kept for supplier invoices (factures@…) when the customer has one; blank:
    # emailed invoices go to its accounts-payable contacts (levier.billing.jobs_sending).
    invoice_email = models.EmailField(_("invoice email"), blank=True)
    po_number_required = models.BooleanField(_("PO number required"), default=False)
    # Maximum exposure TTC (VAT included, like the receivables it will cover): submitted and
    # validated orders now, open receivables later. Null: no limit set.
    credit_limit = models.DecimalField(
        _("credit limit"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    # Strategic accounts are never dunned automatically: a person handles them.
    is_strategic = models.BooleanField(_("strategic account"), default=False)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    segment = models.CharField(_("segment"), max_length=50, blank=True)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    notes = models.TextField(_("notes"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Set when this record was merged into another; it stays for the audit trail.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    # Optimistic locking: every save through the services increments it.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("customer")
        indexes = [models.Index(fields=["search_name", "postcode"])]

    def __str__(self) -> str:
        return self.name

    @property
    def payment_terms(self) -> PaymentTerms:
        return PaymentTerms(self.payment_terms_days, LibTermsBasis(self.payment_terms_basis))

    @property
    def has_credit_limit(self) -> bool:
        return self.credit_limit is not None and self.credit_limit >= Decimal("0")


class DeliveryAddress(models.Model):
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="delivery_addresses"
    )
    label = models.CharField(_("label"), max_length=100)
    line1 = models.CharField(_("address"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=10)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(_("country"), max_length=2, default="FR")
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        ordering = ["-is_default", "label"]

    def __str__(self) -> str:
        return f"{self.label}: {self.line1}, {self.postcode} {self.city}"


class Contact(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    # A contact may hold several roles; each flag answers "who gets this document".
    is_purchasing = models.BooleanField(_("purchasing"), default=False)
    is_accounts_payable = models.BooleanField(_("accounts payable"), default=False)
    is_dunning = models.BooleanField(_("dunning"), default=False)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
