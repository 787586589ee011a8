"""Horizon in headless Chromium (Debian's chromium and chromedriver, Selenium from PyPI):
the steps a person takes in the dashboard, as the Horizon tests use them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from devcloud.layout import PASSWORD, Layout
from devcloud.services import horizon
from tests.integration.conftest import CHECKOUT, DEVCLOUD_DIR

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# CASCADE_SCREENSHOTS=docs/horizon keeps the pages shown in docs/dashboard.md; otherwise
# the screenshots go to the test's temporary folder (taken either way)
SCREENSHOTS = os.environ.get("CASCADE_SCREENSHOTS")
T = TypeVar("T")


@contextmanager
def chromium() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(10)
    try:
        yield driver
    finally:
        driver.quit()


class Dashboard:
    """One signed-in browser on the devcloud's Horizon."""

    def __init__(self, driver: WebDriver, base: str, shots: Path) -> None:
        self.driver = driver
        self.base = base.rstrip("/")
        self.shots = Path(CHECKOUT / SCREENSHOTS) if SCREENSHOTS else shots

    def login(self, user: str) -> None:
        self.driver.get(f"{self.base}/auth/login/")
        self.driver.find_element(By.ID, "id_username").send_keys(user)
        self.driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
        self.driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait(lambda d: "/auth/login" not in d.current_url, "the login to finish")

    def open(self, path: str) -> None:
        self.driver.get(f"{self.base}/{path.lstrip('/')}")

    def wait(self, check: Callable[[WebDriver], T], what: str, timeout: float = 30) -> T:
        def tolerant(driver: WebDriver) -> T | None:
            try:
                return check(driver)
            except (StaleElementReferenceException, WebDriverException):
                return None  # the page changed under the check: look again

        found = WebDriverWait(self.driver, timeout, 0.5).until(tolerant, f"waiting for {what}")
        assert found is not None
        return found

    def until_row(self, table: str, name: str, text: str, timeout: float = 120) -> WebElement:
        """Reload the table's page until row `name` of `table` shows `text` (a status)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.driver.find_elements(
                By.CSS_SELECTOR, f"table#{table} tr[data-display='{name}']"
            )
            if rows and text in rows[0].text:
                return rows[0]
            if time.monotonic() > deadline:
                shown = rows[0].text if rows else "no such row"
                raise AssertionError(f"{table} row {name}: {text!r} not seen ({shown!r})")
            time.sleep(3)
            self.driver.refresh()

    def modal(self) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, ".modal-dialog form")

    def choose(self, scope: WebElement, label: str) -> None:
        """Pick `label` in a Horizon themable select (a Bootstrap dropdown over a select)."""
        scope.find_element(By.CSS_SELECTOR, ".themable-select .dropdown-toggle").click()
        menu = scope.find_element(By.CSS_SELECTOR, ".themable-select ul.dropdown-menu")
        menu.find_element(By.XPATH, f".//*[normalize-space()='{label}']").click()

    def choose_in(self, form: WebElement, field_id: str, label: str) -> None:
        """`choose` in the themable select of field `field_id` of `form`."""
        group = form.find_element(By.XPATH, f".//label[@for='{field_id}']/following-sibling::div")
        group.find_element(By.CSS_SELECTOR, ".dropdown-toggle").click()
        group.find_element(By.XPATH, f".//ul//*[normalize-space()='{label}']").click()

    def messages(self) -> list[str]:
        """The success/error messages shown after an action, dismissed."""

        def shown(d: WebDriver) -> tuple[list[WebElement], list[str]] | None:
            alerts = d.find_elements(By.CSS_SELECTOR, "div.messages div.alert")
            # read inside the wait: a page swapped under the reader is looked at again;
            # the text without the close button's "\u00d7"
            texts = [a.text.replace("\n", " ").replace("\u00d7", "").strip() for a in alerts]
            return (alerts, texts) if alerts else None

        found = self.wait(shown, "Horizon's message")
        assert found is not None
        alerts, texts = found
        for alert in alerts:
            try:
                for close in alert.find_elements(By.CSS_SELECTOR, "a.close"):
                    close.click()
            except StaleElementReferenceException:
                pass  # gone with its page: nothing left to dismiss
        return texts

    def transfer(self, scope: WebElement, label: str) -> None:
        """Move `label` to the allocated list of a launch-instance transfer table, unless
        the wizard allocated it already (the only network a project has is)."""
        buttons = f".//*[text()='{label}']//ancestor::tr/td//*[contains(@class, 'fa-arrow-')]"
        found = self.wait(lambda d: scope.find_elements(By.XPATH, buttons), f"{label}'s row")
        if "fa-arrow-up" in (found[0].get_attribute("class") or ""):
            found[0].click()

    def shot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def page_errors(self) -> list[str]:
        return [
            e.text
            for e in self.driver.find_elements(By.CSS_SELECTOR, "div.messages div.alert-danger")
        ]

    def visible(self, css: str) -> WebElement:
        shown = self.wait(ec.visibility_of_element_located((By.CSS_SELECTOR, css)), css)
        assert isinstance(shown, WebElement)
        return shown


@pytest.fixture
def dashboard(clouds_yaml: Path, tmp_path: Path) -> Iterator[Dashboard]:
    """A headless Chromium on the devcloud's Horizon, not signed in yet."""
    with chromium() as driver:
        yield Dashboard(driver, horizon.url(Layout(DEVCLOUD_DIR)), tmp_path)
