"""The demo's contracts and 24 months of invoices, written through the real services.

Every validated order becomes a contract in its own invoicing mode, starting on the day the
order was validated. Deliveries, milestones and time sheets are recorded when they happen,
then a billing run is made every Monday of the history, issuing the week's drafts: that is
how the invoices get gapless numbers in date order (F2025-…, F2026-…) and a realistic
invoicing delay. A few drafts wait one to three more weeks (the late invoices the KPIs must
show); about 3 % of invoices get a credit note a few weeks later, for the usual reasons.

Issued invoices cannot be backdated afterwards (the database refuses any change), so each
weekly run happens with the clock set to that Monday (`django.utils.timezone.now` patched):
demo data only, never a production code path.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

from django.test.utils import override_settings
from django.utils import timezone

from levier.billing.choices import CreditReason, InvoiceStatus
from levier.billing.models import CompanyProfile, Invoice
from levier.billing.run import issue_drafts, run_billing
from levier.billing.services import create_credit_note, issue_invoice
from levier.catalog.choices import InvoicingMode, Unit
from levier.collections.disputes import open_dispute, resolve_dispute
from levier.collections.models import Dispute
from levier.contracts.models import Contract, IndexSeries, IndexValue
from levier.contracts.services import (
    create_contract_from_order,
    enter_time,
    mark_milestone_reached,
    record_delivery,
)
from levier.demo.company import Cast, Progress
from levier.demo.timeline import Timeline
from levier.lib.periods import add_months, first_of_month
from levier.lib.revision import last_published_month
from levier.sales.choices import OrderStatus
from levier.sales.models import Order

ONE_DAY = dt.timedelta(days=1)
# Credit notes that settle a dispute the customer opened first, and the dispute's reason.
DISPUTED_REASONS = {
    CreditReason.PRICE_ERROR: "price",
    CreditReason.SERVICE_NOT_DELIVERED: "not_delivered",
    CreditReason.DUPLICATE: "duplicate",
}
CREDIT_REASONS = [
    (CreditReason.PRICE_ERROR, 5),
    (CreditReason.COMMERCIAL_GESTURE, 3),
    (CreditReason.CUSTOMER_DATA, 2),
    (CreditReason.DUPLICATE, 1),
    (CreditReason.SERVICE_NOT_DELIVERED, 1),
]


def create_company_profile() -> None:
    CompanyProfile.objects.update_or_create(
        pk=1,
        defaults={
            "legal_name": "Numéria Conseil",
            "trading_name": "Numéria",
            "legal_form": "SAS",
            "share_capital": Decimal("120000"),
            "siren": "852379452",
            "siret": "85237945200018",
            "vat_number": "FR21852379452",
            "rcs_city": "Lyon",
            "naf_code": "6202A",
            "address_line1": "18 quai Perrache",
            "postcode": "69002",
            "city": "Lyon",
            "email": "facturation@numeria-conseil.example",
            "phone": "04 72 00 00 00",
            "website": "https://numeria-conseil.example",
            "iban": "FR7630004000031234567890143",
            "bic": "BNPAFRPP",
            "bank_name": "BNP Paribas",
        },
    )


def create_syntec_values(today: dt.date) -> None:
    """Syntec révisé values from 30 months back up to the last one published, rising about
    2.5 % a year (`forget_latest_syntec` then removes the newest ones)."""
    series = IndexSeries.objects.get(code="syntec_revise")
    month = first_of_month(add_months(today, -30))
    value = Decimal("281.3")
    rows = []
    last = first_of_month(add_months(today, -series.publication_lag_months))
    while month <= last:
        rows.append(IndexValue(series=series, month=month, value=value))
        value = (value * Decimal("1.0021")).quantize(Decimal("0.1"))
        month = add_months(month, 1)
    IndexValue.objects.bulk_create(rows)


@contextmanager
def clock(moment: dt.datetime) -> Iterator[None]:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


class BillingHistory:
    def __init__(self, cast: Cast, rng: random.Random, timeline: Timeline) -> None:
        self.cast, self.rng, self.timeline = cast, rng, timeline
        self.adv = cast.users["adv"]
        self.compta = cast.users["compta"]
        self.today = timezone.localdate()

    def _at(self, day: dt.date, hour: int = 10) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, self.rng.randint(0, 59))))

    def contracts(self, progress: Progress) -> list[Contract]:
        orders = list(
            Order.objects.filter(status=OrderStatus.VALIDATED)
            .select_related("customer")
            .order_by("validated_at")
        )
        syntec = IndexSeries.objects.get(code="syntec_revise")
        contracts = []
        for order in progress(iter(orders), len(orders), "contrats"):
            assert order.validated_at is not None
            start = timezone.localdate(order.validated_at)
            terms: dict[str, Any] = {}
            if order.invoicing_mode == InvoicingMode.RECURRING:
                terms = {
                    "initial_term_months": 12,
                    "tacit_renewal": True,
                    "notice_months": self.rng.choice([1, 2, 3]),
                    "index_series": syntec,
                    "revision_fixed_part": self.rng.choice([Decimal("0"), Decimal("0.15")]),
                }
            with self.timeline.at(self._at(start, 11)), clock(self._at(start, 11)):
                contract = create_contract_from_order(actor=self.adv, order=order, **terms)
            self.timeline.stamp(contract, created_at=self._at(start, 11))
            self._events(contract, start)
            contracts.append(contract)
        return contracts

    def _events(self, contract: Contract, start: dt.date) -> None:
        """What happened on the contract: deliveries, milestones reached, time spent."""
        for line in contract.lines.all():
            if line.mode == InvoicingMode.ON_DELIVERY:
                day = start + dt.timedelta(days=self.rng.randint(10, 50))
                if day < self.today:
                    with self.timeline.at(self._at(day, 17)), clock(self._at(day, 17)):
                        record_delivery(
                            actor=self.adv, line=line, delivered_on=day, reference="PV de recette"
                        )
            elif line.mode == InvoicingMode.MILESTONES:
                day = start
                for milestone in line.milestones.all():
                    if day >= self.today:
                        break
                    with self.timeline.at(self._at(day, 16)), clock(self._at(day, 16)):
                        mark_milestone_reached(actor=self.adv, milestone=milestone, reached_on=day)
                    day += dt.timedelta(days=self.rng.randint(30, 90))
            elif line.mode == InvoicingMode.TIME_AND_MATERIALS:
                month = first_of_month(start)
                # Time is entered in days or hours; a flat fee sold on a T&M order (a
                # migration package) is delivered once, the month the work starts.
                timed = line.unit in (Unit.DAY, Unit.HOUR)
                while add_months(month, 1) <= self.today and month < add_months(start, 9):
                    days = Decimal(self.rng.randint(4, 19)) if timed else line.quantity
                    moment = self._at(add_months(month, 1) - ONE_DAY, 18)
                    with self.timeline.at(moment), clock(moment):
                        enter_time(actor=self.adv, line=line, month=month, quantity=days)
                    if not timed:
                        break
                    month = add_months(month, 1)

    def invoices(self, first_day: dt.date, progress: Progress) -> None:
        """A billing run every Monday; most drafts issued that day, some weeks later."""
        monday = first_day - dt.timedelta(days=first_day.weekday()) + dt.timedelta(days=7)
        mondays = []
        while monday <= self.today:
            mondays.append(monday)
            monday += dt.timedelta(days=7)
        waiting: list[tuple[dt.date, Invoice]] = []
        for monday in progress(iter(mondays), len(mondays), "facturation"):
            moment = self._at(monday, 9)
            with self.timeline.at(moment), clock(moment):
                run = run_billing(actor=self.adv, as_of=monday)
            for draft in run.drafts.all():
                late = self.rng.random() < 0.12
                due = monday + dt.timedelta(days=7 * self.rng.randint(1, 3)) if late else monday
                waiting.append((due, draft))
            ready = [draft for due, draft in waiting if due <= monday]
            waiting = [(due, draft) for due, draft in waiting if due > monday]
            with self.timeline.at(self._at(monday, 14)), clock(self._at(monday, 14)):
                issue_drafts(actor=self.adv, invoices=ready, issue_date=monday)
            self._credit_notes(monday)

    def _credit_notes(self, monday: dt.date) -> None:
        """About 3 % of the invoices issued three weeks ago get a credit note now."""
        issued = Invoice.objects.filter(
            kind="invoice",
            status=InvoiceStatus.ISSUED,
            issue_date=monday - dt.timedelta(days=21),
        )
        reasons = [r for r, w in CREDIT_REASONS for _ in range(w)]
        for invoice in issued:
            if self.rng.random() >= 0.03:
                continue
            reason = self.rng.choice(reasons)
            # The customer contests first: the dispute is opened on what the invoice still
            # owes then, before the credit note settles it.
            dispute = self._dispute_opened(invoice, reason) if reason in DISPUTED_REASONS else None
            moment = self._at(monday + dt.timedelta(days=1), 11)
            with self.timeline.at(moment), clock(moment):
                if reason in (CreditReason.PRICE_ERROR, CreditReason.COMMERCIAL_GESTURE):
                    first = invoice.lines.first()
                    assert first is not None
                    lines = [
                        {
                            "description": f"Régularisation – {first.description}"[:500],
                            "quantity": "1",
                            "unit": "flat",
                            "unit_price": (first.net_amount * Decimal("0.1")).quantize(
                                Decimal("0.01")
                            ),
                            "vat_rate": first.vat_rate,
                        }
                    ]
                    note = create_credit_note(
                        actor=self.compta, invoice=invoice, reason=reason, lines=lines
                    )
                else:
                    note = create_credit_note(actor=self.compta, invoice=invoice, reason=reason)
                issue_invoice(actor=self.compta, invoice=note, issue_date=moment.date())
            if dispute is not None:
                self._dispute_settled_by(dispute, note, moment)

    def _dispute_opened(self, invoice: Invoice, reason: CreditReason) -> Dispute:
        """The customer contests the invoice, a week or two after receiving it."""
        assert invoice.issue_date is not None
        opened = invoice.issue_date + dt.timedelta(days=self.rng.randint(6, 14))
        with self.timeline.at(self._at(opened, 15)), clock(self._at(opened, 15)):
            return open_dispute(
                actor=self.adv,
                invoice=invoice,
                reason=DISPUTED_REASONS[reason],
                owner=self.adv,
                due_on=opened + dt.timedelta(days=15),
                notes="Réclamation du client reçue par courriel.",
                opened_on=opened,
            )

    def _dispute_settled_by(self, dispute: Dispute, note: Invoice, moment: dt.datetime) -> None:
        """The credit note the customer's claim called for resolves the dispute."""
        note.refresh_from_db()
        with self.timeline.at(moment), clock(moment):
            resolve_dispute(
                actor=self.adv,
                dispute=dispute,
                resolution="credit_note",
                credit_note=note,
                note="Réclamation fondée : avoir émis.",
                resolved_on=moment.date(),
            )


def create_billing_history(
    cast: Cast, rng: random.Random, timeline: Timeline, progress: Progress
) -> tuple[int, int, int]:
    """Contracts, the weekly billing runs and credit notes; returns their counts."""
    create_company_profile()
    # The history's invoices were "sent" long ago: queue no sending for them.
    with override_settings(LEVIER_AUTO_SEND_INVOICES=False):
        return _history(cast, rng, timeline, progress)


def forget_latest_syntec(contracts: list[Contract], today: dt.date) -> None:
    """ADV has not entered the latest Syntec values yet: the revision that needs them is
    blocked (the billing screen names the index and month), as happens in real life.

    The newest values are removed from the S1 month of the latest anniversary of the last
    eight weeks, so at least one indexed contract shows the block, when one has such an
    anniversary."""
    series = IndexSeries.objects.get(code="syntec_revise")
    recent = [
        anniversary
        for contract in contracts
        if contract.index_series_id == series.pk
        for anniversary in [add_months(contract.start_date, 12 * k) for k in (1, 2)]
        if today - dt.timedelta(days=56) < anniversary <= today
    ]
    if recent:
        month = last_published_month(max(recent), series.publication_lag_months)
        IndexValue.objects.filter(series=series, month__gte=month).delete()


def _history(
    cast: Cast, rng: random.Random, timeline: Timeline, progress: Progress
) -> tuple[int, int, int]:
    history = BillingHistory(cast, rng, timeline)
    create_syntec_values(history.today)
    contracts = history.contracts(progress)
    forget_latest_syntec(contracts, history.today)
    if contracts:
        history.invoices(min(c.start_date for c in contracts), progress)
    return (
        len(contracts),
        Invoice.objects.filter(kind="invoice", status=InvoiceStatus.ISSUED).count(),
        Invoice.objects.filter(kind="credit_note", status=InvoiceStatus.ISSUED).count(),
    )
