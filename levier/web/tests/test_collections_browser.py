"""Collections driven in headless Chromium against the real app and a real SMTP server.

Comptabilité uploads a camt.053 statement: the line quoting an invoice's RF reference settles
it at once (the invoice page shows it paid); the line without a reference, from a payer
whose name is misspelt, becomes a proposal that Comptabilité confirms on the reconciliation
screen. Then the dunning preview shows the reminder of a third invoice, ten days overdue;
the run sends it, and the email arrives at the local SMTP server with the account statement.

Issued invoices are protected by database triggers that refuse DELETE. pytest-django empties
a `transaction=True` test database with DELETE on SQLite (TRUNCATE on PostgreSQL, which the
triggers do not see), so this test runs on PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.billing.models import Invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.choices import MessageStatus, ProposalStatus
from levier.collections.models import DunningMessage, MatchProposal
from levier.collections.tests.dunning_factories import customer, default_scenario, invoices_due
from levier.lib.identifiers import creditor_reference
from levier.lib.testing.smtp import SmtpServer
from levier.lib.testing.smtp import smtp_server as smtp_server
from levier.web.tests.browser import MARKS, log_in

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PASSWORD = "Encaissements-du-jour-2026"
WAIT = 30

pytestmark = [
    *MARKS,
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="issued invoices cannot be deleted by the SQLite flush; runs on PostgreSQL in CI",
    ),
]


def statement(*entries: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
  <GrpHdr><MsgId>NAV-1</MsgId><CreDtTm>2026-11-27T08:00:00</CreDtTm></GrpHdr>
  <Stmt><Id>NAV-1</Id>
    <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id><Ccy>EUR</Ccy></Acct>
    {"".join(entries)}
  </Stmt></BkToCstmrStmt></Document>""".encode()


def credit(ref: str, amount: str, day: dt.date, text: str, payer: str) -> str:
    return f"""<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
      <BookgDt><Dt>{day.isoformat()}</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef>
      <NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties>
      <RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""


def test_accounting_imports_confirms_a_proposal_and_sends_a_reminder(
    live_server: Any, browser: Any, smtp_server: SmtpServer, settings: Any, tmp_path: Path
) -> None:
    # given: a complete seller, the default scenario, and three invoices of one customer:
    # two not due yet (to be paid by the statement), one ten days overdue
    settings.LEVIER_AUTO_SEND_INVOICES = False
    settings.DEFAULT_FROM_EMAIL = "relances@levier.example"
    complete_company_profile()
    default_scenario()
    today = timezone.localdate()
    adv = User.objects.create_user("adv.encaissements", password=PASSWORD, role=Role.ADV)
    compta = User.objects.create_user(
        "compta.encaissements", password=PASSWORD, role="comptabilite"
    )
    acme = customer("Acme Informatique SAS", email="compta@acme.example")
    by_rf, by_name, overdue = invoices_due(
        adv,
        [
            (acme, today + dt.timedelta(days=20), "1000"),  # 1 200,00 € TTC
            (acme, today + dt.timedelta(days=20), "250"),  # 300,00 € TTC
            (acme, today - dt.timedelta(days=10), "500"),  # 600,00 € TTC, J+10
        ],
    )
    yesterday = today - dt.timedelta(days=1)
    path = tmp_path / "releve-du-jour.xml"
    path.write_bytes(
        statement(
            credit(
                "NAV-A1",
                "1200.00",
                yesterday,
                f"VIR {creditor_reference(by_rf.number or '')}",
                "ACME INFORMATIQUE",
            ),
            credit("NAV-A2", "300.00", yesterday, "REGLEMENT", "ACME INFORMATIQEU"),
        )
    )
    base = live_server.url
    wait = WebDriverWait(browser, WAIT)
    log_in(browser, base, compta.username, PASSWORD)

    # when: Comptabilité uploads the statement
    browser.get(f"{base}/collections/statements/")
    browser.find_element(By.ID, "id_statement_files").send_keys(str(path))
    browser.find_element(By.ID, "import-button").click()
    wait.until(ec.presence_of_element_located((By.ID, "import-reports")))
    report = browser.find_element(By.CSS_SELECTOR, ".import-report")
    assert report.find_element(By.CSS_SELECTOR, ".count-imported").text == "2"
    assert report.find_element(By.CSS_SELECTOR, ".count-matched").text == "1"
    assert report.find_element(By.CSS_SELECTOR, ".count-proposals").text == "1"

    # then: the invoice whose RF reference was quoted shows paid
    browser.get(f"{base}/invoices/{by_rf.pk}/")
    wait.until(ec.presence_of_element_located((By.ID, "paid-badge")))
    by_rf.refresh_from_db()
    assert by_rf.open_amount == 0

    # the other line is a proposal: Comptabilité confirms it on the reconciliation screen
    proposal = MatchProposal.objects.get(status=ProposalStatus.PENDING)
    browser.get(f"{base}/collections/matching/")
    card = wait.until(ec.presence_of_element_located((By.ID, f"proposal-{proposal.pk}")))
    assert by_name.number in card.text and "ACME INFORMATIQEU" in card.text
    card.find_element(By.CSS_SELECTOR, ".confirm-proposal").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg-success")))
    assert browser.find_elements(By.ID, "no-proposal")
    by_name.refresh_from_db()
    assert by_name.open_amount == Decimal("0.00")

    # the dunning preview shows the reminder of the overdue invoice, and the run sends it
    browser.get(f"{base}/dunning/")
    preview = wait.until(ec.presence_of_element_located((By.ID, "dunning-preview")))
    assert overdue.number in preview.text and "compta@acme.example" in preview.text
    browser.find_element(By.ID, "id_confirm").click()
    browser.find_element(By.ID, "run-dunning").click()
    wait.until(ec.presence_of_element_located((By.ID, "run-result")))
    assert browser.find_element(By.ID, "run-messages").text == "1"

    (received,) = smtp_server.wait_for(1, timeout=WAIT)
    assert received["To"] == "compta@acme.example"
    body = received.get_body(preferencelist=("plain",))
    assert body is not None and overdue.number in body.get_content()
    attachments = [part.get_filename() for part in received.iter_attachments()]
    assert any(name and name.startswith("releve-de-compte") for name in attachments)
    message = DunningMessage.objects.get()
    assert message.status == MessageStatus.SENT
    browser.refresh()
    assert "compta@acme.example" in browser.find_element(By.ID, "run-message-table").text
    assert Invoice.objects.get(pk=overdue.pk).open_amount == Decimal("600.00")
