from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class PaymentMethod(models.TextChoices):
    TRANSFER = "transfer", _("Bank transfer")
    CHEQUE = "cheque", _("Cheque")
    CARD = "card", _("Card")
    DIRECT_DEBIT = "direct_debit", _("Direct debit")


class PaymentStatus(models.TextChoices):
    """Derived from the allocations: kept on the row so worklists filter without a join."""

    UNMATCHED = "unmatched", _("Not matched")
    PARTIAL = "partial", _("Partly matched")
    MATCHED = "matched", _("Matched")


class MatchReason(models.TextChoices):
    CREDITOR_REFERENCE = "rf", _("RF creditor reference quoted")
    INVOICE_NUMBER = "number", _("Invoice number quoted")
    PAYER_EXACT_AMOUNT = "payer_amount", _("Payer identified, exact open amount")
    PAYER_SEVERAL_INVOICES = "payer_sum", _("Payer identified, sum of several invoices")
    PAYER_PARTIAL = "payer_partial", _("Payer identified, partial payment")
    PAYER_OVERPAYMENT = "payer_over", _("Payer identified, overpayment kept as credit")
    PAYER_ONLY = "payer_only", _("Payer identified, invoices to choose")
    ALREADY_PAID = "already_paid", _("Quotes an invoice already settled: paid twice?")
    MANUAL = "manual", _("Matched by hand")


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("To review")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    OBSOLETE = "obsolete", _("No longer valid")


class DisputeReason(models.TextChoices):
    PRICE = "price", _("Price")
    QUANTITY = "quantity", _("Quantity")
    NOT_DELIVERED = "not_delivered", _("Not delivered")
    QUALITY = "quality", _("Quality")
    DUPLICATE = "duplicate", _("Duplicate")
    MISSING_PO = "missing_po", _("Missing PO")
    OTHER = "other", _("Other")


# The reasons that say the invoice itself was wrong (kpis.md, invoice error rate).
BILLING_ERROR_DISPUTE_REASONS = frozenset(
    {DisputeReason.PRICE, DisputeReason.QUANTITY, DisputeReason.DUPLICATE, DisputeReason.MISSING_PO}
)


class DisputeStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("dispute status", "Open")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class DisputeResolution(models.TextChoices):
    CREDIT_NOTE = "credit_note", _("Credit note")
    CORRECTED_INVOICE = "corrected_invoice", _("Corrected invoice")
    REJECTED = "rejected", _("Rejected (the invoice stands)")


class PromiseStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("promise status", "Open")
    KEPT = "kept", _("Kept")
    BROKEN = "broken", _("Broken")
    CANCELLED = "cancelled", _("Cancelled")


class NoteKind(models.TextChoices):
    CALL = "call", _("Phone call")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    NOTE = "note", _("Note")


class TaskKind(models.TextChoices):
    CALL = "call", _("Call the customer")
    HANDOVER = "handover", _("Hand over to a person")
    STRATEGIC = "strategic", _("Strategic account: reminder by a person")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("To do")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class DunningChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    LETTER = "letter", _("Letter (PDF)")
    PHONE = "phone", _("Phone call (task for a person)")
    HANDOVER = "handover", _("Hand-over to a person")


class DunningOutcome(models.TextChoices):
    """What became of a step for one invoice (the row makes the run idempotent)."""

    SENT = "sent", _("Reminder sent")
    TASK = "task", _("Task created for a person")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    TO_PRINT = "to_print", _("To print")
    PRINTED = "printed", _("Printed")
    TASK = "task", _("Handed to a person (task)")
    # Nothing left to chase when it was to go: paid, disputed or promised since the run.
    CANCELLED = "cancelled", _("Withdrawn (nothing left to remind)")
