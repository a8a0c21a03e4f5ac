"""The KPI dashboard and its drill-down lists: figures, links, history, exports, bad input."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.billing.tests.factories import complete_company_profile
from levier.collections.payments import Portion, allocate_payment
from levier.collections.tests.factories import issued_invoice, payment
from levier.customers.tests.factories import CustomerFactory
from levier.kpis import services as kpi_services
from levier.kpis.drilldown import DRILLDOWN_KEYS, Column, DrillDown
from levier.kpis.history import figures_date
from levier.kpis.models import KpiSnapshot
from levier.kpis.services import HEADLINE, compute_headline, compute_kpis
from levier.kpis.thresholds import status_of
from levier.web.views import kpis as views

D = Decimal
NBSP = "\u00a0"
AS_OF = dt.date(2026, 10, 31)
DASHBOARD = reverse("web:kpis_dashboard")


def detail(key: str) -> str:
    return reverse("web:kpis_drilldown", args=[key])


def client_for(user: User, language: str = "fr") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def html_of(response: Any) -> str:
    assert response.status_code == 200, response.content[:2000]
    return response.content.decode()


def section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    end = html.find('class="card', start + 1)
    return html[start : end if end != -1 else None]


def card(html: str, key: str) -> str:
    start = html.index(f'data-kpi="{key}"')
    end = html.find("</article>", start)
    return html[start:end]


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


@pytest.fixture
def books(adv: User, compta: User) -> dict[str, Any]:
    """Alpha owes 1 000 € on a June invoice (1 200 TTC, 200 paid in July, due 07-01: over
    90 days late on 10-31) and 2 400 € on an October invoice due 10-31 (not due yet).

    At 31/10/2026: AR = 3 400; sales of the last 90 days = 2 400; DSO = 3 400 ÷ 2 400 × 90
    = 127.5 days.
    """
    alpha = CustomerFactory(name="Alpha Industrie")
    june = issued_invoice(adv, alpha, net="1000", issue_date=dt.date(2026, 6, 1))
    october = issued_invoice(adv, alpha, net="2000", issue_date=dt.date(2026, 10, 1))
    paid = payment(compta, alpha, "200", received_on=dt.date(2026, 7, 15))
    allocate_payment(actor=compta, payment=paid, portions=[Portion(june.pk, D("200"))])
    return {"alpha": alpha, "june": june, "october": october}


def query(**params: str) -> str:
    values = {"as_of": AS_OF.isoformat(), "period_days": "90", **params}
    return "&amp;".join(f"{key}={value}" for key, value in values.items())


# --------------------------------------------------------------------------- dashboard


def test_the_dashboard_shows_the_five_headline_cards_each_linked_to_its_list(
    direction: User, books: dict[str, Any]
) -> None:
    html = html_of(client_for(direction).get(DASHBOARD, {"as_of": "2026-10-31"}))
    for headline in HEADLINE:
        assert f'data-kpi="{headline.key}"' in html
    dso = card(html, "dso_simple")
    assert "127,5" in dso  # 3 400 ÷ 2 400 × 90
    assert f'href="{detail("dso")}?{query()}"' in dso
    assert f'href="{detail("invoicing_delay")}?{query()}"' in card(html, "invoicing_delay_days")
    assert f'href="{detail("invoice_errors")}?{query()}"' in card(html, "invoice_error_rate")
    assert f'href="{detail("credit_notes")}?{query()}"' in card(html, "invoice_error_rate")
    assert f'href="{detail("fae")}?{query()}"' in card(html, "fae")
    assert f'href="{detail("pca")}?{query()}"' in card(html, "fae")
    assert f'href="{detail("disputed_invoices")}?{query()}"' in card(html, "dispute_rate")
    for headline in HEADLINE:
        assert 'class="chart chart-sparkline"' in card(html, headline.key)


def test_the_aged_balance_and_the_collection_figures_link_to_their_documents(
    direction: User, books: dict[str, Any]
) -> None:
    html = html_of(client_for(direction).get(DASHBOARD, {"as_of": "2026-10-31"}))
    aged = section(html, "kpi-aged")
    over_90 = re.search(r'data-bucket="over_90"><a href="([^"]+)">([^<]+)</a>', aged)
    not_due = re.search(r'data-bucket="not_due"><a href="([^"]+)">([^<]+)</a>', aged)
    assert over_90 and not_due
    assert over_90.group(2) == f"1{NBSP}000,00{NBSP}€"
    assert not_due.group(2) == f"2{NBSP}400,00{NBSP}€"
    assert over_90.group(1) == f"{detail('aged_balance')}?{query(bucket='over_90')}"
    assert f"3{NBSP}400,00{NBSP}€" in aged  # the total
    assert 'class="chart chart-bar"' in aged
    collection = section(html, "kpi-collection")
    assert f'<a href="{detail("receivables")}?{query()}">3{NBSP}400,00{NBSP}€</a>' in collection
    assert f'<a href="{detail("sales")}?{query()}">2{NBSP}400,00{NBSP}€</a>' in collection


def test_the_top_overdue_customers_link_to_their_overdue_invoices(
    direction: User, books: dict[str, Any]
) -> None:
    html = html_of(client_for(direction).get(DASHBOARD, {"as_of": "2026-10-31"}))
    overdue = section(html, "kpi-overdue")
    alpha = books["alpha"]
    assert "Alpha Industrie" in overdue
    assert (
        f'<a href="{detail("overdue")}?{query(customer=str(alpha.pk))}">1{NBSP}000,00{NBSP}€</a>'
        in overdue
    )
    assert '<td class="num">122</td>' in overdue  # due 01/07, 122 days late on 31/10


def test_the_cash_forecast_has_13_weeks_each_linked_to_its_invoices(
    direction: User, books: dict[str, Any]
) -> None:
    html = html_of(client_for(direction).get(DASHBOARD, {"as_of": "2026-10-31"}))
    forecast = section(html, "kpi-forecast")
    weeks = re.findall(r"week=(\d{4}-\d{2}-\d{2})", forecast)
    assert len(weeks) == 14  # 13 weeks and "later"
    assert weeks[0] == "2026-10-26"  # the Monday of as_of's week
    assert forecast.count('class="chart-bar') == 13


def test_every_role_may_open_the_dashboard(personas: dict[Role, User]) -> None:
    for user in personas.values():
        assert client_for(user).get(DASHBOARD).status_code == 200, user.role


def test_the_menu_links_the_dashboard_for_every_role(personas: dict[Role, User]) -> None:
    for user in personas.values():
        html = client_for(user).get(reverse("web:order_list")).content.decode()
        assert f'href="{DASHBOARD}"' in html, user.role


def test_the_direction_home_is_the_dashboard_with_the_orders_awaiting_its_approval(
    direction: User, adv: User
) -> None:
    html = html_of(client_for(direction).get("/"))
    assert 'class="kpi-cards"' in html
    assert 'id="worklist-awaiting"' in html
    assert 'href="/?worklist=1"' in html
    worklist = html_of(client_for(direction).get("/?worklist=1"))
    assert 'class="kpi-cards"' not in worklist and 'id="worklist-awaiting"' in worklist
    assert 'class="kpi-cards"' not in html_of(client_for(adv).get("/"))


def test_without_snapshots_the_dashboard_computes_last_weeks_headline_only(
    direction: User, books: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    full: list[tuple[dt.date, int]] = []
    headline: list[tuple[dt.date, int]] = []

    def counting(as_of: dt.date, period_days: int = 90) -> Any:
        full.append((as_of, period_days))
        return compute_kpis(as_of, period_days)

    def counting_headline(as_of: dt.date, period_days: int = 90) -> Any:
        headline.append((as_of, period_days))
        return compute_headline(as_of, period_days)

    monkeypatch.setattr(kpi_services, "compute_kpis", counting)
    monkeypatch.setattr(kpi_services, "compute_headline", counting_headline)
    with translation.override("en"):
        html = html_of(
            client_for(direction, "en").get(DASHBOARD, {"as_of": "2026-11-01", "period_days": "90"})
        )
    assert full == [(dt.date(2026, 11, 1), 90)]
    assert headline == [(dt.date(2026, 10, 25), 90)]
    before = compute_kpis(dt.date(2026, 10, 25), 90)
    now = compute_kpis(dt.date(2026, 11, 1), 90)
    assert before.dso_simple is not None and now.dso_simple is not None
    dso = card(html, "dso_simple")
    assert "vs 25/10" in dso
    change = now.dso_simple - before.dso_simple
    if change:
        assert f"{change:+.1f} d" in dso
    else:
        assert "kpi-trend-same" in dso


def test_the_headline_alone_equals_the_full_computation(books: dict[str, Any]) -> None:
    full = compute_kpis(dt.date(2026, 10, 25), 90)
    assert compute_headline(dt.date(2026, 10, 25), 90) == {
        key: getattr(full, key)
        for key in (
            "invoicing_delay_days",
            "invoice_error_rate",
            "dso_simple",
            "fae",
            "dispute_rate",
        )
    }


def test_midweek_the_cards_compare_with_the_last_weekly_report(
    direction: User, books: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # as_of Thursday 05/11: the last report is Monday 02/11's, as of Sunday 01/11.
    reported = compute_kpis(dt.date(2026, 11, 1), 90).as_json()
    reported["dso_simple"] = 10.0
    KpiSnapshot.objects.create(
        week_start=dt.date(2026, 11, 2),
        as_of=dt.date(2026, 11, 1),
        period_days=90,
        figures=reported,
        source="backfill",
    )

    def refused(as_of: dt.date, period_days: int = 90) -> Any:
        raise AssertionError("last week's figures were stored: nothing to recompute")

    monkeypatch.setattr(kpi_services, "compute_headline", refused)
    with translation.override("en"):
        html = html_of(client_for(direction, "en").get(DASHBOARD, {"as_of": "2026-11-05"}))
    now = compute_kpis(dt.date(2026, 11, 5), 90).dso_simple
    assert now is not None
    dso = card(html, "dso_simple")
    assert "vs 01/11" in dso
    assert f"{now - D('10.0'):+.1f} d" in dso


def test_the_change_since_last_week_uses_the_stored_snapshot_of_that_week(
    direction: User, books: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # as_of Sunday 01/11: last week is Sunday 25/10, the snapshot of Monday 26/10.
    previous = compute_kpis(dt.date(2026, 10, 25), 90).as_json()
    previous["dso_simple"] = 120.0
    KpiSnapshot.objects.create(
        week_start=dt.date(2026, 10, 26),
        as_of=dt.date(2026, 10, 25),
        period_days=90,
        figures=previous,
        source="backfill",
    )
    calls: list[dt.date] = []

    def counting(as_of: dt.date, period_days: int = 90) -> Any:
        calls.append(as_of)
        return compute_kpis(as_of, period_days)

    monkeypatch.setattr(kpi_services, "compute_kpis", counting)
    with translation.override("en"):
        html = html_of(client_for(direction, "en").get(DASHBOARD, {"as_of": "2026-11-01"}))
    assert calls == [dt.date(2026, 11, 1)]  # last week's figures were read, not recomputed
    now = compute_kpis(dt.date(2026, 11, 1), 90).dso_simple
    assert now is not None
    change = now - D("120.0")
    dso = card(html, "dso_simple")
    assert f"+{change:.1f} d" in dso
    assert "vs 25/10" in dso
    assert "kpi-trend-worse" in dso  # a DSO that grows is worse


def test_the_sparklines_and_the_dso_trend_read_the_stored_weekly_snapshots(
    direction: User, books: dict[str, Any]
) -> None:
    figures = compute_kpis(dt.date(2026, 10, 25), 90).as_json()
    for weeks_back, dso in ((1, 100.0), (2, 110.0), (3, 130.0)):
        monday = dt.date(2026, 10, 26) - dt.timedelta(weeks=weeks_back - 1)
        KpiSnapshot.objects.create(
            week_start=monday,
            as_of=figures_date(monday),
            period_days=90,
            figures={**figures, "dso_simple": dso, "as_of": figures_date(monday).isoformat()},
            source="backfill",
        )
    context = views.dashboard_context(views.Params(dt.date(2026, 10, 31), 90, {}))
    dso_card = next(c for c in context["cards"] if c.key == "dso_simple")
    points = re.search(r'class="chart-line" points="([^"]+)"', dso_card.sparkline)
    assert points is not None
    assert len(points.group(1).split()) == 4  # 3 stored weeks and today's value
    assert context["has_history"] is True
    assert context["dso_chart"].count('class="chart-point"') == 4


def test_each_card_shows_its_status_against_the_thresholds(
    direction: User, books: dict[str, Any]
) -> None:
    html = html_of(client_for(direction).get(DASHBOARD, {"as_of": "2026-10-31"}))
    figures = compute_kpis(AS_OF, 90)
    dso_status = status_of("dso_simple", figures.dso_simple)
    assert dso_status == "red"  # 127.5 days, over the 60-day default
    assert 'data-kpi="dso_simple"' in html
    assert (
        "kpi-status-red" in html[html.index("kpi-card", html.index('data-kpi="dso_simple"') - 80) :]
    )
    assert 'data-status="red"' in card(html, "dso_simple")


def test_a_past_date_is_said_to_be_recomputed(direction: User) -> None:
    with translation.override("en"):
        html = html_of(client_for(direction, "en").get(DASHBOARD, {"as_of": "2026-10-31"}))
        assert "Recomputed for a past date." in html
        assert "Recomputed" not in html_of(client_for(direction, "en").get(DASHBOARD))


# --------------------------------------------------------------------------- drill-down


def test_a_drilldown_lists_the_documents_with_their_total_and_links(
    direction: User, books: dict[str, Any]
) -> None:
    html = html_of(
        client_for(direction).get(
            detail("receivables"), {"as_of": "2026-10-31", "period_days": "90"}
        )
    )
    june, october = books["june"], books["october"]
    assert f'<a href="{reverse("web:invoice_detail", args=[june.pk])}">{june.number}</a>' in html
    assert (
        f'<a href="{reverse("web:invoice_detail", args=[october.pk])}">{october.number}</a>' in html
    )
    assert f'id="kpi-total">3{NBSP}400,00{NBSP}€<' in html
    assert f"1{NBSP}000,00" in html  # June's open amount that day
    assert f'href="?{query()}&amp;format=csv"' in html
    assert f'href="?{query()}&amp;format=xlsx"' in html


def test_a_drilldown_keeps_its_filters_in_the_export_links(
    direction: User, books: dict[str, Any]
) -> None:
    html = html_of(
        client_for(direction).get(
            detail("aged_balance"), {"as_of": "2026-10-31", "bucket": "over_90"}
        )
    )
    assert books["june"].number in html and books["october"].number not in html
    assert f'href="?{query(bucket="over_90")}&amp;format=csv"' in html
    assert f'id="kpi-total">1{NBSP}000,00{NBSP}€<' in html


def test_a_drilldown_says_its_filters_in_words(direction: User, books: dict[str, Any]) -> None:
    alpha = books["alpha"]
    html = html_of(
        client_for(direction).get(
            detail("overdue"),
            {"as_of": "2026-10-31", "customer": str(alpha.pk), "bucket": "over_90"},
        )
    )
    assert '<span class="badge">Client&nbsp;: Alpha Industrie</span>' in html
    assert '<span class="badge">Jours de retard&nbsp;: Plus de 90 jours</span>' in html
    # The filters still travel raw in the form that changes the date.
    assert f'<input type="hidden" name="customer" value="{alpha.pk}">' in html


def test_the_invoicing_delay_of_one_mode_lists_only_that_modes_invoices(
    direction: User, books: dict[str, Any]
) -> None:
    """The dashboard's delay-by-mode rows link with `mode`: the list must honour it. The
    books' invoices come from no order nor contract: their mode is "other"."""
    october = books["october"].number
    client = client_for(direction)
    listed = {
        mode: html_of(client.get(detail("invoicing_delay"), {"as_of": "2026-10-31", "mode": mode}))
        for mode in ("", "other", "on_order")
    }
    assert october in listed[""] and october in listed["other"]
    assert october not in listed["on_order"]
    assert "Mode de facturation&nbsp;: À la commande" in listed["on_order"]


def test_the_csv_export_is_an_attachment_named_after_the_list_and_the_date(
    direction: User, books: dict[str, Any]
) -> None:
    response = client_for(direction).get(
        detail("receivables"), {"as_of": "2026-10-31", "format": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="levier-receivables-2026-10-31.csv"'
    )
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").strip().split("\r\n")
    assert len(lines) == 3  # the header and the two open invoices
    assert lines[1].startswith(books["june"].number + ";Alpha Industrie;01/06/2026;01/07/2026;122;")
    assert lines[1].endswith(";1200,00;1000,00")


def test_the_xlsx_export_opens_with_typed_cells(direction: User, books: dict[str, Any]) -> None:
    response = client_for(direction).get(
        detail("aged_balance"), {"as_of": "2026-10-31", "format": "xlsx", "bucket": "not_due"}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="levier-aged-balance-2026-10-31.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    assert rows[1][0] == books["october"].number
    assert rows[1][-1] == 2400


def test_a_long_list_is_paginated_by_100(direction: User, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"number": f"F-{n:03d}", "amount": D(n), "url": f"/invoices/{n}/"} for n in range(250)]

    def fake(key: str, as_of: dt.date, period_days: int, filters: Any) -> DrillDown:
        return DrillDown(
            key,
            "Liste",
            "Explication",
            (Column("number", "Numéro", "text"), Column("amount", "Montant", "money")),
            rows,
            D("31125.00"),
            as_of,
            period_days,
        )

    monkeypatch.setattr(views, "drilldown", fake)
    client = client_for(direction)
    first = html_of(client.get(detail("receivables")))
    assert len(re.findall(r'<a href="/invoices/\d', first)) == 100
    assert "F-000" in first and "F-100" not in first
    assert "page=2" in first
    last = html_of(client.get(detail("receivables"), {"page": "3"}))
    assert len(re.findall(r'<a href="/invoices/\d', last)) == 50 and "F-249" in last
    junk = html_of(client.get(detail("receivables"), {"page": "abc"}))
    assert "F-000" in junk


# --------------------------------------------------------------------------- bad input


BAD_PARAMETERS = [
    ({"as_of": "31/10/2026"}, "as_of"),
    ({"as_of": "2026-02-30"}, "as_of"),
    ({"as_of": "1999-12-31"}, "as_of"),
    ({"as_of": "2999-01-01"}, "as_of"),
    ({"as_of": "x" * 500}, "as_of"),
    ({"period_days": "45"}, "period_days"),
    ({"period_days": "abc"}, "period_days"),
]


@pytest.mark.parametrize(("params", "field"), BAD_PARAMETERS)
@pytest.mark.parametrize("url", [DASHBOARD, detail("aged_balance")])
def test_a_bad_date_or_period_is_a_400_naming_it(
    direction: User, url: str, params: dict[str, str], field: str
) -> None:
    response = client_for(direction).get(url, params)
    assert response.status_code == 400
    assert f"<strong>{field}</strong>" in response.content.decode()


@pytest.mark.parametrize(
    ("key", "params", "field"),
    [
        ("aged_balance", {"bucket": "over_9000"}, "bucket"),
        ("overdue", {"customer": "abc"}, "customer"),
        ("cash_forecast", {"week": "2026-10-27"}, "week"),  # a Tuesday
        ("disputes_opened", {"reason": "boredom"}, "reason"),
        ("invoicing_delay", {"mode": "teleport"}, "mode"),
        ("order_validation", {"role": "root"}, "role"),
        ("dso", {"format": "pdf"}, "format"),
    ],
)
def test_a_bad_filter_or_format_is_a_400_naming_it(
    direction: User, key: str, params: dict[str, str], field: str
) -> None:
    response = client_for(direction).get(detail(key), {"as_of": "2026-10-31", **params})
    assert response.status_code == 400
    assert f"<strong>{field}</strong>" in response.content.decode()


def test_an_unknown_list_is_a_404(direction: User) -> None:
    assert client_for(direction).get(detail("nope")).status_code == 404
    assert client_for(direction).get(detail("<script>")).status_code == 404


def test_the_dashboard_needs_a_login(client: Client) -> None:
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    response = client.get(detail("dso"))
    assert response.status_code == 302


JUNK: list[dict[str, str]] = [
    {},
    {"as_of": "junk", "period_days": "-1"},
    {"as_of": "0001-01-01", "period_days": "1e9", "page": "-1"},
    {"as_of": "2026-10-31", "period_days": "365", "customer": "99999999999999999999"},
    {
        "as_of": "2026-10-31",
        "customer": "-1",
        "bucket": "over_9000",
        "week": "2026-13-01",
        "reason": "<script>",
        "mode": "<script>",
        "role": "root",
        "page": "99999",
    },
    {"as_of": "2026-10-31", "week": "2026-10-27", "role": "adv", "format": "CSV"},
    {"as_of": "2026-10-31", "week": "2031-01-06", "format": "xlsx", "customer": "1"},
    {"as_of": "2026-10-31\x00", "period_days": "90\x00"},
    {"page": "%" * 300, "format": "csv", "as_of": "2026-10-31", "reason": "price"},
]


def test_junk_in_every_parameter_of_every_kpi_route_as_each_role_is_never_a_server_error(
    personas: dict[Role, User], books: dict[str, Any]
) -> None:
    routes = ["/", DASHBOARD, *[detail(key) for key in DRILLDOWN_KEYS], detail("junk")]
    for user in personas.values():
        client = client_for(user)
        client.raise_request_exception = True
        for route in routes:
            for params in JUNK:
                response = client.get(route, params)
                assert response.status_code < 500, (user.role, route, params)
                if response.streaming:  # a CSV: read it, its rows are fetched while streaming
                    b"".join(response.streaming_content)
        assert client.post(DASHBOARD).status_code == 405


def test_the_number_of_queries_of_the_dashboard_does_not_grow_with_the_documents(
    direction: User, adv: User, books: dict[str, Any]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(direction)
    client.get(DASHBOARD, {"as_of": "2026-10-31"})  # sessions, caches
    with CaptureQueriesContext(connection) as small:
        html_of(client.get(DASHBOARD, {"as_of": "2026-10-31"}))
    for n in range(8):
        customer = CustomerFactory(name=f"Client {n}")
        issued_invoice(adv, customer, net=str(100 + n), issue_date=dt.date(2026, 10, 2 + n))
    with CaptureQueriesContext(connection) as large:
        html = html_of(client.get(DASHBOARD, {"as_of": "2026-10-31"}))
    # the new invoices are counted: 3 400 + 8 × 120 + 1.2 × (0 + 1 + … + 7) = 4 393.60
    assert f"4{NBSP}393,60{NBSP}€" in section(html, "kpi-aged")
    assert len(large.captured_queries) == len(small.captured_queries)


def test_a_link_to_a_list_cannot_carry_a_filter_the_list_view_drops() -> None:
    params = views.Params(AS_OF, 90, {})
    assert "mode=recurring" in views.drill_url("invoicing_delay", params, mode="recurring")
    with pytest.raises(ValueError, match="colour"):
        views.drill_url("invoicing_delay", params, colour="blue")
