"""`gankit report` and `gankit compare`: the page renders in a real browser, its warnings follow the
run's own numbers (diverged, memorized, healthy), and nothing is written where it must not be."""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import one_error, run
from PIL import Image

from gankit import health
from gankit.errors import GanKitError, RunError
from gankit.report import build_report, compare, compare_runs

TINY = ["--dataset", "digits", "--batch-size", "16", "--width", "8", "--no-progress",
        "--log-every", "2", "--sample-every", "10", "--checkpoint-every", "10"]

# A "generator" that returns training images: the run every memorization check must flag.
COPYCAT = '''
import torch
from torch import nn
from gankit.data import load_dataset
from gankit.nets import register_net


class CopyG(nn.Module):
    def __init__(self, shape, z_dim):
        super().__init__()
        self.z_dim = z_dim
        x = load_dataset("digits", split="train", resolution=shape[-1]).images
        self.register_buffer("images", x.float() / 127.5 - 1)
        self.w = nn.Parameter(torch.zeros(()))   # something for the optimizer to hold

    def forward(self, z):
        idx = (z[:, 0].abs() * 1e4).long() % len(self.images)
        return self.images[idx] + 0 * self.w


class D(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.fc = nn.Linear(int(torch.tensor(shape).prod()), 1)

    def forward(self, x):
        return self.fc(x.flatten(1)).squeeze(1)


@register_net("copycat")
def build(shape, cfg):
    return CopyG(shape, cfg.z_dim), D(shape)
'''


def tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        h.update(str(p.relative_to(path)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def healthy(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--out", tmp_path / "healthy", "--steps", "40", *TINY)
    assert code == 0, err
    return tmp_path / "healthy"


def kinds(page: str) -> set[str]:
    return set(re.findall(r'class="warning" data-kind="(\w+)"', page))


def test_healthy_run_report_is_clean_and_leaves_the_run_untouched(healthy, tmp_path):
    before = tree_digest(healthy)
    path = build_report(healthy, tmp_path / "r.html")
    page = path.read_text()
    assert tree_digest(healthy) == before
    assert kinds(page) == set() and 'id="healthy"' in page
    for section in ("summary", "curves", "timeline", "interpolations", "memorization"):
        assert f'id="{section}"' in page
    assert "step 40" in page and "parameters" in page
    # self-contained: nothing is fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert len(re.findall(r'class="frame pixel"', page)) == 4     # steps 10, 20, 30, 40


def test_diverged_run_shows_the_divergence_warning_and_stops(capsys, tmp_path):
    # checkpoints every 4 steps: one comes before the streak however early it starts (step 10 on
    # an Intel Xeon, later on AMD EPYC; a run's first checkpoint is kept whatever its health)
    code, _, err = run(capsys, "train", "--out", tmp_path / "bad", "--steps", "200", "--lr", "5",
                       *TINY, "--checkpoint-every", "4")   # stopping is the default
    assert code == 1, err
    assert "gankit: warning: diverged" in err and "stopped: diverged" in err
    ckpts = tmp_path / "bad" / "checkpoints"
    state = json.loads((ckpts / (ckpts / "latest").read_text().strip() / "state.json").read_text())
    records = [json.loads(x) for x in (tmp_path / "bad" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] < 200                       # it stopped early ...
    div = [f for f in health.check(records) if f.kind == "divergence"]
    assert div and state["step"] < div[0].step             # ... keeping a checkpoint from before
    page = build_report(tmp_path / "bad", tmp_path / "bad.html").read_text()
    assert "divergence" in kinds(page) and "memorization" not in kinds(page)


def test_copying_generator_shows_the_memorization_flag(capsys, tmp_path):
    plugin = tmp_path / "copycat.py"
    plugin.write_text(COPYCAT)
    code, _, err = run(capsys, "train", "--out", tmp_path / "copy", "--steps", "4", "--model",
                       "copycat", "--plugins", plugin, *TINY)
    assert code == 0, err
    page = build_report(tmp_path / "copy", tmp_path / "copy.html").read_text()
    assert "memorization" in kinds(page)
    assert "divergence" not in kinds(page)


def test_report_refuses_to_overwrite_other_files_and_bad_runs(capsys, healthy, tmp_path):
    mine = tmp_path / "notes.html"
    mine.write_text("<html>my own notes</html>")
    assert "not a gankit report" in one_error(capsys, "report", healthy, "--output", mine)
    assert mine.read_text() == "<html>my own notes</html>"
    out = tmp_path / "report.html"
    assert run(capsys, "report", healthy, "--output", out, "--no-memorization")[0] == 0
    assert run(capsys, "report", healthy, "--output", out, "--no-memorization")[0] == 0  # ours
    assert "inside the run directory" in one_error(capsys, "report", healthy, "--output",
                                                   healthy / "r.html")
    assert "no such run directory" in one_error(capsys, "report", tmp_path / "nope")
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text((healthy / "config.json").read_text())
    assert "no checkpoint" in one_error(capsys, "report", half)
    newer = tmp_path / "newer"
    shutil.copytree(healthy, newer)
    cfg = json.loads((newer / "config.json").read_text())
    cfg["meta"]["gankit_version"] = "99.0.0"
    (newer / "config.json").write_text(json.dumps(cfg))
    assert "newer than this gankit" in one_error(capsys, "report", newer)
    with pytest.raises(RunError):
        build_report(newer, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_names_from_the_user_are_escaped_on_the_page(healthy, tmp_path):
    """A run directory named like markup (its name is the page's title, its path a table cell,
    and compare puts it in the table heads) comes out as text, never as a tag."""
    evil = "<img src=x onerror=alert(1)>"
    run_dir = tmp_path / evil
    shutil.copytree(healthy, run_dir)
    pages = [build_report(run_dir, tmp_path / "r.html", memorization=False).read_text()]
    pages.append(compare_runs([run_dir, healthy], tmp_path / "c.html")[1].read_text())
    for page in pages:
        assert evil not in page and "onerror=alert(1)>" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "<img src=x" not in page


def test_compare_names_the_differing_learning_rate(capsys, tmp_path):
    for name, lr in (("a", "0.0004"), ("b", "0.001")):
        code, _, err = run(capsys, "train", "--out", tmp_path / name, "--steps", "6", "--lr", lr,
                           *TINY)
        assert code == 0, err
    result = compare([tmp_path / "a", tmp_path / "b"])
    assert result["differences"] == {"train.lr": [0.0004, 0.001]}
    assert result["final"]["a"]["step"] == 6 and "g_loss" in result["final"]["b"]
    code, out, _ = run(capsys, "compare", tmp_path / "a", tmp_path / "b", "--json")
    assert code == 0 and json.loads(out)["differences"] == {"train.lr": [0.0004, 0.001]}
    code, out, _ = run(capsys, "compare", tmp_path / "a", tmp_path / "b", "--output",
                       tmp_path / "cmp.html")
    assert code == 0 and "train.lr" in out
    page = (tmp_path / "cmp.html").read_text()
    assert "train.lr" in page and "<img" in page
    assert "at least two runs" in one_error(capsys, "compare", tmp_path / "a")
    with pytest.raises(GanKitError):
        compare([tmp_path / "a", tmp_path / "missing"])


# --- in a real browser ---------------------------------------------------------------------

def chromium():
    webdriver = pytest.importorskip("selenium.webdriver")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not browser or not driver_path:
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=opts, service=webdriver.ChromeService(driver_path))


def test_report_renders_in_headless_chromium(healthy, tmp_path):
    path = build_report(healthy, tmp_path / "report.html")
    driver = chromium()
    try:
        driver.get(path.resolve().as_uri())
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);")
        assert len(images) >= 8 and all(ok and w > 0 for ok, w in images), images
        shown = ("const f = Array.from(document.querySelectorAll('#timeline img.frame'))"
                 ".filter(i => !i.hidden); return [f.length, f[0].dataset.label, f[0].src.length,"
                 " document.getElementById('timeline-label').textContent];")
        count, label, _, text = driver.execute_script(shown)
        assert count == 1 and label == "step 40" and text == "step 40"
        driver.execute_script("const s = document.getElementById('timeline-slider'); s.value = 0;"
                              "s.dispatchEvent(new Event('input'));")
        count, label, _, text = driver.execute_script(shown)
        assert count == 1 and label == "step 10" and text == "step 10"
        shot = np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("L"))
        assert shot.std() > 10 and len(np.unique(shot)) > 20      # not a blank page
    finally:
        driver.quit()


def test_tablegan_report_compares_columns_with_its_csv(capsys, tmp_path):
    from sklearn.datasets import load_iris
    df = load_iris(as_frame=True).frame
    df["target"] = df["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    df.to_csv(tmp_path / "iris.csv", index=False)
    code, _, err = run(capsys, "synth", tmp_path / "iris.csv", "--num", 10, "--output",
                       tmp_path / "syn.csv", "--epochs", 30, "--save", tmp_path / "model",
                       "--no-progress")
    assert code == 0, err
    before = tree_digest(tmp_path / "model")
    code, _, err = run(capsys, "report", tmp_path / "model", "--output", tmp_path / "t.html")
    assert code == 0, err
    page = (tmp_path / "t.html").read_text()
    assert tree_digest(tmp_path / "model") == before
    for section in ("summary", "curves", "columns", "correlations"):
        assert f'id="{section}"' in page
    assert "petal length (cm)" in page and "categorical" in page
    other = tmp_path / "other.csv"
    df.drop(columns="target").to_csv(other, index=False)
    assert "columns" in one_error(capsys, "report", tmp_path / "model", "--data", other,
                                  "--output", tmp_path / "t2.html")


def test_categories_never_generated_are_named():
    import pandas as pd

    from gankit.tasks.table.fidelity import column_fidelity, missing_categories
    real = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 45 + ["rare"] * 5, "x": range(100)})
    fake = pd.DataFrame({"c": ["a"] * 100, "x": range(100)})
    assert missing_categories(real, fake, ["c"]) == ["c=b", "c=rare"]
    fid = {row[0]: row for row in column_fidelity(real, fake)}
    assert fid["c"][1] == "categorical" and abs(fid["c"][2] - 0.5) < 1e-9
    assert fid["x"][1] == "numeric" and fid["x"][2] == 0.0
