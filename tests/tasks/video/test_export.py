"""`gankit export` of a video run: its generator (noise -> clip, the GRU's frame loop unrolled)
as one ONNX or TorchScript file, run here with onnxruntime or torch.jit.load alone and compared
with the run's own sampling at batch sizes the export never saw."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run

import gankit

TOL = 1e-4
CLIP = [4, 1, 16, 16]    # the shared runs' clips (tests/tasks/video/conftest.py): T, C, H, W

pytestmark = pytest.mark.usefixtures("one_thread")


def _needs_onnx():
    for name in ("onnx", "onnxscript"):
        pytest.importorskip(name)
    return pytest.importorskip("onnxruntime")


def _run_file(path: Path, fmt: str, z: torch.Tensor, y) -> np.ndarray:
    """The exported file, run by its own runtime alone."""
    if fmt == "onnx":
        ort = _needs_onnx()
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {"z": z.numpy()} if y is None else {"z": z.numpy(), "labels": y.numpy()}
        return session.run(["videos"], feed)[0]
    with warnings.catch_warnings():   # torch.jit.load is deprecated: known
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path))
    with torch.no_grad():
        return (module(z) if y is None else module(z, y)).numpy()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("name", ["plain", "labeled"])
def test_exported_video_generator_matches_pytorch(video_runs, tmp_path, name, fmt):
    if fmt == "onnx":
        _needs_onnx()
    out = gankit.export_generator(video_runs / name, fmt, output=tmp_path)
    meta = json.loads(Path(f"{out}.json").read_text())
    gan = gankit.load_run(video_runs / name, weights_only=True, device="cpu")
    worst = 0.0
    for n, seed in ((3, 1), (5, 2)):
        z = gan.task.noise(n, torch.Generator().manual_seed(seed))
        y = torch.arange(n) % 2 if name == "labeled" else None
        want = gan.task.generate(z, labels=y).numpy()
        got = _run_file(out, fmt, z, y)
        assert got.shape == (n, *CLIP) and got.dtype == np.float32
        worst = max(worst, float(np.abs(got - want).max()))
    assert worst <= TOL, worst
    assert np.abs(want).max() > 0.1    # real outputs compared, not near-zero ones
    assert meta["verification"]["max_abs_diff"] <= TOL and meta["step"] == 4


def test_sidecar_says_how_z_splits_and_what_comes_out(video_runs, tmp_path, capsys):
    """FILE.json alone is enough to draw one content moving several ways from the file."""
    ort = _needs_onnx()
    gankit.export_generator(video_runs / "labeled", "onnx", output=tmp_path / "v.onnx")
    code, _, err = run(capsys, "export", video_runs / "labeled", "--format", "torchscript",
                       "--output", tmp_path / "v.ts.pt")
    assert code == 0 and "v.ts.pt.json" in err, err
    meta = json.loads((tmp_path / "v.onnx.json").read_text())
    gan = gankit.load_run(video_runs / "labeled", weights_only=True, device="cpu")
    G = gan.task.G
    assert meta["output"] == {"name": "videos", "dtype": "float32", "shape": ["N", *CLIP],
                              "layout": "NTCHW"}
    assert meta["clip_shape"] == CLIP and meta["frames"] == 4 and meta["frames_per_second"] == 10
    assert meta["value_range"] == [-1.0, 1.0] and "transpose(0, 1, 3, 4, 2)" in meta["to_uint8"]
    assert meta["image_shape"] is None and meta["vector_shape"] is None
    assert [i["name"] for i in meta["inputs"]] == ["z", "labels"]
    assert meta["inputs"][1]["range"] == [0, 1] and meta["z_dim"] == G.z_dim
    content, motion = meta["z_layout"]["content"], meta["z_layout"]["motion_noise"]
    assert content["slice"] == [0, G.content_dim] and motion["slice"] == [G.content_dim, G.z_dim]
    assert motion["shape"] == ["N", 4, G.noise_dim]
    # z made from the description alone (one content code copied across rows, each row its own
    # motion noise) runs in the file as in gankit, and the rows move apart
    z = np.random.default_rng(0).standard_normal((3, meta["z_dim"])).astype(np.float32)
    lo, hi = content["slice"]
    z[:, lo:hi] = z[:1, lo:hi]
    session = ort.InferenceSession(str(tmp_path / "v.onnx"), providers=["CPUExecutionProvider"])
    clips = session.run(["videos"], {"z": z, "labels": np.zeros(3, np.int64)})[0]
    ours = gan.task.generate(torch.from_numpy(z), labels=torch.zeros(3, dtype=torch.long))
    assert np.abs(clips - ours.numpy()).max() <= TOL
    assert not np.allclose(clips[0], clips[1], atol=1e-3)
