"""Forms of the sales screens: they parse the request, the services decide.

Headers are Django forms (types and sizes only). Lines come as indexed POST fields
`lines-<n>-<field>` and are handed raw to `levier.sales.lines.parse_lines`, the one place
that knows what a valid line is; its errors (`lines.<n>.<field>`) are put back on the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from levier.catalog.choices import InvoicingMode, Unit
from levier.customers.choices import TermsBasis
from levier.customers.models import Customer
from levier.lib.errors import ValidationFailed
from levier.lib.money import Totals
from levier.sales.lines import parse_lines, totals_of
from levier.sales.models import Order, OrderLine, QuoteLine

LINE_FIELDS = (
    "product_id",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "discount_percent",
    "vat_rate",
)
# The fields that make a row "filled in"; unit, VAT and discount always carry a default.
_SIGNIFICANT = ("product_id", "description", "quantity", "unit_price")
MAX_ID_DIGITS = 18  # beyond, an integer overflows the database's BIGINT
_LINE_KEY = re.compile(r"^lines-(\d{1,6})-([a-z_]+)$")
# parse_lines names products "product"; the row's input is "product_id".
_ERROR_FIELD = {"product": "product_id"}


def _usable_customers() -> Any:
    return Customer.objects.filter(is_active=True, merged_into__isnull=True)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        # <input type=date> speaks ISO whatever the language of the page.
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class _HeaderForm(forms.Form):
    # Rendered by hand (search input + <select> of the matches): 100k customers never go
    # into one page; the field only checks the posted id.
    customer = forms.ModelChoiceField(
        label=_("Customer"),
        queryset=_usable_customers(),
        error_messages={"invalid_choice": _("Choose an active customer from the list.")},
    )
    invoicing_mode = forms.ChoiceField(
        label=_("Invoicing mode"), choices=InvoicingMode.choices, initial=InvoicingMode.ON_ORDER
    )
    payment_terms_days = forms.IntegerField(
        label=_("Payment terms (days)"),
        required=False,
        min_value=0,
        max_value=365,
        help_text=_("Blank: the customer's terms."),
        widget=forms.NumberInput(attrs={"style": "width:6em"}),
    )
    payment_terms_basis = forms.ChoiceField(
        label=_("Payment terms basis"),
        required=False,
        choices=[("", "—"), *TermsBasis.choices],
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "customer": data["customer"],
            "invoicing_mode": data["invoicing_mode"],
            "payment_terms_days": data["payment_terms_days"],
            "payment_terms_basis": data["payment_terms_basis"] or None,
            "notes": data["notes"],
        }


class OrderHeaderForm(_HeaderForm):
    po_number = forms.CharField(label=_("Customer PO number"), required=False, max_length=50)
    requested_delivery_date = forms.DateField(
        label=_("Requested delivery date"), required=False, widget=DateInput()
    )

    field_order = [
        "customer",
        "po_number",
        "requested_delivery_date",
        "invoicing_mode",
        "payment_terms_days",
        "payment_terms_basis",
        "notes",
    ]

    def service_kwargs(self) -> dict[str, Any]:
        return {
            **super().service_kwargs(),
            "po_number": self.cleaned_data["po_number"],
            "requested_delivery_date": self.cleaned_data["requested_delivery_date"],
        }

    @classmethod
    def initial_for(cls, order: Order) -> dict[str, Any]:
        return {
            "customer": order.customer_id,
            "po_number": order.po_number,
            "requested_delivery_date": order.requested_delivery_date,
            "invoicing_mode": order.invoicing_mode,
            "payment_terms_days": order.payment_terms_days,
            "payment_terms_basis": order.payment_terms_basis,
            "notes": order.notes,
            "version": order.version,
        }


class OrderEditForm(OrderHeaderForm):
    # The version the user loaded, passed to update_order as expected_version.
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class QuoteHeaderForm(_HeaderForm):
    valid_until = forms.DateField(
        label=_("Valid until"),
        required=False,
        widget=DateInput(),
        help_text=_("Blank: 30 days from today."),
    )

    field_order = [
        "customer",
        "valid_until",
        "invoicing_mode",
        "payment_terms_days",
        "payment_terms_basis",
        "notes",
    ]

    def service_kwargs(self) -> dict[str, Any]:
        return {**super().service_kwargs(), "valid_until": self.cleaned_data["valid_until"]}


class ConvertQuoteForm(forms.Form):
    po_number = forms.CharField(label=_("Customer PO number"), required=False, max_length=50)
    requested_delivery_date = forms.DateField(
        label=_("Requested delivery date"), required=False, widget=DateInput()
    )


class CommentForm(forms.Form):
    comment = forms.CharField(required=False, max_length=5000)


class VersionForm(forms.Form):
    version = forms.IntegerField(min_value=1)


def apply_service_errors(form: forms.Form, exc: ValidationFailed) -> list[str]:
    """Put a service's field errors on the form; return what belongs to no header field."""
    leftover: list[str] = []
    for key, messages in exc.errors.items():
        if key == "lines":  # no line, too many lines: about the lines as a whole
            leftover.append(exc.message)
            continue
        if key.startswith("lines."):
            continue  # shown on the line rows
        name = "customer" if key == "delivery_address" else key
        if name in form.fields:
            for message in messages:
                form.add_error(name, message)
        else:
            leftover.extend(messages)
    if not exc.errors:
        leftover.append(exc.message)
    return leftover


# ---------------------------------------------------------------- lines


def raw_lines_from_post(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """The filled-in rows of `lines-<n>-<field>` inputs, in row order; blank rows dropped."""
    rows: dict[int, dict[str, str]] = {}
    for key in data:
        match = _LINE_KEY.match(str(key))
        if match is None or match.group(2) not in LINE_FIELDS:
            continue
        value = str(data.get(key) or "").strip()[:500]
        if match.group(2) == "product_id" and value.isdigit() and len(value) > MAX_ID_DIGITS:
            value = "invalid"  # never a real id (the select offers real ones): keep it off SQL
        rows.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [
        {name: row.get(name, "") for name in LINE_FIELDS}
        for _, row in sorted(rows.items())
        if any(row.get(name) for name in _SIGNIFICANT)
    ]


def plain_decimal(value: Decimal) -> str:
    """800.0000 → "800", 5.50 → "5.5": what a user would type back."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def with_price_format(lines: list[Any]) -> list[Any]:
    """Unit prices are stored with 4 decimals: show 2 unless the cents do not say it all."""
    for line in lines:
        exact = line.unit_price == line.unit_price.quantize(Decimal("0.01"))
        line.price_format = "2g" if exact else "4g"
    return lines


def raw_lines_from_document(lines: Iterable[OrderLine | QuoteLine]) -> list[dict[str, str]]:
    return [
        {
            "product_id": str(line.product_id or ""),
            "description": line.description,
            "quantity": plain_decimal(line.quantity),
            "unit": line.unit,
            "unit_price": plain_decimal(line.unit_price),
            "discount_percent": plain_decimal(line.discount_percent)
            if line.discount_percent
            else "",
            "vat_rate": format(line.vat_rate, ".2f"),
        }
        for line in lines
    ]


@dataclass
class LineRow:
    """One row of the line editor: what was typed and what is wrong with it."""

    n: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    bad: dict[str, bool] = field(default_factory=dict)


def blank_line() -> dict[str, str]:
    return {name: "" for name in LINE_FIELDS} | {"unit": Unit.DAY, "vat_rate": "20.00"}


def line_rows(
    raw_lines: list[dict[str, str]], errors: Mapping[str, list[str]] | None = None, blanks: int = 0
) -> list[LineRow]:
    """Rows numbered 1..n as parse_lines numbers them, so "line 2" is the second row."""
    rows = [LineRow(n=n, values=dict(raw)) for n, raw in enumerate(raw_lines, start=1)]
    for key, messages in (errors or {}).items():
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "lines" or not parts[1].isdigit():
            continue
        n = int(parts[1])
        if 1 <= n <= len(rows):
            rows[n - 1].errors.extend(messages)
            rows[n - 1].bad[_ERROR_FIELD.get(parts[2], parts[2])] = True
    start = len(rows) + 1
    rows += [LineRow(n=n, values=blank_line()) for n in range(start, start + blanks)]
    return rows


@dataclass
class LinesPreview:
    totals: Totals | None
    errors: list[str]


def preview_totals(raw_lines: list[dict[str, str]]) -> LinesPreview:
    """Totals of the typed lines, computed here with Decimal, or why they cannot be."""
    if not raw_lines:
        return LinesPreview(None, [])
    try:
        parsed = parse_lines(raw_lines)
    except ValidationFailed as exc:
        messages = [m for msgs in exc.errors.values() for m in msgs] or [exc.message]
        return LinesPreview(None, messages)
    return LinesPreview(totals_of(parsed), [])
