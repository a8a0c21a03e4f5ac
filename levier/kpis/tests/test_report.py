"""The weekly report: a French A4 PDF of the week's snapshot, emailed to the Direction over a
real SMTP server (aiosmtpd), logged and audited; its recipients; the Monday job."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from email.message import EmailMessage
from io import StringIO
from typing import Any

import pytest
from celery.schedules import crontab
from django.core.management import CommandError, call_command
from django.template.loader import render_to_string
from pypdf import PdfReader
from weasyprint import HTML

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.accounts.tests.factories import UserFactory
from levier.audit.choices import Verb
from levier.audit.models import AuditEvent
from levier.billing.choices import CreditReason
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.choices import DisputeReason
from levier.collections.disputes import open_dispute
from levier.collections.payments import Portion, allocate_payment
from levier.collections.statement import _Renderer
from levier.collections.tests.factories import issued_invoice, payment
from levier.customers.tests.factories import CustomerFactory
from levier.jobs import _REGISTRY, dispatch
from levier.kpis.history import snapshot_for_week, take_snapshot
from levier.kpis.jobs import weekly_kpi_report, weekly_kpi_snapshot
from levier.kpis.models import (
    KpiSnapshot,
    ReportRecipient,
    SendingStatus,
    SendingTrigger,
    SnapshotSource,
    WeeklyReportSending,
)
from levier.kpis.report import (
    REPORT_TEMPLATE,
    ReportNotSent,
    add_recipient,
    change,
    recipient_lines,
    remove_recipient,
    report_context,
    report_recipients,
    send_weekly_report,
    set_recipient_enabled,
    shown,
    weekly_report_pdf,
)
from levier.kpis.thresholds import save_threshold
from levier.lib.errors import ValidationFailed
from levier.lib.testing.smtp import SMTP_BACKEND, SmtpServer, free_port
from levier.lib.testing.smtp import smtp_server as smtp_server

pytestmark = pytest.mark.django_db

D = Decimal
MONDAY = dt.date(2026, 11, 16)  # figures as of Sunday 15/11/2026
LAST_MONDAY = dt.date(2026, 11, 9)


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def pdf_text(pdf: bytes) -> str:
    """All pages' text, every run of spaces (no-break ones included) as one space."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


@pytest.fixture
def book(adv: User, compta: User) -> dict[str, Any]:
    """A small book: one customer 74 days late, one not due with a price dispute, one paid."""
    late = CustomerFactory(name="Brasserie Lefèvre")
    disputed = CustomerFactory(name="Atelier Moreau")
    paid = CustomerFactory(name="Cabinet Roux")
    overdue = issued_invoice(adv, late, net="10000", issue_date=dt.date(2026, 8, 3))
    settled = issued_invoice(adv, paid, net="500", issue_date=dt.date(2026, 9, 1))
    current = issued_invoice(adv, disputed, net="2000", issue_date=dt.date(2026, 10, 20))
    money_in = payment(compta, paid, "600.00", received_on=dt.date(2026, 9, 25))
    allocate_payment(actor=compta, payment=money_in, portions=[Portion(settled.pk, D("600"))])
    open_dispute(
        actor=adv,
        invoice=current,
        reason=DisputeReason.PRICE,
        owner=adv,
        due_on=dt.date(2026, 11, 30),
        opened_on=dt.date(2026, 11, 2),
    )
    return {"overdue": overdue, "current": current}


def attachment(message: EmailMessage) -> tuple[str, bytes]:
    parts = [part for part in message.iter_attachments()]
    assert len(parts) == 1
    part = parts[0]
    assert part.get_content_type() == "application/pdf"
    return str(part.get_filename()), bytes(part.get_content())


def test_the_weekly_report_arrives_by_email_as_a_french_pdf(
    smtp_server: SmtpServer, book: dict[str, Any], direction: User
) -> None:
    sent_to = send_weekly_report(MONDAY)
    assert sent_to == ["franck.direction@example.test"]
    [message] = smtp_server.wait_for(1)
    # Long enough to be folded after "Subject:": the unfolded value starts with the space.
    subject = str(message["Subject"]).strip()
    assert subject == "Levier — tableau de bord de la semaine du 16/11/2026"
    assert message["To"] == "franck.direction@example.test"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "semaine du lundi 16 novembre 2026" in text
    assert "chiffres arrêtés au dimanche 15 novembre 2026" in text
    assert "DSO (délai moyen de paiement clients)" in text
    assert "Taux de litiges" in text
    filename, pdf = attachment(message)
    assert filename == "levier-tableau-de-bord-2026-11-16.pdf"
    assert pdf.startswith(b"%PDF-")
    content = pdf_text(pdf)
    for expected in (
        "Tableau de bord de la semaine du 16/11/2026",
        "Chiffres arrêtés au dimanche 15 novembre 2026",
        "Les cinq indicateurs clés",
        "Délai moyen de facturation",
        "Balance âgée au 15/11/2026",
        "Tendance du DSO",
        "Prévision d'encaissements sur 13 semaines",
        "clients les plus en retard",
        "Brasserie Lefèvre",
        "12 000,00 €",  # Lefèvre's invoice, 74 days late on 15/11
        "74 j",
        "Litiges ouverts sur 90 jours, par motif",
    ):
        assert expected in content, expected
    assert "Cabinet Roux" not in content  # paid: not late
    # The sending is logged and audited; the week's snapshot was taken for it.
    row = WeeklyReportSending.objects.get()
    assert (row.status, row.trigger, row.week_start) == (
        SendingStatus.SENT,
        SendingTrigger.WEEKLY_JOB,
        MONDAY,
    )
    assert row.recipients == ["franck.direction@example.test"]
    assert row.as_of == dt.date(2026, 11, 15)
    event = AuditEvent.objects.get(verb=Verb.SEND, object_type="kpis.weeklyreportsending")
    assert "franck.direction@example.test" in event.comment
    assert snapshot_for_week(MONDAY) is not None


def _boxes(box: Any) -> Any:
    yield box
    for child in getattr(box, "children", None) or []:
        yield from _boxes(child)


def test_nothing_in_the_report_runs_off_the_page_even_with_large_amounts_every_week(
    adv: User, book: dict[str, Any]
) -> None:
    """13 weeks of seven-figure collections: the forecast's table once ran off the A4 page
    (its weeks side by side), its chart labels over each other."""
    for week in range(13):
        customer = CustomerFactory(payment_terms_days=14 + 7 * week)
        issued_invoice(adv, customer, net="987654.32", issue_date=dt.date(2026, 11, 2))
    context = report_context(MONDAY)
    assert [len(half) for half in context["forecast_halves"]] == [7, 6]
    renderer = _Renderer()
    document = HTML(string=render_to_string(REPORT_TEMPLATE, context)).render(
        font_config=renderer.font_config, stylesheets=[renderer.stylesheet]
    )
    for number, page in enumerate(document.pages, start=1):
        width = page._page_box.margin_width()
        beyond = [
            type(box).__name__
            for box in _boxes(page._page_box)
            if box.position_x + box.margin_width() > width + 0.5
        ]
        assert beyond == [], f"page {number}"
    assert "1 185 185,18 €" in pdf_text(weekly_report_pdf(MONDAY))  # 987 654,32 HT


def test_the_report_shows_the_stored_week_not_later_corrections(
    adv: User, book: dict[str, Any]
) -> None:
    take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    # A credit note dated 10/11, after the snapshot was stored: the week stays as reported.
    note = create_credit_note(actor=adv, invoice=book["overdue"], reason=CreditReason.DUPLICATE)
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 11, 10))
    context = report_context(MONDAY)
    assert context["receivables"] == "14\u202f400,00\u00a0€"  # 12,000 + 2,400 as reported
    assert context["aged_total"] == "14\u202f400,00\u00a0€"
    assert KpiSnapshot.objects.count() == 1


def test_each_card_shows_its_status_and_the_change_since_last_week(
    admin_user: User, book: dict[str, Any]
) -> None:
    take_snapshot(LAST_MONDAY, source=SnapshotSource.WEEKLY_JOB)
    take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    save_threshold(actor=admin_user, key="fae", amber="1", red="2", higher_is_better=False)
    cards = {card.key: card for card in report_context(MONDAY)["cards"]}
    assert list(cards) == [
        "invoicing_delay_days",
        "invoice_error_rate",
        "dso_simple",
        "fae",
        "dispute_rate",
    ]
    assert cards["fae"].status in ("green", None) or cards["fae"].status_label
    assert cards["dispute_rate"].beside == ""
    assert cards["invoice_error_rate"].beside.startswith("taux d'avoirs ")
    assert cards["fae"].beside.startswith("PCA ")
    dso = cards["dso_simple"]
    assert dso.value.endswith("\u00a0j")
    assert dso.status == "red" and dso.status_label == "rouge"  # 14,400 × 90 ÷ 2,400 days
    assert dso.change.startswith(("+", "\u2212")) or dso.change == "="
    assert "<svg" in dso.sparkline


def test_a_week_without_a_previous_snapshot_shows_no_change(book: dict[str, Any]) -> None:
    cards = report_context(MONDAY)["cards"]
    assert {card.change for card in cards} == {"n/d"}


def test_figures_are_printed_the_french_way() -> None:
    assert shown("dso_simple", D("42.5")) == "42,5\u00a0j"
    assert shown("dispute_rate", D("0.0312")) == "3,1\u00a0%"
    assert shown("fae", D("12345.6")) == "12\u202f345,60\u00a0€"
    assert shown("dso_simple", None) == "n/d"
    assert change("dso_simple", D("45.0"), D("42.5")) == "+2,5\u00a0j"
    assert change("dispute_rate", D("0.02"), D("0.025")) == "\u22120,5\u00a0pt"
    assert change("fae", D("100"), D("100")) == "="
    assert change("fae", D("100"), None) == "n/d"


def test_the_pdf_of_a_week_without_any_data_still_renders(direction: User) -> None:
    content = pdf_text(weekly_report_pdf(MONDAY))
    assert "Tableau de bord de la semaine du 16/11/2026" in content
    assert "Aucun client en retard au 15/11/2026." in content
    assert "Aucun litige ouvert sur la période." in content
    assert "n/d" in content  # no sales: DSO undefined, never a division error


# --- recipients ---------------------------------------------------------------------------------


def test_every_active_direction_user_receives_it_unless_disabled(admin_user: User) -> None:
    first = UserFactory(username="d1", role=Role.DIRECTION, email="D1@example.test")
    second = UserFactory(username="d2", role=Role.DIRECTION, email="d2@example.test")
    UserFactory(username="d3", role=Role.DIRECTION, email="d3@example.test", is_active=False)
    UserFactory(username="d4", role=Role.DIRECTION, email="")
    assert sorted(report_recipients()) == ["D1@example.test", "d2@example.test"]
    set_recipient_enabled(actor=admin_user, user_id=second.pk, enabled=False)
    assert report_recipients() == ["D1@example.test"]
    set_recipient_enabled(actor=admin_user, user_id=second.pk, enabled=True)
    assert sorted(report_recipients()) == ["D1@example.test", "d2@example.test"]
    lines = {line.name: line for line in recipient_lines()}
    assert lines[str(first)].automatic and lines[str(first)].receives
    no_address = next(line for line in recipient_lines() if not line.email)
    assert not no_address.receives and no_address.problem


def test_other_users_and_outside_addresses_can_be_added_disabled_and_removed(
    admin_user: User, direction: User, compta: User
) -> None:
    outside = add_recipient(actor=admin_user, email="  Expert.Comptable@Cabinet.FR ")
    assert outside.email == "expert.comptable@cabinet.fr"
    colleague = add_recipient(actor=admin_user, user_id=str(compta.pk))
    assert report_recipients() == [
        "franck.direction@example.test",
        "expert.comptable@cabinet.fr",
        "emma.compta@example.test",
    ]
    set_recipient_enabled(actor=admin_user, row_id=outside.pk, enabled=False)
    assert "expert.comptable@cabinet.fr" not in report_recipients()
    remove_recipient(actor=admin_user, row_id=colleague.pk)
    assert report_recipients() == ["franck.direction@example.test"]
    verbs = list(
        AuditEvent.objects.filter(object_type="kpis.reportrecipient")
        .order_by("pk")
        .values_list("verb", flat=True)
    )
    assert verbs == [Verb.CREATE, Verb.CREATE, Verb.UPDATE, Verb.DELETE]


def test_the_same_address_is_sent_once(admin_user: User, direction: User, compta: User) -> None:
    add_recipient(actor=admin_user, user_id=compta.pk)
    compta.email = "franck.direction@example.test"  # shared mailbox
    compta.save()
    assert report_recipients() == ["franck.direction@example.test"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "x" * 250 + "@a.fr"}, "email"),
        ({"email": "franck.direction@example.test"}, "email"),  # already receives it
        ({}, "email"),
        ({"email": "a@b.fr", "user_id": "1"}, "email"),
        ({"user_id": "abc"}, "user"),
        ({"user_id": "99999999999999999999999"}, "user"),
        ({"user_id": "-4"}, "user"),
    ],
)
def test_a_bad_recipient_is_refused_naming_the_field(
    admin_user: User, direction: User, data: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        add_recipient(actor=admin_user, **data)  # type: ignore[arg-type]
    assert field in refused.value.errors


def test_a_direction_user_is_disabled_not_removed(admin_user: User, direction: User) -> None:
    row = set_recipient_enabled(actor=admin_user, user_id=direction.pk, enabled=False)
    with pytest.raises(ValidationFailed):
        remove_recipient(actor=admin_user, row_id=row.pk)
    with pytest.raises(ValidationFailed):
        add_recipient(actor=admin_user, user_id=direction.pk)
    user_without_email = UserFactory(username="noemail", role=Role.ADV, email="")
    with pytest.raises(ValidationFailed) as refused:
        add_recipient(actor=admin_user, user_id=user_without_email.pk)
    assert "user" in refused.value.errors


@pytest.mark.parametrize(
    "role", [Role.COMMERCIAL, Role.ADV, Role.COMPTABILITE, Role.DIRECTION, Role.AUDITEUR]
)
def test_only_the_administrator_manages_recipients_and_sends_on_demand(
    personas: dict[Role, User], role: Role
) -> None:
    actor = personas[role]
    with pytest.raises(PermissionDenied):
        add_recipient(actor=actor, email="a@b.fr")
    with pytest.raises(PermissionDenied):
        set_recipient_enabled(actor=actor, user_id=personas[Role.DIRECTION].pk, enabled=False)
    with pytest.raises(PermissionDenied):
        send_weekly_report(MONDAY, actor=actor)
    assert not ReportRecipient.objects.exists()
    assert not WeeklyReportSending.objects.exists()


# --- failures -----------------------------------------------------------------------------------


def test_without_recipient_nothing_is_sent_and_the_log_says_why(admin_user: User) -> None:
    with pytest.raises(ReportNotSent):
        send_weekly_report(MONDAY)
    row = WeeklyReportSending.objects.get()
    assert row.status == SendingStatus.NO_RECIPIENT and row.recipients == []


def test_a_mail_server_down_is_logged_as_failed(settings: Any, direction: User) -> None:
    settings.EMAIL_BACKEND = SMTP_BACKEND
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with pytest.raises(ReportNotSent) as refused:
        send_weekly_report(MONDAY)
    assert "could not be sent" in str(refused.value.message) or "n'a pas pu" in str(
        refused.value.message
    )
    row = WeeklyReportSending.objects.get()
    assert row.status == SendingStatus.FAILED
    assert row.recipients == ["franck.direction@example.test"]
    assert "ConnectionRefusedError" in row.error


# --- the Monday job and the commands ------------------------------------------------------------


def test_the_monday_job_snapshots_then_sends_once_a_week(
    smtp_server: SmtpServer, direction: User
) -> None:
    assert weekly_kpi_report(as_of="2026-11-16") == ["franck.direction@example.test"]
    assert weekly_kpi_report(as_of="2026-11-17") == []  # the same week: not sent again
    assert len(smtp_server.messages) == 1
    assert KpiSnapshot.objects.get().source == SnapshotSource.WEEKLY_JOB
    # The button sends anyway (a new recipient, a lost email).
    admin = UserFactory(username="adm", role=Role.ADMINISTRATEUR)
    assert send_weekly_report(MONDAY, actor=admin) == ["franck.direction@example.test"]
    assert len(smtp_server.wait_for(2)) == 2
    assert list(WeeklyReportSending.objects.order_by("pk").values_list("trigger", flat=True)) == [
        SendingTrigger.WEEKLY_JOB,
        SendingTrigger.ON_DEMAND,
    ]


def test_the_job_with_nobody_to_send_to_logs_and_does_not_raise(db: None) -> None:
    assert weekly_kpi_report(as_of="2026-11-16") == []
    assert WeeklyReportSending.objects.get().status == SendingStatus.NO_RECIPIENT


def test_the_jobs_are_dispatched_like_the_others(smtp_server: SmtpServer, direction: User) -> None:
    assert dispatch(weekly_kpi_snapshot, as_of="2026-11-16")
    assert KpiSnapshot.objects.get().week_start == MONDAY
    assert dispatch(weekly_kpi_report, as_of="2026-11-16")
    assert len(smtp_server.wait_for(1)) == 1


def test_beat_runs_the_report_every_monday_at_half_past_seven() -> None:
    from levier.celery import app

    entry = app.conf.beat_schedule["weekly-kpi-report"]
    assert entry["task"] == "levier.kpis.jobs.weekly_kpi_report"
    assert entry["task"] in _REGISTRY
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert schedule.day_of_week == {1} and schedule.hour == {7} and schedule.minute == {30}


def test_the_command_sends_the_report_now(smtp_server: SmtpServer, direction: User) -> None:
    out = StringIO()
    call_command("send_kpi_report", "--as-of", "2026-11-18", stdout=out)
    assert "franck.direction@example.test" in out.getvalue()
    [message] = smtp_server.wait_for(1)
    assert "16/11/2026" in str(message["Subject"])
    assert WeeklyReportSending.objects.get().trigger == SendingTrigger.ON_DEMAND
    with pytest.raises(CommandError):
        call_command("send_kpi_report", "--as-of", "18/11/2026")


def test_the_weekly_command_is_the_monday_job_for_cron(
    smtp_server: SmtpServer, direction: User
) -> None:
    out = StringIO()
    call_command("send_kpi_report", "--weekly", "--as-of", "2026-11-16", stdout=out)
    assert "franck.direction@example.test" in out.getvalue()
    out = StringIO()
    call_command("send_kpi_report", "--weekly", "--as-of", "2026-11-16", stdout=out)
    assert "not sent" in out.getvalue()
    assert len(smtp_server.messages) == 1
    assert WeeklyReportSending.objects.get().trigger == SendingTrigger.WEEKLY_JOB
    assert KpiSnapshot.objects.get().source == SnapshotSource.WEEKLY_JOB


def test_the_command_without_recipient_fails_with_the_reason(db: None) -> None:
    with pytest.raises(CommandError, match=r"recipient|destinataire"):
        call_command("send_kpi_report", "--as-of", "2026-11-18")
