"""docs/tutorial.ipynb, "your first GAN in ten CPU-minutes", runs from top to bottom in a real
Jupyter kernel on a small budget (GANKIT_TUTORIAL_MINUTES), offline, and shows what its text
promises: the live view of each fit, the loss curve, an FID, a conditional GAN's grid. The
committed file carries no outputs. Skips without nbclient, nbformat or ipykernel (the test
extras install them)."""
from __future__ import annotations

import base64
import io
import json
import math
import os
import re
from pathlib import Path

import pytest
from PIL import Image

import gankit

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"
MINUTES = "0.5"   # the whole notebook in about a minute on the 2-core machine


def test_the_committed_notebook_has_no_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code
    for c in code:
        first = "".join(c["source"]).splitlines()[0]
        assert c["outputs"] == [], f"outputs committed in the cell starting {first!r}"
        assert c["execution_count"] is None, f"execution count committed in {first!r}"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook run in a fresh kernel of this interpreter, importing this gankit, offline,
    with one thread, in a scratch directory (its runs/ and dataset cache land there)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    kernelspec = pytest.importorskip("ipykernel.kernelspec")
    tmp = tmp_path_factory.mktemp("tutorial")
    kernelspec.write_kernel_spec(tmp / "jupyter" / "kernels" / "gankit-tutorial")
    src = str(Path(gankit.__file__).resolve().parents[1])
    mp = pytest.MonkeyPatch()
    for name, value in {"JUPYTER_PATH": str(tmp / "jupyter"), "GANKIT_TUTORIAL_MINUTES": MINUTES,
                        # the kernel's connection file and IPython history: not in the home folder
                        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
                        "IPYTHONDIR": str(tmp / "ipython"),
                        "GANKIT_OFFLINE": "1", "GANKIT_DATA": str(tmp / "gankit-data"),
                        "GANKIT_THREADS": "1", "OMP_NUM_THREADS": "1",
                        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])
                        }.items():
        mp.setenv(name, value)
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        nbclient.NotebookClient(nb, timeout=600, kernel_name="gankit-tutorial",
                                resources={"metadata": {"path": str(tmp)}}).execute()
    finally:
        mp.undo()
    return nb


def cell(nb, text: str):
    """The one code cell with a line that starts with `text`."""
    found = [c for c in nb.cells if c.cell_type == "code"
             and any(line.startswith(text) for line in c.source.splitlines())]
    assert len(found) == 1, f"{len(found)} code cells have a line starting {text!r}"
    return found[0]


def stdout(c) -> str:
    return "".join(o.text for o in c.outputs if o.output_type == "stream" and o.name == "stdout")


def displays(c, mime: str) -> list:
    return [o.data[mime] for o in c.outputs
            if o.output_type in ("display_data", "execute_result") and mime in o.data]


def png_size(data: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(data))).size


def test_every_cell_ran_without_an_error(executed):
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{o.ename}: {o.evalue}" for o in errors]


@pytest.mark.parametrize("fit", ["gan.fit(", "dcgan.fit(", "cgan.fit(", "gain.fit("])
def test_each_fit_shows_one_live_view_that_ends_with_why_it_stopped(executed, fit):
    c = cell(executed, fit)
    views = displays(c, "text/html")
    assert len(views) == 1, "one live output, redrawn in place (and no card after it)"
    assert 'class="gankit-live"' in views[0]
    # the last redraw says why it stopped: the budget (or GAIN's own early stop)
    assert re.search(r"<b>(reached --max-time [\d.]+ s|no better validation error for \d+ "
                     r"steps)</b>", views[0])


def test_the_check_names_the_sigmoid_and_the_fixed_pair_passes(executed):
    assert re.search(r"^warning: D ends in a sigmoid.*remove D's final nn\.Sigmoid\(\)$",
                     stdout(cell(executed, "article_D = nn.Sequential(")), re.M)
    assert "no findings" in stdout(cell(executed, "class Discriminator(nn.Module):"))


def test_the_losses_come_as_a_table_and_a_curve(executed):
    table = displays(cell(executed, "history = pd.DataFrame(gan.history)"), "text/html")
    assert table and "d_loss" in table[0] and "g_loss" in table[0]
    curve = displays(cell(executed, 'history[["d_loss", "g_loss"]].plot('), "image/png")
    assert len(curve) == 1   # the user's own matplotlib figure, still inline after fit()


def test_the_evaluations_print_fids_and_class_coverage(executed):
    mlp = stdout(cell(executed, "mlp_results = gan.metric_results("))
    fid, classes = re.search(r"your MLP GAN: FID (\d+\.\d), (\d+) of 10 classes", mlp).groups()
    assert math.isfinite(float(fid)) and 0 <= int(classes) <= 10
    assert "'reference_split': 'test'" in mlp
    dcgan = stdout(cell(executed, "dcgan_results = dcgan.metric_results("))
    assert re.search(r"default DCGAN: FID \d+\.\d, \d+ of 10 classes", dcgan)
    table = displays(cell(executed, "dcgan_results = dcgan.metric_results("), "text/plain")[0]
    for row in ("real training digits", "your MLP GAN", "default DCGAN"):
        assert row in table
    cond = stdout(cell(executed, "c = cgan.metric_results("))
    assert re.search(r"conditional DCGAN: FID \d+\.\d, \d+ of 10 classes, \d+% in the class "
                     r"asked for \(worst class \d+%\)", cond)


def test_the_conditional_gan_draws_a_grid_of_the_digit_asked_for(executed):
    sevens = displays(cell(executed, "cgan.show(16, labels=7)"), "image/png")
    assert len(sevens) == 1 and png_size(sevens[0]) == (244, 244)   # 4 x 4 digits, 2x enlarged
    every = displays(cell(executed, "cgan.show(100,"), "image/png")
    assert len(every) == 1 and png_size(every[0]) == (604, 604)     # 10 x 10


def test_the_imputation_is_scored_against_the_column_means(executed):
    out = stdout(cell(executed, "filled = gain.transform(holey)"))
    assert re.search(r"\d+ cells removed; RMSE on them: GAIN \d\.\d{3}, column means \d\.\d{3}",
                     out)
