"""Two years of orders and quotes, played through the real sales services.

Each planned order gets a scenario (validated, waiting at a given step, rejected, reopened,
cancelled…) and a creation moment within the last 24 months; in-flight scenarios (drafts,
orders waiting for a step) are recent, finished ones are spread over the two years with
more orders lately. The plan is played in chronological order with `create_order`,
`submit_order`, `approve_order`, `reject_order`, `reopen_order`, `update_order` and
`cancel_order`; the circuit the services decide is the one that is followed, and the
scenario only decides where the order stops. Timestamps are then backdated by
`levier.demo.timeline` (see its docstring).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from levier.accounts.models import User
from levier.catalog.models import Product
from levier.demo import data
from levier.demo.company import Cast, DemoCustomer, Progress, Scale, no_progress
from levier.demo.timeline import Timeline
from levier.sales.choices import ApprovalStatus, OrderStatus
from levier.sales.models import ApprovalStep, Order, Quote
from levier.sales.services import (
    approve_order,
    cancel_order,
    convert_quote_to_order,
    create_order,
    create_quote,
    decline_quote,
    reject_order,
    reopen_order,
    send_quote,
    submit_order,
    update_order,
)

# Scenario → weight. Every scenario appears at least once when there are enough orders.
SCENARIOS: dict[str, int] = {
    "validated": 580,
    "validated_after_rejection": 40,
    "rejected": 70,
    "reopened_draft": 20,
    "draft": 60,
    "waiting_adv": 50,
    "waiting_comptabilite": 30,
    "waiting_direction": 30,
    "cancelled_draft": 30,
    "cancelled_submitted": 25,
    "cancelled_rejected": 20,
}
IN_FLIGHT = {"draft", "waiting_adv", "waiting_comptabilite", "waiting_direction"}
QUOTE_SCENARIOS: dict[str, int] = {"draft": 30, "sent": 40, "declined": 30}
PLAIN_CEILING = Decimal("45000")  # plain orders stay under the 50 000 € Direction rule
HISTORY_DAYS = 730


@dataclass
class Plan:
    scenario: str
    created: dt.datetime
    flavor: str  # plain, big (amount rule), discount (discount rule), terms (terms rule)
    from_quote: bool


class HistoryGenerator:
    def __init__(
        self,
        cast: Cast,
        products: list[Product],
        customers: list[DemoCustomer],
        scale: Scale,
        rng: random.Random,
        timeline: Timeline,
    ) -> None:
        self.cast, self.scale, self.rng, self.timeline = cast, scale, rng, timeline
        self.products = {p.code: p for p in products}
        self.products_by_pk = {p.pk: p for p in products}
        self.customers = customers
        self.weights = [3 if c.customer.is_strategic else 1 for c in customers]
        # Customers whose terms some legal longer terms exist for (not already at 45 EOM).
        self.extendable = [
            c
            for c in customers
            if not (
                c.customer.payment_terms_basis == "end_of_month"
                and c.customer.payment_terms_days >= 45
            )
        ]
        # The start of today, not the load's own minute: the history is then the same
        # whatever the hour `load-demo` runs. Orders dated "N days ago, at this time" fell
        # before or after a Monday's billing run by the hour of the load.
        self.now = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        self.creators = cast.by_role("commercial") + cast.by_role("adv")
        self.approvers = {role: cast.by_role(role) for role in ("adv", "comptabilite", "direction")}
        self.po_counter = 0

    # ------------------------------------------------------------ time

    def _workday(self, moment: dt.datetime) -> dt.datetime:
        """Move a moment forward into office hours (Mon–Fri, 8:00–19:00, local time).

        Draws exactly one random number whatever the moment, so the content generated for
        a seed does not depend on the time of day the demo is loaded.
        """
        minute = self.rng.randint(0, 59)
        local = timezone.localtime(moment)
        if local.hour < 8:
            local = local.replace(hour=8, minute=minute)
        elif local.hour >= 19:
            local = (local + dt.timedelta(days=1)).replace(hour=8, minute=minute)
        while local.weekday() >= 5:
            local += dt.timedelta(days=1)
        return local

    def _later(self, moment: dt.datetime, min_hours: float, max_hours: float) -> dt.datetime:
        """A moment after `moment`, in office hours when possible, always before now."""
        candidate = self._workday(
            moment + dt.timedelta(hours=self.rng.uniform(min_hours, max_hours))
        )
        if candidate >= self.now - dt.timedelta(minutes=5):
            candidate = moment + (self.now - moment) / 3
        return candidate

    def _created(self, scenario: str) -> dt.datetime:
        if scenario in IN_FLIGHT:
            days_ago = self.rng.uniform(1, 20)
        else:
            # More orders lately: a growing company.
            days_ago = 14 + (HISTORY_DAYS - 14) * self.rng.random() ** 1.4
        moment = self._workday(self.now - dt.timedelta(days=days_ago))
        return moment if moment < self.now else self.now - dt.timedelta(hours=days_ago)

    # ------------------------------------------------------------ plan

    def plan(self) -> list[Plan]:
        names = list(SCENARIOS)
        count = self.scale.orders
        scenarios = names[:count] + self.rng.choices(
            names, weights=list(SCENARIOS.values()), k=max(0, count - len(names))
        )
        plans = []
        for scenario in scenarios:
            if scenario == "waiting_comptabilite":
                flavor = "terms"
            elif scenario == "waiting_direction":
                flavor = self.rng.choice(("big", "discount"))
            else:
                flavor = self.rng.choices(
                    ("plain", "big", "discount", "terms"), weights=(76, 10, 8, 6)
                )[0]
            from_quote = scenario != "draft" and self.rng.random() < 0.08
            plans.append(Plan(scenario, self._created(scenario), flavor, from_quote))
        if plans and not any(p.from_quote for p in plans):
            plans[0].from_quote = plans[0].scenario != "draft"  # at least one converted quote
        plans.sort(key=lambda p: p.created)
        return plans

    # ------------------------------------------------------------ order content

    def _product_line(self, code: str, discount: Decimal = Decimal("0")) -> dict[str, Any]:
        product = self.products[code]
        low, high = data.QUANTITIES[product.unit]
        quantity = self.rng.randint(10, 150) if code == "LIC-SUITE" else self.rng.randint(low, high)
        if discount == 0 and self.rng.random() < 0.2:
            discount = Decimal(self.rng.choice((5, 10)))
        return {"product_id": product.pk, "quantity": quantity, "discount_percent": discount}

    def _amount(self, line: dict[str, Any]) -> Decimal:
        if "product_id" not in line:
            return Decimal(line["unit_price"])
        product = self.products_by_pk[line["product_id"]]
        gross = product.unit_price * line["quantity"]
        return gross - gross * Decimal(line["discount_percent"]) / 100

    def _pick_codes(self, count: int) -> list[str]:
        families = {
            "REG-": 45,
            "TMA-": 8,
            "HEB-": 7,
            "AUD-": 10,
            "FOR-": 10,
            "LIC-": 8,
            "SUP-": 7,
            "DEV-": 2,
            "MIG-": 1,
            "REC": 2,
        }
        codes: list[str] = []
        while len(codes) < count:
            family = self.rng.choices(list(families), weights=list(families.values()))[0]
            code = self.rng.choice([c for c in self.products if c.startswith(family)])
            if code not in codes:
                codes.append(code)
        return codes

    def lines(self, flavor: str) -> list[dict[str, Any]]:
        rng = self.rng
        count = rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
        lines = [self._product_line(code) for code in self._pick_codes(count)]
        if rng.random() < 0.05:
            lines.append(
                {
                    "description": "Frais de déplacement (forfait)",
                    "quantity": 1,
                    "unit": "flat",
                    "unit_price": "420",
                    "vat_rate": "20",
                }
            )
        # Keep ordinary orders under the amount rule; "big" ones add a long régie line.
        while sum(self._amount(line) for line in lines) > PLAIN_CEILING:
            biggest = max(lines, key=self._amount)
            if biggest["quantity"] > 1:
                biggest["quantity"] = max(1, biggest["quantity"] // 2)
            else:
                lines.remove(biggest)
        if flavor == "big":
            code = rng.choice(("REG-DEV-SR", "REG-ARCHI", "REG-CP"))
            lines.insert(
                0, {"product_id": self.products[code].pk, "quantity": rng.randint(70, 180)}
            )
        if flavor == "discount":
            lines[0]["discount_percent"] = Decimal(rng.choice((18, 20, 25)))
        for line in lines:
            line["quantity"] = str(line["quantity"])
            if "discount_percent" in line:
                line["discount_percent"] = str(line["discount_percent"])
        return lines

    def _mode(self, lines: list[dict[str, Any]]) -> str:
        """The invoicing mode of the order's main (first) product."""
        first = self.products_by_pk.get(lines[0].get("product_id") or 0)
        return first.default_invoicing_mode if first else "on_order"

    def _po_number(self, moment: dt.datetime) -> str:
        self.po_counter += 1
        if self.rng.random() < 0.5:
            return f"45{self.rng.randint(10_000_000, 99_999_999)}"  # SAP-style PO numbers
        return f"BC-{moment.year}-{self.po_counter:05d}"

    @staticmethod
    def _longer_terms(demo: DemoCustomer) -> tuple[int, str]:
        customer = demo.customer
        if customer.payment_terms_basis == "net" and customer.payment_terms_days < 60:
            return 60, "net"
        return 45, "end_of_month"

    def _customer(self, flavor: str) -> DemoCustomer:
        if flavor == "terms" and self.extendable:
            return self.rng.choice(self.extendable)
        return self.rng.choices(self.customers, weights=self.weights)[0]

    def _creator(self, demo: DemoCustomer) -> User:
        manager_id = demo.customer.account_manager_id
        if manager_id is not None and self.rng.random() < 0.7:
            for user in self.creators:
                if user.pk == manager_id:
                    return user
        return self.rng.choices(self.creators, weights=[40, 35, 15, 10][: len(self.creators)])[0]

    def _approver(self, role: str, creator: User) -> User:
        return self.rng.choice([u for u in self.approvers[role] if u.pk != creator.pk])

    # ------------------------------------------------------------ playing a plan

    def run(self, progress: Progress = no_progress) -> None:
        plans = self.plan()
        for plan in progress(iter(plans), len(plans), "orders"):
            self.play(plan)
        for scenario, created in self.quote_plan():
            self.play_quote(scenario, created)

    def play(self, plan: Plan) -> None:
        rng, tl = self.rng, self.timeline
        flavor = plan.flavor
        demo = self._customer(flavor)
        if flavor == "terms" and demo not in self.extendable:
            flavor = "plain"
        customer = demo.customer
        creator = self._creator(demo)
        lines = self.lines(flavor)
        moment = plan.created
        po_number = (
            self._po_number(moment) if customer.po_number_required or rng.random() < 0.5 else ""
        )
        delivery = (moment + dt.timedelta(days=rng.randint(10, 60))).date()
        if plan.from_quote:
            order = self._order_from_quote(creator, demo, lines, moment, po_number, delivery)
        else:
            terms: dict[str, Any] = {}
            if flavor == "terms":
                days, basis = self._longer_terms(demo)
                terms = {"payment_terms_days": days, "payment_terms_basis": basis}
            with tl.at(moment):
                order = create_order(
                    actor=creator,
                    customer=customer,
                    lines=lines,
                    po_number=po_number,
                    requested_delivery_date=delivery,
                    invoicing_mode=self._mode(lines),
                    delivery_address_id=(
                        rng.choice(demo.address_ids)
                        if demo.address_ids and rng.random() < 0.7
                        else None
                    ),
                    notes=(
                        "Remise négociée en contrepartie d'un engagement sur 12 mois."
                        if flavor == "discount"
                        else ""
                    ),
                    **terms,
                )
        tl.stamp(order, created_at=moment, updated_at=moment)
        scenario = plan.scenario
        if scenario == "draft":
            return
        if scenario == "cancelled_draft":
            self._cancel(order, creator, self._later(moment, 2, 120))
            return
        moment = self._later(moment, 1, 48)
        order = self._submit(order, creator, moment)
        stop_at = {
            "waiting_adv": "adv",
            "waiting_comptabilite": "comptabilite",
            "waiting_direction": "direction",
        }.get(scenario)
        if stop_at is not None or scenario == "cancelled_submitted":
            order, moment = self._decide_until(order, creator, moment, stop_at)
            if scenario == "cancelled_submitted":
                self._cancel(order, creator, self._later(moment, 2, 96))
            return
        if scenario == "validated":
            self._decide_until(order, creator, moment, None, approve_all=True)
            return
        # The remaining scenarios start with a rejection at one of the steps.
        order, moment = self._reject_somewhere(order, creator, moment)
        if scenario == "rejected":
            return
        if scenario == "cancelled_rejected":
            self._cancel(order, creator, self._later(moment, 4, 96))
            return
        moment = self._later(moment, 2, 72)
        with tl.at(moment):
            order = reopen_order(actor=creator, order=order)
        tl.stamp(order, updated_at=moment)
        if scenario == "reopened_draft":
            return
        # validated_after_rejection: the sales rep fixes the order and submits it again.
        moment = self._later(moment, 1, 48)
        fixed = [
            {**line, "discount_percent": "10"} if flavor == "discount" else line for line in lines
        ]
        changes: dict[str, Any] = {
            "notes": "Corrigée suite au refus : " + order.rejection_reason,
            "po_number": order.po_number or self._po_number(moment),
        }
        if flavor == "terms":
            changes["payment_terms_days"] = None  # back to the customer's terms
        with tl.at(moment):
            order = update_order(
                actor=creator,
                order=order,
                expected_version=order.version,
                lines=fixed if flavor == "discount" else None,
                **changes,
            )
        moment = self._later(moment, 1, 24)
        order = self._submit(order, creator, moment)
        self._decide_until(order, creator, moment, None, approve_all=True)

    def _order_from_quote(
        self,
        creator: User,
        demo: DemoCustomer,
        lines: list[dict[str, Any]],
        moment: dt.datetime,
        po_number: str,
        delivery: dt.date,
    ) -> Order:
        tl = self.timeline
        quoted = self._workday(moment - dt.timedelta(days=self.rng.uniform(5, 25)))
        quoted = min(quoted, moment - dt.timedelta(hours=2))
        sent = quoted + (moment - quoted) / 4
        with tl.at(quoted):
            quote = create_quote(
                actor=creator,
                customer=demo.customer,
                lines=lines,
                invoicing_mode=self._mode(lines),
            )
        with tl.at(sent):
            quote = send_quote(actor=creator, quote=quote)
        with tl.at(moment):
            order = convert_quote_to_order(
                actor=creator, quote=quote, po_number=po_number, requested_delivery_date=delivery
            )
        tl.stamp(
            quote,
            created_at=quoted,
            updated_at=moment,
            valid_until=timezone.localdate(quoted) + dt.timedelta(days=30),
        )
        return order

    def _submit(self, order: Order, actor: User, moment: dt.datetime) -> Order:
        with self.timeline.at(moment):
            order = submit_order(actor=actor, order=order)
        self.timeline.stamp(order, submitted_at=moment, updated_at=moment)
        return order

    def _steps(self, order: Order) -> list[ApprovalStep]:
        return list(
            ApprovalStep.objects.filter(order=order, round=order.submission_round).order_by(
                "sequence"
            )
        )

    def _decide_until(
        self,
        order: Order,
        creator: User,
        moment: dt.datetime,
        stop_at: str | None,
        *,
        approve_all: bool = False,
    ) -> tuple[Order, dt.datetime]:
        """Approve the steps in turn; stop before `stop_at`'s step (or a random one)."""
        steps = self._steps(order)
        if approve_all:
            stop = len(steps)
        elif stop_at is not None:
            roles = [s.role for s in steps]
            stop = roles.index(stop_at) if stop_at in roles else len(steps) - 1
        else:
            stop = self.rng.randrange(len(steps))
        for step in steps[:stop]:
            moment = self._later(moment, 1, 60)
            comment = self.rng.choice(data.APPROVAL_COMMENTS[step.role])
            with self.timeline.at(moment):
                order = approve_order(
                    actor=self._approver(step.role, creator), order=order, comment=comment
                )
            self.timeline.stamp(step, decided_at=moment)
            self.timeline.stamp(order, updated_at=moment)
        if order.status == OrderStatus.VALIDATED:
            self.timeline.stamp(order, validated_at=moment)
            self.timeline.email_sent(order.pk, moment)
        return order, moment

    def _reject_somewhere(
        self, order: Order, creator: User, moment: dt.datetime
    ) -> tuple[Order, dt.datetime]:
        steps = self._steps(order)
        at = self.rng.randrange(len(steps))
        for step in steps[: at + 1]:
            moment = self._later(moment, 1, 60)
            actor = self._approver(step.role, creator)
            with self.timeline.at(moment):
                if step is steps[at]:
                    reason = self.rng.choice(data.REJECTIONS[step.role])
                    order = reject_order(actor=actor, order=order, comment=reason)
                else:
                    order = approve_order(actor=actor, order=order)
            self.timeline.stamp(step, decided_at=moment)
        self.timeline.stamp(order, updated_at=moment)
        return order, moment

    def _cancel(self, order: Order, actor: User, moment: dt.datetime) -> None:
        with self.timeline.at(moment):
            cancel_order(actor=actor, order=order, reason=self.rng.choice(data.CANCELLATIONS))
        self.timeline.stamp(order, updated_at=moment)

    # ------------------------------------------------------------ quotes that stay quotes

    def quote_plan(self) -> list[tuple[str, dt.datetime]]:
        names = list(QUOTE_SCENARIOS)
        count = self.scale.quotes
        scenarios = names[:count] + self.rng.choices(
            names, weights=list(QUOTE_SCENARIOS.values()), k=max(0, count - len(names))
        )
        plan = []
        for scenario in scenarios:
            days_ago = {
                "draft": self.rng.uniform(1, 15),
                "sent": self.rng.uniform(2, 25),
                "declined": self.rng.uniform(40, HISTORY_DAYS),
            }[scenario]
            moment = self._workday(self.now - dt.timedelta(days=days_ago))
            plan.append((scenario, min(moment, self.now - dt.timedelta(hours=days_ago))))
        plan.sort(key=lambda item: item[1])
        return plan

    def play_quote(self, scenario: str, moment: dt.datetime) -> Quote:
        tl = self.timeline
        demo = self.rng.choices(self.customers, weights=self.weights)[0]
        creator = self._creator(demo)
        with tl.at(moment):
            quote = create_quote(actor=creator, customer=demo.customer, lines=self.lines("plain"))
        tl.stamp(
            quote,
            created_at=moment,
            updated_at=moment,
            valid_until=timezone.localdate(moment) + dt.timedelta(days=30),
        )
        if scenario == "draft":
            return quote
        moment = self._later(moment, 1, 48)
        with tl.at(moment):
            quote = send_quote(actor=creator, quote=quote)
        tl.stamp(quote, updated_at=moment)
        if scenario == "declined":
            moment = self._later(moment, 72, 600)
            with tl.at(moment):
                quote = decline_quote(
                    actor=creator, quote=quote, reason=self.rng.choice(data.DECLINES)
                )
            tl.stamp(quote, updated_at=moment)
        return quote


def status_counts() -> dict[str, int]:
    counts = {status.value: 0 for status in OrderStatus}
    for status in Order.objects.values_list("status", flat=True):
        counts[status] += 1
    return counts


def waiting_counts() -> dict[str, int]:
    """Submitted orders by the role of their current (first pending) step."""
    waiting: dict[str, int] = {}
    seen: set[int] = set()
    steps = ApprovalStep.objects.filter(
        status=ApprovalStatus.PENDING, order__status=OrderStatus.SUBMITTED
    ).order_by("order_id", "sequence")
    for order_id, role in steps.values_list("order_id", "role"):
        if order_id not in seen:
            seen.add(order_id)
            waiting[role] = waiting.get(role, 0) + 1
    return waiting
