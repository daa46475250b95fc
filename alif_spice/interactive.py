"""The report's interactive traces: a zoomable, pannable overlay of the RK4 model and the
circuits (input current, v_mem, x, v_c, spike rasters) over the whole run, as a
self-contained Bokeh document (no network, no server).

Every sample is embedded (time in ms) up to :data:`MAX_SAMPLES` in all; the page
draws at most about :data:`SHOWN` points per line. When the view changes, the page picks
a level of a min/max pyramid it builds once in the browser (buckets of 4, 16, 64 …
samples, each bucket's smallest and largest sample in time order) so that the visible
part of a line has at most ``SHOWN`` points, or the samples themselves once few enough are
visible: a 10⁶-sample trace costs the same per redraw as a short one, narrow spikes stay
visible at every zoom, and zooming in reaches every sample."""

from __future__ import annotations

import numpy as np

from .cases import CaseResult
from .circuits import engine as engine_of
from .trace import decimate_index

SHOWN = 4000  # points per line drawn at most (min/max pairs of buckets, or the samples)
MAX_SAMPLES = 1_500_000  # samples embedded in all; longer runs are thinned to fit (said so)
MIN_INTERVAL_MS = 1e-6  # the narrowest time range the figure zooms to (ms): 1 ns
FACTOR = 4  # samples per bucket of the pyramid's first level, and level to level

#: (trace column, axis label, scale, only the model's) in panel order
PANELS = [("i_in", "input current (mA)", 1e3, True), ("v_mem", "v_mem (V)", 1.0, False),
          ("x", "memristor state x", 1.0, False), ("v_c", "v_c (V)", 1.0, False)]

# Runs in the page on load and on every change of the shared time range. ``lines`` pairs
# each drawn line's source with its trace's embedded samples (``full``: t and the columns)
# and its column.
_REDRAW = """
const lo = xr.start, hi = xr.end;
const F = %(factor)d, SHOWN = %(shown)d;
function pyramid(y) {
  // levels[k] = [imin, imax]: per bucket of F^(k+1) samples, the index of its min and max
  const levels = [];
  let n = y.length, lo_i = null, hi_i = null;
  while (n > SHOWN / 2) {
    const m = Math.ceil(n / F), imin = new Int32Array(m), imax = new Int32Array(m);
    for (let b = 0; b < m; b++) {
      let a = b * F, e = Math.min(a + F, n);
      let best_lo = lo_i ? lo_i[a] : a, best_hi = hi_i ? hi_i[a] : a;
      for (let j = a + 1; j < e; j++) {
        const jl = lo_i ? lo_i[j] : j, jh = hi_i ? hi_i[j] : j;
        if (y[jl] < y[best_lo]) best_lo = jl;
        if (y[jh] > y[best_hi]) best_hi = jh;
      }
      imin[b] = best_lo; imax[b] = best_hi;
    }
    levels.push([imin, imax]);
    lo_i = imin; hi_i = imax; n = m;
  }
  return levels;
}
function lower(t, v) {  // first index with t[i] >= v
  let a = 0, b = t.length;
  while (a < b) { const m = (a + b) >> 1; if (t[m] < v) a = m + 1; else b = m; }
  return a;
}
for (const [shown, full, col] of lines) {
  const t = full.data.t, y = full.data[col];
  if (full._alif_levels === undefined) full._alif_levels = {};
  if (full._alif_levels[col] === undefined) full._alif_levels[col] = pyramid(y);
  const i0 = Math.max(lower(t, lo) - 1, 0), i1 = Math.min(lower(t, hi) + 1, t.length);
  let xs, ys;
  if (i1 - i0 <= SHOWN) {
    xs = t.slice(i0, i1); ys = y.slice(i0, i1);
  } else {
    // the coarsest level needed: its buckets over the window, two points each, plus the
    // window's first and last sample, at most SHOWN points
    let k = 0, size = F;
    while (2 * (Math.ceil(i1 / size) - Math.floor(i0 / size)) + 2 > SHOWN) { k += 1; size *= F; }
    const [imin, imax] = full._alif_levels[col][k];
    const b0 = Math.floor(i0 / size), b1 = Math.min(Math.ceil(i1 / size), imin.length);
    const keep = [i0];
    for (let b = b0; b < b1; b++) {
      const p = Math.min(imin[b], imax[b]), q = Math.max(imin[b], imax[b]);
      if (p > keep[keep.length - 1]) keep.push(p);
      if (q > keep[keep.length - 1]) keep.push(q);
    }
    if (i1 - 1 > keep[keep.length - 1]) keep.push(i1 - 1);
    xs = new Float64Array(keep.length); ys = new Float32Array(keep.length);
    for (let j = 0; j < keep.length; j++) { xs[j] = t[keep[j]]; ys[j] = y[keep[j]]; }
  }
  shown.data = {x: xs, y: ys};
}
"""


def _legend_above(p, hide: bool) -> None:
    """One line of legend above the panel (it hides no data; the panels stay aligned)."""
    legend = p.legend[0]
    legend.orientation = "horizontal"
    legend.location = "top_right"
    legend.label_text_font_size = "8pt"
    legend.padding = legend.margin = 2
    legend.spacing = 12
    if hide:
        legend.click_policy = "hide"
    p.add_layout(legend, "above")


def _thinned(tr, columns: list[str], rows: int) -> np.ndarray:
    """At most ``rows`` sample indices of ``tr``: the samples each line keeps by per-bucket
    min/max, with the largest number of buckets per line whose union fits (the lines of one
    trace mostly keep the same samples: their spikes coincide)."""
    def union(n: int) -> np.ndarray:
        return np.unique(np.concatenate([decimate_index(tr[col], n) for col in columns]))

    lo, hi = max(rows // len(columns), 4), rows * len(columns)  # union(lo) fits: each line keeps <= lo
    best = union(lo)
    while hi - lo > max(rows // 100, 2):  # to within 1 % of the budget
        mid = (lo + hi) // 2
        idx = union(mid)
        if idx.size <= rows:
            lo, best = mid, idx
        else:
            hi = mid
    return best


def embedded_samples(result: CaseResult, max_samples: int = MAX_SAMPLES) -> dict[str, dict[str, np.ndarray]]:
    """What the page embeds, per trace: ``t`` (ms, float64) and each panel's column (scaled
    as drawn, float32). Every sample while the lines hold at most ``max_samples`` in all;
    beyond, each trace keeps its share: the samples any of its lines keeps by per-bucket
    min/max."""
    traces = result.traces
    columns = {name: [col for col, _, _, model_only in PANELS
                      if (name == "ode" or not model_only) and col in tr.signals]
               for name, tr in traces.items()}
    total = sum(tr.time.size * len(columns[name]) for name, tr in traces.items())
    out = {}
    for name, tr in traces.items():
        idx = np.arange(tr.time.size)
        if total > max_samples and not columns[name]:  # nothing drawn from this trace
            idx = np.array([0, tr.time.size - 1])
        elif total > max_samples:
            idx = _thinned(tr, columns[name], max(int(tr.time.size * max_samples / total), SHOWN))
        data = {"t": tr.time[idx] * 1e3}  # double: SPICE steps can be far below float32's resolution
        data.update({col: (tr[col][idx] * scale).astype(np.float32)
                     for col, _, scale, _ in PANELS if col in columns[name]})
        out[name] = data
    return out


def interactive_traces(result: CaseResult, max_samples: int = MAX_SAMPLES) -> tuple[str, str, str]:
    """The interactive figure as HTML pieces: (Bokeh's JavaScript, inline, for the page's
    head; the figure's element and script; a sentence on what was embedded)."""
    from bokeh.document import Document
    from bokeh.embed import components
    from bokeh.events import DocumentReady
    from bokeh.layouts import gridplot
    from bokeh.models import ColumnDataSource, CustomJS, Range1d
    from bokeh.models.annotations import Span
    from bokeh.plotting import figure
    from bokeh.resources import Resources
    from matplotlib.colors import to_hex

    traces = result.traces
    samples = embedded_samples(result, max_samples)
    sources = {name: ColumnDataSource(data, name=f"samples_{name}") for name, data in samples.items()}
    columns = {name: [c for c in data if c != "t"] for name, data in samples.items()}
    total = sum(tr.time.size * len(columns[name]) for name, tr in traces.items())
    t_end = max(tr.time[-1] for tr in traces.values()) * 1e3
    # zooming stops at 1 ns: a narrower range would collapse to zero width
    xr = Range1d(start=0.0, end=t_end, bounds=(0.0, t_end), min_interval=MIN_INTERVAL_MS, name="time")
    tools = "xpan,xwheel_zoom,xbox_zoom,reset,save"
    plots, lines = [], []
    for col, label, _, _ in PANELS:
        p = figure(height=140 if col == "i_in" else 190, sizing_mode="stretch_width", x_range=xr, tools=tools,
                   active_scroll="xwheel_zoom", active_drag="xpan", y_axis_label=label, name=f"panel_{col}",
                   output_backend="canvas", lod_threshold=None)  # drawn decimated already
        for name in traces:
            if col not in columns[name]:
                continue
            # the whole run at first (the page redraws it the same way once loaded)
            keep = decimate_index(samples[name][col], SHOWN)
            shown = ColumnDataSource({"x": samples[name]["t"][keep], "y": samples[name][col][keep]},
                                     name=f"shown_{name}_{col}")
            eng = engine_of(name)
            p.line("x", "y", source=shown, color=to_hex(eng.color), line_width=1.2 if name == "ode" else 1.0,
                   line_dash="solid" if name == "ode" else "dashed", legend_label=eng.label)
            lines.append([shown, sources[name], col])
        if col == "v_mem":
            p.add_layout(Span(location=result.params.neuron.v_th, dimension="width", line_color="gray",
                              line_dash="dotted"))
        _legend_above(p, hide=True)
        p.xaxis.visible = False
        plots.append(p)
    raster = figure(height=150, sizing_mode="stretch_width", x_range=xr, y_range=Range1d(start=0, end=len(traces)),
                    tools=tools, active_scroll="xwheel_zoom", active_drag="xpan", x_axis_label="time (ms)",
                    y_axis_label="spikes", name="panel_spikes", lod_threshold=None)
    for k, (name, tr) in enumerate(traces.items()):
        s = np.asarray(tr.spikes, dtype=float) * 1e3
        raster.segment(x0=s, x1=s, y0=k + 0.1, y1=k + 0.9, color=to_hex(engine_of(name).color),
                       legend_label=engine_of(name).label.split(" (")[0])
    raster.yaxis.visible = False
    _legend_above(raster, hide=True)
    plots.append(raster)
    redraw = CustomJS(args={"xr": xr, "lines": lines}, code=_REDRAW % {"factor": FACTOR, "shown": SHOWN})
    xr.js_on_change("start", redraw)
    xr.js_on_change("end", redraw)
    # one toolbar for the panels (they share the time axis)
    layout = gridplot([[p] for p in plots], merge_tools=True, toolbar_location="right", sizing_mode="stretch_width")
    doc = Document()
    doc.add_root(layout)
    doc.js_on_event(DocumentReady, redraw)
    script, div = components(layout)
    embedded = sum(data["t"].size * len(columns[name]) for name, data in samples.items())
    what = (f"Zoomed in far enough it shows every sample; all of them are embedded ({embedded:,})"
            if embedded == total else
            f"This run's {total:,} samples are embedded thinned to {embedded:,} by per-bucket min/max, and zoomed "
            "in far enough it shows every embedded sample (every sample is in traces.parquet)")
    # Bokeh's core library only: the figure uses no widgets, tables, WebGL or math text
    return Resources(mode="inline", components=["bokeh"]).render_js(), div + script, what
