"""Payment terms, credit limit and strategic flag decide whether Comptabilité must approve an
order (levier/sales/circuit.py): only Comptabilité and the Administrateur may set them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.translation import override

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import Action, PermissionDenied
from levier.customers.models import Customer
from levier.customers.services import create_customer, import_customers, update_customer
from levier.customers.tests.factories import CustomerFactory
from levier.customers.tests.helpers import customer_data, new_siren, new_siret

TERMS_CHANGES = [
    ("payment_terms_days", "45", "payment terms (days)"),
    ("payment_terms_basis", "end_of_month", "payment terms basis"),
    ("credit_limit", "10000", "credit limit"),
    ("is_strategic", "1", "strategic account"),
]
MAY_NOT_SET_TERMS = [Role.COMMERCIAL, Role.ADV]
MAY_SET_TERMS = [Role.COMPTABILITE, Role.ADMINISTRATEUR]


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", MAY_NOT_SET_TERMS)
@pytest.mark.parametrize(("field", "value", "label"), TERMS_CHANGES)
def test_sales_and_adv_may_not_create_a_customer_with_other_terms_credit_or_strategic_flag(
    role: Role, field: str, value: str, label: str, personas: dict[Role, User]
) -> None:
    data = customer_data(**{field: value})
    if field == "payment_terms_basis":
        data["payment_terms_days"] = "30"
    with override("en"), pytest.raises(PermissionDenied) as exc:
        create_customer(actor=personas[role], data=data)
    assert exc.value.action == Action.EDIT_CREDIT_TERMS
    assert str(exc.value).endswith(f"field concerned: {label}")
    assert not Customer.objects.exists()


@pytest.mark.parametrize("role", MAY_NOT_SET_TERMS)
def test_sales_may_create_a_customer_with_the_default_terms(
    role: Role, personas: dict[Role, User]
) -> None:
    # 30 days net, no limit, not strategic: given explicitly or left out, it is allowed
    data = customer_data(credit_limit="", is_strategic="non", payment_terms_days="30")
    customer = create_customer(actor=personas[role], data=data)
    assert (customer.payment_terms_days, customer.payment_terms_basis) == (30, "net")
    assert customer.credit_limit is None and customer.is_strategic is False


@pytest.mark.parametrize("role", MAY_SET_TERMS)
def test_accounting_and_admin_set_terms_credit_limit_and_strategic_flag(
    role: Role, personas: dict[Role, User]
) -> None:
    data = customer_data(payment_terms_days="45", credit_limit="20 000", is_strategic="oui")
    customer = create_customer(actor=personas[role], data=data)
    customer = update_customer(
        actor=personas[role],
        customer=customer,
        data={"credit_limit": "25000", "payment_terms_basis": "end_of_month"},
        expected_version=1,
    )
    assert customer.credit_limit == Decimal("25000") and customer.is_strategic
    assert (customer.payment_terms_days, customer.payment_terms_basis) == (45, "end_of_month")


@pytest.mark.parametrize("role", MAY_NOT_SET_TERMS)
@pytest.mark.parametrize(("field", "value", "label"), TERMS_CHANGES)
def test_sales_and_adv_may_not_change_a_customers_terms_credit_or_strategic_flag(
    role: Role, field: str, value: str, label: str, personas: dict[Role, User]
) -> None:
    customer = CustomerFactory(credit_limit=Decimal("5000"))
    with override("en"), pytest.raises(PermissionDenied) as exc:
        update_customer(
            actor=personas[role], customer=customer, data={field: value}, expected_version=1
        )
    assert str(exc.value).endswith(f"field concerned: {label}")
    customer.refresh_from_db()
    assert customer.version == 1 and customer.credit_limit == Decimal("5000")


def test_sales_may_edit_a_customer_sending_its_terms_unchanged(commercial: User) -> None:
    customer = CustomerFactory(
        payment_terms_days=45, credit_limit=Decimal("5000.00"), is_strategic=True
    )
    update_customer(
        actor=commercial,
        customer=customer,
        data={
            "city": "Nantes",
            "payment_terms_days": "45",
            "credit_limit": "5000",
            "is_strategic": True,
        },
        expected_version=1,
    )
    assert customer.city == "Nantes" and customer.credit_limit == Decimal("5000")


def _import_csv(*rows: tuple[str, str]) -> bytes:
    lines = ["name;siren;siret;postcode;payment_terms_days;credit_limit;is_strategic"]
    for n, (credit, strategic) in enumerate(rows):
        siren = new_siren()
        lines.append(f"Client {n};{siren};{new_siret(siren)};750{n:02d};;{credit};{strategic}")
    return ("\n".join(lines) + "\n").encode()


def test_adv_import_rejects_the_rows_that_set_a_credit_limit_or_strategic_flag(adv: User) -> None:
    data = _import_csv(("", ""), ("10000", ""), ("", "oui"), ("0", "non"))
    with override("en"):
        report = import_customers(actor=adv, file=data, skip_invalid=True)
    assert [(p.line, p.column) for p in report.problems] == [
        (3, "credit_limit"),
        (4, "is_strategic"),
        (5, "credit_limit"),
    ]
    assert "does not allow: set payment terms, credit limit and strategic flag" in (
        report.problems[0].message
    )
    assert report.imported == 1  # a limit of 0 is a limit: only Comptabilité sets it
    assert not Customer.objects.filter(credit_limit__isnull=False).exists()
    assert not Customer.objects.filter(is_strategic=True).exists()


def test_adv_import_with_a_credit_limit_imports_nothing_in_all_or_nothing_mode(adv: User) -> None:
    report = import_customers(actor=adv, file=_import_csv(("", ""), ("10000", "")))
    assert report.imported == 0 and report.rejected_lines == [3]
    assert not Customer.objects.exists()


def test_admin_import_sets_credit_limit_and_strategic_flag(admin_user: User) -> None:
    report = import_customers(actor=admin_user, file=_import_csv(("10000", "oui")))
    assert report.ok and report.imported == 1
    customer = Customer.objects.get()
    assert customer.credit_limit == Decimal("10000") and customer.is_strategic


def test_customer_form_shows_terms_read_only_to_sales_and_ignores_posted_values(
    commercial: User,
) -> None:
    customer = CustomerFactory(credit_limit=Decimal("5000"), payment_terms_days=30)
    url = reverse("web:customer_edit", args=[customer.pk])
    client = _client(commercial)
    form = client.get(url).context["form"]
    assert all(
        form.fields[f].disabled
        for f in ("payment_terms_days", "payment_terms_basis", "credit_limit", "is_strategic")
    )
    assert not form.fields["city"].disabled
    # a forged POST with other terms saves the other fields and leaves the terms alone
    post = {k: str(v) for k, v in customer_data(siren=customer.siren, siret="").items()}
    post.update(
        name=customer.name,
        city="Nantes",
        invoice_channel="email",
        payment_terms_days="60",
        payment_terms_basis="net",
        credit_limit="999999",
        is_strategic="on",
        version="1",
    )
    response = client.post(url, post)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.city == "Nantes"
    assert (customer.payment_terms_days, customer.credit_limit) == (30, Decimal("5000"))
    assert customer.is_strategic is False


def test_customer_form_lets_accounting_edit_the_terms(compta: User) -> None:
    customer = CustomerFactory()
    url = reverse("web:customer_edit", args=[customer.pk])
    client = _client(compta)
    assert not client.get(url).context["form"].fields["credit_limit"].disabled
    post = {k: str(v) for k, v in customer_data(siren=customer.siren, siret="").items()}
    post.update(name=customer.name, invoice_channel="email", credit_limit="8000", version="1")
    assert client.post(url, post).status_code == 302
    customer.refresh_from_db()
    assert customer.credit_limit == Decimal("8000")


def test_sales_creating_from_the_form_get_the_default_terms(commercial: User) -> None:
    post = {k: str(v) for k, v in customer_data().items()}
    post.update(invoice_channel="email", payment_terms_days="60", credit_limit="1")
    response = _client(commercial).post(reverse("web:customer_create"), post)
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert customer.payment_terms_days == 30 and customer.credit_limit is None


def test_credit_limit_is_labelled_vat_included(compta: User) -> None:
    page = _client(compta).get(reverse("web:customer_create")).content.decode()
    assert "Limite de crédit (€ TTC)" in page and "(€ HT)" not in page
