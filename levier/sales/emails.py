"""The order confirmation email sent to the customer once an order is validated.

Customer-facing, so always in French whatever the language of the user who validated the
order: the wording lives in the templates and every amount, quantity and date is formatted
here with Babel's fr_FR rules (narrow no-break space between thousands, decimal comma, "€"
after the amount), so the templates never format numbers themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from levier.catalog.choices import Unit
from levier.customers.models import Customer
from levier.lib.money import document_totals
from levier.sales.models import Order, OrderLine

LOCALE = "fr_FR"
CONFIRMATION_KIND = "confirmation"

# French unit names (singular, plural). Written here rather than taken from the gettext
# catalogue because the email is French even when the translation catalogue is not compiled.
UNIT_LABELS_FR: dict[str, tuple[str, str]] = {
    Unit.HOUR: ("heure", "heures"),
    Unit.DAY: ("jour", "jours"),
    Unit.MONTH: ("mois", "mois"),
    Unit.YEAR: ("an", "ans"),
    Unit.UNIT: ("unité", "unités"),
    Unit.FLAT: ("forfait", "forfaits"),
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def euros(amount: Decimal) -> str:
    """An amount at the cent, the French way: "14 040,01 €"."""
    return format_currency(amount, "EUR", locale=LOCALE)


def unit_price_euros(amount: Decimal) -> str:
    """A unit price keeps up to 4 decimals (stored with 4): rounding it to the cent on the
    confirmation would show a price the line amount does not come from."""
    return format_currency(
        amount, "EUR", format="#,##0.00##\u00a0¤", locale=LOCALE, currency_digits=False
    )


def number_fr(value: Decimal) -> str:
    """A quantity or a rate without trailing zeros: "12", "2,5", "5,5"."""
    return format_decimal(value, locale=LOCALE)


def percent_fr(value: Decimal) -> str:
    return f"{number_fr(value)}\u00a0%"


def date_fr(day: dt.date) -> str:
    return format_date(day, format="long", locale=LOCALE)


def unit_label_fr(unit: str, quantity: Decimal) -> str:
    singular, plural = UNIT_LABELS_FR.get(unit, (unit, unit))
    # French grammar: the plural starts at 2 ("1,5 jour", "2 jours").
    return plural if abs(quantity) >= 2 else singular


def confirmation_subject(order: Order) -> str:
    return f"Confirmation de commande {order.number}"


def order_date(order: Order) -> dt.date:
    """The date the customer reads as the order date: its validation, else its creation."""
    moment = order.validated_at or order.created_at
    return timezone.localdate(moment) if moment is not None else timezone.localdate()


def _line_context(line: OrderLine) -> dict[str, object]:
    return {
        "description": line.description,
        "quantity": number_fr(line.quantity),
        "unit": unit_label_fr(line.unit, line.quantity),
        "unit_price": unit_price_euros(line.unit_price),
        "discount": percent_fr(line.discount_percent) if line.discount_percent else "",
        "vat_rate": percent_fr(line.vat_rate),
        "net_amount": euros(line.net_amount),
    }


def confirmation_context(order: Order) -> dict[str, object]:
    lines = list(order.lines.all())
    # The per-rate breakdown is recomputed from the lines with the same rounding rule as the
    # services (levier/lib/money.py), so it adds up to the stored VAT total.
    totals = document_totals((line.net_amount, line.vat_rate) for line in lines)
    return {
        "company_name": settings.LEVIER_COMPANY_NAME,
        "customer_name": order.customer.name,
        "number": order.number,
        "date": date_fr(order_date(order)),
        "po_number": order.po_number,
        "requested_delivery_date": (
            date_fr(order.requested_delivery_date) if order.requested_delivery_date else ""
        ),
        "lines": [_line_context(line) for line in lines],
        "vat_breakdown": [
            {"rate": percent_fr(b.rate), "basis": euros(b.basis), "vat": euros(b.vat)}
            for b in totals.breakdown
        ],
        "total_net": euros(order.total_net),
        "total_vat": euros(order.total_vat),
        "total_gross": euros(order.total_gross),
        "payment_terms": order.payment_terms.label_fr(),
    }


def render_order_confirmation(order: Order) -> RenderedEmail:
    """Subject, plain-text and HTML bodies of the confirmation of `order`."""
    context = confirmation_context(order)
    return RenderedEmail(
        subject=confirmation_subject(order),
        text=render_to_string("sales/email/order_confirmation.txt", context),
        html=render_to_string("sales/email/order_confirmation.html", context),
    )


def confirmation_recipients(customer: Customer) -> list[str]:
    """Who receives the confirmation: the purchasing contacts, else accounts payable.

    The purchasing contact placed the order and expects its confirmation; when the customer
    record has none with an address, accounts payable still needs the document to match the
    coming invoice. Addresses are deduplicated, in the contacts' display order.
    """
    with_email = customer.contacts.exclude(email="")
    for role in (
        with_email.filter(is_purchasing=True),
        with_email.filter(is_accounts_payable=True),
    ):
        emails = list(dict.fromkeys(role.values_list("email", flat=True)))
        if emails:
            return emails
    return []
