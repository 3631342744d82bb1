"""The chat page in real headless Chromium (Debian's chromium and chromedriver)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.asgi_server import RunningServer
from tests.support.services import Deployment, worker_process

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> webdriver.Chrome:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("install Debian's chromium and chromium-driver (make test does)")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium must not fetch drivers
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_ask_on_the_page_and_watch_stages_and_answer(
    browser: webdriver.Chrome, gateway: RunningServer, deployment: Deployment, logs: Path
) -> None:
    with worker_process(deployment, logs):
        browser.get(f"{gateway.url}/")
        assert "eco2" in browser.title
        browser.find_element(By.ID, "message").send_keys("건전지랑 페트병은 어떻게 버려?")
        browser.find_element(By.ID, "send").click()
        WebDriverWait(browser, 30).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "done"
        )
        answer = browser.find_element(By.ID, "answer").text
        stages = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#stages li")]
        classes = {
            li.get_attribute("class") for li in browser.find_elements(By.CSS_SELECTOR, "#stages li")
        }
        browser.save_screenshot(str(logs / "chat-page.png"))
    assert "폐건전지" in answer and "라벨" in answer
    assert any(s.startswith("intent") for s in stages)
    assert any(s.startswith("waste_rag#2") for s in stages)
    assert classes == {"completed"}
