"""The billing screens through the Django test client: run, invoices, credit notes, cut-off,
company profile. The services do the work; these tests check what the screens show and that
a refusal is a message or a form error with a 4xx, the data left as it was."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import floatformat
from django.test import Client
from django.urls import reverse

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import BillingRun, CompanyProfile, Invoice
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile, draft_invoice
from levier.contracts.cutoff import compute_cutoff
from levier.contracts.models import Contract, IndexSeries
from levier.contracts.tests.factories import contract_line, make_contract
from levier.customers.tests.factories import CustomerFactory
from levier.sales.tests.factories import line

pytestmark = pytest.mark.django_db

RUN_DATE = dt.date(2026, 3, 1)
ISSUE_DAY = dt.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    """Issuing needs a seller whose mandatory mentions are complete."""
    complete_company_profile()


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def monthly_contract(adv: User, customer_name: str = "Abonnements Durand SAS") -> Contract:
    """1 000 € HT a month billed in advance from 1 January 2026: three months due on 1 March."""
    return make_contract(
        adv,
        [contract_line("recurring", "1000", frequency="monthly", description="Infogérance")],
        customer=CustomerFactory(name=customer_name),
        start=dt.date(2026, 1, 1),
    )


def indexed_contract(adv: User) -> Contract:
    """Revised each year on the Syntec index, whose values were never entered: blocked."""
    series = IndexSeries.objects.create(code="syntec", name="Syntec", publication_lag_months=2)
    return make_contract(
        adv,
        [contract_line("recurring", "500", frequency="monthly", description="Support")],
        customer=CustomerFactory(name="Indexée Industries"),
        start=dt.date(2025, 1, 1),
        index_series=series,
    )


def issued(adv: User, **kw: Any) -> Invoice:
    return issue_invoice(actor=adv, invoice=draft_invoice(adv, **kw), issue_date=ISSUE_DAY)


def money(value: Decimal) -> str:
    """An amount as the French pages print it (floatformat "2g" under the active locale)."""
    return str(floatformat(value, "2g"))


# ---------------------------------------------------------------- billing run


def test_preview_shows_the_items_per_contract_and_a_blocked_revision(adv: User) -> None:
    due = monthly_contract(adv)
    blocked = indexed_contract(adv)

    response = client_for(adv).get(reverse("web:billing_run"), {"as_of": RUN_DATE.isoformat()})

    assert response.status_code == 200
    html = response.content.decode()
    preview = html[html.index('id="preview"') :]
    assert due.number in preview and "Abonnements Durand SAS" in preview
    assert "Infogérance – du 01/03/2026 au 31/03/2026" in preview
    # the blocked revision is shown on its own, above the table, naming the contract
    box = html[html.index('id="blocked"') : html.index('id="preview-table"')]
    assert blocked.number in box and "syntec" in box.lower()
    # nothing written by a preview
    assert not Invoice.objects.exists() and not BillingRun.objects.exists()


def test_create_drafts_then_a_second_click_creates_none(adv: User) -> None:
    contract = monthly_contract(adv)
    client = client_for(adv)
    url = reverse("web:billing_run")

    first = client.post(url, {"as_of": RUN_DATE.isoformat(), "action": "drafts"})

    run = BillingRun.objects.get()
    assert first.status_code == 302
    assert first["Location"] == reverse("web:billing_run_detail", args=[run.pk])
    draft = Invoice.objects.get()
    assert draft.status == InvoiceStatus.DRAFT and draft.contract == contract
    assert draft.total_net == Decimal("3000.00")  # January, February, March
    page = client.get(first["Location"])
    assert page.status_code == 200
    assert 'id="count-drafts">1<' in page.content.decode()

    second = client.post(url, {"as_of": RUN_DATE.isoformat(), "action": "drafts"})

    assert second.status_code == 302
    assert Invoice.objects.count() == 1
    assert BillingRun.objects.order_by("-pk").first().drafts_count == 0  # type: ignore[union-attr]
    assert "Plus rien à facturer" in str(list(client.get(second["Location"]).context["messages"]))


def test_create_and_issue_numbers_the_invoices_at_once(adv: User) -> None:
    monthly_contract(adv)

    response = client_for(adv).post(
        reverse("web:billing_run"), {"as_of": RUN_DATE.isoformat(), "action": "issue"}
    )

    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert invoice.status == InvoiceStatus.ISSUED and invoice.number
    assert BillingRun.objects.get().issued_count == 1


def test_bulk_issue_numbers_the_ticked_drafts_and_leaves_the_others(adv: User) -> None:
    monthly_contract(adv, "Premier SAS")
    monthly_contract(adv, "Second SAS")
    monthly_contract(adv, "Troisième SAS")
    client = client_for(adv)
    client.post(reverse("web:billing_run"), {"as_of": RUN_DATE.isoformat(), "action": "drafts"})
    drafts = list(Invoice.objects.order_by("pk"))
    assert len(drafts) == 3
    run_page = client.get(reverse("web:billing_run")).content.decode()
    assert all(f'name="invoice" value="{d.pk}"' in run_page for d in drafts)

    response = client.post(
        reverse("web:drafts_issue"), {"invoice": [str(drafts[0].pk), str(drafts[1].pk)]}
    )

    assert response.status_code == 302
    states = list(Invoice.objects.order_by("pk").values_list("status", "number"))
    year = dt.date.today().year
    assert states == [
        (InvoiceStatus.ISSUED, f"F{year}-000001"),
        (InvoiceStatus.ISSUED, f"F{year}-000002"),
        (InvoiceStatus.DRAFT, None),
    ]


def test_one_draft_is_issued_or_discarded_from_the_run_screen(adv: User) -> None:
    first, second = draft_invoice(adv), draft_invoice(adv)
    client = client_for(adv)
    back = reverse("web:billing_run")

    client.post(reverse("web:invoice_issue", args=[first.pk]), {"next": back})
    refused = client.post(reverse("web:invoice_discard", args=[second.pk]), {"next": back})
    discarded = client.post(
        reverse("web:invoice_discard", args=[second.pk]), {"reason": "Doublon", "next": back}
    )

    assert refused.status_code == discarded.status_code == 302 and discarded["Location"] == back
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == InvoiceStatus.ISSUED
    assert second.status == InvoiceStatus.DISCARDED


def test_a_commercial_cannot_run_billing_nor_issue_and_nothing_changes(
    adv: User, commercial: User
) -> None:
    monthly_contract(adv)
    draft = draft_invoice(adv)
    client = client_for(commercial)

    page = client.get(reverse("web:billing_run"), {"as_of": RUN_DATE.isoformat()})
    run = client.post(
        reverse("web:billing_run"), {"as_of": RUN_DATE.isoformat(), "action": "drafts"}
    )
    issue = client.post(reverse("web:drafts_issue"), {"invoice": [str(draft.pk)]})

    assert page.status_code == 200
    assert 'id="create-drafts"' not in page.content.decode()
    assert 'id="run-not-allowed"' in page.content.decode()
    assert run.status_code == 403
    assert "ne permet pas" in run.content.decode()  # the role and the refused action, in French
    assert issue.status_code == 302
    assert not BillingRun.objects.exists()
    assert list(Invoice.objects.values_list("pk", "status")) == [(draft.pk, InvoiceStatus.DRAFT)]


def test_a_bad_billing_date_is_a_form_error(adv: User) -> None:
    client = client_for(adv)
    far = (dt.date.today() + dt.timedelta(days=800)).isoformat()
    for value in ("31/02/2026", "demain", far):
        response = client.get(reverse("web:billing_run"), {"as_of": value})
        assert response.status_code == 400
        assert response.context["form"].errors["as_of"]
    posted = client.post(reverse("web:billing_run"), {"as_of": "x", "action": "drafts"})
    assert posted.status_code == 400 and not BillingRun.objects.exists()


# ---------------------------------------------------------------- invoice list


def test_invoice_list_filters_and_totals(adv: User) -> None:
    alpha = CustomerFactory(name="Alpha Conseil")
    beta = CustomerFactory(name="Beta Logistique")
    invoice = issued(adv, customer=alpha, lines=[line("10", "100")])  # 1 000 HT, 1 200 TTC
    draft_invoice(adv, customer=beta, lines=[line("1", "50")])
    note = create_credit_note(
        actor=adv, invoice=invoice, reason="commercial_gesture", lines=[line("1", "100")]
    )
    issue_invoice(actor=adv, invoice=note, issue_date=ISSUE_DAY)
    client = client_for(adv)
    url = reverse("web:invoice_list")

    def listed(**params: str) -> tuple[set[int], dict[str, Any]]:
        response = client.get(url, params)
        assert response.status_code == 200
        return {i.pk for i in response.context["page"].object_list}, response.context["totals"]

    everything, totals = listed()
    assert len(everything) == 3 and totals["count"] == 3
    assert totals["invoiced_net"] == Decimal("1050.00")
    assert totals["credited_net"] == Decimal("100.00")
    assert totals["balance_gross"] == Decimal("1260.00") - Decimal("120.00")

    assert listed(status="issued")[0] == {invoice.pk, note.pk}
    assert listed(kind="credit_note")[0] == {note.pk}
    assert listed(customer="alpha")[0] == {invoice.pk, note.pk}
    assert listed(number=invoice.number or "?")[0] == {invoice.pk}
    assert listed(issued_from="2026-03-02", issued_to="2026-03-02")[0] == {invoice.pk, note.pk}
    assert listed(issued_from="2026-03-03")[0] == set()
    only_alpha_invoices, alpha_totals = listed(customer="Alpha", kind="invoice")
    assert only_alpha_invoices == {invoice.pk}
    assert alpha_totals["invoiced_gross"] == Decimal("1200.00")
    assert alpha_totals["credited_gross"] == Decimal("0")
    # a junk filter is shown as an error and ignored, never a 500
    response = client.get(url, {"issued_from": "hier", "kind": "bon", "page": "-1"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"issued_from", "kind"}


def test_invoice_list_runs_a_fixed_number_of_queries(
    adv: User, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        draft_invoice(adv, customer=CustomerFactory(name=f"Client {n}"))
    client = client_for(adv)
    client.get(reverse("web:invoice_list"))  # warm the session and the content types

    with django_assert_max_num_queries(8):
        response = client.get(reverse("web:invoice_list"), {"status": "draft"})

    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 30
    assert "Client 29" in response.content.decode()


# ---------------------------------------------------------------- invoice page


def test_invoice_page_shows_the_legal_fields_lines_and_periods(adv: User) -> None:
    monthly_contract(adv)
    client = client_for(adv)
    client.post(reverse("web:billing_run"), {"as_of": RUN_DATE.isoformat(), "action": "issue"})
    invoice = Invoice.objects.select_related("customer").get()

    response = client.get(reverse("web:invoice_detail", args=[invoice.pk]))

    assert response.status_code == 200
    html = unescape(response.content.decode())
    for text in (
        invoice.number,
        invoice.buyer_name,
        f"SIREN {invoice.buyer_siren}",
        "404833048",  # the seller's SIREN, in the legal footer
        "FR83404833048",
        "Levier Conseil",
        "taux de refinancement de la BCE",  # late payment penalties
        "40 €",  # the fixed recovery indemnity
        "Pas d'escompte",
        "01/03/2026 → 31/03/2026",  # the service period of a line
        invoice.contract.number,  # type: ignore[union-attr]
    ):
        assert text in html, text
    assert f"{invoice.issue_date:%d/%m/%Y}" in html and f"{invoice.due_date:%d/%m/%Y}" in html
    assert money(invoice.total_gross) in html
    assert 'id="download-pdf"' in html and 'id="issue-invoice"' not in html


def test_draft_page_lists_what_blocks_its_issue_and_offers_issue_and_discard(adv: User) -> None:
    customer = CustomerFactory(name="Sans Adresse", address_line1="")
    draft = draft_invoice(adv, customer=customer)

    html = client_for(adv).get(reverse("web:invoice_detail", args=[draft.pk])).content.decode()

    assert 'id="missing"' in html and "Sans Adresse" in html
    assert 'id="issue-invoice"' in html and 'id="discard-invoice"' in html
    assert 'id="download-pdf"' not in html


def test_issuing_a_draft_with_a_missing_mention_is_refused_with_the_reason(adv: User) -> None:
    draft = draft_invoice(adv, customer=CustomerFactory(address_line1=""))
    client = client_for(adv)

    response = client.post(reverse("web:invoice_issue", args=[draft.pk]), follow=True)

    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.DRAFT and draft.number is None
    assert any("adresse" in str(m) for m in response.context["messages"])


def test_pdf_of_an_issued_invoice_downloads_with_its_number_as_file_name(adv: User) -> None:
    invoice = issued(adv)

    response = client_for(adv).get(reverse("web:invoice_pdf", args=[invoice.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF")


def test_xml_downloads_of_an_issued_invoice(adv: User) -> None:
    invoice = issued(adv)
    client = client_for(adv)

    cii = client.get(reverse("web:invoice_xml", args=[invoice.pk, "cii"]))
    ubl = client.get(reverse("web:invoice_xml", args=[invoice.pk, "ubl"]))
    other = client.get(reverse("web:invoice_xml", args=[invoice.pk, "edifact"]))

    assert cii.status_code == ubl.status_code == 200
    assert b"CrossIndustryInvoice" in cii.content and b"<Invoice" in ubl.content.replace(
        b"ubl:", b""
    )
    assert f'filename="{invoice.number}.cii.xml"' in cii["Content-Disposition"]
    assert other.status_code == 404


def test_a_draft_has_no_pdf_nor_any_other_document(adv: User) -> None:
    draft = draft_invoice(adv)
    client = client_for(adv)

    for url in (
        reverse("web:invoice_pdf", args=[draft.pk]),
        reverse("web:invoice_facturx", args=[draft.pk]),
        reverse("web:invoice_xml", args=[draft.pk, "cii"]),
    ):
        assert client.get(url).status_code == 404, url


# ---------------------------------------------------------------- credit notes


def test_credit_note_over_the_remaining_amount_shows_the_error_in_the_form(adv: User) -> None:
    invoice = issued(adv, lines=[line("10", "100")])  # 1 200 € TTC
    invoice_line = invoice.lines.get()
    client = client_for(adv)

    response = client.post(
        reverse("web:credit_note_create", args=[invoice.pk]),
        {"reason": "price_error", "scope": "lines", f"quantity-{invoice_line.pk}": "11"},
    )

    assert response.status_code == 400
    errors = response.context["credit_form"].non_field_errors()
    assert any("dépasse ce qui reste" in e for e in errors), errors
    assert 'id="credit-errors"' in response.content.decode()
    # what was typed is kept
    assert f'name="quantity-{invoice_line.pk}" value="11"' in response.content.decode()
    assert not Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).exists()


def test_partial_credit_note_is_created_as_a_draft_then_issued_from_its_page(adv: User) -> None:
    invoice = issued(adv, lines=[line("10", "100"), line("2", "50", description="Frais")])
    first, second = invoice.lines.order_by("position")
    client = client_for(adv)

    response = client.post(
        reverse("web:credit_note_create", args=[invoice.pk]),
        {
            "reason": "commercial_gesture",
            "scope": "lines",
            f"quantity-{first.pk}": "2",
            f"unit_price-{second.pk}": "10",
        },
    )

    note = Invoice.objects.get(kind=DocumentKind.CREDIT_NOTE)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:invoice_detail", args=[note.pk])
    # 2 × 100 + 2 × 10 (the quantity invoiced, at the typed price)
    assert note.total_net == Decimal("220.00") and note.status == InvoiceStatus.DRAFT
    page = client.get(response["Location"]).content.decode()
    assert 'id="issue-invoice"' in page and 'id="credited-invoice"' in page

    client.post(reverse("web:invoice_issue", args=[note.pk]))

    note.refresh_from_db()
    assert note.status == InvoiceStatus.ISSUED and note.number
    remaining = client.get(reverse("web:invoice_detail", args=[invoice.pk])).context["remaining"]
    assert remaining == invoice.total_gross - note.total_gross


def test_credit_note_form_errors_stay_on_the_form(adv: User) -> None:
    invoice = issued(adv, lines=[line("10", "100")])
    invoice_line = invoice.lines.get()
    url = reverse("web:credit_note_create", args=[invoice.pk])
    client = client_for(adv)

    no_reason = client.post(url, {"scope": "full"})
    nothing_chosen = client.post(url, {"reason": "duplicate", "scope": "lines"})
    bad_quantity = client.post(
        url,
        {"reason": "duplicate", "scope": "lines", f"quantity-{invoice_line.pk}": "beaucoup"},
    )

    assert no_reason.status_code == nothing_chosen.status_code == bad_quantity.status_code == 400
    assert no_reason.context["credit_form"].errors["reason"]
    assert nothing_chosen.context["credit_form"].non_field_errors()
    assert bad_quantity.context["credit_rows"][0].errors
    assert not Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).exists()


# ---------------------------------------------------------------- cut-off


def test_cutoff_page_shows_fae_pca_per_contract_totals_and_entries(adv: User) -> None:
    contract = monthly_contract(adv)
    as_of = dt.date(2026, 3, 31)
    expected = compute_cutoff(as_of)
    assert expected.fae > 0  # three months earned, nothing invoiced

    response = client_for(adv).get(reverse("web:cutoff"), {"as_of": as_of.isoformat()})

    assert response.status_code == 200
    html = response.content.decode()
    assert contract.number in html
    total_fae = html[html.index('id="total-fae"') :]
    assert money(expected.fae) in total_fae[: total_fae.index("</td>")]
    assert money(expected.pca) in html[html.index('id="total-pca"') :]
    entries = html[html.index('id="cutoff-entries"') :]
    for entry in expected.entries:
        assert entry.account in entries


def test_cutoff_page_defaults_to_the_last_month_end_and_refuses_a_bad_date(adv: User) -> None:
    client = client_for(adv)
    default = client.get(reverse("web:cutoff"))
    bad = client.get(reverse("web:cutoff"), {"as_of": "fin du mois"})
    assert default.status_code == 200 and default.context["as_of"].day >= 28
    assert bad.status_code == 400 and bad.context["form"].errors["as_of"]


# ---------------------------------------------------------------- company profile


def company_post(**changes: Any) -> dict[str, Any]:
    profile = CompanyProfile.objects.get(pk=1)
    data: dict[str, Any] = {
        "legal_name": profile.legal_name,
        "legal_form": profile.legal_form,
        "share_capital": "50 000,00",
        "siren": profile.siren,
        "siret": profile.siret,
        "vat_number": profile.vat_number,
        "rcs_city": profile.rcs_city,
        "address_line1": profile.address_line1,
        "postcode": profile.postcode,
        "city": profile.city,
        "country": "FR",
        "email": profile.email,
        "late_penalty_text": profile.late_penalty_text,
        "early_payment_text": profile.early_payment_text,
    }
    data.update(changes)
    return data


def test_company_form_errors_are_shown_by_field(admin_user: User) -> None:
    client = client_for(admin_user)
    url = reverse("web:company_profile")

    form_checks = client.post(
        url, company_post(email="pas-un-email", share_capital="beaucoup", country="France")
    )
    service_checks = client.post(url, company_post(siren="123456789", iban="FR76 1234"))
    not_an_image = client.post(
        url,
        {**company_post(), "logo": SimpleUploadedFile("logo.png", b"GIF89a...", "image/png")},
    )

    assert form_checks.status_code == 400
    assert set(form_checks.context["form"].errors) == {"email", "share_capital", "country"}
    assert service_checks.status_code == 400
    assert set(service_checks.context["form"].errors) == {"siren", "iban"}
    assert not_an_image.status_code == 400
    assert set(not_an_image.context["form"].errors) == {"logo"}
    html = service_checks.content.decode()
    assert html.index('id="id_siren"') < html.index("field-error") < html.index('id="id_siret"')
    assert CompanyProfile.objects.get(pk=1).siren == "404833048"  # unchanged


def test_company_profile_is_saved_with_its_logo(admin_user: User) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    client = client_for(admin_user)

    response = client.post(
        reverse("web:company_profile"),
        {
            **company_post(legal_name="Levier Conseil et Associés", share_capital="80 000"),
            "logo": SimpleUploadedFile("logo.png", png, "application/octet-stream"),
        },
    )

    assert response.status_code == 302
    profile = CompanyProfile.objects.get(pk=1)
    assert profile.legal_name == "Levier Conseil et Associés"
    assert profile.share_capital == Decimal("80000.00")
    assert bytes(profile.logo) == png and profile.logo_content_type == "image/png"
    logo = client.get(reverse("web:company_logo"))
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"


def test_company_profile_is_read_only_for_adv(adv: User) -> None:
    client = client_for(adv)

    page = client.get(reverse("web:company_profile"))
    refused = client.post(reverse("web:company_profile"), company_post(legal_name="Pirate"))

    assert page.status_code == 200
    assert 'id="company-readonly"' in page.content.decode()
    assert 'id="company-form"' not in page.content.decode()
    assert "Levier Conseil" in page.content.decode()
    assert money(Decimal("50000")) in page.content.decode()  # the share capital, in French
    assert refused.status_code == 403
    assert CompanyProfile.objects.get(pk=1).legal_name == "Levier Conseil"


# ---------------------------------------------------------------- junk


def test_billing_routes_answer_junk_on_real_documents_without_a_500(
    personas: dict[Role, User], adv: User
) -> None:
    """test_no_server_error sends junk to every route, but it makes no invoice: here the ids
    are a draft, an issued invoice, a draft credit note and a billing run."""
    from levier.web import urls_billing
    from levier.web.tests.test_no_server_error import JUNK_BODIES, concrete_paths

    monthly_contract(adv)
    invoice = issued(adv)
    draft = draft_invoice(adv)
    note = create_credit_note(actor=adv, invoice=invoice, reason="duplicate")
    ids = sorted({invoice.pk, draft.pk, note.pk})
    junk = [*JUNK_BODIES[1:3], {"invoice": ["1", "x", "9" * 40], "action": "issue", "as_of": "0"}]
    for role in (Role.COMMERCIAL, Role.COMPTABILITE, Role.ADMINISTRATEUR):
        client = Client(HTTP_ACCEPT="text/html")
        client.force_login(personas[role])
        client.raise_request_exception = True
        for pattern in urls_billing.urlpatterns:
            # Rendering a PDF takes a second and ignores the query: one pass is enough.
            rendered = pattern.name in ("invoice_pdf", "invoice_facturx")
            if rendered and role != Role.COMMERCIAL:
                continue
            for path in concrete_paths(str(pattern.pattern), ids):
                for body in junk[:1] if rendered else junk:
                    for response in (client.get(path, body), client.post(path, body)):
                        assert response.status_code < 500, (role, path, body)
    # none of these roles may issue an invoice (Comptabilité may issue the credit note)
    assert Invoice.objects.get(pk=draft.pk).status == InvoiceStatus.DRAFT
    assert not BillingRun.objects.exists()


def test_emptying_the_share_capital_is_never_a_server_error(admin_user: User) -> None:
    """update_company_profile stores an emptied share capital as "" in a decimal column,
    which Django refuses: the screen shows it on the field (400) until the service allows it."""
    response = client_for(admin_user).post(
        reverse("web:company_profile"), company_post(share_capital="")
    )
    assert response.status_code in (302, 400)
    if response.status_code == 400:
        assert set(response.context["form"].errors) == {"share_capital"}
