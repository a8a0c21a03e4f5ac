"""The billing run: from what contracts make billable on a date to draft (or issued) invoices.

Safe to repeat and to crash: each group of items (a contract, or a customer's contracts when
it asks for one invoice) is billed in its own transaction together with the price revisions
it depends on, and every invoice line carries its item's billing key, which the database
refuses twice. A crash leaves whole groups billed or not at all; the next run bills what is
left. Two runs at once cannot bill an item twice either: the second one's insert fails on the
key and that group is skipped, counted as "already billed".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.billing.models import BillingRun, Invoice
from levier.billing.services import DraftSpec, create_drafts, issue_invoices
from levier.contracts.choices import ContractStatus, InvoiceGrouping
from levier.contracts.models import Contract
from levier.contracts.schedule import BillableItem, ContractBilling, billable
from levier.contracts.services import apply_price_revisions
from levier.customers.models import Customer
from levier.lib.errors import ValidationFailed

log = logging.getLogger(__name__)
CHUNK = 500
Progress = Callable[[int], object]


@dataclass
class Group:
    """What becomes one invoice: one contract, or a customer's grouped contracts."""

    customer: Customer
    billings: list[ContractBilling] = field(default_factory=list)

    @property
    def items(self) -> list[BillableItem]:
        return [item for billing in self.billings for item in billing.items]

    @property
    def contract(self) -> Contract | None:
        return self.billings[0].contract if len(self.billings) == 1 else None


def billable_contracts(as_of: dt.date) -> QuerySet[Contract]:
    """Contracts that may have something to bill: not ended before the billing date."""
    return (
        Contract.objects.filter(start_date__lte=as_of)
        .exclude(status=ContractStatus.ENDED, end_date__lt=as_of)
        .select_related("customer", "index_series", "order")
        .order_by("customer_id", "pk")
    )


def _chunks(queryset: QuerySet[Contract], size: int) -> Iterator[list[Contract]]:
    """About `size` contracts at a time, never splitting a customer's contracts (a customer
    asking for one invoice for all of them gets one)."""
    chunk: list[Contract] = []
    for contract in queryset.order_by("customer_id", "pk").iterator(chunk_size=size):
        if len(chunk) >= size and contract.customer_id != chunk[-1].customer_id:
            yield chunk
            chunk = []
        chunk.append(contract)
    if chunk:
        yield chunk


def _groups(billings: Iterable[ContractBilling]) -> list[Group]:
    groups: dict[tuple[int, int | None], Group] = {}
    for billing in billings:
        contract = billing.contract
        per_customer = contract.invoice_grouping == InvoiceGrouping.PER_CUSTOMER
        key = (contract.customer_id, None if per_customer else contract.pk)
        groups.setdefault(key, Group(customer=contract.customer)).billings.append(billing)
    return list(groups.values())


def preview(as_of: dt.date, contracts: QuerySet[Contract] | None = None) -> list[ContractBilling]:
    """What a run on `as_of` would bill and what blocks, without writing anything."""
    queryset = contracts if contracts is not None else billable_contracts(as_of)
    result: list[ContractBilling] = []
    for chunk in _chunks(queryset, CHUNK):
        result += billable(chunk, as_of)
    return result


def _shared_po(group: Group) -> str:
    """The customer's PO on a grouped invoice, when all its contracts quote the same one."""
    numbers = {billing.contract.po_number for billing in group.billings}
    return numbers.pop() if len(numbers) == 1 else ""


def _spec(group: Group) -> DraftSpec:
    items = group.items
    contract = group.contract
    lines = []
    for item in items:
        raw = item.as_invoice_line()
        if contract is None:  # several contracts on one invoice: say which line is whose
            raw["description"] = f"{item.line.contract.number} – {raw['description']}"
        lines.append(raw)
    return DraftSpec(
        customer=group.customer,
        lines=lines,
        billable_on=min(item.billable_on for item in items),
        service_date=max(item.billable_on for item in items),
        po_number=contract.po_number if contract else _shared_po(group),
        contract=contract,
        order=contract.order if contract else None,
        line_extras=[
            {
                "contract_line_id": item.line.pk,
                "billing_key": item.key,
                "period_start": item.period.start if item.period else None,
                "period_end": item.period.end if item.period else None,
            }
            for item in items
        ],
    )


def _bill_groups(actor: User, groups: Sequence[Group]) -> list[tuple[Group, Invoice]]:
    """Groups in one transaction: their price revisions, then their drafts, in bulk."""
    with transaction.atomic():
        for group in groups:
            for billing in group.billings:
                if billing.revisions:
                    apply_price_revisions(actor=actor, billing=billing)
        billed = [group for group in groups if group.items]
        invoices = create_drafts(actor=actor, specs=[_spec(group) for group in billed])
    return list(zip(billed, invoices, strict=True))


def run_billing(
    *,
    actor: User,
    as_of: dt.date,
    issue: bool = False,
    issue_date: dt.date | None = None,
    contracts: QuerySet[Contract] | None = None,
    progress: Progress | None = None,
) -> BillingRun:
    """Bill everything billable on `as_of`; with `issue`, issue the drafts it made.

    Returns the BillingRun record. Blocked revisions and invoices that could not be issued
    (a customer missing a mandatory mention…) are listed on it, never silently skipped.
    """
    require(actor, Action.RUN_BILLING)
    if issue:
        require(actor, Action.ISSUE_INVOICE)
    run = BillingRun.objects.create(as_of=as_of, started_by=actor)
    queryset = contracts if contracts is not None else billable_contracts(as_of)
    drafts: list[Invoice] = []
    try:
        for chunk in _chunks(queryset, CHUNK):
            billings = billable(chunk, as_of)
            run.contracts_count += len(chunk)
            for billing in billings:
                run.blocked += billing.blocked
            groups = _groups(billings)
            try:
                done = _bill_groups(actor, groups)
            except (IntegrityError, ValidationFailed):
                # Another run billed some of these items meanwhile, or one group cannot be
                # invoiced as it stands: bill the others group by group, report the rest.
                done = []
                for group in groups:
                    try:
                        done += _bill_groups(actor, [group])
                    except IntegrityError:
                        run.errors.append(
                            _("%(customer)s: already billed by another run")
                            % {"customer": group.customer.name}
                        )
                    except ValidationFailed as exc:
                        run.errors.append(f"{group.customer.name}: {exc.message}")
            run.revisions_count += sum(len(b.revisions) for b in billings)
            run.drafts.add(*(invoice for _group, invoice in done))
            for group, invoice in done:
                drafts.append(invoice)
                run.drafts_count += 1
                run.items_count += len(group.items)
            if progress is not None:
                progress(len(chunk))
        if issue:
            # Issued today unless told otherwise: the numbers must follow the issue dates,
            # so a run for a past date does not backdate its invoices.
            run.issued_count, errors = issue_drafts(
                actor=actor, invoices=drafts, issue_date=issue_date
            )
            run.errors += errors
        run.status = BillingRun.Status.DONE
    except Exception as exc:
        log.exception("billing run of %s failed", as_of)
        run.status = BillingRun.Status.FAILED
        run.errors.append(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()
    return run


def issue_drafts(
    *, actor: User, invoices: Sequence[Invoice], issue_date: dt.date | None = None
) -> tuple[int, list[str]]:
    """Issue drafts in the order given, `CHUNK` per transaction (consecutive numbers).

    A draft that cannot be issued (a mandatory mention missing, already issued…) stays as
    it is and its reason is returned; the others are issued. Numbers stay gapless: a chunk
    that fails unexpectedly rolls back whole, its numbers included.
    """
    issued, errors = 0, []
    for start in range(0, len(invoices), CHUNK):
        done, failures = issue_invoices(
            actor=actor, invoices=invoices[start : start + CHUNK], issue_date=issue_date
        )
        issued += len(done)
        errors += [f"{f.invoice.customer.name}: {f.message}" for f in failures]
    return issued, errors
