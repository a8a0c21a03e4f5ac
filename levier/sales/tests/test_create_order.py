from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.audit.models import AuditEvent
from levier.catalog.tests.factories import ProductFactory
from levier.customers.tests.factories import CustomerFactory
from levier.lib.errors import StaleVersion, ValidationFailed
from levier.sales.models import Order
from levier.sales.services import update_order
from levier.sales.tests.factories import line, make_order

pytestmark = pytest.mark.django_db


def test_order_totals_round_each_line_then_vat_per_rate(commercial: User) -> None:
    # given 3 × 33.335 € (line rounds to 100.01) and 1 × 10.005 € at 10 % (rounds to 10.01)
    order = make_order(
        commercial,
        lines=[line("3", "33.335", vat="20"), line("1", "10.005", vat="10")],
    )
    # then VAT is computed once per rate on the rounded bases
    assert order.total_net == Decimal("110.02")
    assert order.total_vat == Decimal("20.00") + Decimal("1.00")
    assert order.total_gross == order.total_net + order.total_vat
    assert [ln.net_amount for ln in order.lines.all()] == [Decimal("100.01"), Decimal("10.01")]


def test_line_discount_is_applied_before_rounding(commercial: User) -> None:
    order = make_order(commercial, lines=[line("7", "123.45", discount="12.5")])
    # 7 × 123.45 = 864.15; −12.5 % = 756.13125 → 756.13
    assert order.total_net == Decimal("756.13")


def test_product_fills_price_vat_and_description(commercial: User) -> None:
    product = ProductFactory(
        code="AUDIT", label="Audit sécurité", unit_price=Decimal("1200"), vat_rate=Decimal("20")
    )
    order = make_order(commercial, lines=[{"product_id": product.pk, "quantity": "2"}])
    first = order.lines.get()
    assert (first.description, first.unit_price, first.net_amount) == (
        "Audit sécurité",
        Decimal("1200"),
        Decimal("2400.00"),
    )


def test_order_defaults_payment_terms_from_customer(commercial: User) -> None:
    customer = CustomerFactory(payment_terms_days=45, payment_terms_basis="net")
    order = make_order(commercial, customer=customer)
    assert (order.payment_terms_days, order.payment_terms_basis) == (45, "net")


def test_terms_beyond_legal_cap_are_refused(commercial: User) -> None:
    with pytest.raises(ValidationFailed) as err:
        make_order(commercial, payment_terms_days=61, payment_terms_basis="net")
    assert err.value.code == "terms_over_legal_cap" and "payment_terms_days" in err.value.errors
    with pytest.raises(ValidationFailed):
        make_order(commercial, payment_terms_days=46, payment_terms_basis="end_of_month")
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"quantity": "0"}, "lines.1.quantity"),
        ({"quantity": "abc"}, "lines.1.quantity"),
        ({"unit_price": "-1"}, "lines.1.unit_price"),
        ({"discount_percent": "101"}, "lines.1.discount_percent"),
        ({"vat_rate": "19.6"}, "lines.1.vat_rate"),
        ({"unit": "parsec"}, "lines.1.unit"),
        ({"product_id": "999999"}, "lines.1.product"),
        ({"quantity": "NaN"}, "lines.1.quantity"),
    ],
)
def test_bad_line_is_refused_naming_line_and_field(
    commercial: User, bad: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        make_order(commercial, lines=[{**line(), **bad}])
    assert field in err.value.errors
    assert err.value.errors[field][0].startswith("ligne 1, ")  # French first
    assert not Order.objects.exists()


def test_order_numbers_follow_each_other(commercial: User) -> None:
    first, second = make_order(commercial), make_order(commercial)
    assert int(second.number[-6:]) == int(first.number[-6:]) + 1


def test_creation_and_edit_are_in_the_audit_trail_with_before_and_after(commercial: User) -> None:
    order = make_order(commercial, po_number="PO-1")
    update_order(actor=commercial, order=order, expected_version=order.version, po_number="PO-2")
    events = list(
        AuditEvent.objects.filter(object_type="sales.order", object_id=str(order.pk)).order_by("id")
    )
    assert [e.verb for e in events] == ["create", "update"]
    assert events[1].changes["po_number"] == ["PO-1", "PO-2"]
    assert events[1].actor_label == commercial.username


def test_two_people_editing_the_same_order_never_overwrite_each_other(
    commercial: User, adv: User
) -> None:
    order = make_order(commercial)
    loaded_version = order.version
    update_order(actor=adv, order=order, expected_version=loaded_version, po_number="ADV")
    with pytest.raises(StaleVersion):
        update_order(
            actor=commercial, order=order, expected_version=loaded_version, po_number="SALES"
        )
    order.refresh_from_db()
    assert order.po_number == "ADV"


def test_edit_replaces_lines_and_recomputes_totals(commercial: User) -> None:
    order = make_order(commercial)
    order = update_order(
        actor=commercial, order=order, expected_version=order.version, lines=[line("1", "99.99")]
    )
    assert order.total_net == Decimal("99.99")
    assert order.lines.count() == 1


def test_line_errors_follow_the_users_language(commercial: User) -> None:
    from django.utils import translation

    with translation.override("en"), pytest.raises(ValidationFailed) as err:
        make_order(commercial, lines=[{**line(), "quantity": "trois"}])
    assert err.value.errors["lines.1.quantity"] == ["line 1, quantity: “trois” is not a number"]


def test_moving_a_draft_to_another_customer_drops_the_old_delivery_address(
    commercial: User,
) -> None:
    from levier.customers.tests.factories import DeliveryAddressFactory

    address = DeliveryAddressFactory()
    order = make_order(commercial, customer=address.customer, delivery_address_id=address.pk)
    order = update_order(
        actor=commercial, order=order, expected_version=order.version, customer=CustomerFactory()
    )
    assert order.delivery_address is None


def test_po_number_is_trimmed_on_edit_so_blanks_do_not_satisfy_po_required(
    commercial: User,
) -> None:
    order = make_order(commercial)
    order = update_order(
        actor=commercial, order=order, expected_version=order.version, po_number="   "
    )
    assert order.po_number == ""
