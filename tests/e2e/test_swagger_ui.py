"""The Swagger UI page in headless Chromium: our operation, the model's fields, a keyed call."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_S = 30
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,2400",
)


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("selenium is not installed (the dev extra needs it)")
        pytest.skip("selenium is not installed: pip install selenium")

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("headless Chromium needs Debian's chromium and chromium-driver packages")
    profile = tempfile.mkdtemp(prefix="amlstack-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_swagger_ui_shows_our_api_and_try_it_out_scores(stack, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    model = stack.container_json("/app/model/model.json")
    wait = WebDriverWait(browser, WAIT_S)
    # localhost, not 127.0.0.1: the page fetches http://localhost:5001/swagger.json, and the
    # scorer's CORS allows the Swagger UI origin.
    browser.get(stack.swagger.replace("127.0.0.1", "localhost") + "/")
    operation = wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#operations-default-RunMLService"))
    )
    assert "/score" in operation.text

    # Authorize once with the key.
    browser.find_element(By.CSS_SELECTOR, "button.authorize").click()
    key_input = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux input")))
    # The description is Markdown: a bare <key> used to vanish as an HTML tag ("as 'Bearer '").
    assert "Bearer <key>" in browser.find_element(By.CSS_SELECTOR, ".modal-ux").text
    key_input.send_keys(f"Bearer {stack.key}")
    browser.find_element(By.CSS_SELECTOR, ".modal-ux button.authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".modal-ux button.btn-done").click()

    # Open the operation: the example body lists every input field of the model.
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    body = wait.until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "textarea.body-param__text"))
    )
    example = json.loads(body.get_attribute("value"))
    record = example["data"][0]
    assert list(record) == [f["name"] for f in model["features"]]

    # Try it out -> Execute: the browser calls the scorer with the key and gets a 200.
    tryout = operation.find_elements(By.CSS_SELECTOR, "button.try-out__btn")
    if tryout and tryout[0].text.strip().lower() == "try it out":
        tryout[0].click()
    operation.find_element(By.CSS_SELECTOR, "button.execute").click()
    status = wait.until(
        ec.visibility_of_element_located(
            (By.CSS_SELECTOR, ".live-responses-table .response .response-col_status")
        )
    )
    answer = operation.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
    assert status.text.strip() == "200", answer
    assert json.loads(answer)["model"]["name"] == model["name"]
