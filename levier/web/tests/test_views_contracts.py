"""The contract screens, through the Django test client: list, page and its actions, create,
amend, indexes, and the ADV's renewal worklist."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.audit.models import AuditEvent
from levier.contracts.choices import ContractStatus
from levier.contracts.models import (
    Amendment,
    Contract,
    ContractLine,
    IndexSeries,
    IndexValue,
    Milestone,
    TimeEntry,
)
from levier.contracts.services import give_notice
from levier.contracts.tests.factories import contract_line, make_contract
from levier.customers.tests.factories import CustomerFactory
from levier.lib.periods import add_months
from levier.sales.tests.factories import make_order
from levier.web.views.contracts import renewal_of

pytestmark = pytest.mark.django_db
D = Decimal


def client_for(user: User, language: str = "fr") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def today() -> dt.date:
    return timezone.localdate()


def last_month() -> dt.date:
    return (today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def html_of(response: Any) -> str:
    return str(response.content.decode())


def section(html: str, section_id: str) -> str:
    """The HTML of one card of a page (up to the next card)."""
    start = html.index(f'id="{section_id}"')
    end = html.find("<section", start)
    return html[start : end if end != -1 else None]


def fieldset(html: str, fieldset_id: str) -> str:
    start = html.index(f'id="{fieldset_id}"')
    return html[start : html.index("</fieldset>", start)]


def milestone_contract(adv: User, **kw: Any) -> Contract:
    return make_contract(
        adv,
        [
            contract_line(
                "milestones",
                "10000",
                description="Projet portail",
                milestones=[
                    {"label": "Acompte", "percent": "30", "trigger": "signature"},
                    {"label": "Recette", "percent": "70", "trigger": "acceptance"},
                ],
            )
        ],
        start=kw.pop("start", today() - dt.timedelta(days=30)),
        **kw,
    )


# ---------------------------------------------------------------- list


def test_the_list_shows_each_contract_with_renewal_dates_and_monthly_amount(adv: User) -> None:
    customer = CustomerFactory(name="Transports Lemoine")
    start = add_months(today(), -6)
    contract = make_contract(
        adv,
        [
            contract_line("recurring", "500", frequency="monthly", description="Infogérance"),
            contract_line("recurring", "3000", frequency="quarterly", description="Support"),
            contract_line("on_order", "999", description="Mise en service"),
        ],
        customer=customer,
        start=start,
        title="Infogérance serveurs",
        tacit_renewal=True,
        initial_term_months=12,
        notice_months=3,
    )
    renewal = renewal_of(contract, today())
    assert renewal is not None

    response = client_for(adv).get(reverse("web:contract_list"))

    assert response.status_code == 200
    row = section(html_of(response), "contracts")
    assert contract.number in row and "Transports Lemoine" in row
    assert "Infogérance serveurs" in row
    assert renewal.renewal.strftime("%d/%m/%Y") in row
    assert renewal.deadline.strftime("%d/%m/%Y") in row
    assert "1\u202f500,00" in row or "1\xa0500,00" in row or "1 500,00" in row  # 500 + 3000/3


def test_the_list_filters_by_status_customer_and_renewal_soon(adv: User) -> None:
    soon = make_contract(
        adv,
        [contract_line("recurring", "100", frequency="monthly")],
        customer=CustomerFactory(name="Boulangeries Martin"),
        start=add_months(today() + dt.timedelta(days=40), -12),
        tacit_renewal=True,
        initial_term_months=12,
        notice_months=1,
    )
    later = make_contract(
        adv,
        [contract_line("recurring", "100", frequency="monthly")],
        customer=CustomerFactory(name="Cabinet Roux"),
        start=add_months(today() + dt.timedelta(days=200), -12),
        tacit_renewal=True,
        initial_term_months=12,
        notice_months=1,
    )
    noticed = make_contract(
        adv,
        [contract_line("recurring", "100", frequency="monthly")],
        start=today() - dt.timedelta(days=10),
        end_date=today() + dt.timedelta(days=300),
    )
    give_notice(actor=adv, contract=noticed, given_on=today(), reason="Fin de la relation")
    client = client_for(adv)
    url = reverse("web:contract_list")

    html = html_of(client.get(url, {"renewal": "1"}))
    assert soon.number in html and later.number not in html and noticed.number not in html

    html = html_of(client.get(url, {"q": "roux"}))
    assert later.number in html and soon.number not in html

    html = html_of(client.get(url, {"status": ContractStatus.NOTICE_GIVEN}))
    assert noticed.number in html and soon.number not in html and later.number not in html


def test_the_list_costs_the_same_queries_for_one_contract_or_thirty(
    adv: User, django_assert_max_num_queries: Any
) -> None:
    client = client_for(adv)
    url = reverse("web:contract_list")
    make_contract(adv, [contract_line("recurring", "100", frequency="monthly")])
    client.get(url)  # warm the session and the translations
    for n in range(30):
        make_contract(
            adv,
            [
                contract_line("recurring", "100", frequency="monthly"),
                contract_line("recurring", "1200", frequency="yearly"),
            ],
            title=f"Contrat {n}",
            tacit_renewal=True,
            initial_term_months=12,
            notice_months=3,
        )
    with django_assert_max_num_queries(8):
        response = client.get(url)
    assert response.status_code == 200
    assert html_of(response).count("/contracts/") >= 31


# ---------------------------------------------------------------- contract page


def test_the_contract_page_shows_terms_lines_billable_and_history(adv: User) -> None:
    series = IndexSeries.objects.get(code="syntec_revise")
    start = add_months(today(), -3).replace(day=1)
    contract = make_contract(
        adv,
        [contract_line("recurring", "1000", frequency="monthly", description="Abonnement")],
        start=start,
        po_number="PO-7781",
        tacit_renewal=True,
        initial_term_months=12,
        notice_months=3,
        index_series=series,
        revision_fixed_part="0.15",
    )
    renewal = renewal_of(contract, today())
    assert renewal is not None

    response = client_for(adv).get(reverse("web:contract_detail", args=[contract.pk]))

    assert response.status_code == 200
    html = html_of(response)
    assert contract.customer.name in html and "PO-7781" in html
    renewal_card = section(html, "renewal")
    assert renewal.renewal.strftime("%d/%m/%Y") in renewal_card
    assert renewal.deadline.strftime("%d/%m/%Y") in renewal_card
    revision = section(html, "revision")
    assert "Syntec révisé" in revision and "0,15" in revision
    assert "Abonnement" in section(html, "lines")
    billable_card = section(html, "billable")
    assert f"du {start:%d/%m/%Y}" in billable_card  # the first monthly period is due
    assert "Aucune facture" in section(html, "invoices") or "No invoice" in html
    assert 'class="card audit-trail"' in html


def test_the_contract_page_costs_the_same_queries_for_two_lines_or_twenty(
    adv: User, django_assert_max_num_queries: Any
) -> None:
    def contract_with(n: int) -> Contract:
        modes = ["recurring", "on_delivery", "time_and_materials", "on_order"]
        lines = []
        for k in range(n):
            mode = modes[k % len(modes)]
            extra = {"frequency": "monthly"} if mode == "recurring" else {}
            lines.append(contract_line(mode, "100", description=f"Ligne {k}", **extra))
        lines.append(
            contract_line(
                "milestones",
                "1000",
                milestones=[
                    {"label": f"Étape {m}", "percent": "25", "trigger": "delivery"}
                    for m in range(4)
                ],
            )
        )
        return make_contract(adv, lines, start=add_months(today(), -3).replace(day=1))

    small, large = contract_with(2), contract_with(20)
    for line in large.lines.filter(mode="time_and_materials"):
        for months_ago in (1, 2, 3):
            TimeEntry.objects.create(
                line=line,
                month=add_months(today(), -months_ago).replace(day=1),
                quantity=D("3"),
                source="manual",
                entered_by=adv,
            )
    client = client_for(adv)
    client.get(reverse("web:contract_detail", args=[small.pk]))  # warm up
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small_queries:
        assert client.get(reverse("web:contract_detail", args=[small.pk])).status_code == 200
    with django_assert_max_num_queries(len(small_queries)):
        assert client.get(reverse("web:contract_detail", args=[large.pk])).status_code == 200


def test_a_missing_index_value_is_shown_as_blocking_billing(adv: User) -> None:
    series = IndexSeries.objects.get(code="syntec_revise")
    contract = make_contract(
        adv,
        [contract_line("recurring", "1000", frequency="monthly")],
        start=add_months(today(), -13).replace(day=1),
        index_series=series,
    )

    html = html_of(client_for(adv).get(reverse("web:contract_detail", args=[contract.pk])))

    blocked = section(html, "billing-blocked")
    assert contract.number in blocked and "Syntec" in blocked


def test_marking_a_milestone_reached_makes_it_billable(adv: User) -> None:
    contract = milestone_contract(adv)
    acceptance = Milestone.objects.get(line__contract=contract, label="Recette")
    client = client_for(adv)
    url = reverse("web:contract_milestone_reached", args=[contract.pk, acceptance.pk])

    response = client.post(url, {"reached_on": today().isoformat()})

    assert response.status_code == 302
    assert response["Location"] == reverse("web:contract_detail", args=[contract.pk])
    acceptance.refresh_from_db()
    assert acceptance.reached_on == today() and acceptance.reached_by == adv
    billable_card = section(html_of(client.get(response["Location"])), "billable")
    assert "Projet portail – Recette" in billable_card
    assert "7\u202f000,00" in billable_card or "7\xa0000,00" in billable_card


def test_recording_a_delivery_makes_the_line_billable(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("on_delivery", "2500", description="Audit de sécurité")],
        start=today() - dt.timedelta(days=20),
    )
    line = contract.lines.get()
    client = client_for(adv)
    html = html_of(client.get(reverse("web:contract_detail", args=[contract.pk])))
    assert "Audit de sécurité" not in section(html, "billable")

    response = client.post(
        reverse("web:contract_record_delivery", args=[contract.pk, line.pk]),
        {"delivered_on": today().isoformat(), "reference": "PV de recette n° 12"},
    )

    assert response.status_code == 302
    line.refresh_from_db()
    assert line.delivered_on == today() and line.delivery_note == "PV de recette n° 12"
    html = html_of(client.get(response["Location"]))
    assert "Audit de sécurité" in section(html, "billable")
    assert "PV de recette n° 12" in html


def test_entering_time_records_the_month_and_bills_it_after_month_end(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("time_and_materials", "650", description="Régie développeur")],
        start=add_months(today(), -3).replace(day=1),
    )
    line = contract.lines.get()
    client = client_for(adv)

    response = client.post(
        reverse("web:contract_enter_time", args=[contract.pk, line.pk]),
        {"month": last_month().strftime("%Y-%m"), "quantity": "12,5", "comment": "CRA"},
    )

    assert response.status_code == 302
    entry = TimeEntry.objects.get(line=line)
    assert entry.month == last_month() and entry.quantity == D("12.5")
    html = html_of(client.get(response["Location"]))
    assert "12,5" in section(html, f"time-{line.pk}")
    assert "Régie développeur" in section(html, "billable")


def test_a_commercial_cannot_record_milestones_deliveries_or_time(
    adv: User, commercial: User
) -> None:
    contract = make_contract(
        adv,
        [
            contract_line(
                "milestones",
                "1000",
                milestones=[{"label": "Tout", "percent": "100", "trigger": "delivery"}],
            ),
            contract_line("on_delivery", "500"),
            contract_line("time_and_materials", "600"),
        ],
        start=add_months(today(), -2),
    )
    milestone = Milestone.objects.get(line__contract=contract)
    delivery, tm = contract.lines.filter(mode__in=["on_delivery", "time_and_materials"]).order_by(
        "position"
    )
    client = client_for(commercial)
    events = AuditEvent.objects.count()

    posts = [
        (
            reverse("web:contract_milestone_reached", args=[contract.pk, milestone.pk]),
            {"reached_on": today().isoformat()},
        ),
        (
            reverse("web:contract_record_delivery", args=[contract.pk, delivery.pk]),
            {"delivered_on": today().isoformat()},
        ),
        (
            reverse("web:contract_enter_time", args=[contract.pk, tm.pk]),
            {"month": last_month().strftime("%Y-%m"), "quantity": "3"},
        ),
        (
            reverse("web:contract_give_notice", args=[contract.pk]),
            {"given_on": today().isoformat(), "reason": "Essai"},
        ),
    ]
    for url, data in posts:
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "ne permet pas" in html_of(response)

    milestone.refresh_from_db()
    delivery.refresh_from_db()
    contract.refresh_from_db()
    assert milestone.reached_on is None and delivery.delivered_on is None
    assert not TimeEntry.objects.exists()
    assert contract.status == ContractStatus.ACTIVE
    assert AuditEvent.objects.count() == events
    # and the page offers them no such form
    html = html_of(client.get(reverse("web:contract_detail", args=[contract.pk])))
    assert "reached_on" not in html and "delivered_on" not in html and 'name="month"' not in html


def test_bad_input_on_the_contract_page_shows_field_errors(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("time_and_materials", "600"), contract_line("on_delivery", "500")],
        start=add_months(today(), -2),
    )
    tm, delivery = contract.lines.order_by("position")
    milestone_owner = milestone_contract(adv)
    milestone = Milestone.objects.filter(line__contract=milestone_owner).first()
    assert milestone is not None
    client = client_for(adv)

    response = client.post(
        reverse("web:contract_enter_time", args=[contract.pk, tm.pk]),
        {"month": "mars", "quantity": "-4"},
    )
    assert response.status_code == 400
    form = section(html_of(response), f"time-{tm.pk}")
    assert form.count('class="field-error"') == 2
    assert 'value="mars"' in form  # what was typed is kept

    response = client.post(
        reverse("web:contract_record_delivery", args=[contract.pk, delivery.pk]),
        {"delivered_on": "31/02/2026"},
    )
    assert response.status_code == 400
    assert 'class="field-error"' in section(html_of(response), f"delivery-{delivery.pk}")

    response = client.post(
        reverse("web:contract_milestone_reached", args=[milestone_owner.pk, milestone.pk]),
        {"reached_on": ""},
    )
    assert response.status_code == 400

    # a milestone of another contract is not reachable through this one
    response = client.post(
        reverse("web:contract_milestone_reached", args=[contract.pk, milestone.pk]),
        {"reached_on": today().isoformat()},
    )
    assert response.status_code == 404
    assert not TimeEntry.objects.exists()


def test_a_month_already_invoiced_is_refused_with_a_message_not_a_500(adv: User) -> None:
    from levier.billing.run import run_billing
    from levier.billing.tests.factories import complete_company_profile

    complete_company_profile()
    contract = make_contract(
        adv,
        [contract_line("time_and_materials", "600", description="Régie")],
        start=add_months(today(), -3).replace(day=1),
    )
    line = contract.lines.get()
    client = client_for(adv)
    url = reverse("web:contract_enter_time", args=[contract.pk, line.pk])
    client.post(url, {"month": last_month().strftime("%Y-%m"), "quantity": "10"})
    run_billing(actor=adv, as_of=today())

    response = client.post(url, {"month": last_month().strftime("%Y-%m"), "quantity": "11"})

    assert response.status_code == 409
    assert f"{last_month():%m/%Y}" in section(html_of(response), f"time-{line.pk}")
    assert TimeEntry.objects.get(line=line).quantity == D("10")
    invoices = section(html_of(response), "invoices")
    assert "Brouillon" in invoices or "Draft" in invoices


def test_giving_notice_through_the_page(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("recurring", "100", frequency="monthly")],
        start=add_months(today(), -6),
        tacit_renewal=True,
        initial_term_months=12,
        notice_months=3,
    )
    renewal = renewal_of(contract, today())
    assert renewal is not None

    response = client_for(adv).post(
        reverse("web:contract_give_notice", args=[contract.pk]),
        {"given_on": today().isoformat(), "reason": "Internalisation du service"},
    )

    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.status == ContractStatus.NOTICE_GIVEN
    assert contract.termination_reason == "Internalisation du service"
    assert contract.end_date is not None


# ---------------------------------------------------------------- create


def create_post(customer_id: int, *lines: dict[str, str], **header: str) -> dict[str, str]:
    data = {
        "customer": str(customer_id),
        "title": "Maintenance applicative",
        "signed_on": "2026-01-10",
        "start_date": "2026-02-01",
        "end_date": "",
        "po_number": "PO-55",
        "invoice_grouping": "contract",
        "tacit_renewal": "on",
        "initial_term_months": "12",
        "renewal_term_months": "",
        "notice_months": "3",
        "index_series": "",
        "revision_fixed_part": "",
        "revision_floor": "",
        "revision_cap": "",
        "base_index_month": "",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100",
        **header,
    }
    for n, row in enumerate(lines):
        defaults = {
            "description": "",
            "product": "",
            "mode": "recurring",
            "quantity": "1",
            "unit": "month",
            "unit_price": "",
            "vat_rate": "20.00",
            "frequency": "monthly",
            "in_advance": "on",
            "milestones": "",
        }
        for name, value in {**defaults, **row}.items():
            data[f"lines-{n}-{name}"] = value
    return data


def test_creating_a_contract_through_the_form(adv: User) -> None:
    customer = CustomerFactory(name="Mutuelle Atlantique")
    client = client_for(adv)
    assert client.get(reverse("web:contract_create")).status_code == 200

    response = client.post(
        reverse("web:contract_create"),
        create_post(
            customer.pk,
            {"description": "TMA mensuelle", "unit_price": "1 250,50"},
            {},  # a blank row is ignored
            {
                "description": "Refonte",
                "mode": "milestones",
                "unit": "flat",
                "unit_price": "20000",
                "frequency": "",
                "milestones": "Acompte;30;signature\nLivraison;40 %;livraison\nSolde;30;acceptance",
            },
        ),
    )

    assert response.status_code == 302, html_of(response)
    contract = Contract.objects.get(customer=customer)
    assert response["Location"] == reverse("web:contract_detail", args=[contract.pk])
    assert contract.title == "Maintenance applicative" and contract.po_number == "PO-55"
    assert contract.tacit_renewal and contract.initial_term_months == 12
    assert contract.notice_months == 3
    recurring, milestones = contract.lines.order_by("position")
    assert recurring.unit_price == D("1250.5") and recurring.frequency == "monthly"
    assert [(m.label, m.amount, m.trigger) for m in milestones.milestones.all()] == [
        ("Acompte", D("6000.00"), "signature"),
        ("Livraison", D("8000.00"), "delivery"),
        ("Solde", D("6000.00"), "acceptance"),
    ]


def test_bad_input_on_the_create_form_shows_errors_next_to_the_fields(adv: User) -> None:
    customer = CustomerFactory()
    client = client_for(adv)

    response = client.post(
        reverse("web:contract_create"),
        create_post(
            customer.pk,
            {"description": "Abonnement", "unit_price": "abc"},
            {
                "description": "Projet",
                "mode": "milestones",
                "unit_price": "1000",
                "milestones": "Acompte;30;signature",
            },
            {"description": "Ligne", "unit_price": "10", "milestones": "pas de point-virgule"},
            start_date="pas une date",
        ),
    )
    assert response.status_code == 400
    html = html_of(response)
    assert html.count('class="field-error"') >= 2
    assert 'value="Abonnement"' in html  # what was typed is kept
    assert not Contract.objects.exists()

    # the form is valid, the service refuses: its errors land on the line they concern
    response = client.post(
        reverse("web:contract_create"),
        create_post(
            customer.pk,
            {"description": "Abonnement", "unit_price": "100"},
            {
                "description": "Projet",
                "mode": "milestones",
                "unit_price": "1000",
                "frequency": "",
                "milestones": "Acompte;30;signature",
            },
        ),
    )
    assert response.status_code == 400
    html = html_of(response)
    first, second = fieldset(html, "line-1"), fieldset(html, "line-2")
    assert 'class="field-error"' not in first
    assert "30" in second and 'class="field-error"' in second
    assert not Contract.objects.exists()

    # numbers and dates beyond what the columns and the calendar hold
    response = client.post(
        reverse("web:contract_create"),
        create_post(
            customer.pk,
            {"description": "X", "unit_price": "1"},
            revision_floor="1e999",
            revision_cap="100",
            revision_fixed_part="1",
            start_date="9999-12-01",
        ),
    )
    assert response.status_code == 400
    assert html_of(response).count('class="field-error"') == 4

    # no line at all
    response = client.post(reverse("web:contract_create"), create_post(customer.pk))
    assert response.status_code == 400
    assert 'id="problems"' in html_of(response)

    # a tacit renewal without its initial term
    response = client.post(
        reverse("web:contract_create"),
        create_post(customer.pk, {"description": "X", "unit_price": "1"}, initial_term_months=""),
    )
    assert response.status_code == 400
    assert not Contract.objects.exists()


def test_add_a_line_keeps_what_was_typed_and_judges_nothing_yet(adv: User) -> None:
    data = create_post(CustomerFactory().pk, {"description": "Hébergement", "unit_price": "x"})
    data.update(add_line="1", title="")

    response = client_for(adv).post(reverse("web:contract_create"), data)

    assert response.status_code == 200
    html = html_of(response)
    assert 'id="line-2"' in html and 'value="Hébergement"' in html
    assert 'class="field-error"' not in html and 'id="problems"' not in html
    assert not Contract.objects.exists()


def test_a_commercial_cannot_open_the_create_form(commercial: User) -> None:
    assert client_for(commercial).get(reverse("web:contract_create")).status_code == 403


def test_a_contract_from_a_validated_order_and_only_once(adv: User, commercial: User) -> None:
    from levier.sales.services import approve_order, submit_order

    draft = make_order(commercial)
    client = client_for(adv)
    response = client.post(reverse("web:contract_from_order", args=[draft.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:order_detail", args=[draft.pk])
    assert not Contract.objects.exists()

    order = make_order(commercial, invoicing_mode="recurring")
    submit_order(actor=commercial, order=order)
    approve_order(actor=adv, order=order)
    response = client.post(reverse("web:contract_from_order", args=[order.pk]))
    contract = Contract.objects.get(order=order)
    assert response["Location"] == reverse("web:contract_detail", args=[contract.pk])

    again = client.post(reverse("web:contract_from_order", args=[order.pk]))
    assert again["Location"] == response["Location"]
    assert Contract.objects.filter(order=order).count() == 1

    other = make_order(commercial, invoicing_mode="recurring")
    submit_order(actor=commercial, order=other)
    approve_order(actor=adv, order=other)
    response = client_for(commercial).post(reverse("web:contract_from_order", args=[other.pk]))
    assert response.status_code == 302 and not Contract.objects.filter(order=other).exists()


# ---------------------------------------------------------------- amend


def test_an_amendment_through_the_form(adv: User) -> None:
    start = add_months(today(), -4).replace(day=1)
    contract = make_contract(
        adv,
        [
            contract_line("recurring", "1000", frequency="monthly", description="Hébergement"),
            contract_line("recurring", "200", frequency="monthly", description="Sauvegarde"),
        ],
        start=start,
    )
    hosting, backup = contract.lines.order_by("position")
    effective = add_months(today(), 1).replace(day=1)
    client = client_for(adv)
    url = reverse("web:contract_amend", args=[contract.pk])
    assert client.get(url).status_code == 200

    response = client.post(
        url,
        {
            "effective_on": effective.isoformat(),
            "reason": "Hausse de capacité",
            "end_date": "",
            f"price_{hosting.pk}": "1200",
            f"qty_{hosting.pk}": "1",
            f"price_{backup.pk}": "200",
            f"qty_{backup.pk}": "1",
            f"end_{backup.pk}": "on",
        },
    )

    assert response.status_code == 302, html_of(response)
    amendment = Amendment.objects.get(contract=contract)
    assert amendment.number == 1 and amendment.reason == "Hausse de capacité"
    hosting.refresh_from_db()
    backup.refresh_from_db()
    assert hosting.end_date == backup.end_date == effective - dt.timedelta(days=1)
    successor = ContractLine.objects.get(contract=contract, start_date=effective)
    assert successor.unit_price == D("1200") and successor.description == "Hébergement"
    html = html_of(client.get(reverse("web:contract_detail", args=[contract.pk])))
    assert "Hausse de capacité" in section(html, "amendments")


def test_an_amendment_that_changes_nothing_or_has_bad_input_is_refused(adv: User) -> None:
    contract = make_contract(
        adv, [contract_line("recurring", "1000", frequency="monthly")], start=today()
    )
    line = contract.lines.get()
    client = client_for(adv)
    url = reverse("web:contract_amend", args=[contract.pk])

    response = client.post(
        url,
        {"effective_on": today().isoformat(), "reason": "Rien", f"price_{line.pk}": "1000"},
    )
    assert response.status_code == 400
    assert 'role="alert"' in html_of(response)

    response = client.post(url, {"effective_on": "hier", "reason": "", f"price_{line.pk}": "douze"})
    assert response.status_code == 400
    assert html_of(response).count('class="field-error"') >= 3
    assert not Amendment.objects.exists()


# ---------------------------------------------------------------- indexes


def test_index_values_are_entered_by_who_may_and_shown_to_everyone(
    adv: User, commercial: User
) -> None:
    series = IndexSeries.objects.get(code="syntec_revise")
    url = reverse("web:index_list")

    response = client_for(adv).post(
        url, {"series": str(series.pk), "month": "2026-08", "value": "305,2"}
    )
    assert response.status_code == 302
    value = IndexValue.objects.get(series=series)
    assert value.month == dt.date(2026, 8, 1) and value.value == D("305.2")

    commercial_client = client_for(commercial)
    html = html_of(commercial_client.get(url))
    assert "305,2" in html and 'id="index-form"' not in html
    response = commercial_client.post(
        url, {"series": str(series.pk), "month": "2026-09", "value": "306"}
    )
    assert response.status_code == 403
    assert IndexValue.objects.count() == 1

    response = client_for(adv).post(
        url, {"series": str(series.pk), "month": "13/2026", "value": "0"}
    )
    assert response.status_code == 400
    assert IndexValue.objects.count() == 1


# ---------------------------------------------------------------- renewal worklist


def test_the_adv_worklist_lists_notice_deadlines_coming_soon(adv: User, commercial: User) -> None:
    def tacit(renewal_in_days: int, name: str) -> Contract:
        return make_contract(
            adv,
            [contract_line("recurring", "100", frequency="monthly")],
            customer=CustomerFactory(name=name),
            start=add_months(today() + dt.timedelta(days=renewal_in_days), -12),
            tacit_renewal=True,
            initial_term_months=12,
            notice_months=3,
        )

    near = tacit(120, "Clinique du Parc")  # deadline about a month away
    sooner = tacit(100, "Hôtel des Voyageurs")  # about ten days away
    far = tacit(300, "Lycée Jean Moulin")  # deadline in about seven months
    not_tacit = make_contract(
        adv, [contract_line("recurring", "100", frequency="monthly")], start=today()
    )

    html = html_of(client_for(adv).get("/"))

    worklist = section(html, "worklist-renewals")
    assert near.number in worklist and sooner.number in worklist
    assert far.number not in worklist and not_tacit.number not in worklist
    assert worklist.index(sooner.number) < worklist.index(near.number)  # soonest first
    renewal = renewal_of(near, today())
    assert renewal is not None
    assert renewal.actionable_deadline.strftime("%d/%m/%Y") in worklist
    assert f">{renewal.days_left} " in worklist  # days left

    assert "worklist-renewals" not in html_of(client_for(commercial).get("/"))


def test_the_renewal_worklist_costs_one_query(adv: User, django_assert_num_queries: Any) -> None:
    from levier.web.views.contracts import renewal_worklist

    for days in (20, 50, 80, 110, 140):
        make_contract(
            adv,
            [contract_line("recurring", "100", frequency="monthly")],
            start=add_months(today() + dt.timedelta(days=days), -12),
            tacit_renewal=True,
            initial_term_months=12,
            notice_months=1,
        )
    with django_assert_num_queries(1):
        rows = renewal_worklist(today())
    assert [r.renewal.actionable_deadline for r in rows] == sorted(
        r.renewal.actionable_deadline for r in rows
    )
    assert len(rows) == 3


def test_renewal_dates_follow_the_notice_clause(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("recurring", "100", frequency="monthly")],
        start=dt.date(2025, 1, 1),
        tacit_renewal=True,
        initial_term_months=12,
        notice_months=3,
    )
    renewal = renewal_of(contract, dt.date(2025, 10, 15))
    assert renewal is not None
    assert renewal.renewal == dt.date(2026, 1, 1)
    assert renewal.deadline == dt.date(2025, 9, 30) and renewal.deadline_passed
    # too late for 2026: the next deadline in the ADV's hands is the following year's
    assert renewal.actionable_renewal == dt.date(2027, 1, 1)
    assert renewal.actionable_deadline == dt.date(2026, 9, 30)
    assert renewal_of(contract, dt.date(2025, 9, 30)) == type(renewal)(
        dt.date(2026, 1, 1),
        dt.date(2025, 9, 30),
        dt.date(2026, 1, 1),
        dt.date(2025, 9, 30),
        dt.date(2025, 9, 30),
    )


# ---------------------------------------------------------------- archived documents

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def test_a_signed_pdf_is_archived_listed_and_downloaded_unchanged(
    adv: User, commercial: User, auditeur: User
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from levier.contracts.models import ArchivedDocument

    contract = make_contract(adv, [contract_line("on_order", "100")], start=today())
    url = reverse("web:contract_document_upload", args=[contract.pk])

    response = client_for(commercial).post(
        url,
        {
            "file": SimpleUploadedFile("contrat signé.pdf", PDF, "application/pdf"),
            "kind": "signed_contract",
        },
    )

    assert response.status_code == 302, html_of(response)
    document = ArchivedDocument.objects.get(contract=contract)
    assert document.kind == "signed_contract" and document.size == len(PDF)
    html = html_of(client_for(auditeur).get(reverse("web:contract_detail", args=[contract.pk])))
    documents = section(html, "documents")
    assert document.sha256 in documents and "contrat" in documents
    assert 'id="upload-form"' not in documents  # an auditor reads, never archives

    download = client_for(auditeur).get(
        reverse("web:contract_document_download", args=[contract.pk, document.pk])
    )
    assert download.status_code == 200
    assert download.content == PDF
    assert download["Content-Disposition"].startswith("attachment")


def test_only_pdfs_are_archived_and_only_by_who_may(adv: User, auditeur: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from levier.contracts.models import ArchivedDocument

    contract = make_contract(adv, [contract_line("on_order", "100")], start=today())
    url = reverse("web:contract_document_upload", args=[contract.pk])

    response = client_for(adv).post(
        url, {"file": SimpleUploadedFile("contrat.pdf", b"GIF89a...", "application/pdf")}
    )
    assert response.status_code == 400
    assert 'class="field-error"' in section(html_of(response), "documents")

    response = client_for(adv).post(
        url,
        {"file": SimpleUploadedFile("avenant.pdf", PDF), "kind": "signed_amendment"},
    )
    assert response.status_code == 400  # a signed amendment names its amendment

    response = client_for(auditeur).post(
        url, {"file": SimpleUploadedFile("contrat.pdf", PDF), "kind": "signed_contract"}
    )
    assert response.status_code == 403
    assert not ArchivedDocument.objects.exists()


def test_a_damaged_archive_is_reported_never_served(adv: User, settings: Any) -> None:
    import shutil

    from levier.contracts.archive import archive_document

    contract = make_contract(adv, [contract_line("on_order", "100")], start=today())
    document = archive_document(
        actor=adv, contract=contract, data=PDF, filename="c.pdf", kind="signed_contract"
    )
    shutil.rmtree(settings.ARCHIVE_DIR)

    response = client_for(adv).get(
        reverse("web:contract_document_download", args=[contract.pk, document.pk])
    )

    assert response.status_code == 500
    assert "c.pdf" in html_of(response) and PDF not in response.content


def test_the_contract_pdf_is_generated_and_archived(adv: User) -> None:
    from levier.billing.tests.factories import complete_company_profile
    from levier.contracts.models import ArchivedDocument

    complete_company_profile()
    contract = make_contract(
        adv, [contract_line("recurring", "100", frequency="monthly")], start=today()
    )

    response = client_for(adv).post(reverse("web:contract_document_generate", args=[contract.pk]))

    assert response.status_code == 302
    document = ArchivedDocument.objects.get(contract=contract)
    assert document.kind == "generated" and document.filename.startswith(contract.number)


# ---------------------------------------------------------------- junk


def test_junk_on_the_contract_routes_of_a_real_contract_is_never_a_500(
    personas: dict[Role, User],
) -> None:
    """test_no_server_error has no contract; here the ids are a real contract's, lines' and
    milestones' ids, and a validated order's."""
    import io

    from levier.sales.services import approve_order, submit_order
    from levier.web.tests.test_no_server_error import JUNK_BODIES, concrete_paths, routes

    adv, commercial = personas[Role.ADV], personas[Role.COMMERCIAL]
    contract = make_contract(
        adv,
        [
            contract_line(
                "milestones",
                "1000",
                milestones=[{"label": "Tout", "percent": "100", "trigger": "delivery"}],
            ),
            contract_line("on_delivery", "500"),
            contract_line("time_and_materials", "600"),
            contract_line("recurring", "100", frequency="monthly"),
        ],
        start=add_months(today(), -2),
        tacit_renewal=True,
        initial_term_months=12,
    )
    order = make_order(commercial, invoicing_mode="milestones")
    submit_order(actor=commercial, order=order)
    approve_order(actor=adv, order=order)
    ids = sorted(
        {contract.pk, order.pk}
        | set(contract.lines.values_list("pk", flat=True))
        | set(Milestone.objects.values_list("pk", flat=True))
    )
    mine = [
        route
        for route, _pattern in routes()
        if route.startswith(("contracts/", "indexes/")) or route.endswith("/contract/")
    ]
    assert len(mine) >= 12

    for role in (Role.ADV, Role.AUDITEUR):  # who may do everything here, who may do nothing
        client = Client(HTTP_ACCEPT="text/html")
        client.force_login(personas[role])
        client.raise_request_exception = True
        for route in mine:
            for path in concrete_paths(route, ids):
                for body in JUNK_BODIES:
                    for response in (client.get(path, body), client.post(path, body)):
                        assert response.status_code < 500, (role, path, body)
                upload = {"file": io.BytesIO(b"\xff\xfe\x00junk;;;\n" * 50), "kind": "other"}
                assert client.post(path, upload).status_code < 500, (role, path, "upload")


def test_a_validated_order_page_offers_its_contract_then_links_to_it(
    client: Client, adv: User, commercial: User
) -> None:
    from levier.sales.services import approve_order, submit_order
    from levier.sales.tests.factories import make_order

    order = make_order(commercial)
    submit_order(actor=commercial, order=order)
    order = approve_order(actor=adv, order=order)
    client.force_login(adv)
    page = client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert 'id="create-contract"' in page
    client.post(reverse("web:contract_from_order", args=[order.pk]))
    contract = order.contracts.get()
    page = client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert contract.number in page and 'id="create-contract"' not in page
