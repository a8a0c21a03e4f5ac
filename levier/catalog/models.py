from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from levier.catalog.choices import InvoicingMode, Unit, VatRate


class Product(models.Model):
    """A product or service that can be sold. Prices are HT (before VAT)."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    label = models.CharField(_("label"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices, default=Unit.DAY)
    # Four decimals: day rates and per-unit prices are often quoted below the cent.
    unit_price = models.DecimalField(_("unit price HT"), max_digits=14, decimal_places=4)
    vat_rate = models.DecimalField(
        _("VAT rate %"),
        max_digits=5,
        decimal_places=2,
        choices=[(Decimal(value), label) for value, label in VatRate.choices],
    )
    # Printed on the invoice when the rate is 0 %, e.g. "Autoliquidation, art. 283-2 du CGI".
    vat_exemption_mention = models.CharField(_("VAT exemption mention"), max_length=200, blank=True)
    revenue_account = models.CharField(_("revenue account"), max_length=12, default="706000")
    default_invoicing_mode = models.CharField(
        _("default invoicing mode"),
        max_length=20,
        choices=InvoicingMode.choices,
        default=InvoicingMode.ON_ORDER,
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Optimistic locking, as for customers: an edit based on an older version is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("product")

    def __str__(self) -> str:
        return f"{self.code} – {self.label}"

    def clean(self) -> None:
        if (
            self.vat_rate is not None
            and Decimal(self.vat_rate) == 0
            and not self.vat_exemption_mention
        ):
            raise ValidationError(
                {"vat_exemption_mention": _("A 0 % VAT rate needs its legal exemption mention.")}
            )
        if self.unit_price is not None and self.unit_price < 0:
            raise ValidationError({"unit_price": _("The unit price cannot be negative.")})
        if self.revenue_account and not (
            self.revenue_account.isdigit() and self.revenue_account.startswith("7")
        ):
            raise ValidationError(
                {"revenue_account": _("A revenue account is a class 7 account, digits only.")}
            )
