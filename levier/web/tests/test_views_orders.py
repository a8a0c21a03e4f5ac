"""The order, quote and circuit-administration screens, through the Django test client."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.catalog.models import Product
from levier.customers.tests.factories import CustomerFactory
from levier.sales.choices import ApprovalStatus, OrderStatus, QuoteStatus
from levier.sales.models import ApprovalRule, Order, ProcedureSheet, Quote
from levier.sales.services import (
    approve_order,
    create_quote,
    reject_order,
    submit_order,
    update_order,
)
from levier.sales.tests.factories import line, make_order

pytestmark = pytest.mark.django_db


def client_for(user: User, language: str = "fr") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def section(html: str, section_id: str) -> str:
    """The HTML of one worklist card (up to the next card)."""
    start = html.index(f'id="{section_id}"')
    end = html.find("<section", start)
    return html[start : end if end != -1 else None]


def line_fields(*rows: dict[str, str], start: int = 1) -> dict[str, str]:
    data: dict[str, str] = {}
    for n, row in enumerate(rows, start=start):
        for name, value in row.items():
            data[f"lines-{n}-{name}"] = value
    return data


def header(customer_id: int, **extra: str) -> dict[str, str]:
    return {
        "customer": str(customer_id),
        "po_number": "",
        "requested_delivery_date": "",
        "invoicing_mode": "on_order",
        "payment_terms_days": "",
        "payment_terms_basis": "",
        "notes": "",
        **extra,
    }


TWO_LINES = (
    {"description": "Développement", "quantity": "10", "unit": "day", "unit_price": "800",
     "discount_percent": "", "vat_rate": "20.00"},
    {"description": "Licence", "quantity": "3", "unit": "unit", "unit_price": "99,99",
     "discount_percent": "10", "vat_rate": "5.50"},
)  # fmt: skip
# 8 000,00 @ 20 % + 269,97 (3 × 99,99 − 10 %) @ 5,5 % → VAT 1 600,00 + 14,85
TWO_LINES_NET, TWO_LINES_VAT, TWO_LINES_GROSS = (
    Decimal("8269.97"),
    Decimal("1614.85"),
    Decimal("9884.82"),
)


@pytest.fixture
def rules(db: None) -> None:
    ApprovalRule.objects.create(
        name="Gros montant",
        kind="amount_over",
        threshold=Decimal("50000"),
        approver_role="direction",
    )
    ApprovalRule.objects.create(name="Délai", kind="terms_longer", approver_role="comptabilite")


# ---------------------------------------------------------------- worklists


def test_home_shows_each_role_its_worklist(
    personas: dict[Role, User], rules: None, commercial2: User
) -> None:
    commercial, adv = personas[Role.COMMERCIAL], personas[Role.ADV]
    draft = make_order(commercial)
    rejected = submit_order(actor=commercial, order=make_order(commercial))
    reject_order(actor=adv, order=rejected, comment="PO client manquant")
    in_circuit = submit_order(actor=commercial, order=make_order(commercial))
    for_compta = submit_order(actor=commercial, order=make_order(commercial, payment_terms_days=60))
    approve_order(actor=adv, order=for_compta)
    big = submit_order(actor=commercial, order=make_order(commercial, lines=[line("80", "800")]))
    approve_order(actor=adv, order=big)
    others = make_order(commercial2)
    quote = create_quote(actor=commercial, customer=CustomerFactory(), lines=[line()])

    html = client_for(commercial).get("/").content.decode()
    drafts = section(html, "worklist-drafts")
    assert draft.number in drafts and rejected.number in drafts
    assert "PO client manquant" in drafts
    assert others.number not in html
    submitted = section(html, "worklist-submitted")
    assert in_circuit.number in submitted and big.number in submitted
    assert quote.number in section(html, "worklist-quotes")
    assert "worklist-awaiting" not in html

    html = client_for(adv).get("/").content.decode()
    awaiting = section(html, "worklist-awaiting")
    assert in_circuit.number in awaiting
    assert big.number not in awaiting and draft.number not in awaiting

    html = client_for(personas[Role.COMPTABILITE]).get("/").content.decode()
    awaiting = section(html, "worklist-awaiting")
    assert for_compta.number in awaiting and big.number not in awaiting

    html = client_for(personas[Role.DIRECTION]).get("/").content.decode()
    awaiting = section(html, "worklist-awaiting")
    assert big.number in awaiting and for_compta.number not in awaiting
    assert "worklist-drafts" not in html

    html = client_for(personas[Role.ADMINISTRATEUR]).get("/").content.decode()
    assert reverse("web:rule_list") in html and reverse("web:procedure_sheet_list") in html

    html = client_for(personas[Role.AUDITEUR]).get("/").content.decode()
    assert draft.number in section(html, "worklist-recent")
    assert reverse("web:order_create") not in html


def test_worklist_needs_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# ---------------------------------------------------------------- line editor


def test_create_order_with_lines_computes_the_totals(commercial: User) -> None:
    customer = CustomerFactory()
    data = header(customer.pk, po_number="PO-77") | line_fields(*TWO_LINES)
    data |= line_fields({"description": "", "quantity": "", "unit_price": ""}, start=3)  # blank
    response = client_for(commercial).post(reverse("web:order_create"), data)
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:order_detail", args=[order.pk])
    assert (order.total_net, order.total_vat, order.total_gross) == (
        TWO_LINES_NET,
        TWO_LINES_VAT,
        TWO_LINES_GROSS,
    )
    assert order.lines.count() == 2 and order.po_number == "PO-77"
    assert order.payment_terms_days == customer.payment_terms_days  # blank → customer's
    assert order.created_by == commercial
    page = client_for(commercial).get(response["Location"]).content.decode()
    assert order.number in page and "Licence" in page


def test_bad_line_input_names_the_line_and_field_and_creates_nothing(commercial: User) -> None:
    customer = CustomerFactory()
    rows = (TWO_LINES[0], TWO_LINES[1] | {"quantity": "trois", "vat_rate": "19.6"})
    response = client_for(commercial).post(
        reverse("web:order_create"), header(customer.pk) | line_fields(*rows)
    )
    assert 200 <= response.status_code < 500
    html = response.content.decode()
    assert "ligne 2, quantité" in html and "trois" in html
    assert "ligne 2, taux de TVA" in html
    assert 'name="lines-2-quantity" value="trois"' in html  # what was typed stays
    assert Order.objects.count() == 0


def test_header_errors_and_missing_lines_are_reported(commercial: User) -> None:
    response = client_for(commercial).post(
        reverse("web:order_create"),
        header(999999, payment_terms_days="abc", requested_delivery_date="31/02/2026"),
    )
    assert response.status_code == 400
    assert Order.objects.count() == 0
    customer = CustomerFactory()
    response = client_for(commercial).post(reverse("web:order_create"), header(customer.pk))
    assert response.status_code == 400
    assert "au moins une ligne" in response.content.decode()
    response = client_for(commercial).post(
        reverse("web:order_create"),
        header(customer.pk, payment_terms_days="90", payment_terms_basis="end_of_month")
        | line_fields(TWO_LINES[0]),
    )
    assert response.status_code == 400 and Order.objects.count() == 0


def test_edit_saves_and_a_stale_version_shows_the_conflict(commercial: User, adv: User) -> None:
    order = make_order(commercial)
    client = client_for(commercial)
    form = client.get(reverse("web:order_edit", args=[order.pk]))
    assert form.status_code == 200
    assert f'name="version" value="{order.version}"' in form.content.decode()
    loaded_version = order.version
    # ADV changes the order while the sales rep is editing it
    update_order(actor=adv, order=order, expected_version=loaded_version, po_number="PO-ADV")
    data = header(order.customer_id, po_number="PO-MINE", version=str(loaded_version))
    response = client.post(
        reverse("web:order_edit", args=[order.pk]), data | line_fields(TWO_LINES[0])
    )
    assert response.status_code == 409
    assert "modifié par quelqu&#x27;un d&#x27;autre" in response.content.decode()
    order.refresh_from_db()
    assert order.po_number == "PO-ADV"
    # with the current version the edit goes through
    data["version"] = str(order.version)
    response = client.post(
        reverse("web:order_edit", args=[order.pk]), data | line_fields(*TWO_LINES)
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.po_number == "PO-MINE" and order.total_net == TWO_LINES_NET


def test_submitted_order_is_not_editable(commercial: User) -> None:
    order = submit_order(actor=commercial, order=make_order(commercial))
    response = client_for(commercial).get(reverse("web:order_edit", args=[order.pk]), follow=True)
    assert "seuls les brouillons sont modifiables" in response.content.decode()


def test_totals_endpoint_returns_decimal_amounts_in_any_language(commercial: User) -> None:
    for language in ("fr", "en"):
        client = client_for(commercial, language)
        response = client.post(reverse("web:order_totals"), line_fields(*TWO_LINES))
        assert response.status_code == 200
        html = response.content.decode()
        assert f'data-net="{TWO_LINES_NET}"' in html
        assert f'data-vat="{TWO_LINES_VAT}"' in html
        assert f'data-gross="{TWO_LINES_GROSS}"' in html
        response = client.post(
            reverse("web:order_totals"), line_fields(*TWO_LINES), HTTP_ACCEPT="application/json"
        )
        body = json.loads(response.content)
        assert (body["net"], body["vat"], body["gross"]) == ("8269.97", "1614.85", "9884.82")
        assert [b["rate"] for b in body["breakdown"]] == ["5.5", "20"]
    # bad input: the errors, not a total
    response = client_for(commercial).post(
        reverse("web:order_totals"), line_fields(TWO_LINES[0] | {"unit_price": "12,3,4"})
    )
    assert response.status_code == 200
    assert "ligne 1, prix unitaire" in response.content.decode()
    assert "data-net" not in response.content.decode()


def test_customer_search_returns_options(commercial: User) -> None:
    wanted = CustomerFactory(name="Boulangerie Dupont SARL", search_name="boulangerie dupont")
    CustomerFactory(name="Autre SAS", search_name="autre")
    response = client_for(commercial).get(
        reverse("web:order_customer_search"), {"customer_q": "boul"}
    )
    html = response.content.decode()
    assert f'<option value="{wanted.pk}">' in html and "Autre" not in html


def test_product_fills_in_blank_line_fields(commercial: User) -> None:
    product = Product.objects.create(
        code="DEV-J", label="Journée de développement", unit="day", unit_price=Decimal("650"),
        vat_rate=Decimal("20.00"),
    )  # fmt: skip
    customer = CustomerFactory()
    page = client_for(commercial).get(reverse("web:order_create")).content.decode()
    assert "DEV-J" in page
    data = header(customer.pk) | line_fields({"product_id": str(product.pk), "quantity": "2"})
    response = client_for(commercial).post(reverse("web:order_create"), data)
    assert response.status_code == 302
    order_line = Order.objects.get().lines.get()
    assert order_line.description == "Journée de développement"
    assert order_line.net_amount == Decimal("1300.00")


# ---------------------------------------------------------------- circuit


def test_full_circuit_through_the_screens(
    commercial: User, adv: User, direction: User, rules: None
) -> None:
    ProcedureSheet.objects.create(role="adv", title="Contrôle ADV", checklist="PO reçu\nSIRET ok")
    order = make_order(commercial, lines=[line("80", "800")])
    response = client_for(commercial).post(
        reverse("web:order_submit", args=[order.pk]), {"version": order.version}, follow=True
    )
    assert "soumise à validation" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED

    page = client_for(adv).get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert 'id="approve-form"' in page and "SIRET ok" in page  # the sheet of the ADV step
    direction_page = client_for(direction).get(reverse("web:order_detail", args=[order.pk]))
    assert 'id="approve-form"' not in direction_page.content.decode()  # not their turn yet

    client_for(adv).post(
        reverse("web:order_approve", args=[order.pk]),
        {"comment": "Conforme", "version": order.version},
    )
    client_for(direction).post(
        reverse("web:order_approve", args=[order.pk]), {"comment": "OK", "version": order.version}
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.VALIDATED
    page = client_for(commercial).get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert "Conforme" in page and adv.username in page and direction.username in page


def test_approval_by_the_wrong_role_changes_nothing(
    commercial: User, adv: User, direction: User, compta: User, rules: None
) -> None:
    order = submit_order(actor=commercial, order=make_order(commercial, lines=[line("80", "800")]))
    for user in (direction, compta, commercial):
        response = client_for(user).post(
            reverse("web:order_approve", args=[order.pk]),
            {"comment": "hop", "version": order.version},
            follow=True,
        )
        assert response.status_code in (200, 403)
        assert "pas autorisé" in response.content.decode() or response.status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert not order.approval_steps.exclude(status=ApprovalStatus.PENDING).exists()


def test_rejection_needs_a_reason_then_reopen(commercial: User, adv: User) -> None:
    order = submit_order(actor=commercial, order=make_order(commercial))
    response = client_for(adv).post(
        reverse("web:order_reject", args=[order.pk]),
        {"comment": "  ", "version": order.version},
        follow=True,
    )
    assert "doit être motivé" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    client_for(adv).post(
        reverse("web:order_reject", args=[order.pk]),
        {"comment": "Remise", "version": order.version},
    )
    order.refresh_from_db()
    assert (order.status, order.rejection_reason) == (OrderStatus.REJECTED, "Remise")
    client_for(commercial).post(reverse("web:order_reopen", args=[order.pk]))
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_incomplete_order_shows_what_is_missing(commercial: User) -> None:
    order = make_order(commercial, customer=CustomerFactory(siret="", with_contacts=False))
    page = client_for(commercial).get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert "SIRET manquant" in page
    response = client_for(commercial).post(
        reverse("web:order_submit", args=[order.pk]), {"version": order.version}, follow=True
    )
    assert "SIRET manquant" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_cancel_needs_a_reason(commercial: User) -> None:
    order = make_order(commercial)
    client_for(commercial).post(reverse("web:order_cancel", args=[order.pk]), {"reason": ""})
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT
    client_for(commercial).post(reverse("web:order_cancel", args=[order.pk]), {"reason": "Doublon"})
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_auditeur_reads_but_cannot_create(auditeur: User, commercial: User) -> None:
    order = make_order(commercial)
    client = client_for(auditeur)
    listing = client.get(reverse("web:order_list")).content.decode()
    assert order.number in listing and 'id="new-order"' not in listing
    detail = client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert 'id="submit-order"' not in detail and 'id="edit-order"' not in detail
    assert client.get(reverse("web:order_create")).status_code == 403
    response = client.post(
        reverse("web:order_create"), header(order.customer_id) | line_fields(TWO_LINES[0])
    )
    assert response.status_code == 403
    assert Order.objects.count() == 1
    client.post(reverse("web:order_cancel", args=[order.pk]), {"reason": "x"})
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_order_list_filters_and_searches(commercial: User) -> None:
    first = make_order(commercial, customer=CustomerFactory(name="Alpha SA"))
    second = submit_order(
        actor=commercial, order=make_order(commercial, customer=CustomerFactory(name="Beta SA"))
    )
    client = client_for(commercial)
    html = client.get(reverse("web:order_list"), {"status": "submitted"}).content.decode()
    assert second.number in html and first.number not in html
    html = client.get(reverse("web:order_list"), {"q": "alpha"}).content.decode()
    assert first.number in html and second.number not in html


# ---------------------------------------------------------------- quotes


def test_quote_create_send_and_convert(commercial: User) -> None:
    customer = CustomerFactory()
    client = client_for(commercial)
    response = client.post(
        reverse("web:quote_create"),
        {"customer": customer.pk, "invoicing_mode": "on_order", "valid_until": "2099-01-31"}
        | line_fields(*TWO_LINES),
    )
    quote = Quote.objects.get()
    assert response.status_code == 302 and quote.total_gross == TWO_LINES_GROSS
    client.post(reverse("web:quote_send", args=[quote.pk]))
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.SENT
    response = client.post(reverse("web:quote_convert", args=[quote.pk]), {"po_number": "BC-1"})
    order = Order.objects.get()
    assert response["Location"] == reverse("web:order_detail", args=[order.pk])
    assert (order.po_number, order.quote, order.total_net) == ("BC-1", quote, TWO_LINES_NET)
    page = client.get(reverse("web:quote_detail", args=[quote.pk])).content.decode()
    assert order.number in page


def test_quote_decline(commercial: User) -> None:
    quote = create_quote(actor=commercial, customer=CustomerFactory(), lines=[line()])
    client_for(commercial).post(reverse("web:quote_decline", args=[quote.pk]), {"reason": "Prix"})
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DECLINED


# ---------------------------------------------------------------- administration


def test_admin_manages_rules_and_procedure_sheets(admin_user: User) -> None:
    client = client_for(admin_user)
    response = client.post(
        reverse("web:rule_list"),
        {"name": "Gros", "kind": "amount_over", "threshold": "50 000,00",
         "approver_role": "direction", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    rule = ApprovalRule.objects.get()
    assert rule.threshold == Decimal("50000.00") and rule.is_active
    response = client.post(
        reverse("web:rule_list"),
        {"name": "Bad", "kind": "amount_over", "threshold": "beaucoup", "approver_role": "adv"},
    )
    assert response.status_code == 400 and "pas un nombre" in response.content.decode()
    client.post(reverse("web:rule_edit", args=[rule.pk]), {"toggle_active": "1"})
    rule.refresh_from_db()
    assert not rule.is_active
    response = client.post(
        reverse("web:rule_edit", args=[rule.pk]),
        {"name": "Très gros", "kind": "amount_over", "threshold": "100000",
         "approver_role": "direction", "is_active": "on"},
    )  # fmt: skip
    rule.refresh_from_db()
    assert (rule.name, rule.threshold, rule.is_active) == ("Très gros", Decimal("100000"), True)

    response = client.post(
        reverse("web:procedure_sheet_edit", args=["adv"]),
        {"title": "Contrôle ADV", "checklist": "PO reçu\n\nSIRET vérifié\n"},
    )
    assert response.status_code == 302
    assert ProcedureSheet.objects.get(role="adv").items == ["PO reçu", "SIRET vérifié"]
    response = client.post(
        reverse("web:procedure_sheet_edit", args=["adv"]), {"title": "", "checklist": ""}
    )
    assert response.status_code == 400
    assert client.get(reverse("web:procedure_sheet_edit", args=["auditeur"])).status_code == 404


@pytest.mark.parametrize("role", [Role.COMMERCIAL, Role.ADV, Role.DIRECTION, Role.AUDITEUR])
def test_only_the_administrator_reaches_administration(
    personas: dict[Role, User], role: Role
) -> None:
    client = client_for(personas[role])
    assert client.get(reverse("web:rule_list")).status_code == 403
    data = {"name": "X", "kind": "amount_over", "threshold": "1", "approver_role": "adv"}
    assert client.post(reverse("web:rule_list"), data).status_code == 403
    assert client.get(reverse("web:procedure_sheet_list")).status_code == 403
    response = client.post(
        reverse("web:procedure_sheet_edit", args=["adv"]), {"title": "t", "checklist": "c"}
    )
    assert response.status_code == 403
    assert not ApprovalRule.objects.exists() and not ProcedureSheet.objects.exists()


# ---------------------------------------------------------------- robustness and languages

JUNK: list[dict[str, Any]] = [
    {},
    {"customer": "'; DROP TABLE orders; --", "version": "abc", "comment": "x" * 10000},
    {"customer": "99999999999999999999999", "lines-1-product_id": "-1", "page": "9" * 30},
    {"customer": "-1", "payment_terms_days": "1e999", "requested_delivery_date": "2026-13-45",
     "valid_until": "hier", "invoicing_mode": "free", "payment_terms_basis": "lunar"},
    {"lines-1-quantity": "NaN", "lines-1-unit_price": "Infinity", "lines-1-vat_rate": "-0",
     "lines-1-product_id": "99999999999999999999", "lines-1-unit": "parsec",
     "lines-999999-description": "x", "lines-x-quantity": "1", "lines--1-quantity": "2"},
    {"lines-1-description": "ok", "lines-1-quantity": "1e30", "lines-1-unit_price": "-5",
     "lines-1-discount_percent": "150", "version": "0", "reason": "", "po_number": "P" * 500},
    {"name": "", "kind": "nope", "threshold": "1e999999", "approver_role": "administrateur",
     "title": "", "checklist": "", "toggle_active": "1", "index": "99999999999"},
]  # fmt: skip


def endpoints(order: Order, quote: Quote, rule: ApprovalRule) -> list[str]:
    with_pk = {
        "order": ["order_detail", "order_edit", "order_submit", "order_approve", "order_reject",
                  "order_reopen", "order_cancel"],
        "quote": ["quote_detail", "quote_send", "quote_decline", "quote_convert"],
        "rule": ["rule_edit"],
    }  # fmt: skip
    urls = [
        reverse(f"web:{name}")
        for name in (
            "home", "order_list", "order_create", "order_totals", "order_line_row",
            "order_customer_search", "quote_list", "quote_create", "rule_list",
            "procedure_sheet_list",
        )
    ]  # fmt: skip
    pks = {"order": order.pk, "quote": quote.pk, "rule": rule.pk}
    for kind, names in with_pk.items():
        for name in names:
            urls.append(reverse(f"web:{name}", args=[pks[kind]]))
            urls.append(reverse(f"web:{name}", args=[987654321]))
    urls += [reverse("web:procedure_sheet_edit", args=[r]) for r in ("adv", "nobody")]
    return urls


def test_garbage_never_gives_a_server_error(personas: dict[Role, User], rules: None) -> None:
    commercial = personas[Role.COMMERCIAL]
    order = submit_order(actor=commercial, order=make_order(commercial))
    draft = make_order(commercial)
    quote = create_quote(actor=commercial, customer=CustomerFactory(), lines=[line()])
    rule = ApprovalRule.objects.first()
    assert rule is not None
    urls = [*endpoints(order, quote, rule), reverse("web:order_edit", args=[draft.pk])]
    for role in (Role.COMMERCIAL, Role.ADV, Role.ADMINISTRATEUR, Role.AUDITEUR):
        client = client_for(personas[role])
        client.raise_request_exception = True  # an unhandled error fails the test loudly
        for url in urls:
            for data in JUNK:
                for method in (client.post, client.get):
                    response = method(url, data)
                    assert response.status_code < 500, (role, url, data)
            # the same junk as the HTMX live requests send it
            response = client.post(url, JUNK[3], HTTP_HX_REQUEST="true")
            assert response.status_code < 500, (role, url)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_page_renders_in_both_languages(
    personas: dict[Role, User], rules: None, language: str
) -> None:
    commercial, adv = personas[Role.COMMERCIAL], personas[Role.ADV]
    ProcedureSheet.objects.create(role="adv", title="Contrôle", checklist="PO reçu")
    order = submit_order(actor=commercial, order=make_order(commercial))
    draft = make_order(commercial)
    quote = create_quote(actor=commercial, customer=CustomerFactory(), lines=[line()])
    rule = ApprovalRule.objects.first()
    assert rule is not None
    pages = {
        commercial: [
            reverse("web:home"),
            reverse("web:order_list"),
            reverse("web:order_create"),
            reverse("web:order_edit", args=[draft.pk]),
            reverse("web:order_detail", args=[draft.pk]),
            reverse("web:order_detail", args=[order.pk]),
            reverse("web:quote_list"),
            reverse("web:quote_create"),
            reverse("web:quote_detail", args=[quote.pk]),
        ],
        adv: [reverse("web:home"), reverse("web:order_detail", args=[order.pk])],
        personas[Role.ADMINISTRATEUR]: [
            reverse("web:home"),
            reverse("web:rule_list"),
            reverse("web:rule_edit", args=[rule.pk]),
            reverse("web:procedure_sheet_list"),
            reverse("web:procedure_sheet_edit", args=["adv"]),
        ],
        personas[Role.AUDITEUR]: [reverse("web:home"), reverse("web:order_list")],
    }
    for user, urls in pages.items():
        client = client_for(user, language)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert f'<html lang="{language}">' in response.content.decode(), url


def test_language_switch_posts_to_setlang(commercial: User) -> None:
    client = client_for(commercial)
    response = client.post("/i18n/setlang/", {"language": "en", "next": reverse("web:order_list")})
    assert response.status_code == 302
    assert '<html lang="en">' in client.get(reverse("web:order_list")).content.decode()


def test_an_approval_posted_from_a_stale_page_is_refused(
    commercial: User, adv: User, rules: None
) -> None:
    order = submit_order(actor=commercial, order=make_order(commercial))
    response = client_for(adv).post(
        reverse("web:order_approve", args=[order.pk]), {"version": order.version - 1}, follow=True
    )
    assert response.status_code in (200, 409)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED


def test_an_approval_without_the_version_is_refused(
    commercial: User, adv: User, rules: None
) -> None:
    order = submit_order(actor=commercial, order=make_order(commercial))
    client_for(adv).post(reverse("web:order_approve", args=[order.pk]), {"comment": "ok"})
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
