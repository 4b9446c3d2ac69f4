"""`gankit export` / gankit.export_generator: a run's generator as one ONNX or TorchScript file.

The files are checked here independently of the exporter's own check: loaded with onnxruntime or
torch.jit.load and compared with the run's sampling at batch sizes the export never saw.
"""
from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import one_error, run

import gankit
from gankit.errors import ConfigError, ExportError, GanKitError, RunError
from gankit.nets import MLPDiscriminator, MLPGenerator

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "measuring.md"   # the export guide
TOL = 1e-4


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny real runs, trained once for the module: 4 steps at a high learning rate, so that the
    generators' outputs span [-1, 1] instead of sitting near 0 as at initialisation (a near-zero
    output would make any difference look small). Tests that damage a run copy it first."""
    root = tmp_path_factory.mktemp("runs")
    fast = dict(width=8, batch_size=16, lr=0.02, sample_every=100, checkpoint_every=4,
                log_every=100)
    specs = {"dcgan": dict(model="dcgan", dataset="digits"),
             "cdcgan": dict(model="dcgan", dataset="digits", conditional=True),
             "resnet": dict(model="resnet", dataset="digits"),
             "mlp": dict(model="mlp", dataset=torch.randn(256, 2, generator=torch.Generator()
                                                           .manual_seed(0)) * 0.5 + 1.0)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_OFFLINE", "1")
        mp.setenv("GANKIT_DATA", str(root / "gankit-data"))
        for name, spec in specs.items():
            gankit.GAN(**spec, **fast, out=root / name).fit(steps=4, progress=False)
    return root


# a refusal says one line and nothing else
fail = functools.partial(one_error, alone=True)


def needs_onnx():
    for name in ("onnx", "onnxscript"):
        pytest.importorskip(name)
    return pytest.importorskip("onnxruntime")


def reference(run_dir: Path, n: int, seed: int, ema: bool = True):
    """(z, labels, samples) drawn the way gankit samples: the run's own noise and generate()."""
    gan = gankit.load_run(run_dir, weights_only=True, device="cpu")
    z = gan.task.noise(n, torch.Generator().manual_seed(seed))
    y = torch.randint(0, gan.config.num_classes, (n,)) if gan.config.model.conditional else None
    return z, y, gan.task.generate(z, ema=ema, labels=y).numpy()


def run_file(path: Path, fmt: str, z: torch.Tensor, y) -> np.ndarray:
    if fmt == "onnx":
        ort = needs_onnx()
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {"z": z.numpy()} if y is None else {"z": z.numpy(), "labels": y.numpy()}
        return session.run(None, feed)[0]
    with warnings.catch_warnings():   # "torch.jit.load is deprecated": known, and tested anyway
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path))
    with torch.no_grad():
        return (module(z) if y is None else module(z, y)).numpy()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("kind", ["dcgan", "cdcgan", "resnet", "mlp"])
def test_export_matches_pytorch(runs, tmp_path, kind, fmt):
    if fmt == "onnx":
        needs_onnx()
    (tmp_path / "out").mkdir()   # an existing directory gets the default name inside it
    out = gankit.export_generator(runs / kind, fmt, output=tmp_path / "out")
    assert out == tmp_path / "out" / f"{kind}-generator{'.onnx' if fmt == 'onnx' else '.ts.pt'}"
    # one self-contained file (no ONNX external-data file) and its description; no temp leftovers
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, out.name + ".json"])
    meta = json.loads((out.parent / (out.name + ".json")).read_text())
    shape = [1, 32, 32] if kind != "mlp" else [2]
    worst = 0.0
    for n, seed in ((3, 1), (5, 2)):
        z, y, want = reference(runs / kind, n, seed)
        got = run_file(out, fmt, z, y)
        assert got.shape == (n, *shape) and got.dtype == np.float32
        worst = max(worst, float(np.abs(got - want).max()))
    assert worst <= TOL, worst
    assert np.abs(want).max() > 0.3   # the comparison is of real outputs, not of zeros
    assert meta["verification"]["max_abs_diff"] <= TOL
    assert meta["format"] == fmt and meta["step"] == 4 and meta["ema"] is True
    assert meta["output"]["shape"] == ["N", *shape]
    print(f"{kind} {fmt}: max abs diff {worst:.2e} (export's own check "
          f"{meta['verification']['max_abs_diff']:.2e})")


def test_sidecar_describes_the_file(runs, tmp_path):
    needs_onnx()
    out = gankit.export_generator(runs / "cdcgan", "onnx", output=tmp_path / "g.onnx")
    meta = json.loads((tmp_path / "g.onnx.json").read_text())
    assert meta["format"] == "onnx" and meta["file"] == "g.onnx" and meta["opset"] >= 17
    assert meta["gankit_version"] == gankit.__version__
    assert meta["run"] == str((runs / "cdcgan").resolve()) and meta["step"] == 4
    assert meta["conditional"] is True and meta["z_dim"] == 64 and meta["num_classes"] == 10
    assert meta["inputs"] == [
        {"name": "z", "dtype": "float32", "shape": ["N", 64],
         "distribution": "standard normal, N(0, 1), independent entries"},
        {"name": "labels", "dtype": "int64", "shape": ["N"], "range": [0, 9]}]
    assert meta["output"] == {"name": "images", "dtype": "float32",
                              "shape": ["N", 1, 32, 32], "layout": "NCHW"}
    assert meta["image_shape"] == [1, 32, 32] and meta["value_range"] == [-1.0, 1.0]
    assert "127.5" in meta["to_uint8"]
    v = meta["verification"]
    assert v["runtime"].startswith("onnxruntime") and v["tolerance"] == TOL
    assert len(v["batch_sizes"]) >= 2 and 2 not in v["batch_sizes"]   # 2: the example batch

    vec = json.loads(Path(str(gankit.export_generator(runs / "mlp", "torchscript",
                                                     output=tmp_path)) + ".json").read_text())
    assert vec["output"] == {"name": "samples", "dtype": "float32", "shape": ["N", 2],
                             "layout": None}
    assert vec["image_shape"] is None and vec["vector_shape"] == [2]
    assert vec["value_range"] is None and vec["to_uint8"] is None and vec["num_classes"] is None
    assert [i["name"] for i in vec["inputs"]] == ["z"]
    assert out.exists()


def _readme_example() -> str:
    text = GUIDE.read_text()
    section = text[text.index("## Use the generator without gankit"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.parametrize("kind", ["dcgan", "cdcgan"])
def test_readme_example_runs_without_gankit(runs, tmp_path, capsys, kind):
    """The export guide's example, exactly as written, in a fresh interpreter that never imports
    gankit: the exported file + its JSON + onnxruntime, numpy and PIL make a PNG grid."""
    needs_onnx()
    from PIL import Image
    code, _, err = run(capsys, "export", runs / kind, "--output", tmp_path / "generator.onnx")
    assert code == 0 and "wrote" in err and "generator.onnx.json" in err, err
    script = _readme_example() + (
        "\nimport sys\nassert not [m for m in sys.modules if m.startswith('gankit')]\n"
        "np.save('pixels.npy', pixels)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    pixels = np.load(tmp_path / "pixels.npy")
    assert pixels.shape == (16, 32, 32, 1) and pixels.dtype == np.uint8
    assert int(pixels.max()) - int(pixels.min()) > 32   # a picture, not a flat grey
    assert Image.open(tmp_path / "grid.png").size == (4 * 32, 4 * 32)
    # the same pixels as gankit's own uint8 conversion of the same latents
    meta = json.loads((tmp_path / "generator.onnx.json").read_text())
    z = np.random.default_rng(0).standard_normal((16, meta["z_dim"])).astype(np.float32)
    gan = gankit.load_run(runs / kind, weights_only=True, device="cpu")
    labels = torch.arange(16) % 10 if meta["conditional"] else None
    ours = gan.task.generate(torch.from_numpy(z), labels=labels)
    from gankit.viz import to_uint8
    assert np.abs(to_uint8(ours).astype(int) - pixels).max() <= 1   # rounding at a .5 boundary


def test_no_ema_exports_the_raw_generator(runs, tmp_path, capsys):
    code, _, err = run(capsys, "export", runs / "dcgan", "--format", "torchscript", "--no-ema",
                       "--output", tmp_path / "raw.ts.pt")
    assert code == 0, err
    assert json.loads((tmp_path / "raw.ts.pt.json").read_text())["ema"] is False
    z, y, want = reference(runs / "dcgan", 4, seed=3, ema=False)
    _, _, ema = reference(runs / "dcgan", 4, seed=3, ema=True)
    got = run_file(tmp_path / "raw.ts.pt", "torchscript", z, y)
    assert np.abs(got - want).max() <= TOL < np.abs(got - ema).max()


def test_default_output_is_the_current_directory_not_the_run(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.relative_to(runs / "mlp") for p in (runs / "mlp").rglob("*"))
    out = gankit.export_generator(runs / "mlp", "torchscript")
    assert out == Path("mlp-generator.ts.pt") and (tmp_path / "mlp-generator.ts.pt.json").exists()
    monkeypatch.chdir(runs / "mlp")   # `gankit export .` from inside the run: refused
    with pytest.raises(ConfigError, match="inside the run directory"):
        gankit.export_generator(".", "torchscript")
    assert sorted(p.relative_to(runs / "mlp") for p in (runs / "mlp").rglob("*")) == before


def test_never_overwrites_without_overwrite(runs, tmp_path, capsys):
    out = tmp_path / "g.ts.pt"
    out.write_bytes(b"keep me")
    fail(capsys, "export", runs / "mlp", "--format", "torchscript", "--output", out,
         match="--overwrite")
    with pytest.raises(ConfigError, match="already exists"):
        gankit.export_generator(runs / "mlp", "torchscript", output=out)
    assert out.read_bytes() == b"keep me" and not (tmp_path / "g.ts.pt.json").exists()
    # the description alone is a user's file too
    lone = tmp_path / "h.ts.pt"
    Path(f"{lone}.json").write_text("{}")
    fail(capsys, "export", runs / "mlp", "--format", "torchscript", "--output", lone,
         match="h.ts.pt.json already exists")
    assert not lone.exists() and Path(f"{lone}.json").read_text() == "{}"
    code, _, err = run(capsys, "export", runs / "mlp", "--format", "torchscript", "--output", out,
                       "--overwrite")
    assert code == 0, err
    assert out.read_bytes() != b"keep me" and (tmp_path / "g.ts.pt.json").exists()


def _copy(runs: Path, tmp_path: Path, kind: str = "mlp") -> Path:
    dst = tmp_path / f"copy-{kind}"
    shutil.copytree(runs / kind, dst)
    return dst


def _ckpt(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / "step-0000004"


def _truncated(runs, tmp_path):
    f = _ckpt(_copy(runs, tmp_path)) / "G_ema.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    return f.parents[2]


def _missing_weights(runs, tmp_path):
    (_ckpt(_copy(runs, tmp_path)) / "G_ema.safetensors").unlink()
    return tmp_path / "copy-mlp"


def _garbage_config(runs, tmp_path):
    dst = _copy(runs, tmp_path)
    (dst / "config.json").write_text("{ torn")
    return dst


def _not_a_run(runs, tmp_path):
    (tmp_path / "photos").mkdir()
    return tmp_path / "photos"


def _custom_run(runs, tmp_path):
    points = torch.randn(64, 2)
    gan = gankit.GAN(generator=MLPGenerator((2,), 8, 8), discriminator=MLPDiscriminator((2,), 8),
                     dataset=points, out=tmp_path / "custom", batch_size=16, checkpoint_every=1,
                     sample_every=100)
    gan.fit(steps=1, progress=False)
    return tmp_path / "custom"


REFUSALS = {  # id: (make the run, format, output, error class, what the line says)
    "missing": (lambda runs, tmp: tmp / "nope", "torchscript", "g.ts.pt", RunError,
                "no such run directory"),
    "not-a-run": (_not_a_run, "torchscript", "g.ts.pt", RunError, "not a gankit run"),
    "garbage-config": (_garbage_config, "torchscript", "g.ts.pt", RunError,
                       "config.json is corrupt"),
    "truncated-weights": (_truncated, "torchscript", "g.ts.pt", RunError,
                          "G_ema.safetensors: damaged"),
    "missing-weights": (_missing_weights, "torchscript", "g.ts.pt", RunError,
                        "G_ema.safetensors is missing"),
    "custom-nets": (_custom_run, "torchscript", "g.ts.pt", RunError, "your own nets"),
    "unknown-format": (lambda runs, tmp: runs / "mlp", "tflite", "g.onnx", ConfigError,
                       "unknown format 'tflite'"),
    "no-parent": (lambda runs, tmp: runs / "mlp", "torchscript", "no/such/dir/g.ts.pt",
                  ConfigError, "does not exist"),
    "inside-the-run": (lambda runs, tmp: runs / "mlp", "torchscript",
                       lambda runs: runs / "mlp" / "g.ts.pt", ConfigError,
                       "inside the run directory"),
    "wrong-suffix": (lambda runs, tmp: runs / "mlp", "torchscript", "g.onnx", ConfigError,
                     "named like the other format"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals(runs, tmp_path, capsys, case):
    """Each user error: one line `gankit: error: ...` and exit 2 from the CLI, the GanKitError
    subclass from Python, and no file written (the formats that need no onnxruntime, so the
    refusals are tested wherever gankit is)."""
    make, fmt, output, error, match = REFUSALS[case]
    run_dir = make(runs, tmp_path)   # the tests run in tmp_path (conftest), so output is in it
    output = output(runs) if callable(output) else output
    fail(capsys, "export", run_dir, "--format", fmt, "--output", output, match=match)
    with pytest.raises(error, match=re.escape(match)):
        gankit.export_generator(run_dir, fmt, output=output)
    assert not list(tmp_path.glob("g.*")) and not list(tmp_path.glob(".g.*"))
    assert not (runs / "mlp" / "g.ts.pt").exists()


def test_missing_onnxruntime_says_how_to_install(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)   # `import onnxruntime` now fails
    fail(capsys, "export", runs / "mlp", "--output", tmp_path / "g.onnx",
         match="needs the onnxruntime package: pip install 'gankit[export]'")
    with pytest.raises(ExportError, match=re.escape("gankit[export]")):
        gankit.export_generator(runs / "mlp", "onnx", output=tmp_path / "g.onnx")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_failed_verification_leaves_nothing_behind(runs, tmp_path, monkeypatch, fmt):
    if fmt == "onnx":
        needs_onnx()
    import gankit.export
    monkeypatch.setattr(gankit.export, "TOLERANCE", -1.0)   # no file can pass
    mine = tmp_path / f"g{'.onnx' if fmt == 'onnx' else '.ts.pt'}"
    mine.write_bytes(b"the user's")
    with pytest.raises(ExportError, match="differs from PyTorch.*nothing was written"):
        gankit.export_generator(runs / "cdcgan", fmt, output=mine, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == [mine.name]   # no temp file, no .json
    assert mine.read_bytes() == b"the user's"
    assert issubclass(ExportError, GanKitError)


def test_a_task_that_does_not_export_names_those_that_do(tmp_path, capsys):
    """The refusal comes from the registry (each spec's `exports`), never from a task's name."""
    import pandas as pd

    from gankit import tasks
    from gankit.tasks.table import TableGAN
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=40), "b": rng.choice(["x", "y"], 40)}).to_csv(
        tmp_path / "t.csv", index=False)
    TableGAN(tmp_path / "t.csv", out=tmp_path / "table", width=8, batch_size=20,
             sample_every=100).fit(steps=1, progress=False)
    capsys.readouterr()   # training's own lines
    line = fail(capsys, "export", tmp_path / "table", "--output", tmp_path / "g.onnx",
                match="is a table run: export works on the generators of")
    assert all(f"{s.name}" in line for s in tasks.specs() if s.exports), line
    assert not (tmp_path / "g.onnx").exists()
