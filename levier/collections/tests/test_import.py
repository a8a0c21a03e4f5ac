"""Importing statement files: all or nothing, never a line twice, a report per file."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.collections.models import BankTransaction, StatementFile
from levier.collections.services import import_statement_file
from levier.collections.statements.model import StatementError

pytestmark = pytest.mark.django_db


def entry(ref: str, amount: str, day: str, text: str) -> str:
    return f"""<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
      <BookgDt><Dt>{day}</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef>
      <NtryDtls><TxDtls><RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""


def camt(*entries: str, statement_id: str = "S1") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
  <GrpHdr><MsgId>M</MsgId><CreDtTm>2026-11-27T08:00:00</CreDtTm></GrpHdr>
  <Stmt><Id>{statement_id}</Id>
    <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id><Ccy>EUR</Ccy></Acct>
    {"".join(entries)}
  </Stmt></BkToCstmrStmt></Document>""".encode()


MONDAY = entry("A1", "1200.00", "2026-11-23", "RF86F2026000123")
TUESDAY = entry("A2", "540.50", "2026-11-24", "Facture F2026-000124")
WEDNESDAY = entry("A3", "99.99", "2026-11-25", "F2026-000125")


def test_a_statement_file_imports_its_lines(compta: User) -> None:
    report = import_statement_file(actor=compta, data=camt(MONDAY, TUESDAY), filename="j1.xml")
    assert (report.format, report.statements, report.lines_imported) == ("camt.053", 1, 2)
    assert sorted(BankTransaction.objects.values_list("amount", flat=True)) == [540.5, 1200]
    assert StatementFile.objects.get().sha256 and report.error == ""


def test_the_same_file_twice_imports_nothing_the_second_time(compta: User) -> None:
    import_statement_file(actor=compta, data=camt(MONDAY), filename="j1.xml")
    again = import_statement_file(actor=compta, data=camt(MONDAY), filename="copie.xml")
    assert (again.lines_imported, again.lines_already_known) == (0, 1)
    assert BankTransaction.objects.count() == 1 and StatementFile.objects.count() == 1


def test_an_overlapping_statement_imports_only_its_new_lines(compta: User) -> None:
    import_statement_file(actor=compta, data=camt(MONDAY, TUESDAY), filename="j1-j2.xml")
    week = import_statement_file(
        actor=compta, data=camt(MONDAY, TUESDAY, WEDNESDAY, statement_id="W"), filename="s.xml"
    )
    assert (week.lines_imported, week.lines_already_known) == (1, 2)
    assert BankTransaction.objects.count() == 3


def test_a_malformed_file_is_refused_whole_with_where(compta: User) -> None:
    broken = camt(MONDAY, TUESDAY).replace(b'<Amt Ccy="EUR">540.50</Amt>', b"")
    with pytest.raises(StatementError) as refused:
        import_statement_file(actor=compta, data=broken, filename="casse.xml")
    assert "casse.xml" in str(refused.value) or "Amt" in str(refused.value)
    assert not StatementFile.objects.exists() and not BankTransaction.objects.exists()


def test_only_accounting_imports_statements(adv: User) -> None:
    with pytest.raises(PermissionDenied):
        import_statement_file(actor=adv, data=camt(MONDAY), filename="j1.xml")


def test_the_command_reports_one_json_object_per_file_and_fails_on_a_rejected_one(
    compta: User, tmp_path: Path
) -> None:
    good, bad = tmp_path / "ok.xml", tmp_path / "ko.txt"
    good.write_bytes(camt(MONDAY))
    bad.write_bytes(b"hello, not a statement\n")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("bank_import", str(good), str(bad), "--json", stdout=out)
    reports: list[dict[str, Any]] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["lines_imported"] for r in reports] == [1, 0]
    assert reports[0]["error"] is None and "ko.txt" in reports[1]["error"]
    assert set(reports[0]) == {
        "file", "format", "statements", "lines_imported", "lines_already_known", "warnings",
        "error", "payments", "matched_automatically", "proposals",
    }  # fmt: skip


def test_the_command_prints_what_the_matcher_did(compta: User, tmp_path: Path) -> None:
    path = tmp_path / "j1.xml"
    path.write_bytes(camt(MONDAY, TUESDAY))
    out = io.StringIO()
    with translation.override("en"):
        call_command("bank_import", str(path), stdout=out)
    assert "2 payment(s): 0 matched automatically, 0 proposal(s) to review" in out.getvalue()
