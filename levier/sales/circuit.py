"""Which approvals an order needs: the validation circuit as data.

Pure functions over already-loaded values, so the rules are tested without a database and
the service that calls them controls every query. ADV's check is always required; each
active rule whose condition holds adds a step for its role. One step per role, reasons
merged, run in a fixed order: ADV first (is the order complete and right?), then
Comptabilité (can the customer pay on these terms?), then Direction (is it worth it?).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from babel.numbers import format_currency, format_decimal

from levier.accounts.choices import Role
from levier.lib.payment_terms import PaymentTerms
from levier.sales.choices import RuleKind

STEP_ORDER: tuple[Role, ...] = (Role.ADV, Role.COMPTABILITE, Role.DIRECTION)


@dataclass(frozen=True)
class RuleView:
    kind: str
    threshold: Decimal | None
    approver_role: str
    name: str = ""


@dataclass(frozen=True)
class OrderFacts:
    total_net: Decimal
    max_discount_percent: Decimal
    terms: PaymentTerms
    customer_terms: PaymentTerms
    # What the customer would owe with this order (other open orders TTC + this one).
    exposure_after: Decimal
    credit_limit: Decimal | None


@dataclass
class StepSpec:
    role: Role
    reasons: list[str] = field(default_factory=list)


def _eur(amount: Decimal) -> str:
    return str(format_currency(amount, "EUR", locale="fr_FR"))


def _reason(rule: RuleView, facts: OrderFacts) -> str | None:
    """The French sentence explaining why the rule applies, or None when it does not."""
    kind = RuleKind(rule.kind)
    threshold = rule.threshold if rule.threshold is not None else Decimal("0")
    if kind == RuleKind.AMOUNT_OVER and facts.total_net > threshold:
        return f"Montant HT {_eur(facts.total_net)} > seuil {_eur(threshold)}"
    if kind == RuleKind.DISCOUNT_OVER and facts.max_discount_percent > threshold:
        return (
            f"Remise de ligne {format_decimal(facts.max_discount_percent, locale='fr_FR')} % "
            f"> {format_decimal(threshold, locale='fr_FR')} %"
        )
    if kind == RuleKind.TERMS_LONGER_THAN_CUSTOMER and facts.terms.is_longer_than(
        facts.customer_terms
    ):
        return (
            f"Délai de paiement {facts.terms.label_fr()} plus long que celui du client "
            f"({facts.customer_terms.label_fr()})"
        )
    if (
        kind == RuleKind.OVER_CREDIT_LIMIT
        and facts.credit_limit is not None
        and facts.exposure_after > facts.credit_limit
    ):
        return (
            f"Encours après commande {_eur(facts.exposure_after)} > limite de crédit "
            f"{_eur(facts.credit_limit)}"
        )
    return None


def required_steps(facts: OrderFacts, rules: Iterable[RuleView]) -> list[StepSpec]:
    steps: dict[Role, StepSpec] = {Role.ADV: StepSpec(Role.ADV, ["Contrôle ADV systématique"])}
    for rule in rules:
        reason = _reason(rule, facts)
        if reason is None:
            continue
        role = Role(rule.approver_role)
        steps.setdefault(role, StepSpec(role)).reasons.append(reason)
    return [steps[role] for role in STEP_ORDER if role in steps]
