"""The dashboard page in a real headless browser (Debian's chromium and chromedriver,
driven by Selenium) against a real echoray on a real port, with seeded memories, two
memory chats and one consolidation run: the table, the affect plane, the link graph, a
trace, the figures and a restore, with no error in the browser's console (a blocked
outside fetch would be one). Leaves a screenshot in ``results/dashboard.png``."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import fake_config
from tests.integration.dashboard.seed import (
    ADMIN_KEY,
    FACT,
    OLD,
    QUESTION,
    TENANT,
    USER,
    bearer,
    chat,
    config_args,
    consolidate,
    seed_memories,
)

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
RESULTS = Path(__file__).resolve().parents[3] / "results"
WAIT_S = 20

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (make system-deps installs them)",
)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


async def prepare(url: str, drain: Any) -> None:
    """Alice's memories, two chats (their captures stored), then a run that archives."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await seed_memories(http)
        await chat(http, "Hello, I am back from Lisbon")
        await chat(http, QUESTION)
        await asyncio.to_thread(drain)
        run = await consolidate(http)
        assert run["counts"]["archived"] == 1, run


def test_the_dashboard_shows_a_users_mind_and_restores(tmp_path: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.live_server import live_echoray

    wait = WebDriverWait(browser, WAIT_S)

    def css(selector: str) -> list[Any]:
        return list(browser.find_elements(By.CSS_SELECTOR, selector))

    def ids(selector: str) -> set[str]:
        """The ``data-id`` of what matches, read in one step: the page may redraw."""
        script = "return [...document.querySelectorAll(arguments[0])].map(e => e.dataset.id)"
        return set(browser.execute_script(script, selector))

    with live_echoray(fake_config(**config_args(str(tmp_path)))) as live:
        asyncio.run(prepare(live.url, live.drain))
        browser.get(f"{live.url}/dashboard")
        for field, value in (("key", ADMIN_KEY), ("tenant", TENANT), ("user", USER)):
            browser.find_element(By.ID, field).send_keys(value)
        browser.find_element(By.ID, "load").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), f"Showing {USER}"))

        # The table and the plane: every memory, one point each; the archived one absent.
        rows = {r.get_attribute("data-id"): r for r in css("#memories tbody tr")}
        assert {"biscuit", "lisbon", "chef"} <= set(rows) and "old" not in rows
        assert FACT in rows["biscuit"].text and "0.90" in rows["biscuit"].text
        assert len(css("#affect circle.point")) == len(rows)

        # The graph around the beagle: its session's memories, linked in time.
        rows["biscuit"].click()
        centre = (By.CSS_SELECTOR, '#graph circle.node.selected[data-id="biscuit"]')
        wait.until(ec.presence_of_element_located(centre))
        assert {"biscuit", "lisbon", "chef"} <= ids("#graph circle.node")
        assert len(css("#graph line.link-temporal")) >= 2

        # The newest chat's trace, open: the beagle recalled, with the stage timings.
        traces = css("#traces details.trace")
        assert len(traces) == 2 and QUESTION in traces[0].text
        assert traces[0].get_attribute("open") is not None
        assert "biscuit" in ids("#traces details.trace tr[data-id]")
        assert "memory_fetch" in traces[0].find_element(By.CSS_SELECTOR, "svg.stage-bars").text

        figures = browser.find_element(By.ID, "figures").text
        assert "requests" in figures and "fake" in figures and "memory_fetch" in figures
        runs = css("#runs tbody tr")
        assert len(runs) == 1 and "archived 1" in runs[0].text
        archived = css("#archive tbody tr[data-id]")
        assert [r.get_attribute("data-id") for r in archived] == ["old"]
        assert OLD in archived[0].text and "forgotten" in archived[0].text

        screenshot(browser)

        archived[0].find_element(By.CSS_SELECTOR, "button.restore").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "Restored"))
        wait.until(lambda _: not css("#archive tbody tr[data-id]"))
        wait.until(lambda _: "old" in ids("#memories tbody tr"))
        back = httpx.get(
            f"{live.url}/v1/memories/old", params={"user": USER}, headers=bearer("sk-acme")
        )
        assert back.status_code == 200 and back.json()["text"] == OLD

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def screenshot(browser: Any) -> None:
    """The whole page, beyond the window (Chrome's DevTools protocol)."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard.png").write_bytes(base64.b64decode(shot["data"]))
