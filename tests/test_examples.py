"""The example notebook runs from top to bottom against the installed package, and its
figures show inline."""

import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "tour.ipynb"


@pytest.mark.spice
@pytest.mark.slow
def test_the_tour_notebook_runs_and_shows_its_figures(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # the model's traces, a figure of the report, the f-I curve
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "ideal circuit:" in text and "verdict: good" in text
    # the fit gives every parameter back within 5 %
    errors = [float(e) for e in re.findall(r"\(([+-]\d+\.\d)%\)", text)]
    assert len(errors) == 5 and all(abs(e) <= 5.0 for e in errors), text
    assert "FAIL" not in text
