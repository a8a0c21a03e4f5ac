"""Invoices and credit notes: numbered without gaps, chained, immutable once issued.

Every legal field of an issued document is frozen three times over: the services never
write it, `Invoice.save()` refuses it, and database triggers (migration 0002) abort any
UPDATE or DELETE that would change it, whatever code runs the SQL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from levier.billing.choices import CreditReason, DocumentKind, InvoiceStatus, NatureOfOperations
from levier.catalog.choices import Unit
from levier.customers.choices import InvoiceChannel, TermsBasis

ZERO = Decimal("0.00")


class ImmutableDocumentError(Exception):
    """An issued invoice or credit note cannot be changed: issue a credit note instead."""


class NumberingSeries(models.Model):
    """A continuous, chronological numbering series (CGI ann. II art. 242 nonies A, 7°).

    `pattern` uses `{year}` and `{seq}` (zero-padded by `padding`), e.g. F{year}-{seq} →
    F2026-000123. Credit notes have their own series.
    """

    code = models.CharField(_("code"), max_length=10, unique=True)
    kind = models.CharField(_("document"), max_length=20, choices=DocumentKind.choices)
    pattern = models.CharField(_("pattern"), max_length=40, default="F{year}-{seq}")
    padding = models.PositiveSmallIntegerField(_("digits"), default=6)
    # True: the sequence restarts at 1 on 1 January (the year is then part of the number).
    yearly_reset = models.BooleanField(_("restart each year"), default=True)
    is_default = models.BooleanField(_("default for its document kind"), default=False)

    def __str__(self) -> str:
        return self.code

    def format(self, year: int, seq: int) -> str:
        return self.pattern.format(year=year, seq=f"{seq:0{self.padding}d}")


class SeriesCounter(models.Model):
    """The last number given in a series (and year, when it restarts yearly).

    Incremented by `UPDATE … RETURNING` inside the issuing transaction: the row stays
    locked until commit, so concurrent issuers queue, and a rollback undoes the increment.
    Hence no duplicate and no gap, which a database sequence cannot promise.
    """

    series = models.ForeignKey(NumberingSeries, on_delete=models.PROTECT, related_name="counters")
    year = models.PositiveSmallIntegerField()  # 0 for a series that never restarts
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "year"], name="one_counter_per_series_year")
        ]

    def __str__(self) -> str:
        return f"{self.series.code}/{self.year}={self.last_value}"


class ChainHead(models.Model):
    """The single row holding the hash of the last issued document (the chain's head)."""

    last_hash = models.CharField(max_length=64, default="0" * 64)
    length = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.length}:{self.last_hash[:12]}"


class Invoice(models.Model):
    """An invoice or a credit note (kind). Amounts HT/TVA/TTC at the cent, Decimal only."""

    kind = models.CharField(
        max_length=20, choices=DocumentKind.choices, default=DocumentKind.INVOICE
    )
    status = models.CharField(
        max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT, db_index=True
    )
    series = models.ForeignKey(NumberingSeries, on_delete=models.PROTECT, related_name="+")
    # Null until issued; unique once given.
    number = models.CharField(_("number"), max_length=40, unique=True, null=True, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="invoices"
    )
    order = models.ForeignKey(
        "sales.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    # The contract billed (None for invoices typed by hand or grouping several contracts).
    contract = models.ForeignKey(
        "contracts.Contract",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    # Credit notes: the invoice they correct and why (reason code required).
    credited_invoice = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    credit_reason = models.CharField(max_length=30, choices=CreditReason.choices, blank=True)
    # --- legal content, frozen at issue -------------------------------------------------
    issue_date = models.DateField(_("issue date"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    # The date the invoice became issuable (delivery, milestone, period start/end…): kpis.md.
    billable_on = models.DateField(_("billable on"))
    service_date = models.DateField(_("date of service"), null=True, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField()
    payment_terms_basis = models.CharField(max_length=20, choices=TermsBasis.choices)
    po_number = models.CharField(_("customer PO number"), max_length=50, blank=True)
    nature_of_operations = models.CharField(
        max_length=20, choices=NatureOfOperations.choices, default=NatureOfOperations.SERVICES
    )
    # Option for paying VAT on debits (on invoicing) rather than on receipts (2026 mention).
    vat_on_debits = models.BooleanField(default=False)
    # The buyer as it was when the invoice was issued: the master may change later.
    buyer_name = models.CharField(max_length=200, blank=True)
    buyer_siren = models.CharField(max_length=9, blank=True)
    buyer_vat_number = models.CharField(max_length=20, blank=True)
    buyer_address = models.TextField(blank=True)
    delivery_address = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    total_net = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    total_vat = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    total_gross = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    # --- chain -------------------------------------------------------------------------
    chain_index = models.PositiveBigIntegerField(null=True, blank=True, unique=True)
    previous_hash = models.CharField(max_length=64, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # --- working fields (not legal content) ----------------------------------------------
    notes = models.TextField(blank=True)
    # What the customer still owes (kpis.md): total TTC − credit notes − allocations. Set at
    # issue, kept current by credit notes and payment matching; null on drafts, 0 on credit
    # notes (they act through the invoice they credit). Negative: credited after being paid.
    open_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # The date the open amount last reached zero (payment received_on or credit note date).
    settled_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Fields an issued document may still change: nothing legal.
    MUTABLE_WHEN_ISSUED = frozenset({"notes", "updated_at", "open_amount", "settled_on"})

    class Meta:
        ordering = ["-issue_date", "-number"]
        indexes = [
            models.Index(fields=["customer", "status"]),
            models.Index(fields=["issue_date"]),
            # Open items (matching, dunning, aged balance) without scanning settled invoices;
            # issue date and open amount in the key too, so the ledger-wide aged balance and
            # the cash forecast read the index alone (bench/kpis.py: 262 → 25 ms at 1M).
            models.Index(
                fields=["customer", "due_date", "issue_date", "open_amount"],
                condition=models.Q(status="issued", kind="invoice") & ~models.Q(open_amount=0),
                name="open_items",
            ),
            # Invoices settled in a window (payment delay, the forecast's customer delays) and
            # those settled after a past date (aged balance "as of"), read from the index.
            models.Index(
                fields=["settled_on", "due_date", "customer", "total_gross"],
                condition=models.Q(status="issued", kind="invoice"),
                name="settled_invoices",
            ),
            # Invoices issued in a period (sales, invoicing delay, credit-note, error and
            # dispute rates), read from the index.
            models.Index(
                fields=["issue_date", "billable_on", "total_net", "total_gross", "id"],
                condition=models.Q(status="issued", kind="invoice"),
                name="invoices_issued_in_period",
            ),
            # Credit notes by the invoice they correct (open amount at a past date, AR, the
            # invoice error rate), without the million NULLs of the credited_invoice index.
            models.Index(
                fields=["credited_invoice", "issue_date", "credit_reason", "total_gross"],
                condition=models.Q(status="issued", kind="credit_note"),
                name="credit_notes_by_invoice",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"brouillon #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            stored = Invoice.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == InvoiceStatus.ISSUED:
                fields = kwargs.get("update_fields")
                if fields is None or not set(fields) <= self.MUTABLE_WHEN_ISSUED:
                    raise ImmutableDocumentError(f"{self.number} is issued and cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.status == InvoiceStatus.ISSUED:
            raise ImmutableDocumentError(f"{self.number} is issued and cannot be deleted")
        return super().delete(*args, **kwargs)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.DAY)
    unit_price = models.DecimalField(max_digits=14, decimal_places=4)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2)
    vat_exemption_mention = models.CharField(max_length=200, blank=True)
    revenue_account = models.CharField(max_length=12, default="706000")
    # The service period a recurring or T&M line pays for (printed, and BT-134/135).
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    net_amount = models.DecimalField(max_digits=14, decimal_places=2)
    # What of a contract this line bills (`levier.contracts.billing`): unique among live
    # lines, so no billing run, crashed, repeated or concurrent, bills it twice. Emptied
    # when a draft is discarded, which makes the item billable again.
    contract_line = models.ForeignKey(
        "contracts.ContractLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )
    billing_key = models.CharField(max_length=80, blank=True)
    # Its document's issue date once issued, NULL before: stamped by the database when the
    # document is issued, and never changed after (migration 0011's triggers). What was
    # invoiced by a date then reads the lines alone, not a million invoices joined to them
    # (the cut-off's keys and PCA, bench/kpis.py).
    issued_on = models.DateField(null=True, editable=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["billing_key"],
                condition=~models.Q(billing_key=""),
                name="bill_each_contract_item_once",
            )
        ]
        indexes = [
            # Lines paying for a service period (PCA at d: issued by d, ending after it).
            models.Index(
                fields=["period_end", "issued_on", "invoice"],
                condition=models.Q(period_start__isnull=False),
                name="issued_lines_with_period",
            ),
            # What of each contract line is invoiced by a date (the FAE), read index-only.
            models.Index(
                fields=["contract_line", "issued_on", "billing_key"],
                condition=models.Q(contract_line__isnull=False) & ~models.Q(billing_key=""),
                name="billed_contract_items",
            ),
            # Each document's first line billing a contract line, over a period (the
            # invoicing delay by mode, levier.kpis.breakdowns), read index-only.
            models.Index(
                fields=["issued_on", "invoice", "position", "id", "contract_line"],
                condition=models.Q(contract_line__isnull=False),
                name="contract_lines_issued",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description} × {self.quantity}"


class CompanyProfile(models.Model):
    """The seller: the legal identity every invoice, credit note and letter prints.

    One row (pk=1). Issuing is blocked while a mandatory seller mention is missing
    (`levier.billing.company.missing_seller_mentions`), as it is for the buyer.
    """

    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    trading_name = models.CharField(_("trading name"), max_length=200, blank=True)
    legal_form = models.CharField(_("legal form"), max_length=50, blank=True)  # SAS, SARL…
    share_capital = models.DecimalField(
        _("share capital (€)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    siret = models.CharField(_("SIRET (head office)"), max_length=14, blank=True)
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    rcs_city = models.CharField(_("RCS registry city"), max_length=80, blank=True)
    naf_code = models.CharField(_("NAF/APE code"), max_length=6, blank=True)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="FR")
    email = models.EmailField(_("billing email"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    # The PMD note: ECB rate + 10 points unless the terms say otherwise (L441-10 C. com.).
    late_penalty_text = models.TextField(
        _("late payment penalties"),
        default=(
            "En cas de retard de paiement, pénalités au taux de refinancement de la BCE "
            "majoré de 10 points, exigibles dès le lendemain de la date d'échéance."
        ),
    )
    early_payment_text = models.CharField(
        _("early payment discount"),
        max_length=300,
        default="Pas d'escompte pour paiement anticipé.",
    )
    vat_on_debits = models.BooleanField(_("VAT paid on debits (option)"), default=False)
    # PNG or JPEG bytes, printed at the top of documents; small by design (≤ 500 KB).
    logo = models.BinaryField(_("logo"), blank=True, default=b"")
    logo_content_type = models.CharField(max_length=30, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("company profile")

    def __str__(self) -> str:
        return self.legal_name or "—"


class BillingRun(models.Model):
    """One execution of the billing engine: when, by whom, what it made and what blocked."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed (run it again: nothing is billed twice)")

    as_of = models.DateField(_("billing date"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    contracts_count = models.PositiveIntegerField(default=0)
    drafts_count = models.PositiveIntegerField(default=0)
    items_count = models.PositiveIntegerField(default=0)
    issued_count = models.PositiveIntegerField(default=0)
    revisions_count = models.PositiveIntegerField(default=0)
    # Messages for people: blocked revisions, invoices that could not be issued, the crash.
    blocked = models.JSONField(default=list)
    errors = models.JSONField(default=list)
    drafts = models.ManyToManyField(Invoice, related_name="billing_runs", blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.as_of} ({self.status})"


class InvoiceDispatch(models.Model):
    """The send log of an issued invoice or credit note: one row per sending, on one channel.

    Written "queued" in the transaction that issues the document (or that asks to send it
    again), so an issued document always has its row even if the job that sends it is lost;
    the job (`levier.billing.jobs_sending`) claims it, sends, and writes the outcome here, and
    `levier send-invoices` retries what is left. The channel is the customer's when the row
    was written: a later change of channel applies to the next sending, not this one.

    Post has two statuses of its own rather than "sent": the job only prepares the PDF, a
    person prints and posts it, and "sent" would claim the customer has it while the paper is
    still on a desk. "to_print" is that person's worklist; "printed" records who posted it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")  # written with the business change, waiting for a job
        SENDING = "sending", _("Sending")  # a job claimed it and is talking to the channel
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        TO_PRINT = "to_print", _("To print and post")
        PRINTED = "printed", _("Printed and posted")
        # Left pending when someone asked to send again: the new row does the job.
        SUPERSEDED = "superseded", _("Replaced by a new sending")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="dispatches")
    channel = models.CharField(_("channel"), max_length=20, choices=InvoiceChannel.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    # Email: the addresses; platform: its name; post: the buyer's postal address.
    recipients = models.CharField(_("recipients"), max_length=500, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    # The platform's identifier of the submitted document (its answer to `submit`).
    external_id = models.CharField(_("platform reference"), max_length=200, blank=True)
    # When a job took the row; a row left "sending" long after this is stale (the worker
    # died) and may be taken again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    # Accepted by the mail server or the platform, or posted (marked printed) by a person.
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # None: queued by the system (a billing run, a job).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    printed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("invoice sending")

    def __str__(self) -> str:
        return f"{self.invoice} {self.channel} {self.status}"
