"""The status page in a real headless Chromium (selenium + chromedriver) against a real
``mdi demo`` process: the four venues listed, both charts drawn, a stalled venue shown stale;
and a plugin's panel on the page of an in-process service.

The demo's Kraken simulator is stalled from outside through ``MDI_DEMO_CONTROL`` (a file
``kraken.stall``): it keeps heartbeats and acks but sends no data, so the connector goes stale
after its ``stale_after`` and the page must say so. Every wait is for a condition with a generous
deadline (the machine may be loaded); no test sleeps and hopes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import pytest
from anyio.from_thread import start_blocking_portal
from litestar import Response, get
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from mdi.config import parse_config
from mdi.graph import assemble
from mdi.hookspecs import hookimpl
from mdi.plugins import build_plugin_host
from mdi.runtime import Service
from mdi.stats import ServiceStats
from mdi.statuspage.plugin_routes import RouteSpec
from demo_support import demo_toml

CHROMIUM = os.environ.get("MDI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MDI_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1300,1000",
)
VENUES = ["binance", "coinbase", "deribit", "kraken"]
KRAKEN_STALE_AFTER = 3.0
WAIT = 45.0  # generous: start-up of the demo and of Chromium on a loaded 2-core machine

T = TypeVar("T")


def demo_config(tmp: Path) -> Path:
    cfg = tmp / "config.toml"
    cfg.write_text(demo_toml(tmp / "lake", kraken=f"stale_after = {KRAKEN_STALE_AFTER}"))
    return cfg


def wait_for_url(log: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        match = re.search(r"health at (http://\S+)/health", log.read_text(errors="replace"))
        if match:
            return match.group(1)
        assert proc.poll() is None, f"mdi demo exited {proc.returncode}: {log.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"mdi demo never announced its URL: {log.read_text()}")


@pytest.fixture(scope="module")
def control() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mdi-demo-control-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def demo(control: Path) -> Iterator[str]:
    """A real ``mdi demo`` (four venue simulators, both pipelines, Parquet) on a free port."""
    tmp = control / "run"
    tmp.mkdir()
    log = tmp / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mdi.cli", "demo", str(demo_config(tmp)), "--rate", "20"],
            stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "MDI_DEMO_CONTROL": str(control)},
        )
    try:
        yield wait_for_url(log, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(control: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={control / 'chromium-profile'}")
    driver = webdriver.Chrome(service=ChromeService(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(browser: WebDriver, demo: str) -> WebDriver:
    browser.get(demo + "/")
    return browser


def until(driver: WebDriver, what: str, condition: Callable[[WebDriver], T], timeout: float = WAIT) -> T:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"page never showed {what} within {timeout} s; page text:\n{body}") from None


# Read what the page shows in one script call: the page redraws every second, so element
# handles kept across calls would go stale.
SNAPSHOT_JS = """
const rows = (sel) => [...document.querySelectorAll(sel)];
// series drawn as a line (two points or more), and every series with a path at all
const drawn = (chart) => rows(`svg#${chart} path.series`)
  .filter((p) => (p.getAttribute("d") || "").includes("L")).map((p) => p.dataset.series);
const paths = (chart) => rows(`svg#${chart} path.series`).map((p) => p.dataset.series);
return {
  venues: Object.fromEntries(rows("#venues tbody tr").map((r) => [r.dataset.venue, {
    state: r.dataset.state, age: r.querySelector("td.age").textContent, rate: r.querySelector("td.rate").textContent}])),
  sinks: rows("#sinks tbody tr").map((r) => r.dataset.sink),
  pipelines: Object.fromEntries(rows("#pipelines tbody tr").map((r) => [r.dataset.pipeline, r.dataset.state])),
  spot: drawn("spot-chart"),
  quality: rows("svg#spot-chart rect.quality").map((r) => r.getAttribute("class")),
  smiles: drawn("smile-chart"),
  smilePaths: paths("smile-chart"),
  smileLegend: document.getElementById("smile-legend").textContent,
};
"""
Shown = dict[str, Any]


def shown(driver: WebDriver) -> Shown:
    return driver.execute_script(SNAPSHOT_JS)  # type: ignore[no-any-return]


def states(view: Shown) -> dict[str, str]:
    return {name: v["state"] for name, v in view["venues"].items()}


def age(view: Shown, venue: str) -> float:
    text = view["venues"][venue]["age"]
    return float("inf") if text == "never" else float(text.removesuffix(" s"))


def when(test: Callable[[Shown], bool]) -> Callable[[WebDriver], Shown | None]:
    def check(driver: WebDriver) -> Shown | None:
        view = shown(driver)
        return view if test(view) else None

    return check


def test_the_page_lists_the_four_venues_live_with_their_rates(page: WebDriver) -> None:
    view = until(page, "four live venues with events/s", when(
        lambda v: list(states(v).values()) == ["live"] * 4 and all(x["rate"] not in ("", "–") for x in v["venues"].values())))
    assert sorted(view["venues"]) == VENUES
    assert all(float(x["rate"]) >= 0 for x in view["venues"].values())
    assert view["sinks"] == ["parquet"]
    assert view["pipelines"] == {"iv_surface": "running", "spot_mid": "running"}
    assert page.title == "mdi status"


def test_the_page_draws_the_spot_chart_with_each_venue_and_the_smile_chart(page: WebDriver) -> None:
    view = until(page, "both charts", when(
        lambda v: {"mid", "venue:kraken", "venue:coinbase"} <= set(v["spot"]) and bool(v["smiles"])))
    assert view["spot"][0] == "mid"
    assert view["quality"] and set(view["quality"]) <= {"quality q-Ok", "quality q-Degraded", "quality q-Suspect"}
    assert all(s.startswith("expiry:") for s in view["smilePaths"]) and 1 <= len(view["smilePaths"]) <= 3
    assert len(re.findall(r"\d{4}-\d{2}-\d{2}", view["smileLegend"])) == len(view["smilePaths"])  # an expiry date per smile


def test_a_stalled_venue_turns_stale_on_the_page(page: WebDriver, control: Path) -> None:
    until(page, "kraken live", when(lambda v: states(v).get("kraken") == "live" and age(v, "kraken") < 1.0))
    stalled_at = time.monotonic()
    (control / "kraken.stall").touch()
    view = until(page, "kraken stale", when(lambda v: states(v).get("kraken") == "stale"), timeout=KRAKEN_STALE_AFTER + WAIT)
    took = time.monotonic() - stalled_at
    assert age(view, "kraken") >= KRAKEN_STALE_AFTER, f"shown stale with data only {age(view, 'kraken')} s old"
    assert took >= KRAKEN_STALE_AFTER * 0.9, f"stale after {took:.1f} s, before stale_after"
    assert {k: v for k, v in states(view).items() if k != "kraken"} == {"binance": "live", "coinbase": "live", "deribit": "live"}
    (control / "kraken.stall").unlink()
    until(page, "kraken live again", when(lambda v: states(v).get("kraken") == "live" and age(v, "kraken") < KRAKEN_STALE_AFTER))


def test_fields_a_newer_health_adds_are_listed_not_hidden(page: WebDriver) -> None:
    """The page's own renderer, run in the browser on a /health shaped like a later mdi's (a
    journal section, an instance id): every unknown field is listed by its dotted name."""
    listed = page.execute_script("""
        renderMore({status: "ok", reasons: [], venues: {}, sinks: {}, pipelines: {},
                    journal: {lag_events: 12, segments: 3}, instance: "ny4-a"});
        return [...document.querySelectorAll("#more-fields tr")].map((r) => r.textContent);
    """)
    assert listed == ["journal.lag_events12", "journal.segments3", "instanceny4-a"]


class _PanelPlugin:
    """A plugin panel, as a third party would write one."""

    @hookimpl
    def mdi_register_routes(self, register: Any, service: ServiceStats) -> None:
        @get("/example/panel")
        async def panel() -> Response[str]:
            return Response(f"<p class='example-panel'>state {service.state}</p>", media_type="text/html")

        register(RouteSpec(handler=panel, panel="Example panel"))


def test_a_plugin_panel_is_shown_on_the_page(browser: WebDriver) -> None:
    """Last in this module: it points the shared browser away from the demo."""
    host = build_plugin_host(load_entrypoints=False, extra=[("example", _PanelPlugin())])
    service = Service(assemble(parse_config("[http]\nport = 0\n"), host))
    with start_blocking_portal(backend="asyncio") as portal:
        future, _ = portal.start_task(service.run)
        try:
            browser.get(f"{service.health_url}/")
            text = until(browser, "the plugin panel", lambda d: d.execute_script(
                "const p = document.querySelector('#panels .panel[data-plugin=\"example\"]');"
                "return p && p.querySelector('.example-panel') ? p.textContent : null;"))
        finally:
            portal.call(service.request_stop)
            future.result(timeout=30)
    assert text == "Example panelstate running"
