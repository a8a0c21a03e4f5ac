"""The billing run driven in headless Chromium against the real app, down to the PDF.

ADV previews the run for a date with a contract due, creates the drafts, issues them from
the drafts list, opens the invoice and downloads its PDF with the browser's own session.

Issued invoices are protected by database triggers that refuse DELETE. pytest-django empties
a `transaction=True` test database with DELETE on SQLite (TRUNCATE on PostgreSQL, which the
triggers do not see), so this test runs on PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt
import urllib.request
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.billing.choices import InvoiceStatus
from levier.billing.models import BillingRun, Invoice
from levier.billing.tests.factories import complete_company_profile
from levier.contracts.tests.factories import contract_line, make_contract
from levier.customers.tests.factories import CustomerFactory
from levier.web.tests.browser import MARKS, log_in

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PASSWORD = "Facturation-du-mois-2026"
WAIT = 30
RUN_DATE = dt.date(2026, 3, 1)

pytestmark = [
    *MARKS,
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="issued invoices cannot be deleted by the SQLite flush; runs on PostgreSQL in CI",
    ),
]


def fetch_with_session(driver: Any, url: str) -> tuple[int, dict[str, str], bytes]:
    """GET `url` as the browser's logged-in user: its session cookie, copied over."""
    cookie = driver.get_cookie(settings.SESSION_COOKIE_NAME)
    assert cookie is not None, "the browser is not logged in"
    request = urllib.request.Request(
        url, headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie['value']}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, dict(response.headers), response.read()


def test_adv_runs_billing_issues_the_drafts_and_downloads_the_invoice_pdf(
    live_server: Any, browser: Any
) -> None:
    # given: a complete seller, ADV, and a monthly contract with January to March due
    complete_company_profile()
    adv = User.objects.create_user("adv.facturation", password=PASSWORD, role=Role.ADV)
    contract = make_contract(
        adv,
        [contract_line("recurring", "1000", frequency="monthly", description="Infogérance")],
        customer=CustomerFactory(name="Navigateur Facturation SAS"),
        start=dt.date(2026, 1, 1),
    )
    base = live_server.url
    wait = WebDriverWait(browser, WAIT)
    log_in(browser, base, adv.username, PASSWORD)

    # when: ADV previews the run for the date, then creates the drafts
    browser.get(f"{base}/billing/run/")
    date_input = browser.find_element(By.ID, "id_as_of")
    browser.execute_script("arguments[0].value = arguments[1]", date_input, RUN_DATE.isoformat())
    browser.find_element(By.ID, "preview-button").click()
    wait.until(ec.presence_of_element_located((By.ID, "preview-table")))
    # HTMX may swap the preview once more while it settles: read it again if it went stale.
    settled = WebDriverWait(browser, WAIT, ignored_exceptions=[StaleElementReferenceException])
    preview = settled.until(lambda driver: driver.find_element(By.ID, "preview").text)
    assert contract.number in preview and "Navigateur Facturation SAS" in preview
    browser.find_element(By.ID, "create-drafts").click()
    wait.until(ec.presence_of_element_located((By.ID, "run-result")))
    assert settled.until(lambda driver: driver.find_element(By.ID, "count-drafts").text) == "1"
    run = BillingRun.objects.get()
    assert run.status == BillingRun.Status.DONE and run.drafts_count == 1

    # ADV ticks every draft on the run screen and issues them
    browser.get(f"{base}/billing/run/")
    browser.find_element(By.ID, "select-all-drafts").click()
    browser.find_element(By.ID, "issue-selected").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg-success")))
    invoice = Invoice.objects.get()
    assert invoice.status == InvoiceStatus.ISSUED and invoice.number
    assert invoice.total_net == 3000

    # then: the invoice opens from the list, issued, and its PDF downloads
    browser.get(f"{base}/invoices/")
    browser.find_element(By.LINK_TEXT, invoice.number).click()
    wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#invoice-status[data-status='issued']"))
    )
    assert browser.find_element(By.ID, "invoice-number").text == invoice.number
    pdf_url = browser.find_element(By.ID, "download-pdf").get_attribute("href")
    status, headers, body = fetch_with_session(browser, pdf_url)
    assert status == 200
    assert headers["Content-Type"] == "application/pdf"
    assert f'filename="{invoice.number}.pdf"' in headers["Content-Disposition"]
    assert body.startswith(b"%PDF")
