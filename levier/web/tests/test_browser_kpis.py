"""The KPI dashboard driven in headless Chromium against the real app.

Direction signs in and lands on the dashboard (its home): the five cards show their figures;
a click on the DSO opens the list of the open invoices behind it; the CSV export downloads
and holds those invoices, as French Excel reads it.

Issued invoices are protected by database triggers that refuse DELETE. pytest-django empties
a `transaction=True` test database with DELETE on SQLite (TRUNCATE on PostgreSQL, which the
triggers do not see), so this test runs on PostgreSQL only, like the collections one.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.billing.tests.factories import complete_company_profile
from levier.collections.payments import Portion, allocate_payment
from levier.collections.tests.factories import issued_invoice, payment
from levier.customers.tests.factories import CustomerFactory
from levier.kpis.services import HEADLINE
from levier.web.tests.browser import MARKS, log_in

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PASSWORD = "Tableau-de-bord-2026"
WAIT = 30

pytestmark = [
    *MARKS,
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="issued invoices cannot be deleted by the SQLite flush; runs on PostgreSQL in CI",
    ),
]


def wait_for_file(path: Path, timeout: float = WAIT) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and not Path(f"{path}.crdownload").exists() and path.stat().st_size:
            return path.read_bytes()
        time.sleep(0.2)
    raise AssertionError(f"{path.name} was not downloaded: {os.listdir(path.parent)}")


def test_direction_opens_the_dashboard_drills_into_the_dso_and_exports_the_list(
    live_server: Any, browser: Any, tmp_path: Path
) -> None:
    # given: a Direction user; Alpha owes 1 000 € on a June invoice (1 200 TTC, 200 paid)
    # and 2 400 € on an invoice issued 30 days ago, the only sale of the last 90 days
    complete_company_profile()
    direction = User.objects.create_user(
        "direction.browser", password=PASSWORD, role=Role.DIRECTION
    )
    adv = User.objects.create_user("adv.browser", password=PASSWORD, role=Role.ADV)
    compta = User.objects.create_user("compta.browser", password=PASSWORD, role=Role.COMPTABILITE)
    today = timezone.localdate()
    alpha = CustomerFactory(name="Navigateur Industries SAS")
    old = issued_invoice(adv, alpha, net="1000", issue_date=today - dt.timedelta(days=150))
    recent = issued_invoice(adv, alpha, net="2000", issue_date=today - dt.timedelta(days=30))
    paid = payment(compta, alpha, "200", received_on=today - dt.timedelta(days=100))
    allocate_payment(actor=compta, payment=paid, portions=[Portion(old.pk, Decimal("200"))])
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    base = live_server.url
    wait = WebDriverWait(browser, WAIT)

    # when: Direction signs in, its home is the dashboard
    log_in(browser, base, direction.username, PASSWORD)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".kpi-cards")))
    for headline in HEADLINE:
        value = browser.find_element(
            By.CSS_SELECTOR, f".kpi-card[data-kpi='{headline.key}'] .kpi-value"
        )
        assert value.text.strip(), headline.key
    dso = browser.find_element(By.CSS_SELECTOR, ".kpi-card[data-kpi='dso_simple'] .kpi-value")
    assert dso.text.startswith("127,5")  # 3 400 ÷ 2 400 × 90 days
    assert browser.find_elements(By.CSS_SELECTOR, "#kpi-aged svg[role='img']")
    assert browser.save_screenshot(str(tmp_path / "dashboard.png"))

    # and clicks the DSO: the open invoices behind it
    dso.click()
    wait.until(ec.presence_of_element_located((By.ID, "kpi-total")))
    assert "/dashboard/detail/dso/" in browser.current_url
    total = browser.find_element(By.ID, "kpi-total").text.replace("\u00a0", " ")
    assert total == "3 400,00 €"  # WebDriver reads the no-break spaces as spaces
    table = browser.find_element(By.CSS_SELECTOR, "table.kpi-list").text
    assert old.number in table and recent.number in table
    browser.find_element(By.LINK_TEXT, recent.number)  # each row opens its invoice

    # then: the CSV export downloads those invoices for French Excel
    browser.find_element(By.ID, "export-csv").click()
    data = wait_for_file(downloads / f"levier-dso-{today.isoformat()}.csv")
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").strip().split("\r\n")
    assert len(lines) == 3
    assert lines[1].startswith(f"{old.number};Navigateur Industries SAS;")
    assert lines[1].endswith(";1200,00;1000,00")
    assert lines[2].startswith(f"{recent.number};") and lines[2].endswith(";2400,00;2400,00")
