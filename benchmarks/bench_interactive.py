"""Interactive traces of the paper case: Bokeh (as the report ships it) against Plotly.

Both pages hold the same samples (the report's embedded samples: every sample of the
model and both circuits, 1.3 million values) and open offline:
  (a) Bokeh, as in report.html: the samples embedded once, drawn through the page's
      min/max pyramid (at most 4000 points per line);
  (b) Plotly, the same samples as WebGL lines (scattergl, Plotly's own way with long
      traces), plotly.js inline.
Measured side by side: page size, Python time to build and write the page (median of
--repeats), and in headless Chromium (Debian's, through selenium) the time from
navigation to a drawn page and the time a zoom to a 20x narrower window takes to be
drawn (medians). Chromium here has no GPU: WebGL runs on its software renderer.
Run: .venv/bin/python benchmarks/bench_interactive.py [--repeats N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from alif_spice.cases import load_case, run_case
from alif_spice.circuits import engine as engine_of
from alif_spice.interactive import PANELS, embedded_samples, interactive_traces

from _timing import median_time

_PAGE = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>{head}</head>"
         "<body>{body}</body></html>")


def bokeh_page(result, path: Path) -> None:
    js, figure, _ = interactive_traces(result)
    path.write_text(_PAGE.format(title="bokeh", head=js, body=figure), encoding="utf-8")


def plotly_page(result, path: Path) -> None:
    import plotly.graph_objects as go
    from matplotlib.colors import to_hex
    from plotly.subplots import make_subplots

    samples = embedded_samples(result)
    fig = make_subplots(rows=len(PANELS) + 1, cols=1, shared_xaxes=True, vertical_spacing=0.02)
    for row, (col, label, _, _) in enumerate(PANELS, start=1):
        for name, data in samples.items():
            if col in data:
                eng = engine_of(name)
                fig.add_trace(go.Scattergl(x=data["t"], y=data[col], mode="lines", name=eng.label,
                                           line={"color": to_hex(eng.color), "width": 1},
                                           legendgroup=name, showlegend=row == 2), row=row, col=1)
        fig.update_yaxes(title_text=label, row=row, col=1)
    traces = {"ode": result.ode, **result.spice}
    for k, (name, tr) in enumerate(traces.items()):
        s = tr.spikes * 1e3
        xs = [v for t in s for v in (t, t, None)]
        ys = [v for _ in s for v in (k + 0.1, k + 0.9, None)]
        fig.add_trace(go.Scattergl(x=xs, y=ys, mode="lines", line={"color": to_hex(engine_of(name).color)},
                                   showlegend=False), row=len(PANELS) + 1, col=1)
    fig.update_xaxes(title_text="time (ms)", row=len(PANELS) + 1, col=1)
    fig.update_layout(height=900, dragmode="zoom")
    path.write_text(fig.to_html(include_plotlyjs=True, full_html=True, div_id="traces"), encoding="utf-8")


_BOKEH_DRAWN = """
const doc = window.Bokeh && Bokeh.documents[0];
return !!(doc && doc.is_idle);
"""
_PLOTLY_DRAWN = """
const div = document.getElementById('traces');
return !!(div && div._fullLayout && div._fullData && div._fullData.length);
"""
_BOKEH_ZOOM = """
const done = arguments[arguments.length - 1];
const doc = Bokeh.documents[0], xr = doc.get_model_by_name('time'), s = doc.get_model_by_name('shown_ode_v_mem');
const before = s.data.x, t0 = performance.now();
xr.setv({start: arguments[0], end: arguments[1]});
(function wait() {
  if (s.data.x === before) return requestAnimationFrame(wait);
  requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
})();
"""
_PLOTLY_ZOOM = """
const done = arguments[arguments.length - 1];
const div = document.getElementById('traces'), t0 = performance.now();
Plotly.relayout(div, {'xaxis.range': [arguments[0], arguments[1]]}).then(
  () => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0))));
"""


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600",
                "--enable-unsafe-swiftshader", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or ""), options=options)
    driver.set_script_timeout(120)
    return driver


def in_browser(driver, page: Path, drawn: str, zoom: str, end_ms: float, repeats: int) -> dict:
    loads, zooms = [], []
    for _ in range(repeats):
        driver.get(page.as_uri())
        while not driver.execute_script(drawn):
            time.sleep(0.01)
        loads.append(driver.execute_script("return performance.now()"))
        width = end_ms / 20
        zooms.append(driver.execute_async_script(zoom, end_ms / 2, end_ms / 2 + width))
    errors = [m["message"] for m in driver.get_log("browser") if m["level"] == "SEVERE"]
    return {"drawn_ms": statistics.median(loads), "zoom_ms": statistics.median(zooms), "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    result = run_case(load_case("paper"))
    end_ms = result.params.simulation.t_stop * 1e3
    values = sum(d["t"].size * (len(d) - 1) for d in embedded_samples(result).values())
    print(f"paper case: {values:,} embedded values; medians of {args.repeats}")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        pages = {"bokeh": (bokeh_page, _BOKEH_DRAWN, _BOKEH_ZOOM), "plotly": (plotly_page, _PLOTLY_DRAWN, _PLOTLY_ZOOM)}
        for name, (build, _, _) in pages.items():
            path = Path(tmp) / f"{name}.html"
            rows[name] = {"write_s": median_time(lambda b=build, p=path: b(result, p), args.repeats)[0],
                          "bytes": path.stat().st_size}
        if shutil.which("chromium") and shutil.which("chromedriver"):
            driver = browser()
            try:
                for name, (_, drawn, zoom) in pages.items():
                    rows[name].update(in_browser(driver, Path(tmp) / f"{name}.html", drawn, zoom, end_ms,
                                                 args.repeats))
            finally:
                driver.quit()
        else:
            print("no chromium/chromedriver: browser times not measured")
    print(f"{'library':8} {'page MB':>8} {'write s':>8} {'drawn ms':>9} {'zoom ms':>8}  console errors")
    for name, r in rows.items():
        print(f"{name:8} {r['bytes'] / 1e6:8.2f} {r['write_s']:8.2f} {r.get('drawn_ms', float('nan')):9.0f} "
              f"{r.get('zoom_ms', float('nan')):8.0f}  {len(r.get('errors', []))}")
    if "drawn_ms" in rows["bokeh"]:
        b, p = rows["bokeh"], rows["plotly"]
        print(f"ratios plotly/bokeh: size {p['bytes'] / b['bytes']:.2f}, write {p['write_s'] / b['write_s']:.2f}, "
              f"drawn {p['drawn_ms'] / b['drawn_ms']:.2f}, zoom {p['zoom_ms'] / b['zoom_ms']:.2f}")


if __name__ == "__main__":
    main()
