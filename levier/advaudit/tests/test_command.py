"""`levier audit`: a report in each format, and a clear message (never a traceback) for each
bad input. The FEC is `test_services.sample_fec`, worked out by hand there."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from levier.advaudit.tests.test_services import sample_fec
from levier.billing.models import Invoice
from levier.kpis.tests.conftest import book as book  # the KPI tests' hand-made book


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def fec(tmp_path: Path) -> Path:
    return sample_fec(tmp_path)


def test_a_fec_audit_writes_the_json_report_with_the_kpis(fec: Path, tmp_path: Path) -> None:
    out = tmp_path / "rapport.json"
    stdout, _err = run("--fec", str(fec), "--out", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    # Receivables 2,880 and DSO 257.6 days (test_services' arithmetic).
    assert data["kpis"]["receivables_ttc"] == "2880.00"
    assert data["kpis"]["dso_simple_365d"] == 257.6
    assert "SIREN 732829320" in stdout and "31/12/2025" in stdout


def test_the_options_reach_the_levers(fec: Path, tmp_path: Path) -> None:
    out = tmp_path / "rapport.json"
    run(
        "--fec",
        str(fec),
        "--out",
        str(out),
        "--target-dso",
        "36",
        "--financing-rate",
        "0.05",
        "--payment-terms",
        "45",
        "--as-of",
        "2025-12-31",
        "--company",
        "Gamma SAS",
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    levers = {lever["key"]: lever["amount"] for lever in data["levers"]}
    # 4,080 × (257.6 − 36) ÷ 365 = 2,477.06; × 5 % = 123.85 (test_services).
    assert (levers["cash_dso"], levers["financing_cost"]) == ("2477.06", "123.85")
    assert data["late_invoices"]["payment_terms_days"] == 45
    assert data["company"]["name"] == "Gamma SAS"


def test_answers_from_a_yaml_file(fec: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("processes.late_penalties_claimed: 4\nroles.cash_sponsor: 2\n")
    out = tmp_path / "rapport.json"
    run("--fec", str(fec), "--answers", str(answers), "--out", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["answers"]["scores"] == {
        "processes.late_penalties_claimed": 4,
        "roles.cash_sponsor": 2,
    }
    levers = {lever["key"]: lever["amount"] for lever in data["levers"]}
    assert levers["recovery_indemnities_unclaimed"] == "0.00"  # always claimed


def test_html_and_pdf_reports(fec: Path, tmp_path: Path) -> None:
    html = tmp_path / "rapport.html"
    pdf = tmp_path / "rapport.pdf"
    run("--fec", str(fec), "--out", str(html))
    run("--fec", str(fec), "--out", str(pdf))
    assert html.read_text(encoding="utf-8").lstrip().startswith("<!DOCTYPE html>")
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_the_progress_bar_goes_to_stderr_when_asked(fec: Path, tmp_path: Path) -> None:
    stdout, stderr = run("--fec", str(fec), "--out", str(tmp_path / "r.json"), "--progress")
    assert fec.name in stderr and fec.name not in stdout.split(":")[0]


@pytest.mark.django_db
def test_levier_data_audit(book: dict[str, Invoice], tmp_path: Path) -> None:
    out = tmp_path / "levier.json"
    run("--levier", "--as-of", "2026-03-31", "--out", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    # The book's receivables at 31/03/2026: 1,400 + 480.
    assert data["source"] == "levier" and data["kpis"]["receivables_ttc"] == "1880.00"


# --------------------------------------------------------------------------- bad input


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        run(*args)
    return str(error.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    message = refused("--fec", str(tmp_path / "absent.txt"), "--out", str(tmp_path / "r.pdf"))
    assert "absent.txt" in message and "no such file" in message


def test_a_semicolon_csv_is_refused_with_the_reason(tmp_path: Path) -> None:
    csv = tmp_path / "grand-livre.csv"
    csv.write_text("JournalCode;EcritureNum;EcritureDate\nVE;1;20250101\n", encoding="utf-8")
    message = refused("--fec", str(csv), "--out", str(tmp_path / "r.pdf"))
    assert "grand-livre.csv" in message and "« ; »" in message
    assert not (tmp_path / "r.pdf").exists()


def test_an_answer_of_5_and_an_unknown_question_are_each_named(fec: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("processes.invoice_quality: 5\nroles.nope: 2\n")
    message = refused(
        "--fec", str(fec), "--answers", str(answers), "--out", str(tmp_path / "r.json")
    )
    # One line per problem, each naming the file, its line and the question (in the active
    # language: "line" or "ligne").
    first, second = message.splitlines()
    assert re.search(r"answers\.yaml, (line|ligne) 1", first)
    assert "processes.invoice_quality" in first and "5" in first
    assert re.search(r"answers\.yaml, (line|ligne) 2", second) and "roles.nope" in second


def test_a_bad_date_is_named(fec: Path, tmp_path: Path) -> None:
    message = refused("--fec", str(fec), "--as-of", "31/12/2025", "--out", str(tmp_path / "r.pdf"))
    assert "--as-of" in message and "31/12/2025" in message


def test_an_unknown_output_extension_is_refused(fec: Path, tmp_path: Path) -> None:
    message = refused("--fec", str(fec), "--out", str(tmp_path / "rapport.docx"))
    assert ".docx" in message and ".pdf" in message


def test_impossible_parameters_are_named(fec: Path, tmp_path: Path) -> None:
    message = refused("--fec", str(fec), "--financing-rate", "5", "--out", str(tmp_path / "r.json"))
    assert "financing_rate" in message
    message = refused(
        "--fec", str(fec), "--payment-terms", "trente", "--out", str(tmp_path / "r.json")
    )
    assert "--payment-terms" in message


def test_a_source_and_an_output_are_required(tmp_path: Path) -> None:
    assert "--fec" in refused("--out", str(tmp_path / "r.pdf"))
    assert "--out" in refused("--levier")


def test_the_console_script_exits_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    not_a_fec = tmp_path / "notes.txt"
    not_a_fec.write_text("hello\n", encoding="utf-8")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "levier.test_settings"}
    completed = subprocess.run(
        [sys.executable, "-m", "levier", "audit", "--fec", str(not_a_fec), "--out", "r.json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert completed.returncode == 1
    assert "notes.txt" in completed.stderr and "Traceback" not in completed.stderr
