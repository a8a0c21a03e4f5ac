from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils.translation import override

from levier.accounts.models import User
from levier.audit.choices import Verb
from levier.audit.models import AuditEvent
from levier.customers.matching import normalize_name
from levier.customers.models import Customer
from levier.customers.services import DuplicatesFound, create_customer
from levier.customers.tests.factories import CustomerFactory
from levier.customers.tests.helpers import BIC, IBAN, customer_data, new_siren
from levier.lib.errors import ValidationFailed
from levier.lib.identifiers import vat_from_siren


def _errors(data: dict[str, object], actor: User) -> dict[str, list[str]]:
    """The messages per field, in English: these tests read the wording of each check.

    The French UI's wording is covered by test_views_customers.
    """
    with override("en"), pytest.raises(ValidationFailed) as exc:
        create_customer(actor=actor, data=data)
    return exc.value.errors


def test_valid_french_customer_is_created_with_derived_vat_and_audit_event(compta: User) -> None:
    # given a French customer without a VAT number
    data = customer_data(iban=IBAN, bic=BIC, credit_limit="15 000,50")
    # when Comptabilité creates it (with a credit limit, which only it may set)
    customer = create_customer(actor=compta, data=data)
    # then the VAT number is derived from the SIREN, the amounts are Decimal, and it is audited
    assert customer.vat_number == vat_from_siren(data["siren"])
    assert customer.credit_limit == Decimal("15000.50")
    assert customer.search_name == "boulangerie martin"
    event = AuditEvent.objects.get(object_type="customers.customer", object_id=str(customer.pk))
    assert event.verb == Verb.CREATE and event.actor == compta
    assert event.changes["siren"] == data["siren"]


def test_legal_name_is_required(adv: User) -> None:
    assert "legal name: required" in _errors(customer_data(name="  "), adv)["name"]


def test_french_customer_without_siren_is_refused(adv: User) -> None:
    errors = _errors(customer_data(siren="", siret=""), adv)
    assert errors["siren"] == ["SIREN: required for a French customer"]


def test_siren_with_bad_luhn_key_names_the_checksum(adv: User) -> None:
    good = new_siren()
    bad = good[:8] + str((int(good[8]) + 1) % 10)
    errors = _errors(customer_data(siren=bad, siret=""), adv)
    assert errors["siren"][0].startswith("SIREN: checksum")
    assert not Customer.objects.exists()


def test_siret_of_another_company_is_refused(adv: User) -> None:
    other = customer_data()["siret"]
    errors = _errors(customer_data(siret=other), adv)
    assert "does not start with the SIREN" in errors["siret"][0]


def test_vat_number_not_matching_the_siren_is_refused(adv: User) -> None:
    errors = _errors(customer_data(vat_number=vat_from_siren(new_siren())), adv)
    assert errors["vat_number"][0].startswith("VAT number:")


def test_given_vat_number_matching_the_siren_is_kept(adv: User) -> None:
    siren = new_siren()
    vat = vat_from_siren(siren)
    customer = create_customer(actor=adv, data=customer_data(siren=siren, vat_number=vat))
    assert customer.vat_number == vat


def test_german_customer_needs_a_valid_german_vat_number(adv: User) -> None:
    base = {"name": "Müller GmbH", "country": "DE", "postcode": "10115", "city": "Berlin"}
    assert "required" in _errors(base, adv)["vat_number"][0]
    assert _errors({**base, "vat_number": "DE136695975"}, adv)["vat_number"][0].startswith(
        "VAT number: checksum"
    )
    assert (
        "prefix is not DE" in _errors({**base, "vat_number": "BE0776091951"}, adv)["vat_number"][0]
    )
    customer = create_customer(actor=adv, data={**base, "vat_number": "DE 136695976"})
    assert customer.vat_number == "DE136695976" and customer.siren == ""


def test_siren_on_a_foreign_customer_is_refused(adv: User) -> None:
    data = {"name": "Acme Ltd", "country": "US", "siren": new_siren()}
    assert _errors(data, adv)["siren"] == ["SIREN: only French customers have one"]


def test_invalid_iban_and_bic_are_refused_with_the_failed_check(adv: User) -> None:
    errors = _errors(customer_data(iban="FR7630006000011234567890188", bic="XXXX"), adv)
    assert errors["iban"][0].startswith("IBAN:")
    assert errors["bic"][0].startswith("BIC:")


@pytest.mark.parametrize(
    ("days", "basis", "ok"),
    [
        ("60", "net", True),
        ("61", "net", False),
        ("45", "end_of_month", True),
        ("46", "end_of_month", False),
    ],
)
def test_payment_terms_are_capped_by_law(compta: User, days: str, basis: str, ok: bool) -> None:
    data = customer_data(payment_terms_days=days, payment_terms_basis=basis)
    if ok:
        assert create_customer(actor=compta, data=data).payment_terms_days == int(days)
    else:
        assert "legal maximum" in _errors(data, compta)["payment_terms_days"][0]


def test_negative_credit_limit_is_refused(adv: User) -> None:
    assert _errors(customer_data(credit_limit="-1"), adv)["credit_limit"] == [
        "credit limit: cannot be negative"
    ]


def test_all_field_errors_are_reported_at_once(adv: User) -> None:
    errors = _errors(customer_data(name="", credit_limit="abc", invoice_channel="fax"), adv)
    assert {"name", "credit_limit", "invoice_channel"} <= set(errors)


def test_customer_with_same_siren_is_refused_unless_forced(adv: User) -> None:
    existing = CustomerFactory()
    data = customer_data(siren=existing.siren, name="Autre nom", postcode="59000")
    with pytest.raises(DuplicatesFound) as exc:
        create_customer(actor=adv, data=data)
    assert [c.customer for c in exc.value.candidates] == [existing]
    assert "siren" in exc.value.errors
    forced = create_customer(actor=adv, data=data, allow_duplicate=True)
    assert forced.pk != existing.pk


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Société Générale S.A.", "societe generale"),
        ("DUPONT & FILS SARL", "dupont fils"),
        ("L'Atelier  -  EURL", "l atelier"),
        ("SASU Café-Crème", "cafe creme"),
        ("Sasson Industries", "sasson industries"),
    ],
)
def test_search_name_drops_case_accents_legal_forms_and_punctuation(
    raw: str, normalized: str
) -> None:
    assert normalize_name(raw) == normalized
