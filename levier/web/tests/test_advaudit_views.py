"""Audit ADV screens: upload a FEC and read the report, bad uploads on the form (never a 5xx),
the questionnaire, past audits reopened and downloaded, who may use them.

The FEC is `levier.advaudit.tests.test_services.sample_fec` (receivables 2,880 €, DSO
257.6 days, cash lever 2,398.82 €: the arithmetic is there)."""

from __future__ import annotations

import io
import json
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from levier.accounts.models import User
from levier.advaudit.models import AuditRun
from levier.advaudit.tests.test_services import SIREN, sample_builder
from levier.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
INDEX = reverse("web:advaudit")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fec_upload(name: str = f"{SIREN}FEC20251231.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, sample_builder().text().encode(), "text/plain")


def form_data(**extra: Any) -> dict[str, Any]:
    return {
        "source": "fec",
        "target_dso_days": "43",
        "financing_rate": "0.12",
        "payment_terms_days": "30",
        "rework_hours_per_credit_note": "4",
        "loaded_hourly_rate": "45",
        "penalty_rate": "0.1215",
        **extra,
    }


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder of this test only, to see what the audit leaves behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def run_audit(client: Client, **extra: Any) -> AuditRun:
    response = client.post(INDEX, form_data(fec=fec_upload(), **extra))
    assert response.status_code == 302, response.content.decode()[:3000]
    run = AuditRun.objects.get()
    assert response["Location"] == reverse("web:advaudit_detail", args=[run.pk])
    return run


def errors_of(html: str) -> str:
    """The texts of the form's error lists (form-wide and per field)."""
    found = re.findall(r'class="(?:errorlist|field-error)"[^>]*>(.*?)</(?:ul|div)>', html, re.S)
    return re.sub(r"<[^>]+>", " ", " ".join(found))


# --------------------------------------------------------------------------- the happy path


def test_an_auditeur_uploads_a_fec_and_reads_the_report(auditeur: User, private_tmp: Path) -> None:
    client = client_for(auditeur)
    run = run_audit(client, company_name="Alpha SAS")
    page = client.get(reverse("web:advaudit_detail", args=[run.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="adv-cover"' in html and "Alpha SAS" in html
    assert f"2{NBSP}880,00{NBSP}€" in html  # receivables
    assert f"2{NBSP}398,82{NBSP}€" in html  # the cash lever
    assert reverse("web:advaudit_download", args=[run.pk, "pdf"]) in html
    # The list of past audits groups thousands too (it printed « 3210.82 »): the cash levers
    # added up: 2 398,82 € of DSO, 500,00 € of late invoicing, 312,00 € overdue at risk.
    assert run.cash_total == Decimal("3210.82")
    listed = client.get(INDEX).content.decode()
    assert f'<td class="num">3{NBSP}210,82&nbsp;€</td>' in listed
    # The FEC and its copies are gone; only its identity is kept.
    assert list(private_tmp.iterdir()) == []
    assert run.file_name == f"{SIREN}FEC20251231.txt" and len(run.file_sha256) == 64
    assert AuditEvent.objects.filter(object_type="advaudit.auditrun", actor=auditeur).exists()


def test_the_direction_audits_levier_s_own_data(direction: User) -> None:
    client = client_for(direction)
    response = client.post(INDEX, form_data(source="levier", as_of="2026-03-31"))
    assert response.status_code == 302
    run = AuditRun.objects.get()
    assert run.source == "levier" and run.file_name == ""
    assert run.result["kpis"]["period_days"] == 365


def test_the_navigation_shows_the_screen_to_the_roles_that_may_use_it(
    auditeur: User, direction: User, admin_user: User, commercial: User, adv: User
) -> None:
    for user in (auditeur, direction, admin_user):
        assert 'id="nav-advaudit"' in client_for(user).get(INDEX).content.decode()
    for user in (commercial, adv):
        page = client_for(user).get(reverse("web:kpis_dashboard"))
        assert 'id="nav-advaudit"' not in page.content.decode()


# --------------------------------------------------------------------------- refusals


def test_a_commercial_gets_403_and_nothing_is_run(commercial: User) -> None:
    client = client_for(commercial)
    assert client.get(INDEX).status_code == 403
    assert client.post(INDEX, form_data(fec=fec_upload())).status_code == 403
    assert not AuditRun.objects.exists()


def test_a_junk_upload_shows_the_reason_on_the_form(auditeur: User, private_tmp: Path) -> None:
    junk = SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF" * 100, "image/jpeg")
    response = client_for(auditeur).post(INDEX, form_data(fec=junk))
    assert response.status_code == 400
    errors = errors_of(response.content.decode())
    assert "photo.jpg" in errors
    assert not AuditRun.objects.exists()
    assert list(private_tmp.iterdir()) == []


def test_a_semicolon_csv_is_refused_naming_the_separator(auditeur: User) -> None:
    csv = SimpleUploadedFile("export.csv", b"JournalCode;EcritureNum\nVE;1\n", "text/csv")
    response = client_for(auditeur).post(INDEX, form_data(fec=csv))
    assert response.status_code == 400
    errors = errors_of(response.content.decode())
    assert "export.csv" in errors and "« ; »" in errors


def test_a_bad_answers_file_is_named_with_its_line_and_question(auditeur: User) -> None:
    answers = SimpleUploadedFile(
        "reponses.yaml", b"roles.cash_sponsor: 2\nprocesses.invoice_quality: 5\nroles.nope: 1\n"
    )
    response = client_for(auditeur).post(INDEX, form_data(fec=fec_upload(), answers=answers))
    assert response.status_code == 400
    errors = errors_of(response.content.decode())
    assert re.search(r"reponses\.yaml, (line|ligne) 2", errors)
    assert "processes.invoice_quality" in errors and "roles.nope" in errors
    assert "/tmp" not in errors  # the uploaded name, not the server's copy
    assert not AuditRun.objects.exists()


def test_a_missing_file_and_an_impossible_rate_are_field_errors(auditeur: User) -> None:
    response = client_for(auditeur).post(INDEX, form_data(financing_rate="5"))
    assert response.status_code == 400
    errors = errors_of(response.content.decode())
    assert "financing_rate" in errors
    assert not AuditRun.objects.exists()


def test_a_fec_over_the_size_limit_is_refused_without_being_kept(
    auditeur: User, settings: Any, private_tmp: Path
) -> None:
    settings.LEVIER_AUDIT_MAX_UPLOAD_BYTES = 200
    response = client_for(auditeur).post(INDEX, form_data(fec=fec_upload()))
    assert response.status_code == 400
    assert "Mo" in errors_of(response.content.decode())
    assert list(private_tmp.iterdir()) == []


# --------------------------------------------------------------------------- questionnaire


def test_the_questionnaire_round_trips_answers_and_rescores(direction: User) -> None:
    client = client_for(direction)
    run = run_audit(client)
    url = reverse("web:advaudit_questionnaire", args=[run.pk])
    page = client.get(url).content.decode()
    assert page.count('class="question"') == 42
    # The data's score is shown as such: credit-note rate 33.33 % > 10 % → 0.
    assert 'data-question="processes.invoice_quality"' in page and 'data-prefilled="0"' in page
    response = client.post(
        url,
        {
            "q_processes.invoice_quality": "3",
            "q_processes.late_penalties_claimed": "4",
            "c_processes.invoice_quality": "Avoirs surtout commerciaux",
        },
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.answers["scores"]["processes.invoice_quality"] == 3
    assert run.answers["scores"]["roles.cash_sponsor"] is None
    assert run.answers["comments"] == {"processes.invoice_quality": "Avoirs surtout commerciaux"}
    levers = {lever["key"]: lever["amount"] for lever in run.result["levers"]}
    assert levers["late_interest_unclaimed"] == "0.00"  # always claimed now
    again = client.get(url).content.decode()
    assert re.search(r'name="q_processes.invoice_quality" value="3"[^>]*checked', again)
    assert "Avoirs surtout commerciaux" in again


def test_an_impossible_score_posted_is_a_form_error_not_a_500(direction: User) -> None:
    client = client_for(direction)
    run = run_audit(client)
    response = client.post(
        reverse("web:advaudit_questionnaire", args=[run.pk]), {"q_roles.cash_sponsor": "5"}
    )
    assert response.status_code == 400
    run.refresh_from_db()
    assert run.answers == {"scores": {}, "comments": {}}


# --------------------------------------------------------------------------- past audits


def test_a_past_audit_reopens_and_downloads_its_pdf_and_json(
    auditeur: User, direction: User
) -> None:
    run = run_audit(client_for(direction), company_name="Alpha SAS")
    client = client_for(auditeur)
    index = client.get(INDEX).content.decode()
    assert f'data-run="{run.pk}"' in index and "Alpha SAS" in index
    pdf = client.get(reverse("web:advaudit_download", args=[run.pk, "pdf"]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "audit-adv-alpha-sas-2025-12-31.pdf" in pdf["Content-Disposition"]
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Alpha SAS" in text and "2 398,82 €" in re.sub(r"[\u00a0\u202f]", " ", text)
    data = json.loads(client.get(reverse("web:advaudit_download", args=[run.pk, "json"])).content)
    assert data["kpis"]["receivables_ttc"] == "2880.00"
    html = client.get(reverse("web:advaudit_download", args=[run.pk, "html"]))
    assert html.content.decode().lstrip().startswith("<!DOCTYPE html>")
    assert client.get(reverse("web:advaudit_download", args=[run.pk, "docx"])).status_code == 404
    assert client.get(reverse("web:advaudit_detail", args=[run.pk + 1000])).status_code == 404


def test_the_upload_is_protected_against_cross_site_posts(auditeur: User) -> None:
    # The view installs its upload handler before Django reads the body, so it checks the
    # CSRF token itself (csrf_protect): with the page's token the audit runs, without it 403.
    client = Client(enforce_csrf_checks=True)
    client.force_login(auditeur)
    page = client.get(INDEX).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    assert client.post(INDEX, form_data(fec=fec_upload())).status_code == 403
    assert not AuditRun.objects.exists()
    response = client.post(INDEX, form_data(fec=fec_upload(), csrfmiddlewaretoken=token.group(1)))
    assert response.status_code == 302 and AuditRun.objects.count() == 1
