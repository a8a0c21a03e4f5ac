from django.db import models
from django.utils.translation import gettext_lazy as _


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")  # being written by sales
    SENT = "sent", _("Sent")  # sent to the customer, awaiting an answer
    ACCEPTED = "accepted", _("Accepted")  # converted into an order
    DECLINED = "declined", _("Declined")  # the customer said no, or it expired


class OrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")  # editable by sales / ADV; where rejected orders come back
    SUBMITTED = "submitted", _("Submitted")  # in the validation circuit, frozen
    VALIDATED = "validated", _("Validated")  # every approval step passed; confirmation sent
    REJECTED = "rejected", _("Rejected")  # a step rejected it; only path is back to draft
    CANCELLED = "cancelled", _("Cancelled")  # abandoned before validation


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    # A later step's rejection (or a cancelled order) voids the steps still pending.
    VOID = "void", _("Void")


class RuleKind(models.TextChoices):
    AMOUNT_OVER = "amount_over", _("Order amount HT over a threshold")
    DISCOUNT_OVER = "discount_over", _("A line discount over a percentage")
    TERMS_LONGER_THAN_CUSTOMER = "terms_longer", _("Payment terms longer than the customer's")
    OVER_CREDIT_LIMIT = "over_credit_limit", _("Customer over its credit limit")


class SendStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")  # written with the business change, waiting for a job
    SENDING = "sending", _("Sending")  # a job claimed it and is talking to the SMTP server
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped (no recipient)")
