"""`levier export-invoices`: one file per issued document, named by its number."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from facturx import get_xml_from_pdf
from lxml import etree

from levier.accounts.models import User
from levier.billing.models import Invoice
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import draft_invoice
from levier.einvoice.validation import errors, validate_cii, validate_ubl
from levier.sales.tests.factories import line

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """These tests read the messages in English (msgids); the UI is French by default."""
    with translation.override("en"):
        yield


OCTOBER = dt.date(2026, 10, 15)
NOVEMBER = dt.date(2026, 11, 27)


def export(out: Path, fmt: str, **options: str) -> str:
    stdout = io.StringIO()
    call_command("export_invoices", format=fmt, out=str(out), stdout=stdout, **options)
    return stdout.getvalue()


@pytest.fixture
def documents(adv: User) -> tuple[Invoice, Invoice, Invoice]:
    """An October invoice, a November invoice and its credit note, and a draft (never exported)."""
    october = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=OCTOBER)
    november = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=NOVEMBER)
    note = issue_invoice(
        actor=adv,
        invoice=create_credit_note(
            actor=adv, invoice=november, reason="commercial_gesture", lines=[line("1", "50")]
        ),
        issue_date=NOVEMBER,
    )
    draft_invoice(adv)
    return october, november, note


def names(docs: tuple[Invoice, ...], ext: str) -> set[str]:
    return {f"{d.number}.{ext}" for d in docs}


def test_cii_export_writes_one_valid_xml_per_issued_document(
    documents: tuple[Invoice, Invoice, Invoice], tmp_path: Path
) -> None:
    report = export(tmp_path, "cii")
    assert {p.name for p in tmp_path.iterdir()} == names(documents, "xml")
    for path in tmp_path.iterdir():
        assert errors(validate_cii(path.read_bytes())) == [], path.name
    assert "2 invoice(s) and 1 credit note(s)" in report


def test_ubl_export_writes_invoices_and_credit_notes(
    documents: tuple[Invoice, Invoice, Invoice], tmp_path: Path
) -> None:
    export(tmp_path, "ubl")
    october, _november, note = documents
    assert {p.name for p in tmp_path.iterdir()} == names(documents, "xml")
    credit = (tmp_path / f"{note.number}.xml").read_bytes()
    assert etree.fromstring(credit).tag.endswith("}CreditNote")
    assert etree.fromstring((tmp_path / f"{october.number}.xml").read_bytes()).tag.endswith(
        "}Invoice"
    )
    assert errors(validate_ubl(credit)) == []


def test_facturx_export_writes_pdfs_that_carry_their_xml(
    documents: tuple[Invoice, Invoice, Invoice], tmp_path: Path
) -> None:
    export(tmp_path, "facturx")
    assert {p.name for p in tmp_path.iterdir()} == names(documents, "pdf")
    october = documents[0]
    name, xml = get_xml_from_pdf((tmp_path / f"{october.number}.pdf").read_bytes(), False)
    assert name == "factur-x.xml"
    assert october.number and october.number.encode() in xml


def test_pdf_export_writes_plain_pdfs(
    documents: tuple[Invoice, Invoice, Invoice], tmp_path: Path
) -> None:
    export(tmp_path, "pdf")
    assert {p.name for p in tmp_path.iterdir()} == names(documents, "pdf")
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert data.startswith(b"%PDF-")
        assert b"factur-x.xml" not in data  # for paper: no attachment


def test_since_keeps_the_documents_issued_on_or_after_the_date(
    documents: tuple[Invoice, Invoice, Invoice], tmp_path: Path
) -> None:
    report = export(tmp_path, "cii", since="2026-11-27")
    _october, november, note = documents
    assert {p.name for p in tmp_path.iterdir()} == names((november, note), "xml")
    assert "1 invoice(s) and 1 credit note(s)" in report


def test_the_output_directory_is_created(
    documents: tuple[Invoice, Invoice, Invoice], tmp_path: Path
) -> None:
    out = tmp_path / "exports" / "2026"
    export(out, "cii")
    assert len(list(out.iterdir())) == 3


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"format": "docx"}, "--format"),
        ({"format": "cii", "since": "27/11/2026"}, "--since"),
        ({"format": "cii", "since": "2026-02-30"}, "--since"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(
    options: dict[str, str], named: str, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match=named):
        call_command("export_invoices", out=str(tmp_path), stdout=io.StringIO(), **options)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_is_refused_naming_the_argument(
    documents: tuple[Invoice, Invoice, Invoice], tmp_path: Path
) -> None:
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("")
    with pytest.raises(CommandError, match="--out"):
        export(a_file / "sub", "cii")
    with pytest.raises(CommandError, match="--out"):
        export(a_file, "cii")


def test_the_cli_exits_non_zero_with_the_message_on_a_bad_format(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "levier",
            "export-invoices",
            "--format",
            "odt",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "--format" in result.stderr and "odt" in result.stderr


def test_the_number_of_queries_does_not_grow_with_the_documents(adv: User, tmp_path: Path) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            export(tmp_path, "cii")
        return len(captured)

    for _ in range(2):
        issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=NOVEMBER)
    few = queries()
    for _ in range(6):
        issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=NOVEMBER)
    assert queries() == few
    assert len(list(tmp_path.iterdir())) == 8
