"""A real headless Chromium (Debian's `chromium` + `chromium-driver`) driven by Selenium.

Without the browser the browser tests are skipped, unless CALLQA_REQUIRE_BROWSER=1 (CI sets it when
it has installed the browser), where its absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")


def require_browser() -> None:
    if CHROMIUM and DRIVER:
        return
    message = "headless Chromium and chromedriver not installed (apt-get install chromium chromium-driver)"
    if os.environ.get("CALLQA_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def start_browser(network_log: bool = False) -> Any:
    """`network_log`: also keep Chromium's network events (driver.get_log("performance"))."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", "--disable-background-networking",
                "--window-size=1400,1000", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", **({"performance": "ALL"} if network_log else {})})
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
