"""What the headless-Chromium tests share: where the browser is, when to skip, the driver.

`LEVIER_CHROMIUM` / `LEVIER_CHROMEDRIVER` point at a browser unpacked elsewhere than the
distribution's paths (`.ci/run` installs Debian's `chromium` and `chromium-driver`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LEVIER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LEVIER_CHROMEDRIVER", "/usr/bin/chromedriver")

MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() or shutil.which("chromium")),
        reason=f"headless browser test: {CHROMIUM} is not installed",
    ),
    pytest.mark.skipif(
        not (Path(CHROMEDRIVER).exists() or shutil.which("chromedriver")),
        reason=f"headless browser test: {CHROMEDRIVER} is not installed",
    ),
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1800",
        "--lang=fr-FR",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver: Any, base_url: str, username: str, password: str, wait: int = 30) -> None:
    """Sign in through the login page and wait for the signed-in header."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base_url}/login/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, wait).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".who")))
    assert username in driver.find_element(By.CSS_SELECTOR, ".who").text
