"""gankit in a notebook: the live view of fit (one display, redrawn in place), its absence
outside a notebook, a run's card, and show()'s grids. A fake display stands in for IPython's."""
from __future__ import annotations

import base64
import io
import sys
import types
import warnings

import pytest
import torch
from PIL import Image

import gankit
from gankit import notebook
from gankit.errors import ConfigError
from gankit.train import callbacks as cb


class FakeDisplay:
    """What notebook.LiveDisplay does, recorded: one display made, then redrawn in place."""

    made: list[FakeDisplay] = []

    def __init__(self, page: str):
        self.pages = [page]
        FakeDisplay.made.append(self)

    def update(self, page: str) -> None:
        self.pages.append(page)


def _images(n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 16, 16, generator=g) * 2 - 1   # [N, 1, 16, 16] in [-1, 1]


def _gan(x, out, **kw):
    return gankit.GAN("mlp", x, out=out, batch_size=16, width=16, log_every=1, sample_every=2,
                      checkpoint_every=10**6, **kw)


@pytest.fixture(scope="module")
def trained(one_thread, tmp_path_factory):
    """A tiny image run trained 4 steps in a notebook (GANKIT_NOTEBOOK=1, the fake display)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANKIT_NOTEBOOK", "1")
    mp.setenv("GANKIT_THREADS", "0")
    mp.setattr(notebook, "LiveDisplay", FakeDisplay)
    FakeDisplay.made = []
    gan = _gan(_images(), tmp_path_factory.mktemp("nb") / "run")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gan.fit(steps=4)
    mp.undo()
    return gan, list(FakeDisplay.made)


def test_fit_redraws_one_display_in_place_and_ends_with_the_final_state(trained):
    gan, made = trained
    assert len(made) == 1                         # one output, not one per preview
    pages = made[0].pages
    assert len(pages) >= 4                        # start, steps 2 and 4 (previews), the end
    assert "step 0 / 4" in pages[0] and "step 2 / 4" in "".join(pages[1:-1])
    final = pages[-1]
    assert "step 4 / 4" in final and "reached 4 steps" in final and "g_loss" in final
    newest = gan.run_dir / "samples" / "step-0000004.png"
    assert base64.b64encode(newest.read_bytes()).decode() in final   # the newest preview
    assert final.count("data:image/png;base64,") == 2                # and the curve
    assert not any(isinstance(c, cb.Progress) for c in gan.run.trainer.callbacks)


def test_outside_a_notebook_nothing_changes(ring, tmp_path, monkeypatch, capsys):
    try:
        import IPython  # imported, as in a terminal IPython, yet no kernel runs
        assert IPython.get_ipython() is None
    except ImportError:   # (gankit needs no IPython; the test extras bring it)
        pass
    monkeypatch.delenv("GANKIT_NOTEBOOK", raising=False)

    def no(*args, **kwargs):
        raise AssertionError("a display call outside a notebook")
    monkeypatch.setattr(notebook, "LiveDisplay", no)
    monkeypatch.setattr(notebook, "display", no)
    monkeypatch.setattr(notebook, "publish", no)
    x, _ = ring(128)
    gan = gankit.GAN("mlp", x, out=tmp_path / "r", batch_size=32, log_every=2,
                     sample_every=10**6, checkpoint_every=10**6)
    gan.fit(steps=4)
    kinds = [type(c) for c in gan.run.trainer.callbacks]
    assert cb.Progress in kinds and cb.LiveView not in kinds
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("step ")]
    assert [ln.split()[1] for ln in lines] == ["2/4", "4/4"]      # the plain lines, as before
    assert isinstance(gan.show(4), notebook.Image)                 # returned, not displayed
    with pytest.raises(ConfigError, match="progress="):            # refused before any step
        gan.fit(steps=1, progress="widget")
    assert gan.step == 4


class _Shell:
    def __init__(self, config=None):
        self.config = config or {}


def test_a_notebook_is_a_kernel_shell_or_what_gankit_notebook_says(monkeypatch):
    zmq = type("ZMQInteractiveShell", (_Shell,), {})
    terminal = type("TerminalInteractiveShell", (_Shell,), {})
    fake = types.ModuleType("IPython")
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.delenv("GANKIT_NOTEBOOK", raising=False)
    for shell, expected in ((zmq(), True), (_Shell({"IPKernelApp": {}}), True),   # Colab's
                            (terminal(), False), (None, False)):
        fake.get_ipython = lambda shell=shell: shell
        assert notebook.in_notebook() is expected
    fake.get_ipython = lambda: zmq()
    monkeypatch.setenv("GANKIT_NOTEBOOK", "0")
    assert not notebook.in_notebook() and notebook.live_wanted("notebook")
    assert not notebook.live_wanted(None) and not notebook.live_wanted(True)
    monkeypatch.setenv("GANKIT_NOTEBOOK", "1")
    assert notebook.live_wanted(None) and not notebook.live_wanted(False)


def test_a_failing_display_warns_once_and_training_goes_on(tmp_path):
    class Broken:
        def __init__(self, page):
            raise RuntimeError("the kernel's connection is gone")
    view = cb.LiveView(tmp_path, 10, None, 5, display=Broken)
    trainer = types.SimpleNamespace(step=0, elapsed=0.0, stop_reason=None)
    with pytest.warns(gankit.errors.GanKitWarning, match="live view stopped"):
        view.on_start(trainer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no second warning, no exception
        for trainer.step in range(1, 11):
            view.on_step(trainer)
        view.on_end(trainer)


def test_a_run_displays_as_a_card(trained):
    gan, _ = trained
    card = gan._repr_html_()
    assert "task image-gan" in card and "step 4" in card and "g_loss" in card
    assert "data &lt;user data&gt;" in card                        # escaped
    assert f"<code>{gan.run_dir}</code>" in card
    newest = gan.run_dir / "samples" / "step-0000004.png"
    assert "data:image/png;base64," + base64.b64encode(newest.read_bytes()).decode() in card
    fresh = _gan(_images(32), gan.run_dir.parent / "fresh")
    assert "not trained yet" in fresh._repr_html_()


def test_the_card_is_not_repeated_under_the_live_view_of_its_cell(trained, monkeypatch):
    gan, _ = trained
    published, cell = [], [5]
    monkeypatch.setattr(notebook, "publish", published.append)
    monkeypatch.setattr(notebook, "_execution_count", lambda: cell[0])
    monkeypatch.setattr(gan.run, "live_cell", 5)   # `gan.fit(...)` ran in cell 5, live
    gan._ipython_display_()                        # its value: the live view shows it already
    assert published == []
    cell[0] = 6
    gan._ipython_display_()                        # `gan` in a later cell: the card
    assert [b["text/html"] for b in published] == [gan._repr_html_()]


def test_the_last_losses_are_the_newest_training_record_not_an_evaluation():
    train = [{"step": s, "elapsed": 1.0, "nimg": 8, "wasserstein": -s, "gp": 0.5} for s in (1, 2)]
    records = train + [{"step": 2, "elapsed": 1.0, "nimg": 8, "fid": 30.0}]
    assert notebook.last_losses(records) == {"wasserstein": -2, "gp": 0.5}
    assert notebook.last_losses([]) == {}


def test_show_returns_a_png_grid_of_the_samples(trained):
    gan, _ = trained
    shown = gan.show(16, seed=3)
    png = shown._repr_png_()
    assert png.startswith(b"\x89PNG")
    # 16 pictures of 16 px: 4 x 4 with 2 px gaps, enlarged 2x as the previews are
    assert Image.open(io.BytesIO(png)).size == (2 * (4 * 18 + 2),) * 2
    assert Image.open(io.BytesIO(gan.show(10)._repr_png_())).size == (148, 2 * (3 * 18 + 2))
    assert gan.show(16, seed=3)._repr_png_() == png               # a seed gives the same grid


def test_show_in_a_notebook_puts_it_on_the_page_once(trained, monkeypatch):
    gan, _ = trained
    published, cell = [], [7]
    monkeypatch.setenv("GANKIT_NOTEBOOK", "1")
    monkeypatch.setattr(notebook, "display", lambda obj: obj._ipython_display_())   # IPython's way
    monkeypatch.setattr(notebook, "publish", published.append)
    monkeypatch.setattr(notebook, "_execution_count", lambda: cell[0])
    shown = gan.show(4)
    assert [sorted(b) for b in published] == [["image/png", "text/plain"]]
    shown._ipython_display_()            # the cell's value (`gan.show(4)` on its last line)
    assert len(published) == 1
    cell[0] = 8
    shown._ipython_display_()            # `shown` in a later cell
    assert len(published) == 2
