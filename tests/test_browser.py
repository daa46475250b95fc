"""The comparison report and a sweep summary in a real browser: Debian's headless Chromium
driven by selenium through the system's chromedriver (nothing downloads a browser).

Each page must load without console errors, every image must decode and every Bokeh
canvas must hold a drawing, every link must be a file of the output folder, and the
interactive traces must answer a zoom: a narrower time range, lines redrawn from the
embedded samples (the window's extremes kept, at most the page's point budget, every
sample once zoomed in far enough). Screenshots and the measured load and render times
are written to ``tests/artefacts/``."""

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli

ARTEFACTS = Path(__file__).parent / "artefacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.spice

# every element of the page, through Bokeh's shadow roots
_DEEP = """
function deep(root, out) {
  for (const e of root.querySelectorAll('*')) { out.push(e); if (e.shadowRoot) deep(e.shadowRoot, out); }
  return out;
}
"""

# per plot (a canvas' shadow root: its drawing layer and an empty event layer), the pixels
# drawn on it that are neither blank nor white
_DRAWN_CANVASES = _DEEP + """
const found = deep(document, []).filter(e => e.tagName === 'CANVAS' && e.width > 50 && e.height > 50);
const plots = new Map();
for (const c of found) {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) ink++;
  const root = c.getRootNode();
  plots.set(root, Math.max(plots.get(root) || 0, ink));
}
return Array.from(plots.values());
"""

_IMAGES = """
const imgs = Array.from(document.images);
await Promise.all(imgs.map(i => i.decode().catch(() => null)));
return imgs.map(i => [i.alt, i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0]);
"""

_STATE = """
const doc = Bokeh.documents[0], xr = doc.get_model_by_name('time');
const s = doc.get_model_by_name(arguments[0]);
return [xr.start, xr.end, Array.from(s.data.x), Array.from(s.data.y)];
"""


@pytest.fixture(scope="module")
def browser():
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", DRIVER)) if not path]
    if missing:
        pytest.skip(f"no browser to test with: {' and '.join(missing)} not installed "
                    "(on Debian: apt-get install chromium chromium-driver; `make test` does it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600",
                "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(60)
    ARTEFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def _open(driver, page: Path) -> dict:
    """Load ``page``; wait until every image decodes and every canvas holds a drawing; the
    load and render times (ms from navigation start) and the console's messages."""
    driver.get_log("browser")  # drop what earlier pages printed
    driver.get(page.as_uri())
    deadline = time.monotonic() + 60
    while True:
        state = driver.execute_script("return [document.readyState, performance.now()]")
        inks = driver.execute_script(_DRAWN_CANVASES)
        if state[0] == "complete" and all(inks):
            break
        assert time.monotonic() < deadline, f"{page.name}: not drawn in 60 s (canvases {inks})"
        time.sleep(0.02)
    nav = driver.execute_script("return performance.getEntriesByType('navigation')[0].toJSON()")
    images = driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                         "(async () => {" + _IMAGES + "})().then(done);")
    return {"load_ms": nav["loadEventEnd"], "drawn_ms": state[1], "canvases": inks, "images": images,
            "console": driver.get_log("browser")}


def _check_page(driver, page: Path, opened: dict) -> None:
    errors = [m for m in opened["console"] if m["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    # nothing runs off the side of a 1280 px window (a wide table scrolls on its own)
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    assert opened["images"] and all(width > 0 for _, width in opened["images"]), opened["images"]
    # every link leads to a file of the output folder
    hrefs = driver.execute_script("return Array.from(document.querySelectorAll('a[href]'), a => a.href)")
    folder = page.parent.resolve()
    for href in hrefs:
        assert href.startswith("file://"), href
        target = Path(href[len("file://"):].split("#")[0])
        assert target.resolve().is_relative_to(folder) and target.is_file(), href


def _screenshot(driver, name: str) -> Path:
    path = ARTEFACTS / name
    driver.save_screenshot(str(path))
    return path


@pytest.fixture(scope="module")
def paper_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "paper"
    res = run_cli("compare", "--case", "paper", "-o", out)
    assert res.returncode == 0, res.stderr
    return out


def _wheel(driver, element, events: int) -> None:
    """``events`` turns of the mouse wheel (500 px up each) over ``element``: zoom in."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    for _ in range(events):
        ActionChains(driver).scroll_from_origin(ScrollOrigin.from_element(element), 0, -500).perform()


def _redrawn(driver, name: str, old_range) -> list:
    deadline = time.monotonic() + 10
    while True:
        state = driver.execute_script(_STATE, name)
        if (state[0], state[1]) != tuple(old_range) and state[2]:
            time.sleep(0.2)  # both ends of the range notify; take the last drawing
            return driver.execute_script(_STATE, name)
        assert time.monotonic() < deadline, "the plot did not answer the zoom"
        time.sleep(0.02)


def test_the_paper_report_in_a_browser(browser, paper_report):
    from alif_spice.interactive import SHOWN

    page = paper_report / "report.html"
    opened = _open(browser, page)
    _check_page(browser, page, opened)
    # the five static figures (the fifth: the control experiment), and the interactive panels
    # (input, v_mem, x, v_c, spikes)
    assert len(opened["images"]) == 5 and len(opened["canvases"]) == 5, opened
    _screenshot(browser, "report_top.png")

    # a zoom with the mouse wheel over the v_mem panel
    traces = pd.read_parquet(paper_report / "traces.parquet")
    ode = traces[traces.source == "ode"]
    t_ms, v_mem = ode.time.to_numpy() * 1e3, ode.v_mem.to_numpy().astype(np.float32)
    start, end, x0, _ = browser.execute_script(_STATE, "shown_ode_v_mem")
    assert (start, end) == (0, pytest.approx(t_ms[-1])) and 0 < len(x0) <= SHOWN
    panel = browser.execute_script(_DEEP + """
        const views = deep(document, []).filter(e => e.tagName === 'CANVAS' && e.width > 50);
        return views[2];""")  # the second panel (v_mem): its third canvas
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", panel)
    _wheel(browser, panel, 1)
    lo, hi, x, y = _redrawn(browser, "shown_ode_v_mem", (start, end))
    assert 0 <= lo < hi <= end and hi - lo < 0.8 * (end - start), (lo, hi)
    _screenshot(browser, "report_zoomed.png")
    # the redrawn line: real samples, at most SHOWN of them, the window's extremes kept
    x, y = np.array(x), np.array(y, dtype=np.float32)
    idx = np.searchsorted(t_ms, x)
    assert len(x) <= SHOWN and np.allclose(t_ms[np.minimum(idx, len(t_ms) - 1)], x, rtol=0, atol=1e-9)
    assert np.array_equal(v_mem[idx], y)
    inside = (t_ms >= lo) & (t_ms <= hi)
    assert y.max() >= v_mem[inside].max() and y.min() <= v_mem[inside].min()
    assert len(x) / (hi - lo) > 2 * len(x0) / (end - start)  # more points per unit time than before
    # zoomed in to 0.2 ms (2,000 model steps): every sample
    browser.execute_script("const xr = Bokeh.documents[0].get_model_by_name('time');"
                           "xr.setv({start: 1.0, end: 1.2});")
    lo, hi, x, y = _redrawn(browser, "shown_ode_v_mem", (lo, hi))
    # from the last sample before the window to the first at or after its end
    every = np.arange(np.searchsorted(t_ms, 1.0) - 1, np.searchsorted(t_ms, 1.2) + 1)
    np.testing.assert_allclose(x, t_ms[every], rtol=0, atol=1e-9)
    assert np.array_equal(np.array(y, dtype=np.float32), v_mem[every])
    # a window not aligned to the pyramid's buckets: still at most SHOWN points, and the
    # whole run again: the lines reach both ends of the run
    browser.execute_script("Bokeh.documents[0].get_model_by_name('time').setv({start: 0.00015, end: 0.79995});")
    lo, hi, x, y = _redrawn(browser, "shown_ode_v_mem", (lo, hi))
    assert len(x) <= SHOWN
    browser.execute_script(f"Bokeh.documents[0].get_model_by_name('time').setv({{start: 0, end: {end}}});")
    lo, hi, x, y = _redrawn(browser, "shown_ode_v_mem", (lo, hi))
    assert x[0] == t_ms[0] and x[-1] == t_ms[-1] and len(x) <= SHOWN
    # zooming on and on stops at the narrowest range instead of collapsing it
    _wheel(browser, panel, 40)
    time.sleep(0.5)
    lo, hi, x, y = browser.execute_script(_STATE, "shown_ode_v_mem")
    assert lo is not None and hi is not None and hi - lo >= 0.999e-6 and len(x) >= 2, (lo, hi, len(x))
    errors = [m for m in browser.get_log("browser") if m["level"] in ("SEVERE", "ERROR", "WARNING")]
    assert errors == [], errors

    size = page.stat().st_size
    assert size < 15e6, size
    (ARTEFACTS / "report.json").write_text(json.dumps(
        {"page": str(page), "bytes": size, "load_ms": opened["load_ms"], "drawn_ms": opened["drawn_ms"],
         "screenshots": ["report_top.png", "report_zoomed.png"]}, indent=1) + "\n")


def test_a_sweep_summary_in_a_browser(browser, tmp_path):
    res = run_cli("sweep", "--set", "simulation.t_stop=3m", "--grid", "stimulus.amplitude=1m,2m,4m",
                  "--grid", "stimulus.frequency=500,1000", "--engines", "ode,ideal,hardware", "-o", tmp_path / "s")
    assert res.returncode == 0, res.stderr
    page = tmp_path / "s" / "summary.html"
    opened = _open(browser, page)
    _check_page(browser, page, opened)
    figures = sorted(p.name for p in (tmp_path / "s" / "figures").glob("*.png"))
    assert len(opened["images"]) == len(figures) >= 3, (opened["images"], figures)
    text = browser.find_element("tag name", "body").text
    assert re.search(r"\bideal\b", text) and re.search(r"\bhardware\b", text)
    _screenshot(browser, "summary.png")
    (ARTEFACTS / "summary.json").write_text(json.dumps(
        {"page": str(page), "bytes": page.stat().st_size, "load_ms": opened["load_ms"],
         "drawn_ms": opened["drawn_ms"], "screenshots": ["summary.png"]}, indent=1) + "\n")
