"""The HTML report in a real headless Chromium: incidents render, banners show, log content is inert."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from enclave.cyber.report import render_html
from enclave.cyber.scan import ScanOptions, run_scan

from .test_sigma import GOOD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="Debian chromium + chromium-driver are needed (make sysdeps)"
)

HOSTILE = '"C:\\Windows\\System32\\whoami.exe" <script>document.title="pwned"</script><img src=x onerror=alert(1)>'


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _scan(tmp_path: Path) -> dict:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "whoami.yml").write_text(GOOD)
    logs = tmp_path / "sysmon.jsonl"
    events = [
        {
            "EventID": 1,
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": f"ws{h}.corp",
            "Image": "C:\\Windows\\System32\\whoami.exe",
            "CommandLine": HOSTILE,
            "EventRecordID": 10 + h,
            "SystemTime": f"2026-03-03T1{h}:00:00Z",
            "User": "CORP\\alice",
        }
        for h in range(3)
    ]
    logs.write_text("\n".join(json.dumps(e) for e in events))
    return run_scan([logs], system_high="NATO SECRET", options=ScanOptions(rules_dirs=[rules])).to_dict()


def test_report_renders_offline_with_banner_and_incidents(tmp_path, browser):
    from selenium.webdriver.common.by import By

    result = _scan(tmp_path)
    report = tmp_path / "report.html"
    report.write_text(render_html(result), encoding="utf-8")
    browser.get(report.as_uri())
    banners = browser.find_elements(By.CLASS_NAME, "banner")
    assert [b.text for b in banners] == [result["label"]["banner"]] * 2
    assert banners[0].location["y"] < 50  # at the very top of the page
    rows = browser.find_elements(By.CSS_SELECTOR, "#incidents tr.incident")
    assert len(rows) == len(result["incidents"]) == 3
    assert "ws0.corp" in browser.find_element(By.ID, "incidents").text
    assert "Jane Analyst" in browser.find_element(By.ID, "credits").text
    assert "Discovery" in browser.find_element(By.ID, "attack-matrix").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#timeline .tl span")) == 3
    # Hostile log content is shown as text and never runs
    assert browser.title.endswith("Enclave cyber scan report") and "pwned" not in browser.title
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert browser.find_elements(By.CSS_SELECTOR, "img") == []


def test_report_is_self_contained(tmp_path):
    import re

    html = render_html(_scan(tmp_path)).lower()
    tags = re.findall(r"<[a-z][^>]*>", html)
    assert not [t for t in tags if re.search(r"\b(src|href)=", t)], "no element may load anything"
    assert not [t for t in tags if t.startswith(("<script", "<link", "<iframe", "<img", "<object"))]
    assert "http://" not in html and "https://" not in html and "url(" not in html and "@import" not in html
    assert "&lt;script&gt;" in html  # the hostile command line is there, escaped
