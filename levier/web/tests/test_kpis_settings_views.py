"""Administration › Indicateurs through the test client: KPI thresholds, the weekly report's
recipients, "send the report now" and the history of sendings.

Only the Administrateur opens or changes them; a bad input is a form error naming the field
with a 4xx and nothing changed; no input produces a 5xx.
"""

from __future__ import annotations

from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.billing.tests.factories import complete_company_profile
from levier.kpis.models import KpiThreshold, ReportRecipient, SendingStatus, WeeklyReportSending
from levier.kpis.report import report_recipients
from levier.kpis.thresholds import status_of
from levier.lib.testing.smtp import SmtpServer
from levier.lib.testing.smtp import smtp_server as smtp_server

pytestmark = pytest.mark.django_db

PAGES = ["web:kpi_thresholds", "web:kpi_report_settings"]
POSTS = [
    "web:kpi_thresholds",
    "web:kpi_recipient_add",
    "web:kpi_recipient_toggle",
    "web:kpi_report_send",
]
JUNK: list[dict[str, str]] = [
    {},
    {"key": "dso_simple", "amber": "1e999", "red": "NaN", "higher_is_better": "maybe"},
    {"key": "'; DROP TABLE x; --", "action": "explode", "amber": "\x00", "red": "-0"},
    {"key": "x" * 5000, "amber": "9" * 100, "red": "9" * 100},
    {"email": "@" * 400, "user": "99999999999999999999999", "row": "-1", "enabled": "2"},
    {"user": "abc", "row": "9223372036854775808", "as_of": "2026-02-30"},
    {"as_of": "0001-01-01"},
    {"as_of": "9999-12-31", "email": "a@b.fr", "user": "1"},
]


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text_of(response: Any) -> str:
    return unescape(response.content.decode())


def test_the_administrator_sees_every_figure_with_its_limits(admin_user: User) -> None:
    response = client_for(admin_user).get(reverse("web:kpi_thresholds"))
    assert response.status_code == 200
    page = text_of(response)
    for key in ("invoicing_delay_days", "invoice_error_rate", "dso_simple", "fae", "cei"):
        assert f'id="threshold-{key}"' in page
    assert 'value="45"' in page and 'value="60"' in page  # the DSO's defaults


def test_the_administrator_saves_limits(admin_user: User) -> None:
    response = client_for(admin_user).post(
        reverse("web:kpi_thresholds"),
        {"key": "dso_simple", "amber": "30", "red": "50,5", "higher_is_better": "0"},
    )
    assert response.status_code == 302
    row = KpiThreshold.objects.get(key="dso_simple")
    assert (row.amber, row.red, row.higher_is_better) == (Decimal("30"), Decimal("50.5"), False)
    assert status_of("dso_simple", Decimal("40")) == "amber"


def test_inconsistent_limits_are_a_form_error_on_the_row(admin_user: User) -> None:
    response = client_for(admin_user).post(
        reverse("web:kpi_thresholds"),
        {"key": "dso_simple", "amber": "60", "red": "45", "higher_is_better": "0"},
    )
    assert response.status_code == 400
    page = text_of(response)
    assert 'id="threshold-dso_simple" class="has-errors"' in page
    assert "rouge" in page.lower() or "red limit" in page.lower()
    assert 'value="60"' in page  # what was typed is kept
    assert not KpiThreshold.objects.exists()


def test_no_status_then_default_again(admin_user: User) -> None:
    client = client_for(admin_user)
    url = reverse("web:kpi_thresholds")
    assert client.post(url, {"key": "cei", "action": "clear"}).status_code == 302
    assert status_of("cei", Decimal("10")) is None
    assert client.post(url, {"key": "cei", "action": "reset"}).status_code == 302
    assert status_of("cei", Decimal("10")) == "red"


def test_an_unknown_figure_is_refused_with_a_message(admin_user: User) -> None:
    response = client_for(admin_user).post(
        reverse("web:kpi_thresholds"), {"key": "as_of", "amber": "1", "red": "2"}
    )
    assert response.status_code == 400
    assert "as_of" in text_of(response)


def test_the_report_page_lists_the_direction_and_the_sendings(
    admin_user: User, direction: User
) -> None:
    WeeklyReportSending.objects.create(
        week_start="2026-11-16",
        as_of="2026-11-15",
        trigger="weekly_job",
        status=SendingStatus.FAILED,
        recipients=["franck.direction@example.test"],
        error="ConnectionRefusedError: [Errno 111] Connection refused",
    )
    response = client_for(admin_user).get(reverse("web:kpi_report_settings"))
    assert response.status_code == 200
    page = text_of(response)
    assert "franck.direction@example.test" in page
    assert "ConnectionRefusedError" in page


def test_recipients_are_added_disabled_and_removed(
    admin_user: User, direction: User, compta: User
) -> None:
    client = client_for(admin_user)
    response = client.post(reverse("web:kpi_recipient_add"), {"email": "DAF@cabinet.fr"})
    assert response.status_code == 302
    assert client.post(reverse("web:kpi_recipient_add"), {"user": compta.pk}).status_code == 302
    assert report_recipients() == [
        "franck.direction@example.test",
        "daf@cabinet.fr",
        "emma.compta@example.test",
    ]
    response = client.post(
        reverse("web:kpi_recipient_toggle"), {"user": direction.pk, "enabled": "0"}
    )
    assert response.status_code == 302
    assert "franck.direction@example.test" not in report_recipients()
    outside = ReportRecipient.objects.get(email="daf@cabinet.fr")
    assert client.post(reverse("web:kpi_recipient_remove", args=[outside.pk])).status_code == 302
    assert report_recipients() == ["emma.compta@example.test"]
    # A Direction user is disabled, never removed.
    own = ReportRecipient.objects.get(user=direction)
    response = client.post(reverse("web:kpi_recipient_remove", args=[own.pk]))
    assert response.status_code == 400
    assert ReportRecipient.objects.filter(pk=own.pk).exists()


def test_a_bad_address_is_a_form_error(admin_user: User) -> None:
    response = client_for(admin_user).post(
        reverse("web:kpi_recipient_add"), {"email": "pas-une-adresse"}
    )
    assert response.status_code == 400
    page = text_of(response)
    assert 'value="pas-une-adresse"' in page
    assert 'class="field-error"' in page
    assert not ReportRecipient.objects.exists()


def test_send_now_emails_this_weeks_report(
    smtp_server: SmtpServer, admin_user: User, direction: User
) -> None:
    response = client_for(admin_user).post(reverse("web:kpi_report_send"), {"as_of": ""})
    assert response.status_code == 302
    [message] = smtp_server.wait_for(1)
    assert "tableau de bord de la semaine du" in str(message["Subject"])
    sending = WeeklyReportSending.objects.get()
    assert sending.status == SendingStatus.SENT and sending.requested_by == admin_user
    page = text_of(client_for(admin_user).get(reverse("web:kpi_report_settings")))
    assert "franck.direction@example.test" in page


def test_send_now_without_recipient_says_why(admin_user: User) -> None:
    response = client_for(admin_user).post(reverse("web:kpi_report_send"))
    assert response.status_code == 409
    assert 'class="field-error"' in text_of(response)
    assert WeeklyReportSending.objects.get().status == SendingStatus.NO_RECIPIENT


@pytest.mark.parametrize("as_of", ["31/12/2026", "2099-01-05", "1999-12-31", "x" * 30])
def test_send_now_refuses_a_bad_week(admin_user: User, direction: User, as_of: str) -> None:
    response = client_for(admin_user).post(reverse("web:kpi_report_send"), {"as_of": as_of})
    assert response.status_code == 400
    assert not WeeklyReportSending.objects.exists()


@pytest.mark.parametrize(
    "role", [Role.COMMERCIAL, Role.ADV, Role.COMPTABILITE, Role.DIRECTION, Role.AUDITEUR]
)
def test_only_the_administrator_opens_or_changes_the_settings(
    personas: dict[Role, User], role: Role
) -> None:
    client = client_for(personas[role])
    for name in PAGES:
        assert client.get(reverse(name)).status_code == 403
    for name in POSTS:
        response = client.post(reverse(name), {"key": "dso_simple", "amber": "1", "red": "2"})
        assert response.status_code == 403
    assert client.post(reverse("web:kpi_recipient_remove", args=[1])).status_code == 403
    assert not KpiThreshold.objects.exists()
    assert not WeeklyReportSending.objects.exists()


def test_a_visitor_is_sent_to_the_login_page(db: None) -> None:
    response = Client().get(reverse("web:kpi_thresholds"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_junk_never_makes_a_server_error(admin_user: User, direction: User) -> None:
    client = client_for(admin_user)
    for name in POSTS:
        for body in JUNK:
            response = client.post(reverse(name), body)
            assert response.status_code < 500, (name, body, response.status_code)
    for pk in (1, 2**62, 2**63 + 5):
        response = client.post(reverse("web:kpi_recipient_remove", args=[pk]))
        assert response.status_code < 500
    for name in PAGES:
        assert client.get(reverse(name), {"page": "-1"}).status_code == 200
    assert client.get(reverse("web:kpi_report_send")).status_code == 405
