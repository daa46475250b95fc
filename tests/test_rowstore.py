"""The sweep's row store, in-process: what a row holds, which rows a resumed sweep
trusts, what work remains (holes in the middle, not only at the end), and a row file
cut by a kill. The whole-command behaviour (kill, resume) is in test_sweep.py and
test_outputs.py."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from alif_spice.sweep import store as R
from alif_spice.metrics import row_metrics
from alif_spice.sweep import Point

PTS = [Point(i, grid_index=i // 2, sample=i % 2, values={"neuron.c": 1e-9 * (i + 1), "memristor.model": "mms"})
       for i in range(5)]


def ok_row(pt=PTS[1], engine="ode", **changes):
    row = R.make_row(pt, engine, metrics={"n_spikes": 3, "spikes_per_period": [2, 1], "adaptation_ratio": 1.5,
                                          "rate_hz": 300.0, "energy_j": -1e-12, "energy_per_spike_j": 2e-13},
                     wall=0.25)
    row.update(changes)
    return row


def test_a_row_holds_identity_values_status_metrics_and_time():
    row = R.make_row(PTS[3], "ideal", "failed", "Timestep too small", 1.5, {"n_spikes": np.int64(4),
                                                                           "rate_hz": float("nan")})
    metrics = {k: None for k in row_metrics()}  # every registered row metric, None unless given
    assert {"n_spikes", "spikes_per_period", "adaptation_ratio", "rate_hz", "energy_j",
            "energy_per_spike_j"} <= set(metrics)
    assert row == {"point": 3, "engine": "ideal", "grid_index": 1, "sample": 1, "neuron.c": 4e-9,
                   "memristor.model": "mms", "status": "failed", "error": "Timestep too small",
                   **metrics, "n_spikes": 4, "wall_s": 1.5}
    assert type(row["n_spikes"]) is int
    assert list(row)[-len(metrics) - 1:] == [*metrics, "wall_s"]
    default = R.make_row(PTS[0], "ode")
    assert (default["status"], default["error"], default["wall_s"]) == ("ok", "", 0.0)


def test_remaining_work_fills_holes_in_the_middle():
    done = {(0, "ode"), (2, "ode"), (4, "ode"), (1, "ideal")}
    work = R.remaining(("ode", "ideal"), PTS, done, ode_chunk=2)
    assert [(e, [p.index for p in pts]) for e, pts in work] == [
        ("ideal", [0]), ("ideal", [2]), ("ideal", [3]), ("ideal", [4]), ("ode", [1, 3])]


def test_remaining_chunks_ode_and_puts_spice_first():
    work = R.remaining(("ode", "hardware"), PTS, set(), ode_chunk=3)
    assert [(e, [p.index for p in pts]) for e, pts in work] == [
        ("hardware", [0]), ("hardware", [1]), ("hardware", [2]), ("hardware", [3]), ("hardware", [4]),
        ("ode", [0, 1, 2]), ("ode", [3, 4])]
    assert R.remaining(("ode",), PTS, {(p.index, "ode") for p in PTS}, 3) == []


def test_sweep_id_depends_on_spec_and_base():
    spec = SimpleNamespace(to_dict=lambda: {"grid": [1, 2]})
    base = SimpleNamespace(to_dict=lambda: {"c": 1})
    other = SimpleNamespace(to_dict=lambda: {"c": 2})
    ident = R.sweep_id(spec, base)
    assert len(ident) == 16 and int(ident, 16) >= 0
    assert ident == R.sweep_id(spec, base) and ident != R.sweep_id(spec, other)
    assert ident != R.sweep_id(other, base)


def test_number_or_none():
    assert R._number_or_none(None) and R._number_or_none(0) and R._number_or_none(-1.5)
    assert R._number_or_none(0.0, 0.0) and not R._number_or_none(-1e-300, 0.0)
    assert not R._number_or_none(True) and not R._number_or_none("1")
    assert not R._number_or_none(math.inf) and not R._number_or_none(math.nan)


def test_the_rows_a_sweep_writes_fit():
    assert R.row_fits(ok_row(), PTS, ("ode",))
    assert R.row_fits(ok_row(), None, None)
    assert R.row_fits(ok_row(PTS[4], "ideal"), PTS, ("ode", "ideal"))
    failed = R.make_row(PTS[2], "ode", "failed", "x")
    assert R.row_fits(failed, PTS, ("ode",))
    stuck = R.make_row(PTS[2], "hardware", "stuck", "latched", metrics={"n_spikes": 0})
    assert R.row_fits(stuck, PTS, ("hardware",))
    assert R.row_fits({**ok_row(), "sweep": "abc"}, PTS, ("ode",), ident="abc")
    assert R.row_fits(ok_row(rate_hz=0.0, adaptation_ratio=0.0, wall_s=0.0, n_spikes=0,
                             spikes_per_period=[0, 0]), PTS, ("ode",))


@pytest.mark.parametrize("change", [
    {"point": True}, {"point": "1"}, {"engine": 3}, {"status": "done"}, {"error": None},
    {"n_spikes": -1}, {"n_spikes": True}, {"n_spikes": 1.0}, {"n_spikes": None},
    {"spikes_per_period": None}, {"spikes_per_period": [1, -1]}, {"spikes_per_period": [1, True]},
    {"spikes_per_period": [1.0]},
    {"rate_hz": -1.0}, {"rate_hz": "3"}, {"adaptation_ratio": -0.5}, {"isi_adaptation_ratio": -0.5},
    {"isi_adaptation_ratio": "2"}, {"energy_j": math.inf},
    {"energy_per_spike_j": "x"}, {"wall_s": -1.0}, {"wall_s": None, "rate_hz": math.nan},
    {"grid_index": 1}, {"sample": 0}, {"neuron.c": 2.1e-9}, {"neuron.c": "2e-9"}, {"neuron.c": True},
    {"memristor.model": "vteam"},
])
def test_a_row_that_is_not_exactly_ours_is_refused(change):
    assert not R.row_fits(ok_row(**change), PTS, ("ode",))


@pytest.mark.parametrize("change", [{"status": "failed", "n_spikes": -2}, {"status": "failed", "n_spikes": True},
                                    {"status": "failed", "n_spikes": 1.5}])
def test_a_failed_row_with_a_bad_count_is_refused(change):
    assert not R.row_fits(R.make_row(PTS[1], "ode", "failed", "x") | change, PTS, ("ode",))


def test_a_row_of_another_sweep_engine_or_point_is_refused():
    assert not R.row_fits(ok_row(), PTS, ("ideal",))
    assert not R.row_fits({**ok_row(), "sweep": "other"}, PTS, ("ode",), ident="abc")
    assert not R.row_fits(ok_row(), PTS, ("ode",), ident="abc")  # unstamped
    assert not R.row_fits(ok_row(point=5), PTS, ("ode",))
    assert not R.row_fits(ok_row(point=-1), PTS, ("ode",))
    assert not R.row_fits([1, 2], PTS, ("ode",))
    row = ok_row()
    del row["energy_j"]
    assert not R.row_fits(row, PTS, ("ode",))


def test_values_match_to_twelve_digits():
    assert R.row_fits(ok_row(**{"neuron.c": 2e-9 * (1 + 1e-13)}), PTS, ("ode",))
    assert not R.row_fits(ok_row(**{"neuron.c": 2e-9 * (1 + 1e-11)}), PTS, ("ode",))


def write_lines(folder, lines):
    (folder / R.ROWS_FILE).write_bytes(b"".join(lines))


def test_read_rows_keeps_the_first_of_a_repeat_and_skips_strangers(tmp_path):
    a, b = ok_row(PTS[1]), ok_row(PTS[2])
    write_lines(tmp_path, [json.dumps(a).encode() + b"\n",
                           b"not json\n",
                           json.dumps({**a, "n_spikes": 9}).encode() + b"\n",
                           b"\n",
                           json.dumps(ok_row(PTS[3], "ideal")).encode() + b"\n",
                           b"[" * 100000 + b"\n",
                           json.dumps(b).encode() + b"\n"])
    skipped = []
    rows = R.read_rows(tmp_path, PTS, ("ode",), skipped)
    assert [(r["point"], r["n_spikes"]) for r in rows] == [(1, 3), (2, 3)]
    assert skipped == [2, 5, 6]  # the blank line is not counted
    assert len(R.read_rows(tmp_path)) == 3  # without the sweep: every row-shaped line, repeats once


def test_read_rows_cuts_a_line_left_half_written(tmp_path):
    line = json.dumps(ok_row()).encode() + b"\n"
    write_lines(tmp_path, [line, line[:40]])
    assert len(R.read_rows(tmp_path, PTS, ("ode",))) == 1
    assert (tmp_path / R.ROWS_FILE).read_bytes() == line  # appends continue on a clean line
    assert R.read_rows(tmp_path / "none") == []


def test_writer_appends_stamped_rows(tmp_path):
    w = R.RowWriter(tmp_path, "abc")
    w.write([ok_row(PTS[0]), ok_row(PTS[1])])
    w.write([])
    w.close()
    w = R.RowWriter(tmp_path)
    w.write([ok_row(PTS[2])])
    w.close()
    lines = (tmp_path / R.ROWS_FILE).read_bytes().splitlines(keepends=True)
    assert len(lines) == 3 and all(line.endswith(b"\n") for line in lines)
    assert [json.loads(x).get("sweep") for x in lines] == ["abc", "abc", None]
    assert [r["point"] for r in R.read_rows(tmp_path, PTS, ("ode",), ident="abc")] == [0, 1]


def test_writer_refuses_non_finite_numbers(tmp_path):
    w = R.RowWriter(tmp_path)
    with pytest.raises(ValueError):
        w.write([{"x": math.nan}])
    w.close()


def test_sweep_id_does_not_depend_on_key_order():
    a = SimpleNamespace(to_dict=lambda: {"grid": [1], "vary": [], "engines": ["ode"]})
    b = SimpleNamespace(to_dict=lambda: {"engines": ["ode"], "vary": [], "grid": [1]})
    base = SimpleNamespace(to_dict=lambda: {"c": 1, "a": 2})
    assert R.sweep_id(a, base) == R.sweep_id(b, base)


def test_a_failed_row_counts_no_negative_spikes_and_points_are_not_counted_from_the_end():
    failed = R.make_row(PTS[1], "ode", "failed", "x")
    assert not R.row_fits({**failed, "n_spikes": -1}, PTS, ("ode",))
    assert R.row_fits({**failed, "n_spikes": 0}, PTS, ("ode",))
    last = ok_row(PTS[4])
    assert R.row_fits(last, PTS, ("ode",)) and not R.row_fits({**last, "point": -1}, PTS, ("ode",))


def test_a_row_written_before_a_metric_existed_is_still_ours(tmp_path):
    # a sweep resumed after an upgrade that added metrics: its rows lack the new columns,
    # which were not computed then (None); its counts are there as always
    row = ok_row()
    for k in ("isi_adaptation_ratio", "isi_cv"):
        row.pop(k)
    assert R.row_fits(dict(row), PTS, ("ode",))
    (tmp_path / R.ROWS_FILE).write_text(json.dumps(row) + "\n")
    got, = R.read_rows(tmp_path, PTS, ("ode",))
    assert got["isi_cv"] is None and got["isi_adaptation_ratio"] is None and got["n_spikes"] == 3
    for count in ("n_spikes", "spikes_per_period"):  # never written without these
        assert not R.row_fits({k: v for k, v in row.items() if k != count}, PTS, ("ode",))
