"""Invoices and credit notes: the only code that writes them.

Issuing is one transaction that locks, in this fixed order, the document, the invoice it
credits (for a credit note), the series counter and the chain head; checks every mandatory
mention; freezes the buyer's details; allocates the gapless number; links the hash chain;
and writes the audit trail. A failure anywhere rolls all of it back, number included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event, record_events
from levier.billing import chain
from levier.billing.choices import CreditReason, DocumentKind, InvoiceStatus, NatureOfOperations
from levier.billing.company import company_profile, missing_seller_mentions
from levier.billing.models import ChainHead, Invoice, InvoiceLine
from levier.billing.numbering import allocate_numbers, default_series
from levier.billing.sending import queue_invoice_dispatches
from levier.billing.transitions import check_invoice_transition
from levier.catalog.models import Product
from levier.collections.balances import refresh_open_amounts
from levier.collections.month_ends import issued_on_stored_month, refresh_month_end_items
from levier.contracts.models import Contract
from levier.customers.models import Customer, DeliveryAddress
from levier.integrations.events import Event, EventName, record_domain_events
from levier.lib.errors import DomainError, NotAllowed, ValidationFailed
from levier.lib.money import ZERO
from levier.lib.payment_terms import PaymentTerms, TermsBasis
from levier.sales.choices import OrderStatus
from levier.sales.lines import LineData, parse_lines, raw_lines_of, totals_of
from levier.sales.models import Order
from levier.sales.transitions import InvalidTransition

EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)


def _line_rows(
    invoice: Invoice,
    parsed: Sequence[LineData],
    extras: Sequence[Mapping[str, Any]] | None = None,
    products: Mapping[int, Product] | None = None,
) -> list[InvoiceLine]:
    """Invoice lines; `extras` (one mapping per line) add the billing key and period."""
    if products is None:
        products = Product.objects.in_bulk({p.product_id for p in parsed if p.product_id})
    rows = []
    for n, line in enumerate(parsed, start=1):
        product = products.get(line.product_id) if line.product_id else None
        extra = extras[n - 1] if extras else {}
        rows.append(
            InvoiceLine(
                contract_line_id=extra.get("contract_line_id"),
                billing_key=extra.get("billing_key", ""),
                period_start=extra.get("period_start"),
                period_end=extra.get("period_end"),
                invoice=invoice,
                position=n,
                product_id=line.product_id,
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                vat_rate=line.vat_rate,
                vat_exemption_mention=product.vat_exemption_mention if product else "",
                revenue_account=product.revenue_account if product else "706000",
                net_amount=line.net_amount,
            )
        )
    return rows


@dataclass(frozen=True)
class DraftSpec:
    """What one draft invoice is made of (the billing run builds many at once)."""

    customer: Customer
    lines: Sequence[Mapping[str, Any]]
    billable_on: dt.date
    order: Order | None = None
    po_number: str = ""
    service_date: dt.date | None = None
    nature_of_operations: str = NatureOfOperations.SERVICES
    vat_on_debits: bool | None = None
    notes: str = ""
    contract: Contract | None = None
    # Per line: the billing key, contract line and service period (billing run).
    line_extras: Sequence[Mapping[str, Any]] | None = None


@transaction.atomic
def create_drafts(*, actor: User, specs: Sequence[DraftSpec]) -> list[Invoice]:
    """Many drafts in one transaction and a constant number of queries (bulk inserts).

    Every spec is checked first; one bad spec refuses the whole batch. A billing key
    already taken raises IntegrityError from the database and nothing of the batch stays.
    """
    require(actor, Action.ISSUE_INVOICE)
    product_ids = {
        int(str(raw["product_id"]))
        for spec in specs
        for raw in spec.lines
        if str(raw.get("product_id") or "").isdigit()
    }
    products = Product.objects.in_bulk(product_ids) if product_ids else {}
    parsed_all = []
    for spec in specs:
        if spec.nature_of_operations not in NatureOfOperations.values:
            message = _("nature of operations: unknown value “%(value)s”") % {
                "value": spec.nature_of_operations
            }
            raise ValidationFailed(message, errors={"nature_of_operations": [message]})
        parsed_all.append(parse_lines(spec.lines, products, allow_inactive=True))
    series = default_series(DocumentKind.INVOICE)
    default_debits = company_profile().vat_on_debits
    invoices = []
    for spec, parsed in zip(specs, parsed_all, strict=True):
        totals = totals_of(parsed)
        order = spec.order
        invoices.append(
            Invoice(
                kind=DocumentKind.INVOICE,
                series=series,
                customer=spec.customer,
                order=order,
                contract=spec.contract,
                billable_on=spec.billable_on,
                service_date=spec.service_date,
                payment_terms_days=spec.customer.payment_terms_days,
                payment_terms_basis=spec.customer.payment_terms_basis,
                po_number=(spec.po_number or (order.po_number if order else "")).strip()[:50],
                nature_of_operations=spec.nature_of_operations,
                vat_on_debits=default_debits if spec.vat_on_debits is None else spec.vat_on_debits,
                total_net=totals.net,
                total_vat=totals.vat,
                total_gross=totals.gross,
                notes=spec.notes,
                created_by=actor,
            )
        )
    Invoice.objects.bulk_create(invoices, batch_size=500)
    InvoiceLine.objects.bulk_create(
        [
            row
            for invoice, spec, parsed in zip(invoices, specs, parsed_all, strict=True)
            for row in _line_rows(invoice, parsed, spec.line_extras, products)
        ],
        batch_size=1000,
    )
    record_events(
        actor=actor,
        verb=Verb.CREATE,
        entries=[
            (
                invoice,
                {
                    "kind": invoice.kind,
                    "customer_id": invoice.customer_id,
                    "total_gross": invoice.total_gross,
                },
            )
            for invoice in invoices
        ],
    )
    return invoices


def create_draft_invoice(
    *,
    actor: User,
    customer: Customer,
    lines: Sequence[Mapping[str, Any]],
    billable_on: dt.date,
    order: Order | None = None,
    po_number: str = "",
    service_date: dt.date | None = None,
    nature_of_operations: str = NatureOfOperations.SERVICES,
    vat_on_debits: bool | None = None,
    notes: str = "",
    contract: Contract | None = None,
    line_extras: Sequence[Mapping[str, Any]] | None = None,
) -> Invoice:
    """A draft: no number, freely editable or discardable until it is issued."""
    spec = DraftSpec(
        customer=customer,
        lines=lines,
        billable_on=billable_on,
        order=order,
        po_number=po_number,
        service_date=service_date,
        nature_of_operations=nature_of_operations,
        vat_on_debits=vat_on_debits,
        notes=notes,
        contract=contract,
        line_extras=line_extras,
    )
    return create_drafts(actor=actor, specs=[spec])[0]


def create_invoice_from_order(
    *, actor: User, order: Order, billable_on: dt.date | None = None
) -> Invoice:
    """A draft invoice with a validated order's lines (invoicing mode "on order")."""
    if order.status != OrderStatus.VALIDATED:
        raise NotAllowed(
            _("%(number)s is not validated: nothing to invoice") % {"number": order.number}
        )
    lines = raw_lines_of(order.lines.all())
    validated_on = (
        timezone.localdate(order.validated_at) if order.validated_at else timezone.localdate()
    )
    return create_draft_invoice(
        actor=actor,
        customer=order.customer,
        lines=lines,
        billable_on=billable_on or validated_on,
        order=order,
        po_number=order.po_number,
    )


def missing_mentions(
    invoice: Invoice, customer: Customer, *, has_lines: bool | None = None
) -> list[str]:
    """Mandatory mentions the customer master cannot provide (L441-9, CGI 242 nonies A)."""
    missing: list[str] = []
    name = customer.name
    if not customer.name.strip():
        missing.append(_("Customer: legal name missing"))
    if customer.country == "FR" and not customer.siren:
        missing.append(
            _("Customer %(name)s: SIREN missing (mandatory since the 2026 reform)") % {"name": name}
        )
    if not (customer.address_line1 and customer.postcode and customer.city):
        missing.append(_("Customer %(name)s: billing address incomplete") % {"name": name})
    if customer.country in EU_COUNTRIES and not customer.vat_number:
        missing.append(_("Customer %(name)s: intra-EU VAT number missing") % {"name": name})
    if customer.po_number_required and not invoice.po_number:
        missing.append(_("This customer requires its purchase order (PO) number"))
    if not (invoice.lines.exists() if has_lines is None else has_lines):
        missing.append(_("The invoice has no line"))
    return missing


def _address(customer: Customer) -> str:
    parts = [
        customer.address_line1,
        customer.address_line2,
        f"{customer.postcode} {customer.city}".strip(),
        customer.country,
    ]
    return "\n".join(p for p in parts if p)


def remaining_to_credit(invoice: Invoice) -> Decimal:
    """What issued credit notes have not yet taken back from the invoice (TTC)."""
    credited = invoice.credit_notes.filter(status=InvoiceStatus.ISSUED).aggregate(
        t=Sum("total_gross")
    )["t"]
    return invoice.total_gross - (credited or ZERO)


@dataclass(frozen=True)
class IssueFailure:
    """A draft a batch could not issue, and why (it stays a draft)."""

    invoice: Invoice
    error: Exception

    @property
    def message(self) -> str:
        return self.error.message if isinstance(self.error, DomainError) else str(self.error)


def _delivery_address_text(address: DeliveryAddress | None, buyer_address: str) -> str:
    if address is None:
        return buyer_address
    return f"{address.line1}\n{address.postcode} {address.city}"


def _credit_check(note: Invoice, credited_in_batch: dict[int, Decimal]) -> ValidationFailed | None:
    """A credit note may not take back more than is left, counting this batch's notes."""
    assert note.credited_invoice_id is not None
    original = Invoice.objects.select_for_update().get(pk=note.credited_invoice_id)
    left = remaining_to_credit(original) - credited_in_batch.get(original.pk, ZERO)
    if note.total_gross > left:
        message = _(
            "credit note of %(amount)s € exceeds what is left on %(number)s (%(left)s €)"
        ) % {"amount": note.total_gross, "number": original.number, "left": left}
        return ValidationFailed(message, errors={"lines": [message]}, code="credit_exceeds_invoice")
    credited_in_batch[original.pk] = credited_in_batch.get(original.pk, ZERO) + note.total_gross
    return None


ISSUED_FIELDS = [
    "issue_date",
    "due_date",
    "buyer_name",
    "buyer_siren",
    "buyer_vat_number",
    "buyer_address",
    "delivery_address",
    "number",
    "chain_index",
    "previous_hash",
    "content_hash",
    "status",
    "issued_at",
    "issued_by",
    "updated_at",
]


def _update_from_values(invoices: Sequence[Invoice], names: Sequence[str]) -> None:
    """One `UPDATE … FROM (VALUES …)` per 500 invoices.

    Django's bulk_update writes one CASE per field with a WHEN per row, which PostgreSQL
    evaluates for every row: quadratic, 8 s for 500 invoices. Both SQLite (≥ 3.33) and
    PostgreSQL join a VALUES list instead, in linear time.
    """
    fields = [cast("Field[Any, Any]", Invoice._meta.get_field(name)) for name in names]
    q = connection.ops.quote_name
    table = q(Invoice._meta.db_table)
    postgres = connection.vendor == "postgresql"
    columns = ["id", *(str(f.column) for f in fields)]
    casts = {"id": "bigint"} | {str(f.column): f.db_type(connection) or "text" for f in fields}

    def source(column: str) -> str:
        value = f"v.{q(column)}"
        return f"CAST({value} AS {casts[column]})" if postgres else value

    assignments = ", ".join(f"{q(c)} = {source(c)}" for c in columns[1:])
    for start in range(0, len(invoices), 500):
        chunk = invoices[start : start + 500]
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        values = ", ".join([row] * len(chunk))
        params: list[Any] = []
        for invoice in chunk:
            params.append(invoice.pk)
            for field in fields:
                params.append(field.get_db_prep_save(getattr(invoice, field.attname), connection))
        if postgres:
            alias = ", ".join(q(c) for c in columns)
            sql = (
                f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v({alias}) "
                f"WHERE {table}.{q('id')} = CAST(v.{q('id')} AS bigint)"
            )
        else:
            aliases = ", ".join(f"column{n + 1} AS {q(c)}" for n, c in enumerate(columns))
            sql = (
                f"UPDATE {table} SET {assignments} FROM (SELECT {aliases} FROM (VALUES {values})) "
                f"AS v WHERE {table}.{q('id')} = v.{q('id')}"
            )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


@transaction.atomic
def issue_invoices(
    *, actor: User, invoices: Sequence[Invoice], issue_date: dt.date | None = None
) -> tuple[list[Invoice], list[IssueFailure]]:
    """Issue drafts together, in the order given, in one transaction.

    Locks the drafts, then (for credit notes) the invoices they credit, then each series
    counter and the chain head, in that order. Drafts that fail a check (not a draft any
    more, a mandatory mention missing, a credit note exceeding what is left) are returned as
    failures and stay drafts; the others get consecutive numbers from one counter update,
    their chain links in the same order, and one audit event each, in a constant number of
    queries whatever the batch size. Anything unexpected rolls the whole batch back,
    numbers included.
    """
    kinds = {invoice.kind for invoice in invoices}
    if DocumentKind.INVOICE in kinds:
        require(actor, Action.ISSUE_INVOICE)
    if DocumentKind.CREDIT_NOTE in kinds:
        require(actor, Action.CREATE_CREDIT_NOTE)
    position = {invoice.pk: n for n, invoice in enumerate(invoices)}
    locked = sorted(
        Invoice.objects.select_for_update()
        .select_related("customer", "series")
        .filter(pk__in=list(position)),
        key=lambda invoice: position[invoice.pk],
    )
    issue_date = issue_date or timezone.localdate()
    seller_missing = missing_seller_mentions(company_profile())
    ids = [invoice.pk for invoice in locked]
    with_lines = set(
        InvoiceLine.objects.filter(invoice_id__in=ids).values_list("invoice_id", flat=True)
    )
    addresses = {
        a.customer_id: a
        for a in DeliveryAddress.objects.filter(
            customer_id__in={i.customer_id for i in locked}, is_default=True
        )
    }
    ready: list[Invoice] = []
    failures: list[IssueFailure] = []
    credited_in_batch: dict[int, Decimal] = {}
    for invoice in locked:
        try:
            check_invoice_transition(invoice.status, InvoiceStatus.ISSUED)
        except InvalidTransition as exc:
            failures.append(IssueFailure(invoice, exc))
            continue
        customer = invoice.customer
        missing = seller_missing + missing_mentions(
            invoice, customer, has_lines=invoice.pk in with_lines
        )
        if missing:
            failures.append(
                IssueFailure(
                    invoice,
                    ValidationFailed(
                        _("The invoice cannot be issued: %(missing)s")
                        % {"missing": "; ".join(missing)},
                        errors={"__all__": missing},
                        code="missing_mentions",
                    ),
                )
            )
            continue
        if invoice.kind == DocumentKind.CREDIT_NOTE:
            refused = _credit_check(invoice, credited_in_batch)
            if refused is not None:
                failures.append(IssueFailure(invoice, refused))
                continue
        ready.append(invoice)
    if not ready:
        return [], failures
    by_series: dict[int, list[Invoice]] = {}
    for invoice in ready:
        by_series.setdefault(invoice.series_id, []).append(invoice)
    last_dates = dict(
        Invoice.objects.filter(series_id__in=list(by_series), status=InvoiceStatus.ISSUED)
        .values("series_id")
        .annotate(last=Max("issue_date"))
        .values_list("series_id", "last")
    )
    for series_id in list(by_series):
        last = last_dates.get(series_id)
        if last is not None and issue_date < last:
            # Numbers must follow the dates (CGI ann. II art. 242 nonies A, 7°).
            message = _(
                "issue date %(date)s is before the last one of the series (%(last)s): "
                "numbers must follow the dates"
            ) % {"date": f"{issue_date:%d/%m/%Y}", "last": f"{last:%d/%m/%Y}"}
            refused = ValidationFailed(
                message, errors={"issue_date": [message]}, code="not_chronological"
            )
            failures += [IssueFailure(invoice, refused) for invoice in by_series.pop(series_id)]
    ready = [invoice for group in by_series.values() for invoice in group]
    if not ready:
        return [], failures
    # Counters locked in one order (series id) by every batch: no deadlock between two.
    for series_id in sorted(by_series):
        group = by_series[series_id]
        numbers = allocate_numbers(group[0].series, issue_date, len(group))
        for invoice, number in zip(group, numbers, strict=True):
            invoice.number = number
    head = ChainHead.objects.select_for_update().filter(pk=1).first() or ChainHead.objects.create(
        pk=1
    )
    lines: dict[int, list[InvoiceLine]] = {invoice.pk: [] for invoice in ready}
    for line in InvoiceLine.objects.filter(invoice_id__in=list(lines)).order_by("position", "id"):
        lines[line.invoice_id].append(line)
    now = timezone.now()
    for invoice in ready:
        customer = invoice.customer
        is_credit = invoice.kind == DocumentKind.CREDIT_NOTE
        invoice.issue_date = issue_date
        # The terms printed on the invoice are the ones stored on it at drafting.
        terms = PaymentTerms(invoice.payment_terms_days, TermsBasis(invoice.payment_terms_basis))
        invoice.due_date = issue_date if is_credit else terms.due_date(issue_date)
        invoice.buyer_name = customer.name
        invoice.buyer_siren = customer.siren
        invoice.buyer_vat_number = customer.vat_number
        invoice.buyer_address = _address(customer)
        invoice.delivery_address = _delivery_address_text(
            addresses.get(customer.pk), invoice.buyer_address
        )
        invoice.chain_index = head.length + 1
        invoice.previous_hash = head.last_hash
        invoice.content_hash = chain.link_hash(
            invoice.previous_hash, chain.canonical_content(invoice, lines[invoice.pk])
        )
        invoice.status = InvoiceStatus.ISSUED
        invoice.open_amount = ZERO if is_credit else invoice.total_gross
        invoice.issued_at, invoice.issued_by, invoice.updated_at = now, actor, now
        head.length, head.last_hash = invoice.chain_index, invoice.content_hash
    # The stored status is still "draft": neither the model guard nor the triggers object.
    _update_from_values(ready, [*ISSUED_FIELDS, "open_amount"])
    head.save(update_fields=["length", "last_hash"])
    if issued_on_stored_month(issue_date):  # a date typed in the past
        refresh_month_end_items([i.pk for i in ready if i.kind == DocumentKind.INVOICE])
    credited = [i.credited_invoice_id for i in ready if i.credited_invoice_id is not None]
    if credited:
        # The credited invoices are locked above (_credit_check): their open amounts fall.
        refresh_open_amounts(credited)
        record_domain_events(
            [
                Event(
                    EventName.INVOICE_SETTLED,
                    settled,
                    {
                        "invoice_id": settled.pk,
                        "number": settled.number,
                        "settled_on": settled.settled_on,
                        "by": "credit_note",
                    },
                )
                for settled in Invoice.objects.filter(
                    pk__in=credited, open_amount__lte=0, settled_on=issue_date
                ).only("pk", "number", "settled_on")
            ]
        )
    record_events(
        actor=actor,
        verb=Verb.TRANSITION,
        entries=[
            (
                invoice,
                {
                    "status": [InvoiceStatus.DRAFT, InvoiceStatus.ISSUED],
                    "number": invoice.number,
                    "hash": invoice.content_hash,
                },
            )
            for invoice in ready
        ],
    )
    if settings.LEVIER_AUTO_SEND_INVOICES:
        # Rows "queued" in this transaction; their jobs start after the commit.
        queue_invoice_dispatches(ready, actor=actor)
    return ready, failures


def issue_invoice(*, actor: User, invoice: Invoice, issue_date: dt.date | None = None) -> Invoice:
    """Issue one draft: the batch of one, raising what stopped it."""
    issued, failures = issue_invoices(actor=actor, invoices=[invoice], issue_date=issue_date)
    if failures:
        raise failures[0].error
    if not issued:
        raise Invoice.DoesNotExist(f"invoice {invoice.pk} does not exist")
    return issued[0]


@transaction.atomic
def discard_draft(*, actor: User, invoice: Invoice, reason: str) -> Invoice:
    require(actor, Action.ISSUE_INVOICE)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    check_invoice_transition(invoice.status, InvoiceStatus.DISCARDED)
    invoice.status = InvoiceStatus.DISCARDED
    invoice.save(update_fields=["status", "updated_at"])
    # What the draft billed becomes billable again.
    invoice.lines.exclude(billing_key="").update(billing_key="")
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=invoice,
        changes={"status": [InvoiceStatus.DRAFT, InvoiceStatus.DISCARDED]},
        comment=reason,
    )
    return invoice


@transaction.atomic
def create_credit_note(
    *,
    actor: User,
    invoice: Invoice,
    reason: str,
    lines: Sequence[Mapping[str, Any]] | None = None,
    notes: str = "",
) -> Invoice:
    """A draft credit note on an issued invoice: all of it (lines=None) or the given lines.

    Refused when it would take back more than is left on the invoice; checked again under
    lock when it is issued, since another credit note may be issued meanwhile.
    """
    require(actor, Action.CREATE_CREDIT_NOTE)
    original = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if original.kind != DocumentKind.INVOICE or original.status != InvoiceStatus.ISSUED:
        raise NotAllowed(_("Only an issued invoice can be credited"))
    if reason not in CreditReason.values:
        message = _("credit reason: unknown value “%(value)s”") % {"value": reason}
        raise ValidationFailed(message, errors={"credit_reason": [message]})
    extras: list[dict[str, Any]] | None = None
    if lines is None:
        # A full credit note mirrors the invoice, service periods included (cut-off, PCA).
        stored = list(original.lines.all())
        lines = raw_lines_of(stored)
        extras = [{"period_start": x.period_start, "period_end": x.period_end} for x in stored]
    parsed = parse_lines(lines)
    totals = totals_of(parsed)
    left = remaining_to_credit(original)
    if totals.gross > left:
        message = _(
            "credit note of %(amount)s € exceeds what is left on %(number)s (%(left)s €)"
        ) % {
            "amount": totals.gross,
            "number": original.number,
            "left": left,
        }
        raise ValidationFailed(message, errors={"lines": [message]}, code="credit_exceeds_invoice")
    note = Invoice.objects.create(
        kind=DocumentKind.CREDIT_NOTE,
        series=default_series(DocumentKind.CREDIT_NOTE),
        customer=original.customer,
        order=original.order,
        contract=original.contract,
        credited_invoice=original,
        credit_reason=reason,
        billable_on=timezone.localdate(),
        payment_terms_days=original.payment_terms_days,
        payment_terms_basis=original.payment_terms_basis,
        po_number=original.po_number,
        nature_of_operations=original.nature_of_operations,
        vat_on_debits=original.vat_on_debits,
        total_net=totals.net,
        total_vat=totals.vat,
        total_gross=totals.gross,
        notes=notes,
        created_by=actor,
    )
    InvoiceLine.objects.bulk_create(_line_rows(note, parsed, extras))
    record_event(
        actor=actor,
        verb=Verb.CREATE,
        instance=note,
        changes={
            "credited_invoice": original.number,
            "reason": reason,
            "total_gross": totals.gross,
        },
    )
    return note
