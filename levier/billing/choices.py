from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")  # UNTDID 1001 code 380
    CREDIT_NOTE = "credit_note", _("Credit note")  # UNTDID 1001 code 381


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")  # computed by a billing run or typed by ADV; no number yet
    ISSUED = "issued", _("Issued")  # numbered, chained, immutable: corrections by credit note
    DISCARDED = "discarded", _("Discarded")  # a draft dropped before issue (never numbered)


class CreditReason(models.TextChoices):
    PRICE_ERROR = "price_error", _("Price or quantity error")
    COMMERCIAL_GESTURE = "commercial_gesture", _("Commercial gesture")
    SERVICE_NOT_DELIVERED = "not_delivered", _("Service not delivered")
    DUPLICATE = "duplicate", _("Invoiced twice")
    CUSTOMER_DATA = "customer_data", _("Wrong customer details (cancel and re-invoice)")
    DISPUTE = "dispute", _("Settlement of a dispute")


class NatureOfOperations(models.TextChoices):
    # 2026 reform mention: goods, services, or both.
    SERVICES = "services", _("Services")
    GOODS = "goods", _("Goods")
    MIXED = "mixed", _("Goods and services")
