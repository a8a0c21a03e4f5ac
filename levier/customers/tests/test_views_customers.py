from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from levier.accounts.models import User
from levier.catalog.models import Product
from levier.customers.models import Customer
from levier.customers.services import update_customer
from levier.customers.tests.factories import CustomerFactory
from levier.customers.tests.helpers import customer_data, new_siren


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(**overrides: str) -> dict[str, str]:
    data = {k: str(v) for k, v in customer_data().items()}
    data.update(invoice_channel="email", payment_terms_basis="net")
    data.update(overrides)
    return data


def _bad_siren() -> str:
    good = new_siren()
    return good[:8] + str((int(good[8]) + 1) % 10)


def test_anonymous_visitor_is_sent_to_login(db: None) -> None:
    response = Client().get(reverse("web:customer_list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_list_search_finds_by_name_and_siren(commercial: User) -> None:
    dupont = CustomerFactory(name="Dupont Logistique", search_name="dupont logistique")
    CustomerFactory(name="Martin Transports", search_name="martin transports")
    client = _client(commercial)
    page = client.get(reverse("web:customer_list"), {"q": "dupont"}).content.decode()
    assert "Dupont Logistique" in page and "Martin Transports" not in page
    partial = client.get(
        reverse("web:customer_list"),
        {"q": dupont.siren},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert partial.status_code == 200
    assert b"Dupont Logistique" in partial.content and b"<html" not in partial.content


def test_create_with_bad_siren_shows_the_named_check_and_creates_nothing(commercial: User) -> None:
    response = _client(commercial).post(
        reverse("web:customer_create"), _form(siren=_bad_siren(), siret="")
    )
    assert response.status_code == 400
    assert "SIREN : clé de contrôle (Luhn) incorrecte" in response.content.decode()
    assert not Customer.objects.exists()


def test_bad_siren_message_is_french_in_the_french_ui_and_english_after_the_switch(
    commercial: User,
) -> None:
    # given: a user on the French UI (the default)
    client = _client(commercial)
    form = _form(siren=_bad_siren(), siret="")
    # when: the form is posted with a SIREN whose Luhn key is wrong
    page = client.post(reverse("web:customer_create"), form).content.decode()
    # then: the message names the field and the failed check, in French
    assert (
        "SIREN : clé de contrôle (Luhn) incorrecte ; attendu : "
        "9 chiffres dont une clé de contrôle Luhn"
    ) in page
    assert "checksum" not in page
    # and after switching to English, the same check reads in English
    client.post("/i18n/setlang/", {"language": "en", "next": reverse("web:customer_create")})
    page = client.post(reverse("web:customer_create"), form).content.decode()
    assert (
        "SIREN: checksum (Luhn / control key) does not match; 9 digits with a Luhn check digit"
    ) in page
    assert not Customer.objects.exists()


def test_valid_creation_redirects_to_the_360_page(commercial: User) -> None:
    client = _client(commercial)
    response = client.post(reverse("web:customer_create"), _form(name="Atelier Rivière"))
    customer = Customer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:customer_detail", args=[customer.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Atelier Rivière" in page and "alice.commercial" in page  # audit trail: who


def test_duplicate_is_shown_with_create_anyway_then_created_when_confirmed(adv: User) -> None:
    existing = CustomerFactory()
    client = _client(adv)
    form = _form(siren=existing.siren, siret="", name="Autre")
    response = client.post(reverse("web:customer_create"), form)
    assert response.status_code == 200
    assert existing.name in response.content.decode() and b"allow_duplicate" in response.content
    assert Customer.objects.count() == 1
    response = client.post(reverse("web:customer_create"), {**form, "allow_duplicate": "1"})
    assert response.status_code == 302 and Customer.objects.count() == 2


def test_stale_edit_is_refused_with_409_and_keeps_the_other_change(adv: User, adv2: User) -> None:
    customer = CustomerFactory(city="Paris")
    update_customer(actor=adv2, customer=customer, data={"city": "Lyon"}, expected_version=1)
    form = _form(siren=customer.siren, siret=customer.siret, name=customer.name, city="Nice")
    response = _client(adv).post(
        reverse("web:customer_edit", args=[customer.pk]), {**form, "version": "1"}
    )
    assert response.status_code == 409
    customer.refresh_from_db()
    assert customer.city == "Lyon" and customer.version == 2


def test_edit_form_carries_the_version(adv: User) -> None:
    customer = CustomerFactory(version=3)
    page = _client(adv).get(reverse("web:customer_edit", args=[customer.pk])).content.decode()
    assert 'name="version" value="3"' in page


def test_auditor_cannot_open_the_creation_form(auditeur: User) -> None:
    assert _client(auditeur).get(reverse("web:customer_create")).status_code == 403
    assert _client(auditeur).post(reverse("web:customer_create"), _form()).status_code == 403


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("siren", "123456789", "SIREN : clé de contrôle (Luhn) incorrecte"),
        ("iban", "FR76", "IBAN : "),
        ("siren", "", ""),
    ],
)
def test_live_field_check_names_the_failed_check(
    commercial: User, field: str, value: str, expected: str
) -> None:
    response = _client(commercial).get(
        reverse("web:customer_validate_field"), {"field": field, field: value}
    )
    assert response.status_code == 200
    assert expected in response.content.decode()


def test_live_field_check_marks_a_valid_siren_ok(commercial: User) -> None:
    response = _client(commercial).get(
        reverse("web:customer_validate_field"), {"field": "siren", "siren": new_siren()}
    )
    assert b"field-ok" in response.content


def test_merge_page_is_for_adv_only(adv: User, commercial: User) -> None:
    keep, remove = CustomerFactory(), CustomerFactory()
    url = reverse("web:customer_merge", args=[keep.pk])
    assert _client(commercial).get(url).status_code == 403
    response = _client(adv).post(url, {"remove": remove.pk, "reason": "doublon"})
    assert response.status_code == 302
    remove.refresh_from_db()
    assert remove.merged_into_id == keep.pk


def test_import_preview_lists_row_problems_then_confirm_imports(adv: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    good = new_siren()
    csv = f"name;siren;postcode\nAlpha;{good};75001\nBeta;{_bad_siren()};75002\n".encode()
    client = _client(adv)
    response = client.post(
        reverse("web:customer_import"), {"file": SimpleUploadedFile("c.csv", csv)}
    )
    page = response.content.decode()
    assert response.status_code == 200 and "SIREN : clé de contrôle (Luhn) incorrecte" in page
    assert not Customer.objects.exists()
    token = response.context["token"]
    client.post(reverse("web:customer_import"), {"token": token, "skip_invalid": "1"})
    assert list(Customer.objects.values_list("siren", flat=True)) == [good]


def test_contact_and_address_are_added_from_the_360_page(commercial: User) -> None:
    customer = CustomerFactory(with_contacts=False)
    client = _client(commercial)
    bad = client.post(reverse("web:contact_add", args=[customer.pk]), {"email": "x"})
    assert bad.status_code == 400 and "nom : obligatoire" in bad.content.decode()
    client.post(reverse("web:contact_add", args=[customer.pk]), {"last_name": "Roux"})
    client.post(
        reverse("web:delivery_address_add", args=[customer.pk]),
        {"label": "Dépôt", "line1": "2 rue", "postcode": "31000", "city": "Toulouse"},
    )
    page = client.get(reverse("web:customer_detail", args=[customer.pk])).content.decode()
    assert "Roux" in page and "Dépôt" in page


def test_product_pages_create_edit_and_refuse_stale_versions(adv: User, commercial: User) -> None:
    client = _client(adv)
    assert client.get(reverse("web:product_list")).status_code == 200
    assert _client(commercial).get(reverse("web:product_create")).status_code == 403
    data = {
        "code": "AUDIT",
        "label": "Audit",
        "unit": "day",
        "unit_price": "900",
        "vat_rate": "0.00",
        "revenue_account": "706000",
        "default_invoicing_mode": "on_order",
        "is_active": "on",
    }
    bad = client.post(reverse("web:product_create"), data)
    assert (
        bad.status_code == 400 and "TVA : obligatoire avec un taux de 0 %" in bad.content.decode()
    )
    data["vat_rate"] = "20.00"
    assert client.post(reverse("web:product_create"), data).status_code == 302
    product = Product.objects.get(code="AUDIT")
    edit = reverse("web:product_edit", args=[product.pk])
    assert client.post(edit, {**data, "label": "A", "version": "1"}).status_code == 302
    assert client.post(edit, {**data, "label": "B", "version": "1"}).status_code == 409
    product.refresh_from_db()
    assert product.label == "A"


def test_customer_edit_without_a_version_is_a_400_form_error_not_a_404(adv: User) -> None:
    customer = CustomerFactory(city="Paris")
    form = _form(siren=customer.siren, siret=customer.siret, name=customer.name, city="Nice")
    for version in (None, "abc"):
        post = form if version is None else {**form, "version": version}
        response = _client(adv).post(reverse("web:customer_edit", args=[customer.pk]), post)
        assert response.status_code == 400
        assert "version" in " ".join(response.context["form"].non_field_errors())
    customer.refresh_from_db()
    assert customer.city == "Paris" and customer.version == 1


def _preview(client: Client, csv: bytes) -> str:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("web:customer_import"), {"file": SimpleUploadedFile("c.csv", csv)}
    )
    assert response.status_code == 200
    return str(response.context["token"])


def test_import_confirmed_twice_imports_once_and_the_second_is_told_so(adv: User) -> None:
    client = _client(adv)
    token = _preview(client, f"name;siren\nAlpha;{new_siren()}\nBeta;{new_siren()}\n".encode())
    first = client.post(reverse("web:customer_import"), {"token": token})
    assert first.status_code == 200 and Customer.objects.count() == 2
    second = client.post(reverse("web:customer_import"), {"token": token})
    assert second.status_code == 409
    assert "déjà été importé ou a expiré" in second.content.decode()
    assert Customer.objects.count() == 2


def test_import_confirmation_arriving_during_the_import_is_refused(
    adv: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two confirmations racing: the second arrives while the first is importing
    from levier.web.views import customers as views

    client = _client(adv)
    token = _preview(client, f"name;siren\nAlpha;{new_siren()}\n".encode())
    concurrent: list[int] = []
    real_import = views.import_customers

    def import_while_another_confirms(**kwargs: object) -> object:
        other = client.post(reverse("web:customer_import"), {"token": token})
        concurrent.append(other.status_code)
        return real_import(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(views, "import_customers", import_while_another_confirms)
    response = client.post(reverse("web:customer_import"), {"token": token})
    assert response.status_code == 200 and concurrent == [409]
    assert Customer.objects.count() == 1


def test_import_refused_in_all_or_nothing_mode_can_still_be_confirmed_with_skip(
    adv: User,
) -> None:
    client = _client(adv)
    good = new_siren()
    token = _preview(client, f"name;siren\nAlpha;{good}\nBeta;{_bad_siren()}\n".encode())
    refused = client.post(reverse("web:customer_import"), {"token": token})
    assert refused.status_code == 200 and not Customer.objects.exists()
    client.post(reverse("web:customer_import"), {"token": token, "skip_invalid": "1"})
    assert list(Customer.objects.values_list("siren", flat=True)) == [good]
