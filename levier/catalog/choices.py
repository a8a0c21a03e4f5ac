from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class InvoicingMode(models.TextChoices):
    ON_ORDER = "on_order", _("On order")
    ON_DELIVERY = "on_delivery", _("On delivery")
    MILESTONES = "milestones", _("Milestones")
    RECURRING = "recurring", _("Recurring")
    TIME_AND_MATERIALS = "time_and_materials", _("Time and materials")


class Unit(models.TextChoices):
    HOUR = "hour", _("hour")
    DAY = "day", _("day")
    MONTH = "month", _("month")
    YEAR = "year", _("year")
    UNIT = "unit", _("unit")
    FLAT = "flat", _("flat fee")


class VatRate(models.TextChoices):
    # French VAT rates (CGI art. 278 ff.). 0 % requires the legal exemption mention.
    STANDARD = "20.00", "20 %"
    INTERMEDIATE = "10.00", "10 %"
    REDUCED = "5.50", "5,5 %"
    SUPER_REDUCED = "2.10", "2,1 %"
    ZERO = "0.00", "0 %"


VAT_RATES = [Decimal(v) for v in VatRate.values]
