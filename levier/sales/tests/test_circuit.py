"""The circuit's rules as pure functions (no database)."""

from decimal import Decimal

from levier.accounts.choices import Role
from levier.lib.payment_terms import PaymentTerms, TermsBasis
from levier.sales.circuit import OrderFacts, RuleView, required_steps

RULES = [
    RuleView("amount_over", Decimal("50000"), "direction"),
    RuleView("discount_over", Decimal("15"), "direction"),
    RuleView("terms_longer", None, "comptabilite"),
    RuleView("over_credit_limit", None, "comptabilite"),
]


def facts(**kw: object) -> OrderFacts:
    base: dict[str, object] = {
        "total_net": Decimal("1000.00"),
        "max_discount_percent": Decimal("0"),
        "terms": PaymentTerms(30),
        "customer_terms": PaymentTerms(30),
        "exposure_after": Decimal("1200.00"),
        "credit_limit": None,
    }
    base.update(kw)
    return OrderFacts(**base)  # type: ignore[arg-type]


def test_small_ordinary_order_needs_only_the_adv_check() -> None:
    assert [s.role for s in required_steps(facts(), RULES)] == [Role.ADV]


def test_amount_over_threshold_adds_direction_after_adv() -> None:
    steps = required_steps(facts(total_net=Decimal("50000.01")), RULES)
    assert [s.role for s in steps] == [Role.ADV, Role.DIRECTION]
    assert "50 000,01" in steps[1].reasons[0].replace("\u202f", " ").replace("\xa0", " ")


def test_amount_exactly_at_threshold_does_not_need_direction() -> None:
    assert [s.role for s in required_steps(facts(total_net=Decimal("50000.00")), RULES)] == [
        Role.ADV
    ]


def test_big_discount_and_big_amount_make_one_direction_step_with_two_reasons() -> None:
    steps = required_steps(
        facts(total_net=Decimal("60000"), max_discount_percent=Decimal("20")), RULES
    )
    assert [s.role for s in steps] == [Role.ADV, Role.DIRECTION]
    assert len(steps[1].reasons) == 2


def test_longer_terms_than_customer_need_accounting() -> None:
    steps = required_steps(facts(terms=PaymentTerms(45), customer_terms=PaymentTerms(30)), RULES)
    assert [s.role for s in steps] == [Role.ADV, Role.COMPTABILITE]


def test_end_of_month_terms_are_compared_by_due_date() -> None:
    # 45 days end of month lands later than 45 days net.
    steps = required_steps(
        facts(terms=PaymentTerms(45, TermsBasis.END_OF_MONTH), customer_terms=PaymentTerms(45)),
        RULES,
    )
    assert Role.COMPTABILITE in [s.role for s in steps]


def test_credit_limit_exceeded_needs_accounting_and_steps_keep_fixed_order() -> None:
    steps = required_steps(
        facts(
            total_net=Decimal("90000"),
            exposure_after=Decimal("120000"),
            credit_limit=Decimal("100000"),
        ),
        RULES,
    )
    assert [s.role for s in steps] == [Role.ADV, Role.COMPTABILITE, Role.DIRECTION]


def test_no_credit_limit_means_no_credit_step() -> None:
    steps = required_steps(facts(exposure_after=Decimal("10000000"), credit_limit=None), RULES)
    assert [s.role for s in steps] == [Role.ADV]
