"""The order circuit driven in headless Chromium against the real app and a real SMTP server.

Commercial creates an order over the Direction threshold and submits it; ADV approves it from
the worklist; Direction approves it; the customer's purchasing contact gets the confirmation.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.customers.tests.factories import CustomerFactory
from levier.lib.testing.smtp import smtp_server  # noqa: F401 (fixture)
from levier.sales.choices import OrderStatus, SendStatus
from levier.sales.models import ApprovalRule, Order
from levier.web.tests.browser import MARKS, log_in

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

PASSWORD = "Circuit-de-validation-2026"
WAIT = 20

pytestmark = [
    *MARKS,
]


def log_out(driver: Any) -> None:
    driver.find_element(By.CSS_SELECTOR, ".who form button").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "id_username")))


def open_from_worklist(driver: Any, base_url: str, order: Order) -> None:
    driver.get(f"{base_url}/")
    awaiting = driver.find_element(By.ID, "worklist-awaiting")
    awaiting.find_element(By.LINK_TEXT, order.number).click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "approve-form")))


def approve(driver: Any, comment: str) -> None:
    driver.find_element(By.CSS_SELECTOR, "#approve-form textarea").send_keys(comment)
    driver.find_element(By.ID, "approve-button").click()
    WebDriverWait(driver, WAIT).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".msg-success"))
    )


def test_big_order_goes_through_adv_and_direction_then_is_confirmed_by_email(
    live_server: Any,
    smtp_server: Any,  # noqa: F811 (the fixture imported above)
    browser: Any,
    tmp_path: Path,
) -> None:
    # given: one user per role with a real password, the Direction threshold, a customer
    users = {
        role: User.objects.create_user(f"{role.value}.browser", password=PASSWORD, role=role)
        for role in (Role.COMMERCIAL, Role.ADV, Role.DIRECTION)
    }
    ApprovalRule.objects.create(
        name="Montant > 50 000 €",
        kind="amount_over",
        threshold=Decimal("50000"),
        approver_role=Role.DIRECTION,
    )
    customer = CustomerFactory(name="Navigateur Industries SAS")
    recipient = customer.contacts.get(is_purchasing=True).email
    base = live_server.url
    wait = WebDriverWait(browser, WAIT)

    # when: the sales rep creates the order (live totals computed by the server) and submits it
    log_in(browser, base, users[Role.COMMERCIAL].username, PASSWORD)
    browser.get(f"{base}/orders/new/")
    browser.find_element(By.ID, "id_customer_q").send_keys("Navigateur")
    wait.until(
        ec.presence_of_element_located(
            (By.CSS_SELECTOR, f"#id_customer option[value='{customer.pk}']")
        )
    )
    Select(browser.find_element(By.ID, "id_customer")).select_by_value(str(customer.pk))
    browser.find_element(By.ID, "id_po_number").send_keys("BC-2026-118")
    browser.find_element(By.NAME, "lines-1-description").send_keys("Refonte du portail client")
    browser.find_element(By.NAME, "lines-1-quantity").send_keys("80")
    browser.find_element(By.NAME, "lines-1-unit_price").send_keys("800")
    wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#totals[data-net='64000.00']")
    )  # 80 × 800 € HT, through the HTMX totals endpoint
    assert browser.find_element(By.ID, "totals").get_attribute("data-gross") == "76800.00"
    browser.find_element(By.ID, "save-order").click()
    wait.until(ec.presence_of_element_located((By.ID, "submit-order")))
    order = Order.objects.get()
    assert order.total_net == Decimal("64000.00") and order.po_number == "BC-2026-118"
    browser.find_element(By.ID, "submit-order").click()
    wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#order-status[data-status='submitted']"))
    )
    log_out(browser)

    # ADV checks it from the worklist, then Direction
    log_in(browser, base, users[Role.ADV].username, PASSWORD)
    open_from_worklist(browser, base, order)
    approve(browser, "PO et SIRET vérifiés")
    log_out(browser)
    log_in(browser, base, users[Role.DIRECTION].username, PASSWORD)
    open_from_worklist(browser, base, order)
    approve(browser, "Client stratégique, OK")

    # then: validated, and the confirmation went through the real SMTP server
    order.refresh_from_db()
    assert order.status == OrderStatus.VALIDATED
    received = smtp_server.wait_for(1, timeout=20)
    assert order.number in received[0]["Subject"]
    assert recipient in received[0]["To"]
    assert order.emails.get().status == SendStatus.SENT
    browser.get(f"{base}/orders/{order.pk}/")
    wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#order-status[data-status='validated']"))
    )
    assert recipient in browser.find_element(By.ID, "emails").text
    screenshot = tmp_path / "validated-order.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 0
