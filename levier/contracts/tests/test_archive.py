"""The contract archive: PDFs kept ten years under their SHA-256, immutable, checked on read."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone, translation
from pypdf import PdfReader

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.models import AuditEvent
from levier.contracts.archive import (
    MAX_BYTES,
    ArchiveCorrupted,
    archive_document,
    archive_generated_contract,
    archive_path,
    contract_html,
    generate_contract_pdf,
    read_archived,
    retention_end,
    verify_archive,
)
from levier.contracts.choices import ArchiveKind
from levier.contracts.models import ArchivedDocument, ArchiveImmutableError, Contract, IndexSeries
from levier.contracts.services import amend_contract
from levier.contracts.tests.factories import contract_line, make_contract
from levier.lib.errors import ValidationFailed


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """These tests read the messages in English (msgids); the UI is French by default."""
    with translation.override("en"):
        yield


PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def contract(adv: User) -> Contract:
    return make_contract(
        adv,
        [contract_line("time_and_materials", "650", description="Régie développeur")],
        title="Tierce maintenance applicative",
    )


def archive(actor: User, contract: Contract, data: bytes = PDF, **kw: Any) -> ArchivedDocument:
    return archive_document(
        actor=actor,
        contract=contract,
        data=data,
        filename=kw.pop("filename", "contrat-signé.pdf"),
        kind=kw.pop("kind", ArchiveKind.SIGNED_CONTRACT),
        **kw,
    )


def stored_files(settings: Any) -> list[Path]:
    root = Path(settings.ARCHIVE_DIR)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def alter(path: Path, data: bytes) -> None:
    """What bit rot or a careless edit does: the file is read-only, so force it."""
    path.chmod(0o644)
    path.write_bytes(data)


# --- archiving ---------------------------------------------------------------------------


def test_archiving_stores_the_pdf_under_its_sha256(
    commercial: User, contract: Contract, settings: Any
) -> None:
    doc = archive(commercial, contract)
    sha = hashlib.sha256(PDF).hexdigest()
    assert doc.sha256 == sha
    path = Path(settings.ARCHIVE_DIR) / sha[:2] / f"{sha}.pdf"
    assert archive_path(sha) == path
    assert path.read_bytes() == PDF
    assert stored_files(settings) == [path]  # no temporary file left behind
    assert path.stat().st_mode & 0o222 == 0  # read-only
    stored = ArchivedDocument.objects.get()
    assert (stored.filename, stored.size, stored.content_type, stored.archived_by) == (
        "contrat-signé.pdf",
        len(PDF),
        "application/pdf",
        commercial,
    )
    event = AuditEvent.objects.get(object_type="contracts.archiveddocument")
    assert event.changes["sha256"] == sha and event.changes["contract"] == contract.number


def test_archiving_the_same_bytes_twice_keeps_one_file(
    adv: User, contract: Contract, settings: Any
) -> None:
    first = archive(adv, contract)
    inode = archive_path(first.sha256).stat().st_ino
    second = archive(adv, contract, filename="copie.pdf", kind=ArchiveKind.OTHER)
    assert ArchivedDocument.objects.count() == 2 and first.sha256 == second.sha256
    assert stored_files(settings) == [archive_path(first.sha256)]
    assert archive_path(first.sha256).stat().st_ino == inode  # kept, not rewritten


def test_a_damaged_file_is_rewritten_when_its_bytes_are_archived_again(
    adv: User, contract: Contract
) -> None:
    doc = archive(adv, contract)
    alter(archive_path(doc.sha256), b"%PDF-garbage")
    archive(adv, contract)
    assert read_archived(doc) == PDF


def test_a_write_that_fails_leaves_neither_a_partial_file_nor_a_row(
    adv: User, contract: Contract, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        archive(adv, contract)
    assert stored_files(settings) == []  # the temporary file is removed too
    assert not ArchivedDocument.objects.exists()
    monkeypatch.undo()
    assert read_archived(archive(adv, contract)) == PDF


def test_a_path_sent_as_the_file_name_keeps_only_the_name(adv: User, contract: Contract) -> None:
    doc = archive(adv, contract, filename="C:\\Users\\claire\\Contrats\\signé.pdf")
    assert doc.filename == "signé.pdf"
    long = archive(adv, contract, data=PDF + b"2", filename="x" * 300 + ".pdf")
    assert len(long.filename) == 200 and long.filename.endswith("x.pdf")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "scan.docx is empty"),
        (b"PK\x03\x04 word document", "scan.docx is not a PDF: only PDF files are archived"),
        (b" %PDF-1.7 leading space", "scan.docx is not a PDF"),
        (b"%PDF-" + b"0" * MAX_BYTES, "scan.docx is larger than 20 MB: 20,0 MB"),
    ],
    ids=["empty", "word", "not-at-start", "too-big"],
)
def test_only_a_non_empty_pdf_of_20_mb_at_most_is_archived(
    adv: User, contract: Contract, settings: Any, data: bytes, message: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        archive(adv, contract, data=data, filename="scan.docx")
    assert message in info.value.message
    assert info.value.errors["file"] == [info.value.message]
    assert not ArchivedDocument.objects.exists()
    assert stored_files(settings) == []


def test_a_pdf_of_exactly_20_mb_is_archived(adv: User, contract: Contract) -> None:
    data = b"%PDF-" + b"0" * (MAX_BYTES - 5)
    assert archive(adv, contract, data=data).size == MAX_BYTES


def test_an_amendment_of_another_contract_is_refused(adv: User, contract: Contract) -> None:
    other = make_contract(adv, [contract_line("on_order", "100")])
    amendment = amend_contract(
        actor=adv, contract=other, effective_on=dt.date(2026, 2, 1), reason="x",
        header={"po_number": "PO-2"},
    )  # fmt: skip
    with pytest.raises(ValidationFailed) as info:
        archive(adv, contract, kind=ArchiveKind.SIGNED_AMENDMENT, amendment=amendment)
    assert "amendment" in info.value.errors
    doc = archive(adv, other, kind=ArchiveKind.SIGNED_AMENDMENT, amendment=amendment)
    assert doc.amendment == amendment


def test_a_signed_amendment_names_its_amendment_and_a_kind_must_be_known(
    adv: User, contract: Contract
) -> None:
    with pytest.raises(ValidationFailed) as info:
        archive(adv, contract, kind=ArchiveKind.SIGNED_AMENDMENT)
    assert "amendment" in info.value.errors
    with pytest.raises(ValidationFailed) as info:
        archive(adv, contract, kind="facture")
    assert "kind" in info.value.errors


def test_accounting_may_not_archive(compta: User, contract: Contract, settings: Any) -> None:
    with pytest.raises(PermissionDenied):
        archive(compta, contract)
    assert stored_files(settings) == []


# --- immutability ------------------------------------------------------------------------


def test_an_archived_document_cannot_be_changed_or_deleted_through_the_model(
    adv: User, contract: Contract
) -> None:
    doc = archive(adv, contract)
    doc.filename = "autre.pdf"
    with pytest.raises(ArchiveImmutableError):
        doc.save()
    with pytest.raises(ArchiveImmutableError):
        doc.delete()
    assert ArchivedDocument.objects.get().filename == "contrat-signé.pdf"


def test_the_database_refuses_an_update_or_delete_whatever_code_runs_it(
    adv: User, contract: Contract
) -> None:
    doc = archive(adv, contract)
    rows = ArchivedDocument.objects.filter(pk=doc.pk)
    with pytest.raises(DatabaseError, match="kept ten years"), transaction.atomic():
        rows.update(sha256="0" * 64)
    with pytest.raises(DatabaseError, match="kept ten years"), transaction.atomic():
        rows.delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        ArchivedDocument.objects.all().delete()
    stored = ArchivedDocument.objects.get()
    assert (stored.pk, stored.sha256) == (doc.pk, hashlib.sha256(PDF).hexdigest())


# --- ten years ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("archived_on", "kept_until"),
    [
        (dt.date(2026, 5, 12), dt.date(2036, 5, 12)),
        (dt.date(2028, 2, 29), dt.date(2038, 2, 28)),  # no 29 February in 2038
        (dt.date(2030, 2, 28), dt.date(2040, 2, 28)),  # 2040 is a leap year: not the 29th
        (dt.date(2026, 12, 31), dt.date(2036, 12, 31)),
    ],
)
def test_a_document_is_kept_ten_years_from_the_day_it_is_archived(
    archived_on: dt.date, kept_until: dt.date
) -> None:
    assert retention_end(archived_on) == kept_until


def test_retain_until_is_ten_years_after_the_archive_date_in_paris(
    adv: User, contract: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 29 February 2028, 23:30 UTC is already 1 March in Paris.
    moment = dt.datetime(2028, 2, 29, 23, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    doc = archive(adv, contract)
    assert doc.archived_at == moment
    assert ArchivedDocument.objects.get().retain_until == dt.date(2038, 3, 1)
    moment = dt.datetime(2028, 2, 29, 10, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    assert archive(adv, contract, data=PDF + b"2").retain_until == dt.date(2038, 2, 28)


# --- reading and verifying ---------------------------------------------------------------


def test_reading_returns_the_archived_bytes_and_verify_finds_nothing_wrong(
    adv: User, contract: Contract
) -> None:
    doc = archive(adv, contract)
    assert read_archived(doc) == PDF
    assert verify_archive() == []


def test_an_altered_file_is_detected_on_read_and_by_verify(adv: User, contract: Contract) -> None:
    doc = archive(adv, contract)
    path = archive_path(doc.sha256)
    altered = PDF.replace(b"Catalog", b"Katalog")
    alter(path, altered)
    with pytest.raises(ArchiveCorrupted) as info:
        read_archived(doc)
    found = hashlib.sha256(altered).hexdigest()
    message = str(info.value)
    assert "contrat-signé.pdf" in message and str(path) in message
    assert doc.sha256 in message and found in message
    assert (info.value.expected, info.value.actual) == (doc.sha256, found)
    [problem] = verify_archive()
    assert "was altered" in problem and found in problem and doc.sha256 in problem


def test_a_missing_file_is_detected_for_every_document_that_shares_it(
    adv: User, contract: Contract
) -> None:
    first = archive(adv, contract)
    archive(adv, contract, filename="copie.pdf")
    intact = archive(adv, contract, data=PDF + b"other")
    archive_path(first.sha256).unlink()
    with pytest.raises(ArchiveCorrupted, match="is missing"):
        read_archived(first)
    problems = verify_archive()
    assert len(problems) == 2
    assert "contrat-signé.pdf" in problems[0] and "copie.pdf" in problems[1]
    assert all("is missing" in p for p in problems)
    assert read_archived(intact) == PDF + b"other"


# --- the generated contract --------------------------------------------------------------


@pytest.fixture
def full_contract(adv: User) -> Contract:
    """Every kind of line, tacit renewal with notice, a Syntec revision with a floor."""
    return make_contract(
        adv,
        [
            contract_line("on_order", "2500", description="Mise en place"),
            contract_line(
                "milestones",
                "10000",
                description="Projet de migration",
                milestones=[
                    {"label": "Lancement", "percent": "30", "trigger": "signature"},
                    {"label": "Recette", "percent": "70", "trigger": "acceptance"},
                ],
            ),
            contract_line("recurring", "1200", frequency="monthly", description="Infogérance"),
            contract_line("time_and_materials", "650", description="Régie développeur"),
        ],
        title="Tierce maintenance applicative",
        initial_term_months=36,
        tacit_renewal=True,
        renewal_term_months=12,
        notice_months=3,
        index_series=IndexSeries.objects.get(code="syntec_revise"),
        revision_fixed_part="0.15",
        revision_floor="1",
    )


def test_the_contract_summary_states_parties_terms_revision_lines_and_signatures(
    full_contract: Contract,
) -> None:
    html = contract_html(full_contract)
    customer = full_contract.customer
    for text in [
        full_contract.number,
        "Tierce maintenance applicative",
        customer.name,
        "Date de signature</td><td>01/01/2026",
        "durée initiale de 36 mois",
        "tacite reconduction pour des périodes successives de 12 mois",
        "au moins 3 mois avant l&#x27;échéance",
        "Syntec révisé",
        "P1 = P0 × (a + (1 − a) × S1/S0)",
        "P1 = P0 × (0,15 + 0,85 × S1/S0)",
        "ne peut être inférieur à 1",
        "Mise en place",
        "À la commande",
        "Lancement : 30 %, à la signature",
        "Recette : 70 %, à la recette",
        "Facturation mensuelle, terme à échoir",
        "Régie (temps passé)",
        "Régie développeur (*)",
        "650,00 €",
        "Pour le prestataire",
        "Pour le client",
        "Lu et approuvé",
    ]:
        assert text in html, text
    assert "Mise en place (*)" not in html  # a one-off price is never revised
    # Self-contained: nothing for the renderer to fetch, now or in ten years.
    for external in ["http:", "https:", "src=", "url(", "<link"]:
        assert external not in html


def test_a_contract_without_index_has_fixed_prices_and_an_end_date(adv: User) -> None:
    contract = make_contract(
        adv, [contract_line("on_order", "100")], end_date=dt.date(2026, 12, 31)
    )
    html = contract_html(contract)
    assert "les prix sont fermes" in html and "P1 = P0" not in html
    assert "Il prend fin le 31/12/2026." in html


def test_the_generated_contract_is_a_pdf_with_its_text(full_contract: Contract) -> None:
    pdf = generate_contract_pdf(full_contract)
    assert pdf.startswith(b"%PDF-")
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = " ".join(" ".join(page.extract_text() for page in pages).split())
    assert full_contract.number in text
    assert "Syntec révisé" in text and "Lu et approuvé" in text


def test_the_generated_contract_is_archived_as_generated(
    adv: User, full_contract: Contract
) -> None:
    doc = archive_generated_contract(actor=adv, contract=full_contract)
    assert (doc.kind, doc.filename, doc.amendment) == (
        ArchiveKind.GENERATED,
        f"{full_contract.number}.pdf",
        None,
    )
    assert read_archived(doc).startswith(b"%PDF-")
    amendment = amend_contract(
        actor=adv,
        contract=full_contract,
        effective_on=dt.date(2026, 6, 1),
        reason="Bon de commande",
        header={"po_number": "PO-77"},
    )
    again = archive_generated_contract(actor=adv, contract=full_contract)
    assert again.amendment == amendment
    assert again.filename == f"{full_contract.number}-avenant-1.pdf"
    assert again.sha256 != doc.sha256
