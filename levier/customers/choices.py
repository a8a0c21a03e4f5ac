from django.db import models
from django.utils.translation import gettext_lazy as _


class InvoiceChannel(models.TextChoices):
    EMAIL = "email", _("Email (PDF)")
    EINVOICING = "einvoicing", _("E-invoicing platform")
    POST = "post", _("Post")


class TermsBasis(models.TextChoices):
    NET = "net", _("days net")
    END_OF_MONTH = "end_of_month", _("days end of month")


class ContactRole(models.TextChoices):
    PURCHASING = "purchasing", _("Purchasing")
    ACCOUNTS_PAYABLE = "accounts_payable", _("Accounts payable")
    DUNNING = "dunning", _("Dunning")
