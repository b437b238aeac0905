"""Debian's Chromium, driven by selenium 4, submitting a form as a person would.

Only the machine's own binaries are used: ``/usr/bin/chromium`` through ``/usr/bin/chromedriver``.
Giving the driver's path to the ``Service`` makes selenium skip Selenium Manager (``DriverFinder`` logs
"Skipping Selenium Manager" and never runs it; :func:`chromium` checks that it said so), so nothing is
downloaded; ``SE_OFFLINE=true`` is set while the driver starts as well, in case a later selenium consults
it anyway. Headless, and ``--no-sandbox`` because CI runs as root.

Without Chromium the tests skip, unless ``LR_CI_REQUIRE_REFERENCE_TOOLS`` is set (``.ci/run`` sets it):
then they fail, as tests/test_bundle_builds.py does for node and npm.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PAGE_LOAD_TIMEOUT_S = 15
SCRIPT_TIMEOUT_S = 10


def require_chromium() -> None:
    """Skip (or, under ``LR_CI_REQUIRE_REFERENCE_TOOLS``, fail) when Debian's Chromium is not installed."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        if os.environ.get("LR_CI_REQUIRE_REFERENCE_TOOLS"):
            pytest.fail(
                f"missing the reference browser: {', '.join(missing)} (apt-get install chromium chromium-driver)"
            )
        pytest.skip(
            f"the browser comparison needs Debian's chromium and chromium-driver: {', '.join(missing)} missing"
        )


class _DriverFinderLog(logging.Handler):
    """Collects what selenium's DriverFinder says while the driver starts."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def chromium(*, performance_log: bool = False) -> Iterator[Any]:
    """One headless Chromium for the ``with`` block; every wait inside it is bounded. With
    ``performance_log``, ``driver.get_log("performance")`` returns the DevTools events (``Network.*``:
    every request the page made).

    Raises if selenium did not say that it skipped Selenium Manager: the tool that would otherwise look
    for (and download) a browser and driver must never run here.
    """
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        "--window-size=1280,2000",
        # The label an <input type=submit> without a value sends ("Submit") is the browser's language's.
        "--lang=en-US",
    ):
        options.add_argument(argument)
    if performance_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    finder_logger = logging.getLogger("selenium.webdriver.common.driver_finder")
    log, level, offline = _DriverFinderLog(), finder_logger.level, os.environ.get("SE_OFFLINE")
    finder_logger.addHandler(log)
    finder_logger.setLevel(logging.DEBUG)
    os.environ["SE_OFFLINE"] = "true"
    try:
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    finally:
        finder_logger.removeHandler(log)
        finder_logger.setLevel(level)
        if offline is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = offline
    try:
        if not any("Skipping Selenium Manager" in message for message in log.messages):
            raise AssertionError(f"selenium may have run Selenium Manager (its log: {log.messages})")
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
        driver.set_script_timeout(SCRIPT_TIMEOUT_S)
        yield driver
    finally:
        driver.quit()


_CONTROLS = """
const [form, names] = arguments;
const found = {};
for (const name of names) {
  // The form's listed controls in tree order, form= attribute ones included (form.elements leaves out
  // image buttons, which are never filled).
  const control = Array.from(form.elements).find((element) => element.name === name);
  if (control) found[name] = control;
}
return found;
"""

_DEFAULT_BUTTON = """
const form = arguments[0];
const isSubmit = (element) =>
  (element.localName === "button" && element.type === "submit") ||
  (element.localName === "input" && (element.type === "submit" || element.type === "image"));
return Array.from(document.querySelectorAll("button, input")).find(
  (element) => element.form === form && isSubmit(element)) || null;
"""


def fill_and_submit(
    driver: Any, url: str, form_selector: str, submitter: str | None, fields: Mapping[str, str]
) -> None:
    """Load ``url``, type ``fields`` into the controls of the form ``form_selector`` selects, and submit it
    as a person would.

    A text control is cleared and typed into; a ``select`` gets the option with that value selected; a
    file input is left alone. The submitter is clicked (an ``input type=image`` is activated without a
    pointer, as the keyboard does, so it sends the coordinates 0,0 rather than wherever a mouse landed);
    without one, the form's default button (the first submit button whose form owner is the form) is
    clicked, and a form without any is submitted with ``form.requestSubmit()``, as pressing Enter would.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(url)
    form = driver.find_element(By.CSS_SELECTOR, form_selector)
    controls = driver.execute_script(_CONTROLS, form, list(fields))
    missing = [name for name in fields if name not in controls]
    assert not missing, f"the browser found no control named {missing} in {form_selector} on {url}"
    for name, value in fields.items():
        control = controls[name]
        tag, kind = control.tag_name.lower(), (control.get_attribute("type") or "").lower()
        if tag == "select":
            Select(control).select_by_value(value)
        elif kind != "file":
            control.clear()
            control.send_keys(value)
    if submitter is not None:
        button = driver.find_element(By.CSS_SELECTOR, submitter)
    else:
        button = driver.execute_script(_DEFAULT_BUTTON, form)
    if button is None:
        driver.execute_script("arguments[0].requestSubmit()", form)
    elif (button.get_attribute("type") or "").lower() == "image":
        driver.execute_script("arguments[0].click()", button)
    else:
        button.click()


def wait_for_title(driver: Any, title: str, timeout_s: float) -> None:
    """Wait until the page shown has ``title``: the navigation a submission started has finished, so the
    next ``driver.get`` cannot race with it (a late commit of the answer page would replace the next
    page, and its form would not be found)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout_s, poll_frequency=0.02).until(lambda shown: shown.title == title)
