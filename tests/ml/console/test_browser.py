"""The console in a real browser: Debian's chromium, driven by Selenium through chromedriver.

A local endpoint serves version 1 (real serve processes behind nginx); the console runs as
``invoke console`` runs it (granian, its own process). The browser approves version 2 by
clicking, then watches the blue/green update to it: the traffic shares on the page must pass
through the same states as the router's own nginx configuration, and the page must end with
the very lines the update printed. ``BYOC_CONSOLE_SCREENSHOTS=DIR`` keeps the screenshots
(docs/console.md shows them).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import REPO, Project, make_project

from ml.backends.local.training import KIND as TRAINING_KIND
from ml.reports.approval import review
from tools.bench.console import console_process

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# Long enough steps for a half-second poll to see each one on a busy machine; no autoscaler or
# capture, whose processes would only slow the machine down.
UPDATE = {
    "bluegreen_traffic": "CANARY",
    "bluegreen_step_percent": 50,
    "hosting_instance_count": 2,
    "autoscaling_enabled": False,
    "capture_enabled": False,
    "local_bluegreen_wait_seconds": 4,
    "local_bluegreen_baking_seconds": 4,
    "alarm_p99_latency_ms": 60000,
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Project]:
    """Version 1 (approved, serving) and version 2 (pending), trained for real once."""
    project = make_project(tmp_path, **UPDATE)
    (tmp_path / "data").mkdir()
    shutil.copy(REPO / "data" / "iris.csv", tmp_path / "data" / "iris.csv")
    backend = project.backend
    job = backend.train(data=str(tmp_path / "data" / "iris.csv"))
    backend.register(job_name=job.name, approval_status="Approved")
    record = backend.store.get(TRAINING_KIND, job.name)
    assert record is not None
    backend.store.put(TRAINING_KIND, f"{job.name}-again", record | {"name": f"{job.name}-again"})  # a second run, same model
    backend.register(job_name=f"{job.name}-again", approval_status="PendingManualApproval")
    backend.deploy_endpoint(endpoint_name=project.config.endpoint_name, version=1)
    assert review(backend, version=2).report is not None  # what `invoke report --version 2` writes, beside version 1
    yield project
    backend.teardown_all()


@pytest.fixture
def console(world: Project, tmp_path: Path) -> Iterator[str]:
    """The console as `invoke console` serves it (granian, its own process), on a free port."""
    log = tmp_path / "console.log"
    with console_process(code_root=REPO, project=world.root, log=log) as url:
        assert f"{url}/" in log.read_text(encoding="utf-8").splitlines()[0]  # it says its URL first
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/setup installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="byoc-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _shot(driver: Any, name: str) -> None:
    folder = os.environ.get("BYOC_CONSOLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def _router_shares(world: Project) -> dict[int, float]:
    """Traffic per model version as nginx is configured now (backups take none)."""
    name = world.config.endpoint_name
    conf = (world.root / world.config.local_state_dir / "endpoints" / name / "router" / "conf" / "nginx.conf").read_text(encoding="utf-8")
    owners = dict(re.findall(r'"(127\.0\.0\.1:\d+)" "([^"]+)";', conf))
    record = world.backend.store.get("endpoints", name)
    assert record is not None
    versions = {v["id"]: int(v["version"]) for v in record["fleet"]}
    weights: dict[int, float] = {}
    for addr, weight, backup in re.findall(r"server (127\.0\.0\.1:\d+) weight=(\d+)[^;]*?( backup)?;", conf):
        if not backup and addr in owners and owners[addr] in versions:
            version = versions[owners[addr]]
            weights[version] = weights.get(version, 0) + int(weight)
    total = sum(weights.values())
    return {v: round(100 * w / total) for v, w in weights.items() if w}


# One script call reads every row at once: separate WebDriver calls could straddle one of the
# page's updates and mix two states.
READ_SHARES = """
return Array.from(document.querySelectorAll('#variants tr[data-variant]')).map(function (r) {
  return [r.querySelector('td.version').textContent, r.querySelector('td.share').textContent];
});
"""


def _page_shares(driver: Any) -> dict[int, float]:
    rows = driver.execute_script(READ_SHARES)
    found = {int(version): float(share.rstrip("%")) for version, share in rows}
    return {v: round(s) for v, s in found.items() if s}


def _distinct(states: list[dict[int, float]]) -> list[dict[int, float]]:
    out: list[dict[int, float]] = []
    for state in states:
        if state and (not out or out[-1] != state):
            out.append(state)
    return out


def test_approve_by_click_then_watch_the_update_shift_traffic_as_the_router_does(world: Project, console: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    browser.get(f"{console}/versions")
    assert browser.find_element(By.CSS_SELECTOR, "#version-2 .status").text == "PendingManualApproval"
    _shot(browser, "versions")
    browser.find_element(By.LINK_TEXT, "2").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "report-accuracy"))
    assert browser.execute_script("return document.getElementById('confusion').naturalWidth") > 100  # the PNG loaded
    assert browser.find_elements(By.CSS_SELECTOR, "#report-comparison tr")  # beside version 1, on the same data
    browser.find_element(By.ID, "note").send_keys("checked in the browser <b>ok</b>")
    browser.find_element(By.ID, "approve").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "approval").text == "Approved")
    assert "model version 2 is Approved" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    decided = next(v for v in world.backend.list_versions() if v.version == 2)
    assert (decided.approval_status, decided.approvals[-1].note) == ("Approved", "checked in the browser <b>ok</b>")
    _shot(browser, "version")

    name = world.config.endpoint_name
    browser.get(f"{console}/endpoints/{name}")
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "live-state").text.startswith("live"))  # the script runs
    assert _page_shares(browser) == {1: 100}
    printed: list[str] = []
    failures: list[BaseException] = []

    def update() -> None:
        try:
            world.backend._on_event = printed.append  # what the CLI would print
            world.backend.update_endpoint(endpoint_name=name, version=2)
        except BaseException as err:
            failures.append(err)

    worker = threading.Thread(target=update)
    page_states: list[dict[int, float]] = []
    router_states: list[dict[int, float]] = []
    shot = False
    worker.start()
    while worker.is_alive():
        router_states.append(_router_shares(world))
        page_states.append(_page_shares(browser))
        if not shot and page_states[-1] == {1: 50, 2: 50}:
            _shot(browser, "endpoint-update")
            shot = True
        time.sleep(0.1)
    worker.join()
    assert not failures, failures
    time.sleep(1.5)  # the page's next poll after the update's end
    page_states.append(_page_shares(browser))
    router_states.append(_router_shares(world))
    assert _distinct(router_states) == [{1: 100}, {1: 50, 2: 50}, {2: 100}]
    assert _distinct(page_states) == _distinct(router_states)
    shown = [re.sub(r"^\S+ ", "", li.text, count=1) for li in browser.find_elements(By.CSS_SELECTOR, "#rollout li")]
    assert shown == printed[-len(shown) :] and len(shown) >= 6
    assert browser.find_element(By.ID, "served").text == "2"
    _shot(browser, "endpoint-done")


def test_the_pages_work_without_javascript(world: Project, console: str) -> None:
    """What a browser without scripts gets: whole pages, and the live view's refresh link."""
    with urllib.request.urlopen(f"{console}/endpoints/{world.config.endpoint_name}", timeout=10) as answer:
        page = answer.read().decode()
    assert 'id="refresh"' in page and 'class="share num">100.0%' in page
    assert re.search(r'<td class="version">1</td>', page)
