"""Contract screens: list, contract page and its day-to-day actions, create, amend, indexes.

Views parse the request, call one service of `levier.contracts.services` and render; the
services check the role and the rules. Every form of the contract page posts to its own
URL; a refusal re-renders the page with that form's errors and a 4xx status, so the user
sees what they typed next to why it was refused, and a success redirects back (no resubmit
on reload). Renewal and notice dates are computed here with `levier.lib.periods`, the same
functions `give_notice` uses, so the page and the service never disagree.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.db.models import F, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from levier.accounts.models import User
from levier.accounts.permissions import Action, PermissionDenied, can, require
from levier.audit.selectors import events_for
from levier.billing.models import Invoice
from levier.catalog.choices import InvoicingMode, Unit, VatRate
from levier.catalog.selectors import sellable_products
from levier.contracts.choices import (
    ArchiveKind,
    ContractStatus,
    Frequency,
    InvoiceGrouping,
    MilestoneTrigger,
)
from levier.contracts.models import (
    Amendment,
    ArchivedDocument,
    Contract,
    ContractLine,
    IndexSeries,
    IndexValue,
    Milestone,
    TimeEntry,
)
from levier.contracts.schedule import ContractBilling, billable
from levier.contracts.services import (
    amend_contract,
    create_contract,
    create_contract_from_order,
    enter_time,
    give_notice,
    mark_milestone_reached,
    record_delivery,
    record_index_value,
)
from levier.customers.models import Customer
from levier.lib.errors import DomainError, ValidationFailed
from levier.lib.money import MoneyError, line_net, quantize, to_decimal
from levier.lib.periods import next_renewal, notice_deadline
from levier.sales.lines import MAX_QUANTITY, MAX_UNIT_PRICE
from levier.sales.models import Order
from levier.sales.transitions import InvalidTransition
from levier.web.forms import DateInput, plain_decimal, with_price_format
from levier.web.views.customers import put_errors, request_actor
from levier.web.views.orders import customer_options, refusal_text

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
RENEWAL_HORIZON_DAYS = 90
RENEWAL_WORKLIST_SIZE = 200
INDEX_HISTORY = 24
MAX_LINES = 100
BLANK_LINES = 3
MAX_PRODUCTS_IN_SELECT = 500
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # as levier.contracts.archive.MAX_BYTES
MAX_INDEX_VALUE = Decimal("99999999.9999")  # DECIMAL(12, 4)
MAX_COEFFICIENT = Decimal("99.9999")  # floor and cap: DECIMAL(6, 4)
MAX_FIXED_PART = Decimal("0.9999")  # a: DECIMAL(5, 4), below 1
FIRST_YEAR, LAST_YEAR = 1900, 2199
MONTHS_PER_PERIOD: dict[str, int] = {
    Frequency.MONTHLY: 1,
    Frequency.QUARTERLY: 3,
    Frequency.YEARLY: 12,
}


# ---------------------------------------------------------------- form fields


def sane_year(day: dt.date | None) -> None:
    """Contract dates between 1900 and 2199: renewal and period arithmetic on a date typed
    as 9999 would leave the calendar (and such a date is always a typing mistake)."""
    if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValidationError(
            _("Enter a date between %(first)s and %(last)s.")
            % {"first": FIRST_YEAR, "last": LAST_YEAR},
            code="out_of_range",
        )


class MonthInput(forms.TextInput):
    input_type = "month"


class MonthField(forms.Field):
    """A month as <input type=month> posts it (2026-03), or typed 03/2026 or as a date.

    Cleans to the month's first day: index values and time entries are stored that way.
    """

    widget = MonthInput
    default_validators = [sane_year]
    default_error_messages = {
        "invalid": gettext_lazy("Enter a month, for example 2026-03."),
    }

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, dt.date):
            return value.replace(day=1)
        text = str(value or "").strip()
        if not text:
            return None
        if len(text) <= 10:
            for fmt in ("%Y-%m", "%m/%Y", "%Y-%m-%d", "%d/%m/%Y"):
                try:
                    return dt.datetime.strptime(text, fmt).date().replace(day=1)
                except ValueError:
                    continue
        raise ValidationError(self.error_messages["invalid"], code="invalid")

    def prepare_value(self, value: Any) -> Any:
        return f"{value:%Y-%m}" if isinstance(value, dt.date) else value


class DecimalText(forms.Field):
    """A number typed the French way (1 234,5) or not, bounded to what its column holds.

    Django's DecimalField refuses the decimal comma unless the whole form is localized;
    `levier.lib.money.to_decimal` is the parser every other Levier screen uses.
    """

    def __init__(
        self, *, max_value: Decimal, places: int, min_value: Decimal = Decimal(0), **kwargs: Any
    ) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 10}))
        super().__init__(**kwargs)
        self.max_value, self.min_value, self.places = max_value, min_value, places

    def to_python(self, value: Any) -> Decimal | None:
        if value in (None, ""):
            return None
        text = str(value)
        if len(text) > 30:
            raise ValidationError(_("Enter a number."), code="invalid")
        try:
            number = to_decimal(text)
        except MoneyError as exc:
            raise ValidationError(str(exc), code="invalid") from None
        if not self.min_value <= number <= self.max_value:
            raise ValidationError(
                _("Enter a number between %(min)s and %(max)s.")
                % {"min": number_format(self.min_value), "max": number_format(self.max_value)},
                code="range",
            )
        if number != number.quantize(Decimal(1).scaleb(-self.places)):
            raise ValidationError(
                _("At most %(n)s decimals.") % {"n": self.places}, code="decimals"
            )
        return number


def _date_field(label: Any, *, required: bool = True, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label, required=required, widget=DateInput(), validators=[sane_year], **kwargs
    )


def _auto_id(key: str) -> str:
    """Field ids unique on the contract page, where the same form appears once per line."""
    return f"id_{key}_%s"


# ---------------------------------------------------------------- renewals


@dataclass(frozen=True)
class Renewal:
    """Where a tacitly renewed contract stands on `today`.

    `renewal`/`deadline`: the next renewal date and the last day to give notice before it.
    When that deadline has passed, notice now ends the contract at the following term, whose
    deadline is `actionable_deadline` (what the ADV worklist counts down to).
    """

    renewal: dt.date
    deadline: dt.date
    actionable_renewal: dt.date
    actionable_deadline: dt.date
    today: dt.date

    @property
    def deadline_passed(self) -> bool:
        return self.deadline < self.today

    @property
    def days_left(self) -> int:
        return (self.actionable_deadline - self.today).days


def renewal_of(contract: Contract, today: dt.date) -> Renewal | None:
    """The renewal dates of an active, tacitly renewed contract (None for any other)."""
    if (
        contract.status != ContractStatus.ACTIVE
        or not contract.tacit_renewal
        or not contract.initial_term_months
    ):
        return None
    try:

        def after(day: dt.date) -> dt.date:
            return next_renewal(
                contract.start_date,
                contract.initial_term_months or 0,
                day,
                renewal_term_months=contract.renewal_term_months,
            )

        renewal = after(today)
        deadline = notice_deadline(renewal, contract.notice_months)
        actionable, actionable_deadline = renewal, deadline
        while actionable_deadline < today:
            actionable = after(actionable)
            actionable_deadline = notice_deadline(actionable, contract.notice_months)
    except (ValueError, OverflowError):  # PeriodError is a ValueError
        return None  # terms no calendar can follow (a zero renewal term, year 10000…)
    return Renewal(renewal, deadline, actionable, actionable_deadline, today)


def _tacit_contracts() -> QuerySet[Contract]:
    return Contract.objects.filter(
        status=ContractStatus.ACTIVE, tacit_renewal=True, initial_term_months__gt=0
    )


@dataclass(frozen=True)
class RenewalRow:
    contract: Contract
    renewal: Renewal


def renewal_worklist(today: dt.date, within_days: int = RENEWAL_HORIZON_DAYS) -> list[RenewalRow]:
    """Active tacitly renewed contracts whose notice deadline falls in the next days.

    One query (customers joined); the dates are computed in Python with the same functions
    as `give_notice`, soonest deadline first. A deadline already passed for the coming
    renewal is replaced by the next term's, which is the one still in the ADV's hands.
    """
    horizon = today + dt.timedelta(days=within_days)
    rows = []
    for contract in _tacit_contracts().select_related("customer"):
        renewal = renewal_of(contract, today)
        if renewal is not None and today <= renewal.actionable_deadline <= horizon:
            rows.append(RenewalRow(contract, renewal))
    rows.sort(key=lambda row: (row.renewal.actionable_deadline, row.contract.number))
    return rows[:RENEWAL_WORKLIST_SIZE]


def _renewing_within(today: dt.date, days: int) -> list[int]:
    """Ids of the contracts whose next renewal date is within `days` (one light query)."""
    horizon = today + dt.timedelta(days=days)
    fields = (
        "pk",
        "status",
        "tacit_renewal",
        "initial_term_months",
        "renewal_term_months",
        "notice_months",
        "start_date",
    )
    ids = []
    for contract in _tacit_contracts().only(*fields):
        renewal = renewal_of(contract, today)
        if renewal is not None and renewal.renewal <= horizon:
            ids.append(contract.pk)
    return ids


# ---------------------------------------------------------------- amounts


def monthly_recurring(contract: Contract, lines: Iterable[ContractLine], today: dt.date) -> Decimal:
    """The recurring lines' net amount per month (HT), as in force today.

    "Today" is taken within the contract's life (its start if it has not begun, its end if
    it is over), so an amendment effective later does not count the old and the new line
    together. Quarterly and yearly amounts are spread over their months.
    """
    day = max(today, contract.start_date)
    if contract.end_date is not None:
        day = min(day, contract.end_date)
    total = Decimal(0)
    for line in lines:
        if line.mode != InvoicingMode.RECURRING:
            continue
        start = line.start_date or contract.start_date
        if start > day or (line.end_date is not None and line.end_date < day):
            continue
        months = MONTHS_PER_PERIOD.get(line.frequency, 1)
        total += line_net(line.quantity, line.unit_price, line.discount_percent) / months
    return quantize(total)


# ---------------------------------------------------------------- list


@dataclass(frozen=True)
class ListRow:
    contract: Contract
    renewal: Renewal | None
    monthly: Decimal


@login_required
@require_GET
def contract_list(request: HttpRequest) -> HttpResponse:
    """Contracts, filtered by status, customer or number, and renewal within 90 days.

    A constant number of queries: the page's contracts with their customer, then their
    recurring lines in one prefetch; renewal dates are computed, not queried.
    """
    today = timezone.localdate()
    contracts = Contract.objects.select_related("customer").order_by("-start_date", "-pk")
    status = request.GET.get("status", "")
    if status in ContractStatus.values:
        contracts = contracts.filter(status=status)
    query = request.GET.get("q", "").strip()[:100]
    if query:
        contracts = contracts.filter(
            Q(number__icontains=query)
            | Q(title__icontains=query)
            | Q(customer__name__icontains=query)
            | Q(customer__siren=query)
            | Q(po_number__icontains=query)
        )
    renewing = request.GET.get("renewal") == "1"
    if renewing:
        contracts = contracts.filter(pk__in=_renewing_within(today, RENEWAL_HORIZON_DAYS))
    contracts = contracts.prefetch_related(
        Prefetch(
            "lines",
            queryset=ContractLine.objects.filter(mode=InvoicingMode.RECURRING),
            to_attr="recurring_lines",
        )
    )
    page = Paginator(contracts, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        ListRow(c, renewal_of(c, today), monthly_recurring(c, c.recurring_lines, today))
        for c in page.object_list
    ]
    return render(
        request,
        "web/contracts/list.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "q": query,
            "renewing": renewing,
            "statuses": ContractStatus.choices,
            "horizon": RENEWAL_HORIZON_DAYS,
            "can_create": can(request_actor(request), Action.MANAGE_CONTRACTS),
        },
    )


# ---------------------------------------------------------------- contract page: forms


class MilestoneReachedForm(forms.Form):
    reached_on = _date_field(gettext_lazy("Reached on"))


class DeliveryForm(forms.Form):
    delivered_on = _date_field(gettext_lazy("Delivered or accepted on"))
    reference = forms.CharField(
        label=gettext_lazy("Delivery reference"), max_length=200, required=False
    )


class TimeEntryForm(forms.Form):
    month = MonthField(label=gettext_lazy("Month"))
    quantity = DecimalText(label=gettext_lazy("Quantity"), max_value=MAX_QUANTITY, places=3)
    comment = forms.CharField(label=gettext_lazy("Comment"), max_length=200, required=False)


class NoticeForm(forms.Form):
    given_on = _date_field(gettext_lazy("Notice given on"))
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 50}),
    )


class AmendmentChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return _("Amendment %(n)s") % {"n": obj.number}


UPLOAD_KINDS = [(k, label) for k, label in ArchiveKind.choices if k != ArchiveKind.GENERATED]


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("PDF file"))
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=UPLOAD_KINDS, initial=ArchiveKind.SIGNED_CONTRACT
    )
    amendment = AmendmentChoiceField(
        label=gettext_lazy("Amendment"), queryset=Amendment.objects.none(), required=False
    )

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        amendment = self.fields["amendment"]
        assert isinstance(amendment, forms.ModelChoiceField)
        amendment.queryset = contract.amendments.order_by("number")

    def clean_file(self) -> UploadedFile:
        """Only PDFs are archived: checked on the bytes, not the name the browser sent."""
        upload = self.cleaned_data["file"]
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("The file is too large (%(max)s MB at most).")
                % {"max": MAX_UPLOAD_BYTES // (1024 * 1024)}
            )
        head = upload.read(5)
        upload.seek(0)
        if head != b"%PDF-":
            raise ValidationError(_("Only PDF files can be archived."))
        return upload


# ---------------------------------------------------------------- contract page


@dataclass
class MilestoneRow:
    milestone: Milestone
    form: forms.Form


@dataclass
class LineRow:
    line: ContractLine
    milestones: list[MilestoneRow] = field(default_factory=list)
    delivery_form: forms.Form | None = None
    time_form: forms.Form | None = None
    entries: list[TimeEntry] = field(default_factory=list)


def _contract_or_404(pk: int) -> Contract:
    return get_object_or_404(
        Contract.objects.select_related("customer", "order", "index_series", "created_by"), pk=pk
    )


def _invoice_link(invoice: Invoice) -> str:
    try:
        return reverse("web:invoice_detail", args=[invoice.pk])
    except NoReverseMatch:  # the invoice screens are not installed
        return ""


def _change_label(name: str) -> str:
    for model in (Contract, ContractLine):
        try:
            return str(getattr(model._meta.get_field(name), "verbose_name", name))
        except FieldDoesNotExist:
            continue
    if name == "new_lines":
        return _("new lines")
    if name.startswith("line "):
        return _("line %(n)s") % {"n": name[5:]}
    return name


def _show(value: Any) -> str:
    return "—" if value in (None, "", "None") else str(value)


def describe_changes(changes: Mapping[str, Any]) -> list[str]:
    """An amendment's stored changes as sentences: "end date: 2026-12-31 → 2027-06-30"."""
    out = []
    for name, value in changes.items():
        label = _change_label(name)
        if isinstance(value, Mapping):
            parts = [
                f"{_change_label(k)} {_show(v[0])} → {_show(v[1])}"
                if isinstance(v, list) and len(v) == 2
                else f"{_change_label(k)} {_show(v)}"
                for k, v in value.items()
            ]
            out.append(f"{label}: {', '.join(parts)}")
        elif isinstance(value, list) and len(value) == 2 and name != "new_lines":
            out.append(f"{label}: {_show(value[0])} → {_show(value[1])}")
        elif isinstance(value, list):
            out.append(f"{label}: {', '.join(str(v) for v in value)}")
        else:
            out.append(f"{label}: {_show(value)}")
    return out


def _billing_today(contract: Contract, today: dt.date) -> tuple[ContractBilling | None, str]:
    """What `billable` finds for this contract today, or why it could not compute it.

    It runs on a fresh copy of the contract: it replaces the copy's prefetched lines.
    """
    fresh = Contract.objects.select_related("index_series").filter(pk=contract.pk)
    try:
        found = billable(fresh, today)
    except (DomainError, ValueError) as exc:  # dates the schedule cannot tile: say so
        return None, _("The billing schedule cannot be computed: %(error)s") % {"error": exc}
    return (found[0] if found else None), ""


def _detail_context(
    request: HttpRequest, contract: Contract, bound: Mapping[str, forms.Form] | None = None
) -> dict[str, Any]:
    bound = bound or {}
    actor = request_actor(request)
    today = timezone.localdate()
    lines = list(
        contract.lines.select_related("product").prefetch_related(
            Prefetch("milestones", queryset=Milestone.objects.select_related("reached_by")),
            Prefetch(
                "time_entries",
                queryset=TimeEntry.objects.select_related("entered_by").order_by("-month"),
            ),
        )
    )
    with_price_format(lines)
    rows = []
    for line in lines:
        row = LineRow(line)
        if line.mode == InvoicingMode.MILESTONES:
            row.milestones = [
                MilestoneRow(
                    m,
                    bound.get(f"milestone-{m.pk}")
                    or MilestoneReachedForm(
                        auto_id=_auto_id(f"m{m.pk}"), initial={"reached_on": today}
                    ),
                )
                for m in line.milestones.all()
            ]
        elif line.mode == InvoicingMode.ON_DELIVERY:
            row.delivery_form = bound.get(f"delivery-{line.pk}") or DeliveryForm(
                auto_id=_auto_id(f"d{line.pk}"), initial={"delivered_on": today}
            )
        elif line.mode == InvoicingMode.TIME_AND_MATERIALS:
            row.entries = list(line.time_entries.all())
            last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
            row.time_form = bound.get(f"time-{line.pk}") or TimeEntryForm(
                auto_id=_auto_id(f"t{line.pk}"), initial={"month": last_month}
            )
        rows.append(row)
    billing, billing_error = _billing_today(contract, today)
    invoices = list(contract.invoices.order_by("-created_at", "-pk"))
    links = {inv.pk: _invoice_link(inv) for inv in invoices}
    amendments = [
        (a, describe_changes(a.changes if isinstance(a.changes, Mapping) else {}))
        for a in contract.amendments.select_related("created_by").order_by("-number")
    ]
    s0 = None
    if contract.index_series_id and contract.base_index_month:
        s0 = IndexValue.objects.filter(
            series_id=contract.index_series_id, month=contract.base_index_month
        ).first()
    manage = can(actor, Action.MANAGE_CONTRACTS)
    return {
        "contract": contract,
        "rows": rows,
        "renewal": renewal_of(contract, today),
        "today": today,
        "s0": s0,
        "monthly": monthly_recurring(contract, lines, today),
        "billing": billing,
        "billing_error": billing_error,
        "invoices": [(inv, links[inv.pk]) for inv in invoices],
        "amendments": amendments,
        "revisions": list(contract.revisions.select_related("line").order_by("-anniversary")),
        "documents": list(
            contract.documents.select_related("archived_by", "amendment").order_by("-archived_at")
        ),
        "upload_form": bound.get("upload") or UploadForm(contract=contract, auto_id="id_up_%s"),
        "notice_form": bound.get("notice")
        or NoticeForm(auto_id="id_notice_%s", initial={"given_on": today}),
        "can_manage": manage,
        "can_archive": can(actor, Action.ARCHIVE_DOCUMENT),
        "can_amend": manage and contract.status != ContractStatus.ENDED,
        "can_give_notice": manage and contract.status == ContractStatus.ACTIVE,
        "events": list(events_for(contract)[:200]),
    }


def _render_detail(
    request: HttpRequest,
    contract: Contract,
    bound: Mapping[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "web/contracts/detail.html",
        _detail_context(request, contract, bound),
        status=status,
    )


@login_required
@require_GET
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _contract_or_404(pk))


def refusal(exc: Exception) -> tuple[int, str]:
    """The HTTP status and the sentence for a service's refusal."""
    if isinstance(exc, PermissionDenied):
        return 403, refusal_text(exc)
    if isinstance(exc, InvalidTransition):
        return 409, refusal_text(exc)
    if isinstance(exc, DomainError):
        return exc.http_status, exc.message
    return 400, str(exc)


def _page_action(
    request: HttpRequest,
    contract: Contract,
    *,
    key: str,
    form: forms.Form,
    action: Action,
    act: Callable[[User, dict[str, Any]], object],
    success: str,
) -> HttpResponse:
    """Run one form posted from the contract page.

    Success: a message and a redirect to the page. Otherwise the page again, with the
    form bound to what was typed and its errors: 403 for a role that may not, 400 for bad
    input, the service's status (409…) for a state that does not allow it.
    """
    actor = request_actor(request)
    if not can(actor, action):
        # Checked before the form: a role that may not gets no validation feedback, only
        # the refusal (the page shows it no such form either).
        status, text = refusal(PermissionDenied(actor, action))
        messages.error(request, text)
        return _render_detail(request, contract, status=status)
    if not form.is_valid():
        return _render_detail(request, contract, {key: form}, status=400)
    try:
        act(actor, form.cleaned_data)
    except ValidationFailed as exc:
        put_errors(form, exc)
        status = 400
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        status, text = refusal(exc)
        form.add_error(None, text)
    else:
        messages.success(request, success)
        return redirect("web:contract_detail", pk=contract.pk)
    return _render_detail(request, contract, {key: form}, status=status)


@login_required
@require_POST
def contract_milestone_reached(request: HttpRequest, pk: int, milestone_pk: int) -> HttpResponse:
    contract = _contract_or_404(pk)
    milestone = get_object_or_404(Milestone, pk=milestone_pk, line__contract=contract)

    def act(actor: User, data: dict[str, Any]) -> object:
        return mark_milestone_reached(
            actor=actor, milestone=milestone, reached_on=data["reached_on"]
        )

    return _page_action(
        request,
        contract,
        key=f"milestone-{milestone.pk}",
        form=MilestoneReachedForm(request.POST, auto_id=_auto_id(f"m{milestone.pk}")),
        action=Action.MANAGE_CONTRACTS,
        act=act,
        success=_("Milestone “%(label)s” marked reached.") % {"label": milestone.label},
    )


def _line_or_404(contract: Contract, line_pk: int, mode: str) -> ContractLine:
    """The contract's line of that mode: the page shows each form only on such lines."""
    return get_object_or_404(
        ContractLine.objects.select_related("contract"), pk=line_pk, contract=contract, mode=mode
    )


@login_required
@require_POST
def contract_record_delivery(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    contract = _contract_or_404(pk)
    line = _line_or_404(contract, line_pk, InvoicingMode.ON_DELIVERY)

    def act(actor: User, data: dict[str, Any]) -> object:
        return record_delivery(
            actor=actor, line=line, delivered_on=data["delivered_on"], reference=data["reference"]
        )

    return _page_action(
        request,
        contract,
        key=f"delivery-{line.pk}",
        form=DeliveryForm(request.POST, auto_id=_auto_id(f"d{line.pk}")),
        action=Action.MANAGE_CONTRACTS,
        act=act,
        success=_("Delivery of “%(line)s” recorded.") % {"line": line.description},
    )


@login_required
@require_POST
def contract_enter_time(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    contract = _contract_or_404(pk)
    line = _line_or_404(contract, line_pk, InvoicingMode.TIME_AND_MATERIALS)

    def act(actor: User, data: dict[str, Any]) -> object:
        return enter_time(
            actor=actor,
            line=line,
            month=data["month"],
            quantity=data["quantity"],
            comment=data["comment"],
        )

    return _page_action(
        request,
        contract,
        key=f"time-{line.pk}",
        form=TimeEntryForm(request.POST, auto_id=_auto_id(f"t{line.pk}")),
        action=Action.MANAGE_CONTRACTS,
        act=act,
        success=_("Time entered on “%(line)s”.") % {"line": line.description},
    )


@login_required
@require_POST
def contract_give_notice(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract_or_404(pk)

    def act(actor: User, data: dict[str, Any]) -> object:
        return give_notice(
            actor=actor, contract=contract, given_on=data["given_on"], reason=data["reason"]
        )

    return _page_action(
        request,
        contract,
        key="notice",
        form=NoticeForm(request.POST, auto_id="id_notice_%s"),
        action=Action.MANAGE_CONTRACTS,
        act=act,
        success=_("Notice recorded on %(number)s.") % {"number": contract.number},
    )


# ---------------------------------------------------------------- archived documents


class ArchiveUnavailable(DomainError):
    """The archive module is not installed in this build: nothing can be archived."""

    http_status = 503


def _archive_api() -> Any:
    """`levier.contracts.archive`, imported when used so this module never depends on it."""
    try:
        return importlib.import_module("levier.contracts.archive")
    except ImportError:
        raise ArchiveUnavailable(_("The document archive is not available.")) from None


@login_required
@require_POST
def contract_document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract_or_404(pk)

    def act(actor: User, data: dict[str, Any]) -> object:
        upload: UploadedFile = data["file"]
        return _archive_api().archive_document(
            actor=actor,
            contract=contract,
            data=upload.read(),
            filename=(upload.name or "document.pdf")[-200:],
            kind=data["kind"],
            amendment=data["amendment"],
        )

    return _page_action(
        request,
        contract,
        key="upload",
        form=UploadForm(request.POST, request.FILES, contract=contract, auto_id="id_up_%s"),
        action=Action.ARCHIVE_DOCUMENT,
        act=act,
        success=_("Document archived."),
    )


@login_required
@require_POST
def contract_document_generate(request: HttpRequest, pk: int) -> HttpResponse:
    """Generate the contract's PDF from its current terms and archive it with its hash."""
    contract = _contract_or_404(pk)
    actor = request_actor(request)
    try:
        require(actor, Action.ARCHIVE_DOCUMENT)
        _archive_api().archive_generated_contract(actor=actor, contract=contract)
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        status, text = refusal(exc)
        messages.error(request, text)
        return _render_detail(request, contract, status=status)
    messages.success(request, _("The contract PDF was generated and archived."))
    return redirect("web:contract_detail", pk=contract.pk)


@login_required
@require_GET
def contract_document_download(request: HttpRequest, pk: int, doc_pk: int) -> HttpResponse:
    document = get_object_or_404(ArchivedDocument, pk=doc_pk, contract_id=pk)
    archive = _archive_api()
    try:
        data = archive.read_archived(document)
    except archive.ArchiveCorrupted as exc:
        # The archive itself is damaged (not the user's doing): logged for the administrators,
        # who restore it from a backup; the user is told, and never served altered bytes.
        logger.error("%s", exc)
        text = _(
            "The archived file %(name)s is missing or damaged: it is not served. "
            "Tell an administrator, who will restore it from a backup."
        ) % {"name": document.filename}
        return render(request, "web/error.html", {"status": 500, "message": text}, status=500)
    response = HttpResponse(bytes(data), content_type=document.content_type or "application/pdf")
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=document.filename) or "attachment"
    )
    return response


# ---------------------------------------------------------------- create


def _usable_customers() -> QuerySet[Customer]:
    return Customer.objects.filter(is_active=True, merged_into__isnull=True)


class ContractForm(forms.Form):
    # Rendered with the order screens' customer picker (search + <select> of the matches).
    customer = forms.ModelChoiceField(
        label=gettext_lazy("Customer"),
        queryset=_usable_customers(),
        error_messages={"invalid_choice": gettext_lazy("Choose an active customer from the list.")},
    )
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    signed_on = _date_field(gettext_lazy("Signed on"))
    start_date = _date_field(gettext_lazy("Start date"))
    end_date = _date_field(
        gettext_lazy("End date"),
        required=False,
        help_text=gettext_lazy("Blank: open-ended, or tacitly renewed until notice."),
    )
    po_number = forms.CharField(
        label=gettext_lazy("Customer PO number"), max_length=50, required=False
    )
    invoice_grouping = forms.ChoiceField(
        label=gettext_lazy("Invoice grouping"),
        choices=InvoiceGrouping.choices,
        initial=InvoiceGrouping.PER_CONTRACT,
    )
    tacit_renewal = forms.BooleanField(label=gettext_lazy("Tacit renewal"), required=False)
    initial_term_months = forms.IntegerField(
        label=gettext_lazy("Initial term (months)"), required=False, min_value=1, max_value=240
    )
    renewal_term_months = forms.IntegerField(
        label=gettext_lazy("Renewal term (months)"),
        required=False,
        min_value=1,
        max_value=240,
        help_text=gettext_lazy("Blank: the same as the initial term."),
    )
    notice_months = forms.IntegerField(
        label=gettext_lazy("Notice (months)"), required=False, min_value=0, max_value=240
    )
    index_series = forms.ModelChoiceField(
        label=gettext_lazy("Revision index"),
        queryset=IndexSeries.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("— no revision —"),
    )
    revision_fixed_part = DecimalText(
        label=gettext_lazy("Fixed part a"),
        max_value=MAX_FIXED_PART,
        places=4,
        required=False,
        help_text=gettext_lazy("P1 = P0 × (a + (1 − a) × S1/S0); 0 for the plain clause."),
    )
    revision_floor = DecimalText(
        label=gettext_lazy("Floor coefficient"),
        max_value=MAX_COEFFICIENT,
        places=4,
        required=False,
    )
    revision_cap = DecimalText(
        label=gettext_lazy("Cap coefficient"), max_value=MAX_COEFFICIENT, places=4, required=False
    )
    base_index_month = MonthField(
        label=gettext_lazy("Base index month (S0)"),
        required=False,
        help_text=gettext_lazy("Blank: the last value published at signature."),
    )
    late_interest_rate = DecimalText(
        label=gettext_lazy("Late-payment interest (% a year)"),
        max_value=Decimal("50"),
        places=2,
        required=False,
        help_text=gettext_lazy(
            "Blank: the legal rate (ECB + 10 points). Never below 3 × the legal interest rate."
        ),
    )

    TERMS = (
        "invoice_grouping",
        "tacit_renewal",
        "initial_term_months",
        "renewal_term_months",
        "notice_months",
        "index_series",
        "revision_fixed_part",
        "revision_floor",
        "revision_cap",
        "base_index_month",
        "late_interest_rate",
    )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "customer": data["customer"],
            "title": data["title"],
            "signed_on": data["signed_on"],
            "start_date": data["start_date"],
            "end_date": data["end_date"],
            "po_number": data["po_number"],
            **{name: data[name] for name in self.TERMS},
        }


# The words ADV clerks write in an échéancier, whatever the language of the screen.
TRIGGER_WORDS = {
    "livraison": MilestoneTrigger.DELIVERY,
    "recette": MilestoneTrigger.ACCEPTANCE,
    "réception": MilestoneTrigger.ACCEPTANCE,
    "reception": MilestoneTrigger.ACCEPTANCE,
    "commande": MilestoneTrigger.SIGNATURE,
}


def _trigger(text: str) -> str:
    """A milestone trigger typed as its code (acceptance), its label or a French word."""
    wanted = text.strip().lower()
    for value, label in MilestoneTrigger.choices:
        if wanted in (value, str(label).lower()):
            return str(value)
    return str(TRIGGER_WORDS.get(wanted, text.strip()))


class ContractLineForm(forms.Form):
    description = forms.CharField(label=gettext_lazy("Description"), max_length=500, required=False)
    product = forms.ChoiceField(label=gettext_lazy("Product"), required=False, choices=())
    mode = forms.ChoiceField(
        label=gettext_lazy("Invoicing mode"),
        choices=InvoicingMode.choices,
        initial=InvoicingMode.RECURRING,
    )
    quantity = forms.CharField(label=gettext_lazy("Quantity"), max_length=20, required=False)
    unit = forms.ChoiceField(label=gettext_lazy("Unit"), choices=Unit.choices, initial=Unit.MONTH)
    unit_price = forms.CharField(
        label=gettext_lazy("Unit price excl. VAT"), max_length=20, required=False
    )
    vat_rate = forms.ChoiceField(
        label=gettext_lazy("VAT rate"), choices=VatRate.choices, initial=VatRate.STANDARD
    )
    frequency = forms.ChoiceField(
        label=gettext_lazy("Frequency"),
        choices=[("", "—"), *Frequency.choices],
        required=False,
        initial=Frequency.MONTHLY,
    )
    in_advance = forms.BooleanField(
        label=gettext_lazy("Billed in advance"), required=False, initial=True
    )
    milestones = forms.CharField(
        label=gettext_lazy("Milestones"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text=gettext_lazy(
            "Milestone lines only, one per line: label;percent;trigger "
            "(signature, delivery, acceptance, or date;YYYY-MM-DD)."
        ),
    )

    def __init__(self, *args: Any, products: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        product = self.fields["product"]
        assert isinstance(product, forms.ChoiceField)
        product.choices = products

    def clean_milestones(self) -> list[dict[str, str]]:
        """ "Acompte;30;signature" lines → the milestones the service parses and adds up."""
        parsed = []
        for n, text in enumerate(self.cleaned_data["milestones"].splitlines(), start=1):
            if not text.strip():
                continue
            parts = [part.strip() for part in text.split(";")]
            if len(parts) not in (3, 4):
                raise ValidationError(
                    _("Milestone line %(n)s: write label;percent;trigger.") % {"n": n}
                )
            label, share, trigger = parts[:3]
            milestone = {
                "label": label,
                "trigger": _trigger(trigger),
                "planned_on": parts[3] if len(parts) == 4 else "",
            }
            if share.endswith("€"):
                milestone["amount"] = share.rstrip("€").strip()
            else:
                milestone["percent"] = share.rstrip("%").strip()
            parsed.append(milestone)
        return parsed

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) for name in ("description", "product", "unit_price"))

    def raw_line(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "product_id": data["product"],
            "description": data["description"],
            "quantity": data["quantity"],
            "unit": data["unit"],
            "unit_price": data["unit_price"],
            "vat_rate": data["vat_rate"],
            "mode": data["mode"],
            "frequency": data["frequency"],
            "in_advance": data["in_advance"],
            "milestones": data["milestones"] if data["mode"] == InvoicingMode.MILESTONES else (),
        }


ContractLineFormSet = forms.formset_factory(
    ContractLineForm,
    extra=BLANK_LINES,
    max_num=MAX_LINES,
    absolute_max=MAX_LINES,
    validate_max=True,
)


def _product_choices() -> list[tuple[str, str]]:
    products = sellable_products().only("pk", "code", "label")[:MAX_PRODUCTS_IN_SELECT]
    return [("", "—"), *((str(p.pk), f"{p.code} – {p.label}") for p in products)]


def _apply_create_errors(
    form: ContractForm, rows: list[ContractLineForm], exc: ValidationFailed
) -> list[str]:
    """Put `lines.<n>.<field>` errors on the row the user typed, the rest on the header."""
    problems: list[str] = []
    for key, msgs in (exc.errors or {"__all__": [exc.message]}).items():
        parts = key.split(".")
        for msg in msgs:
            if parts[0] == "lines" and len(parts) >= 2 and parts[1].isdigit():
                n = int(parts[1])
                if 1 <= n <= len(rows):
                    name = parts[2] if len(parts) > 2 else None
                    row = rows[n - 1]
                    row.add_error(name if name in row.fields else None, msg)
                    continue
                problems.append(msg)
            elif key in form.fields:
                form.add_error(key, msg)
            else:
                problems.append(msg)
    return problems


def _selected_customer(form: ContractForm) -> Customer | None:
    raw = form["customer"].value()
    if isinstance(raw, Customer):
        return raw
    text = str(raw or "")
    if not text.isdigit() or len(text) > 18:
        return None
    return _usable_customers().filter(pk=int(text)).first()


def _create_page(
    request: HttpRequest,
    form: ContractForm,
    lines: Any,
    problems: list[str] | None = None,
    status: int = 200,
    quiet: bool = False,
) -> HttpResponse:
    selected = _selected_customer(form)
    return render(
        request,
        "web/contracts/form.html",
        {
            "form": form,
            "lines": lines,
            "problems": problems or [],
            "selected_customer": selected,
            "customer_options": customer_options(selected),
            "quiet": quiet,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def contract_create(request: HttpRequest) -> HttpResponse:
    """A contract typed from a signed paper one: header, terms, and lines as a formset.

    The form checks types and sizes; `create_contract` checks the rest (lines add up,
    dates lie within the contract, renewal terms make sense) and names the line and field.
    """
    actor = request_actor(request)
    require(actor, Action.MANAGE_CONTRACTS)
    products = _product_choices()
    if request.method != "POST":
        initial: dict[str, Any] = {"signed_on": timezone.localdate()}
        customer_id = request.GET.get("customer", "")
        if customer_id.isdigit() and len(customer_id) <= 18:
            initial["customer"] = customer_id
        return _create_page(
            request,
            ContractForm(initial=initial),
            ContractLineFormSet(prefix="lines", form_kwargs={"products": products}),
        )
    data = request.POST.copy()
    if "add_line" in request.POST:
        count = data.get("lines-TOTAL_FORMS", "")
        if count.isdigit() and int(count) < MAX_LINES:
            data["lines-TOTAL_FORMS"] = str(int(count) + 1)
    form = ContractForm(data)
    lines = ContractLineFormSet(data, prefix="lines", form_kwargs={"products": products})
    if "add_line" in request.POST:  # one more row; what was typed is not judged yet
        return _create_page(request, form, lines, quiet=True)
    problems: list[str] = []
    header_ok, lines_ok = form.is_valid(), lines.is_valid()  # both: every error at once
    if header_ok and lines_ok:
        rows = [row for row in lines.forms if not row.is_blank()]
        try:
            contract = create_contract(
                actor=actor, lines=[row.raw_line() for row in rows], **form.service_kwargs()
            )
        except ValidationFailed as exc:
            problems = _apply_create_errors(form, rows, exc)
        else:
            messages.success(
                request, _("Contract %(number)s created.") % {"number": contract.number}
            )
            return redirect("web:contract_detail", pk=contract.pk)
    return _create_page(request, form, lines, problems, status=400)


@login_required
@require_POST
def contract_from_order(request: HttpRequest, pk: int) -> HttpResponse:
    """A contract carrying a validated order's lines; a second click opens the first one."""
    order = get_object_or_404(Order, pk=pk)
    existing = order.contracts.order_by("pk").first()
    if existing is not None:
        messages.info(
            request,
            _("Order %(order)s already has contract %(number)s.")
            % {"order": order.number, "number": existing.number},
        )
        return redirect("web:contract_detail", pk=existing.pk)
    try:
        contract = create_contract_from_order(actor=request_actor(request), order=order)
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        messages.error(request, refusal(exc)[1])
        return redirect("web:order_detail", pk=order.pk)
    messages.success(
        request,
        _("Contract %(number)s created from order %(order)s: check its lines and terms.")
        % {"number": contract.number, "order": order.number},
    )
    return redirect("web:contract_detail", pk=contract.pk)


# ---------------------------------------------------------------- amend


class AmendForm(forms.Form):
    """An amendment: when, why, and per line a new price, quantity or end.

    Price and quantity come prefilled with the values in force: `amend_contract` ignores
    what did not change, so only the edited ones make the amendment.
    """

    effective_on = _date_field(gettext_lazy("Effective on"))
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )
    end_date = _date_field(gettext_lazy("New contract end date"), required=False)

    def __init__(self, *args: Any, lines: list[ContractLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"price_{line.pk}"] = DecimalText(
                label=gettext_lazy("New unit price"),
                max_value=MAX_UNIT_PRICE,
                places=4,
                required=False,
                initial=plain_decimal(line.unit_price),
            )
            self.fields[f"qty_{line.pk}"] = DecimalText(
                label=gettext_lazy("New quantity"),
                max_value=MAX_QUANTITY,
                places=3,
                required=False,
                initial=plain_decimal(line.quantity),
            )
            self.fields[f"end_{line.pk}"] = forms.BooleanField(
                label=gettext_lazy("End this line"), required=False
            )

    def rows(self) -> list[tuple[ContractLine, Any, Any, Any]]:
        return [
            (line, self[f"price_{line.pk}"], self[f"qty_{line.pk}"], self[f"end_{line.pk}"])
            for line in self.lines
        ]

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes: dict[int, dict[str, Decimal]] = {}
        for line in self.lines:
            edits = {}
            if data[f"price_{line.pk}"] is not None:
                edits["unit_price"] = data[f"price_{line.pk}"]
            if data[f"qty_{line.pk}"] is not None:
                edits["quantity"] = data[f"qty_{line.pk}"]
            if edits:
                changes[line.pk] = edits
        return {
            "effective_on": data["effective_on"],
            "reason": data["reason"],
            "header": {"end_date": data["end_date"]} if data["end_date"] else None,
            "line_changes": changes,
            "end_lines": [line.pk for line in self.lines if data[f"end_{line.pk}"]],
        }


def _amendable_lines(contract: Contract, today: dt.date) -> list[ContractLine]:
    """The lines still running today or later (ended ones are history)."""
    return list(
        contract.lines.filter(Q(end_date__isnull=True) | Q(end_date__gte=today)).order_by(
            "position", "pk"
        )
    )


@login_required
@require_http_methods(["GET", "POST"])
def contract_amend(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    contract = _contract_or_404(pk)
    require(actor, Action.MANAGE_CONTRACTS)
    today = timezone.localdate()
    lines = _amendable_lines(contract, today)
    status = 200
    if request.method == "POST":
        form = AmendForm(request.POST, lines=lines)
        status = 400
        if form.is_valid():
            try:
                amendment = amend_contract(actor=actor, contract=contract, **form.service_kwargs())
            except ValidationFailed as exc:
                put_errors(form, exc)
            except (DomainError, PermissionDenied, InvalidTransition) as exc:
                status, text = refusal(exc)
                form.add_error(None, text)
            else:
                messages.success(
                    request,
                    _("Amendment %(n)s of %(number)s recorded.")
                    % {"n": amendment.number, "number": contract.number},
                )
                return redirect("web:contract_detail", pk=contract.pk)
    else:
        if contract.status == ContractStatus.ENDED:
            messages.error(request, _("An ended contract cannot be amended"))
            return redirect("web:contract_detail", pk=contract.pk)
        form = AmendForm(lines=lines, initial={"effective_on": today})
    return render(
        request, "web/contracts/amend.html", {"contract": contract, "form": form}, status=status
    )


# ---------------------------------------------------------------- indexes


class IndexValueForm(forms.Form):
    series = forms.ModelChoiceField(
        label=gettext_lazy("Index"), queryset=IndexSeries.objects.order_by("name")
    )
    month = MonthField(label=gettext_lazy("Month"))
    value = DecimalText(label=gettext_lazy("Value"), max_value=MAX_INDEX_VALUE, places=4)


def _index_history() -> list[tuple[IndexSeries, list[IndexValue]]]:
    """Each series with its last values, in two queries whatever the number of series."""
    series = list(IndexSeries.objects.order_by("name"))
    recent = (
        IndexValue.objects.annotate(
            rank=Window(RowNumber(), partition_by=[F("series_id")], order_by=F("month").desc())
        )
        .filter(rank__lte=INDEX_HISTORY)
        .select_related("entered_by")
        .order_by("series_id", "-month")
    )
    by_series: dict[int, list[IndexValue]] = {s.pk: [] for s in series}
    for value in recent:
        by_series.setdefault(value.series_id, []).append(value)
    return [(s, by_series[s.pk]) for s in series]


@login_required
@require_http_methods(["GET", "POST"])
def index_list(request: HttpRequest) -> HttpResponse:
    """Published index values (Syntec…): visible to everyone, entered by MANAGE_INDEXES."""
    actor = request_actor(request)
    status = 200
    if request.method == "POST":
        form = IndexValueForm(request.POST)
        status = 400
        if not can(actor, Action.MANAGE_INDEXES):
            status, text = refusal(PermissionDenied(actor, Action.MANAGE_INDEXES))
            form.add_error(None, text)
        elif form.is_valid():
            data = form.cleaned_data
            try:
                entry = record_index_value(
                    actor=actor, series=data["series"], month=data["month"], value=data["value"]
                )
            except ValidationFailed as exc:
                put_errors(form, exc)
            except (DomainError, PermissionDenied) as exc:
                status, text = refusal(exc)
                form.add_error(None, text)
            else:
                messages.success(
                    request,
                    _("%(series)s %(month)s = %(value)s recorded.")
                    % {
                        "series": entry.series.name,
                        "month": f"{entry.month:%m/%Y}",
                        "value": plain_decimal(entry.value),
                    },
                )
                return redirect("web:index_list")
    else:
        form = IndexValueForm()
    return render(
        request,
        "web/contracts/indexes.html",
        {
            "history": _index_history(),
            "form": form,
            "can_edit": can(actor, Action.MANAGE_INDEXES),
        },
        status=status,
    )
