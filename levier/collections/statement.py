"""The documents of collections: the account statement (relevé de compte) and reminder letters.

Both PDFs are French (the customer reads them), rendered by WeasyPrint like the invoices
(`levier.billing.documents`), with their own stylesheet parsed once per thread. A statement
"as of" a past date is that day's: its open items and aged balance come from
`levier.collections.aging`, which counts what each invoice owed on that day.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.company import company_profile, legal_footer
from levier.billing.models import CompanyProfile
from levier.collections.aging import ZERO, aged_balance, open_at, open_items
from levier.collections.choices import PaymentMethod
from levier.collections.models import DunningItem, DunningMessage, Payment, StatementEmail
from levier.customers.models import Customer
from levier.jobs import enqueue
from levier.lib.errors import ValidationFailed
from levier.lib.identifiers import creditor_reference

if TYPE_CHECKING:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

log = logging.getLogger(__name__)

__all__ = [
    "account_statement_html",
    "account_statement_pdf",
    "reminder_letter_pdf",
    "send_account_statement",
]

STATEMENT_TEMPLATE = "collections/pdf/account_statement.html"
LETTER_TEMPLATE = "collections/pdf/reminder_letter.html"
STYLESHEET = "collections/pdf/collections.css"

METHOD_FR = {
    PaymentMethod.TRANSFER: "Virement",
    PaymentMethod.CHEQUE: "Chèque",
    PaymentMethod.CARD: "Carte",
    PaymentMethod.DIRECT_DEBIT: "Prélèvement",
}


BUCKET_LABELS_FR = {
    "not_due": "Non échu",
    "1_30": "1 à 30 jours",
    "31_60": "31 à 60 jours",
    "61_90": "61 à 90 jours",
    "over_90": "Plus de 90 jours",
}


# --- rendering --------------------------------------------------------------------------------


class _Renderer:
    """WeasyPrint's font configuration and the parsed stylesheet, built once per thread.

    Same reasons as `levier.billing.documents._Renderer`: a new `FontConfiguration` reads
    Fontconfig's font list, and the stylesheet would be parsed for every document.
    """

    def __init__(self) -> None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.pid = os.getpid()
        self.font_config: FontConfiguration = FontConfiguration()
        self.stylesheet: CSS = CSS(
            string=render_to_string(STYLESHEET), font_config=self.font_config
        )


_renderers = threading.local()


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    from weasyprint import HTML

    logging.getLogger("fontTools").propagate = False  # see levier.billing.documents
    renderer: _Renderer | None = getattr(_renderers, "renderer", None)
    if renderer is None or renderer.pid != os.getpid():
        renderer = _renderers.renderer = _Renderer()
    html = render_to_string(template, context)
    return bytes(
        HTML(string=html).write_pdf(
            font_config=renderer.font_config, stylesheets=[renderer.stylesheet]
        )
    )


def _money(value: Decimal) -> str:
    from levier.billing.documents import money

    return money(value)


def french_date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _seller(profile: CompanyProfile) -> dict[str, Any]:
    from levier.billing.documents import _iban, _logo

    address = [profile.address_line1, profile.address_line2, f"{profile.postcode} {profile.city}"]
    return {
        "name": profile.legal_name,
        "legal_form": profile.legal_form,
        "trading_name": profile.trading_name,
        "address": [line.strip() for line in address if line.strip()],
        "siren": profile.siren,
        "vat_number": profile.vat_number,
        "email": profile.email,
        "phone": profile.phone,
        "iban": _iban(profile.iban),
        "bic": profile.bic,
        "bank_name": profile.bank_name,
        "logo": _logo(profile),
        "legal_footer": legal_footer(profile),
    }


def _customer(customer: Customer) -> dict[str, Any]:
    address = [
        customer.address_line1,
        customer.address_line2,
        f"{customer.postcode} {customer.city}",
    ]
    return {
        "name": customer.name,
        "address": [line.strip() for line in address if line.strip()],
        "siren": customer.siren,
    }


# --- the account statement --------------------------------------------------------------------


def statement_context(
    customer: Customer, as_of: dt.date, profile: CompanyProfile | None = None
) -> dict[str, Any]:
    seller = profile or company_profile()
    invoices = list(
        open_items(customer, as_of)
        .order_by("due_date", "pk")
        .only("number", "issue_date", "due_date", "total_gross", "open_amount")
    )
    credits = list(
        Payment.objects.filter(customer=customer, received_on__lte=as_of, amount__gt=F("allocated"))
        .order_by("received_on", "pk")
        .only("received_on", "method", "reference", "amount", "allocated")
    )
    aged = aged_balance(customer, as_of)
    total_open = sum((open_at(invoice) for invoice in invoices), ZERO)
    total_credit = sum((payment.unallocated for payment in credits), ZERO)
    rows = []
    for invoice in invoices:
        open_amount = open_at(invoice)
        late = (as_of - invoice.due_date).days if invoice.due_date else 0
        rows.append(
            {
                "number": invoice.number,
                "issue_date": french_date(invoice.issue_date),
                "due_date": french_date(invoice.due_date),
                "total": _money(invoice.total_gross),
                "settled": _money(invoice.total_gross - open_amount),
                "open": _money(open_amount),
                "days_late": f"{late} j" if late > 0 else "",
                "reference": creditor_reference(invoice.number or "-"),
            }
        )
    return {
        "seller": _seller(seller),
        "customer": _customer(customer),
        "as_of": french_date(as_of),
        "rows": rows,
        "credits": [
            {
                "date": french_date(payment.received_on),
                "method": METHOD_FR.get(PaymentMethod(payment.method), payment.method),
                "reference": payment.reference[:80],
                "amount": _money(-payment.unallocated),
            }
            for payment in credits
        ],
        "total_open": _money(total_open),
        "total_credit": _money(-total_credit),
        "balance": _money(total_open - total_credit),
        "aged": [
            {"label": BUCKET_LABELS_FR[key], "amount": _money(amount)}
            for key, amount in aged.buckets()
        ],
        "aged_total": _money(aged.total),
    }


def account_statement_html(customer: Customer, as_of: dt.date) -> str:
    return render_to_string(STATEMENT_TEMPLATE, statement_context(customer, as_of))


def account_statement_pdf(
    customer: Customer, as_of: dt.date, *, profile: CompanyProfile | None = None
) -> bytes:
    """The customer's statement on `as_of`: open invoices, credits, totals, aged balance."""
    return render_pdf(STATEMENT_TEMPLATE, statement_context(customer, as_of, profile))


def statement_filename(customer: Customer, as_of: dt.date) -> str:
    return f"releve-de-compte-{customer.pk}-{as_of.isoformat()}.pdf"


# --- the reminder letter ----------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    return [part.strip("\n") for part in text.replace("\r\n", "\n").split("\n\n") if part.strip()]


def letter_context(
    message: DunningMessage, profile: CompanyProfile | None = None
) -> dict[str, Any]:
    """The letter of a reminder, from what the run stored: the same text, the same figures.

    The plain-text table of the body is replaced by a printed table; a text without the
    table gets it at the end, so a letter always lists what it claims.
    """
    from levier.collections.dunning import invoices_table, long_date

    seller = profile or company_profile()
    items: list[DunningItem] = list(
        message.items.select_related("invoice").order_by("invoice__due_date", "invoice_id")
    )
    formal = message.step.is_formal_notice
    table_text = invoices_table(items, formal=formal)
    before, found, after = message.body.partition(table_text)
    if not found:
        before, after = message.body, ""
    written = long_date(message.run.run_date)
    return {
        "seller": _seller(seller),
        "customer": _customer(message.customer),
        "place_date": f"{seller.city}, le {written}" if seller.city else f"Le {written}",
        "formal": formal,
        "subject": message.subject,
        "before": _paragraphs(before),
        "after": _paragraphs(after),
        "items": [
            {
                "number": item.invoice.number,
                "issue_date": french_date(item.invoice.issue_date),
                "due_date": french_date(item.invoice.due_date),
                "total": _money(item.invoice.total_gross),
                "open": _money(item.open_amount),
                "days_late": f"{item.days_late} j" if item.days_late > 0 else "",
                "interest": _money(item.interest),
                "indemnity": _money(item.indemnity),
            }
            for item in items
        ],
        "total_due": _money(message.total_due),
        "interest": _money(message.interest),
        "indemnity": _money(message.indemnity),
        "total_claimed": _money(message.total_due + message.interest + message.indemnity),
    }


def reminder_letter_pdf(message: DunningMessage, *, profile: CompanyProfile | None = None) -> bytes:
    """The reminder as a letter (the formal notice's PDF, or a reminder sent by post)."""
    return render_pdf(LETTER_TEMPLATE, letter_context(message, profile))


def letter_filename(message: DunningMessage) -> str:
    kind = "mise-en-demeure" if message.step.is_formal_notice else "relance"
    return f"{kind}-{message.customer_id}-{message.run.run_date.isoformat()}.pdf"


# --- sending the statement by hand ------------------------------------------------------------


def send_account_statement(*, actor: User, customer: Customer, as_of: dt.date) -> list[str]:
    """Email the customer its statement on `as_of`; returns the addresses it goes to.

    The request is logged (`StatementEmail`, "queued") with the audit event; a job sends it
    after the commit, to the addresses reminders go to, and `levier send-reminders` retries
    it when it fails.
    """
    from levier.collections.dunning import recipients_of

    require(actor, Action.FOLLOW_UP_ACCOUNT)
    recipients = recipients_of(customer)
    if not recipients:
        message = _(
            "%(customer)s has no email address for reminders: add a dunning or "
            "accounts-payable contact with an email, or an invoice email."
        ) % {"customer": customer.name}
        raise ValidationFailed(message, errors={"__all__": [message]}, code="no_recipient")
    with transaction.atomic():
        row = StatementEmail.objects.create(
            customer=customer,
            as_of=as_of,
            recipients=", ".join(recipients)[:500],
            requested_by=actor,
        )
        record_event(
            actor=actor,
            verb=Verb.SEND,
            instance=customer,
            changes={"statement_as_of": as_of, "to": recipients, "statement_email": row.pk},
            comment=f"Envoi du relevé de compte au {as_of:%d/%m/%Y} demandé",
        )
        from levier.collections.jobs_dunning import send_statement_email

        enqueue(send_statement_email, statement_email_id=row.pk)
    return recipients
