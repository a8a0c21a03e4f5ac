"""Forms of the collections screens: they check types and sizes, the services decide.

Amounts are typed the French way (« 1 234,56 ») and parsed with `levier.lib.money`, the
parser every other screen uses. Dates are bounded (1900-2199): a date typed as 9999 is a
typing mistake, and adding reminder offsets to it would leave the calendar.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from levier.accounts.models import User
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice, InvoiceLine
from levier.collections.choices import (
    DisputeReason,
    DisputeResolution,
    DisputeStatus,
    DunningChannel,
    NoteKind,
    PaymentMethod,
    PaymentStatus,
)
from levier.customers.models import Customer
from levier.lib.money import MoneyError, to_decimal
from levier.web.forms import DateInput
from levier.web.views.contracts import sane_year

MAX_AMOUNT = Decimal("999999999999.99")
MAX_FILES = 20
MAX_ROWS = 200  # allocation rows in one form
MAX_ID_DIGITS = 12
_ROW_KEY = re.compile(r"^alloc-(\d{1,12})$")


def parse_amount(raw: object, *, allow_zero: bool = False) -> Decimal:
    """« 1 234,56 » → Decimal("1234.56"); ValidationError naming what is wrong."""
    text = str(raw or "").strip()
    if len(text) > 30:
        raise ValidationError(_("Enter an amount."), code="invalid")
    try:
        value = to_decimal(text)
    except MoneyError as exc:
        raise ValidationError(str(exc), code="invalid") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError(_("Enter an amount above zero."), code="range")
    if value > MAX_AMOUNT:
        raise ValidationError(_("The amount is too large."), code="range")
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError(_("At most two decimals."), code="decimals")
    return value.quantize(Decimal("0.01"))


class AmountField(forms.CharField):
    """An amount in euros, typed with a comma or a dot; cleans to a Decimal at the cent."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 30)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 12}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Decimal | None:
        text = super().clean(value)
        if not text:
            return None
        return parse_amount(text)


def date_field(label: Any, *, required: bool = True, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label, required=required, widget=DateInput(), validators=[sane_year], **kwargs
    )


def _usable_customers() -> Any:
    return Customer.objects.filter(is_active=True, merged_into__isnull=True)


def _plausible_pk(value: Any) -> bool:
    """An id the database can hold: digits, at most 12 (a bigger one overflows SQLite)."""
    if isinstance(value, int):
        return 0 < value < 10**MAX_ID_DIGITS
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS


class SafeChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A model choice whose posted id is checked before it reaches SQL."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        if not isinstance(value, Model) and not _plausible_pk(value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class SafeMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    """Model choices whose posted ids are checked before they reach SQL."""

    def clean(self, value: Any) -> Any:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        for item in values:
            if not isinstance(item, Model) and not _plausible_pk(item):
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": str(item)[:20]},
                )
        return super().clean(value)


# ---------------------------------------------------------------- statements


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (`<input type=file multiple>`): cleans to a list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            if not data:
                return [single(None, initial)]
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class StatementUploadForm(forms.Form):
    statement_files = MultipleFileField(
        label=gettext_lazy("Statement files (camt.053, CFONB 120, OFX)"),
        help_text=gettext_lazy("One or several files; the format is read from the content."),
    )

    def clean_statement_files(self) -> list[Any]:
        files: list[Any] = self.cleaned_data["statement_files"]
        if len(files) > MAX_FILES:
            raise ValidationError(
                _("At most %(n)s files at once.") % {"n": MAX_FILES}, code="too_many"
            )
        return files


# ---------------------------------------------------------------- payments


def _payment_status_choices() -> list[tuple[str, str]]:
    return [("", _("All statuses")), *((v, str(label)) for v, label in PaymentStatus.choices)]


def _method_choices() -> list[tuple[str, str]]:
    return [("", _("All methods")), *((v, str(label)) for v, label in PaymentMethod.choices)]


class PaymentFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=_payment_status_choices, required=False
    )
    method = forms.ChoiceField(
        label=gettext_lazy("Method"), choices=_method_choices, required=False
    )
    received_from = date_field(gettext_lazy("Received from"), required=False)
    received_to = date_field(gettext_lazy("Received to"), required=False)
    customer = forms.CharField(
        label=gettext_lazy("Customer or payer"), max_length=100, required=False
    )


class PaymentForm(forms.Form):
    # Rendered by hand (search input + <select> of the matches), like the order form.
    customer = SafeChoiceField(
        label=gettext_lazy("Customer"),
        queryset=_usable_customers(),
        error_messages={"invalid_choice": gettext_lazy("Choose an active customer from the list.")},
    )
    method = forms.ChoiceField(
        label=gettext_lazy("Payment method"),
        choices=PaymentMethod.choices,
        initial=PaymentMethod.TRANSFER,
    )
    received_on = date_field(gettext_lazy("Received on"))
    amount = AmountField(label=gettext_lazy("Amount (€)"))
    reference = forms.CharField(
        label=gettext_lazy("Reference (cheque number, transfer label…)"),
        max_length=500,
        required=False,
    )
    payer_name = forms.CharField(
        label=gettext_lazy("Payer (blank: the customer)"), max_length=200, required=False
    )


class ReasonForm(forms.Form):
    """A reason the service requires (unmatch, reject a proposal, reopen a dispute)."""

    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


@dataclass
class AllocationRow:
    """One invoice of the allocation form: what was typed next to it and what is wrong."""

    invoice: Invoice
    amount: str = ""
    errors: list[str] = field(default_factory=list)


def posted_allocations(data: Mapping[str, Any]) -> dict[int, str]:
    """The amounts typed per invoice (`alloc-<invoice id>`), blanks dropped, text bounded."""
    out: dict[int, str] = {}
    for key in list(data)[: MAX_ROWS * 4]:
        match = _ROW_KEY.match(str(key))
        if match is None:
            continue
        value = str(data.get(key) or "").strip()[:31]
        if value:
            out[int(match.group(1))] = value
        if len(out) >= MAX_ROWS:
            break
    return out


def parse_allocation_rows(
    rows: list[AllocationRow],
) -> tuple[list[tuple[int, Decimal]], bool]:
    """(invoice id, amount) for each row with an amount typed; False when a row is wrong."""
    portions: list[tuple[int, Decimal]] = []
    ok = True
    for row in rows:
        if not row.amount:
            continue
        try:
            amount = parse_amount(row.amount, allow_zero=True)
        except ValidationError as exc:
            row.errors.extend(exc.messages)
            ok = False
            continue
        if amount > 0:
            portions.append((row.invoice.pk, amount))
    return portions, ok


def allocation_rows(
    invoices: Iterable[Invoice], typed: Mapping[int, str] | None = None
) -> list[AllocationRow]:
    typed = typed or {}
    return [AllocationRow(invoice, typed.get(invoice.pk, "")) for invoice in invoices]


class InvoiceSearchForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Find open invoices of any customer (number or customer name)"),
        max_length=100,
        required=False,
    )


# ---------------------------------------------------------------- disputes


def _dispute_status_choices() -> list[tuple[str, str]]:
    return [("", _("All statuses")), *((v, str(label)) for v, label in DisputeStatus.choices)]


def _dispute_reason_choices() -> list[tuple[str, str]]:
    return [("", _("All reasons")), *((v, str(label)) for v, label in DisputeReason.choices)]


def _active_users() -> Any:
    return User.objects.filter(is_active=True).order_by("username")


class DisputeFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=_dispute_status_choices, required=False
    )
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason"), choices=_dispute_reason_choices, required=False
    )
    owner = SafeChoiceField(
        label=gettext_lazy("Owner"),
        queryset=_active_users(),
        required=False,
        empty_label=gettext_lazy("Everyone"),
    )
    q = forms.CharField(label=gettext_lazy("Invoice or customer"), max_length=100, required=False)


class UserChoiceField(SafeChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.username})" if name else str(obj.username)


class LineChoiceField(SafeMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _("%(position)s. %(description)s (%(amount)s € excl. VAT)") % {
            "position": obj.position,
            "description": obj.description,
            "amount": obj.net_amount,
        }


class DisputeOpenForm(forms.Form):
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason"), choices=[("", "—"), *DisputeReason.choices]
    )
    owner = UserChoiceField(label=gettext_lazy("Owner"), queryset=_active_users())
    due_on = date_field(gettext_lazy("Resolution due on"))
    lines = LineChoiceField(
        label=gettext_lazy("Disputed lines (none ticked: the whole invoice)"),
        queryset=InvoiceLine.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    notes = forms.CharField(
        label=gettext_lazy("What the customer says"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, invoice: Invoice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lines_field = self.fields["lines"]
        assert isinstance(lines_field, forms.ModelMultipleChoiceField)
        lines_field.queryset = invoice.lines.order_by("position")


class DocumentChoiceField(SafeChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        date = f"{obj.issue_date:%d/%m/%Y}" if obj.issue_date else ""
        return f"{obj.number} · {date} · {obj.total_gross} €"


class DisputeResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        label=gettext_lazy("How it ended"),
        choices=DisputeResolution.choices,
        widget=forms.RadioSelect,
    )
    credit_note = DocumentChoiceField(
        label=gettext_lazy("Credit note (issued, on this invoice)"),
        queryset=Invoice.objects.none(),
        required=False,
    )
    corrected_invoice = DocumentChoiceField(
        label=gettext_lazy("Corrected invoice (issued, same customer)"),
        queryset=Invoice.objects.none(),
        required=False,
    )
    note = forms.CharField(
        label=gettext_lazy("Note (required when rejected)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, invoice: Invoice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        issued = Invoice.objects.filter(status=InvoiceStatus.ISSUED)
        credit = self.fields["credit_note"]
        corrected = self.fields["corrected_invoice"]
        assert isinstance(credit, forms.ModelChoiceField)
        assert isinstance(corrected, forms.ModelChoiceField)
        credit.queryset = issued.filter(
            kind=DocumentKind.CREDIT_NOTE, credited_invoice=invoice
        ).order_by("-issue_date", "-pk")
        corrected.queryset = (
            issued.filter(kind=DocumentKind.INVOICE, customer_id=invoice.customer_id)
            .exclude(pk=invoice.pk)
            .order_by("-issue_date", "-pk")
        )


class NoteOnlyForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


# ---------------------------------------------------------------- follow-up


class TaskDoneForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("What was done or said"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    cancel = forms.BooleanField(label=gettext_lazy("Cancel the task instead"), required=False)


class InvoicesChoiceField(SafeMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        due = f"{obj.due_date:%d/%m/%Y}" if obj.due_date else "—"
        return _("%(number)s, due %(due)s, %(open)s € open") % {
            "number": obj.number,
            "due": due,
            "open": obj.open_amount,
        }


class PromiseForm(forms.Form):
    invoices = InvoicesChoiceField(
        label=gettext_lazy("Invoices promised"),
        queryset=Invoice.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    promised_on = date_field(gettext_lazy("Promised payment date"))
    amount = AmountField(label=gettext_lazy("Amount (blank: their open total)"), required=False)
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, open_invoices: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        invoices = self.fields["invoices"]
        assert isinstance(invoices, forms.ModelMultipleChoiceField)
        invoices.queryset = open_invoices


class NoteForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=NoteKind.choices, initial=NoteKind.CALL
    )
    text = forms.CharField(
        label=gettext_lazy("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class AsOfForm(forms.Form):
    as_of = date_field(gettext_lazy("As of"))


def bounded_day(value: Any, default: dt.date) -> tuple[AsOfForm, dt.date | None]:
    """The `as_of` form of a GET and the date it gives (the default when nothing asked)."""
    if not value:
        return AsOfForm(initial={"as_of": default}), default
    form = AsOfForm({"as_of": value})
    return form, form.cleaned_data["as_of"] if form.is_valid() else None


# ---------------------------------------------------------------- dunning


class DunningRunForm(forms.Form):
    run_date = date_field(gettext_lazy("Run date"))
    confirm = forms.BooleanField(
        label=gettext_lazy("I have checked the preview: send these reminders"),
        error_messages={"required": gettext_lazy("Tick the confirmation to run the reminders.")},
    )

    def clean_run_date(self) -> dt.date:
        value: dt.date = self.cleaned_data["run_date"]
        if value > timezone.localdate():
            # A run sends today: one dated ahead would send reminders before their time.
            raise ValidationError(
                _("Reminders are sent for today or an earlier day, not ahead."), code="future"
            )
        return value


class StepForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    offset_days = forms.IntegerField(
        label=gettext_lazy("Days from the due date (negative: before it)"),
        min_value=-365,
        max_value=3650,
    )
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=DunningChannel.choices)
    is_formal_notice = forms.BooleanField(
        label=gettext_lazy("Formal notice (claims late interest and the 40 € indemnity)"),
        required=False,
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=300, required=False)
    body = forms.CharField(
        label=gettext_lazy("Text"),
        max_length=20000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "cols": 80}),
    )


class InterestRateForm(forms.Form):
    """The ECB rate of a half-year (the service checks the date and the bounds)."""

    valid_from = forms.DateField(label=gettext_lazy("Half-year starting"), widget=DateInput)
    # localize: "2,15" as the French type it, as well as "2.15".
    ecb_rate = forms.DecimalField(
        label=gettext_lazy("ECB rate (%)"), max_digits=5, decimal_places=2, localize=True
    )
    margin_points = forms.DecimalField(
        label=gettext_lazy("Points added"),
        max_digits=5,
        decimal_places=2,
        initial=Decimal("10"),
        localize=True,
    )


class ScenarioForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    segment = forms.CharField(
        label=gettext_lazy("Customer segment"),
        max_length=50,
        required=False,
        help_text=gettext_lazy("Blank: only the customers given this scenario follow it."),
    )
