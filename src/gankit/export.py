"""Shipping a trained generator: one self-contained file that runs without gankit.

    gankit export runs/mnist-dcgan-001                  # ./mnist-dcgan-001-generator.onnx
    gankit export RUN --format torchscript --output g.ts.pt

    gankit.export_generator("runs/mnist-dcgan-001", "onnx", output="generator.onnx")

The file holds the EMA generator (the raw one with `ema=False`) in eval mode, on the CPU, with a
dynamic batch dimension: inputs `z` float32 [N, z_dim] (standard normal noise) and, for a
conditional run, `labels` int64 [N]; output `images` float32 [N, C, H, W] in [-1, 1], or `samples`
[N, ...] for vector data (the names `gankit sample` uses in a .npz), or the name a task's spec
gives (`export_output`; a video run's `videos` [N, T, C, H, W]). Before the file is kept it is
loaded back with the runtime a user would use (onnxruntime, or torch.jit.load) and run at several
batch sizes against gankit's own sampling; FILE.json beside it records the inputs, outputs, how to
turn outputs into uint8 pixels, what the task's spec adds (`export_notes`: how a video
generator's z splits into content and motion noise, say), and the difference measured.

(`outputs.py` writes samples; this module writes the generator itself.)
"""
from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch import nn

from . import tasks
from ._version import __version__
from .errors import ConfigError, ExportError, RunError
from .nets.layers import is_image_shape
from .rundir import read_config
from .train.state import atomic_write_text

FORMATS = {"onnx": ".onnx", "torchscript": ".ts.pt"}
# Outputs are tanh images in [-1, 1] (a uint8 step is 1/127.5 ~ 8e-3), so 1e-4 is far below
# anything visible yet far above float32 reordering noise (measured 1e-9 to 1e-6 on CPU).
# Unbounded vector outputs get the same tolerance relative to their magnitude.
TOLERANCE = 1e-4
CHECK_BATCHES = (1, 3, 5)   # none equal to the example batch below: proves N is not baked in
EXAMPLE_BATCH = 2           # torch.export specializes sizes 0 and 1, so the example uses 2
INSTALL_HINT = "pip install 'gankit[export]'"


class _Unconditional(nn.Module):
    """The exported graph: z -> images. A module of its own so that the file's input is named
    exactly `z` (ONNX and TorchScript both take argument names from forward)."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.G(z)


class _Conditional(nn.Module):
    """(z, labels) -> images; gankit calls a conditional G as G(z, y)."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.G(z, labels)


def default_output(run_dir: Union[str, Path], fmt: str) -> Path:
    """./<run name>-generator.onnx (or .ts.pt): in the current directory, because exporting must
    never add files to the run directory."""
    return Path(f"{Path(run_dir).resolve().name}-generator{FORMATS[fmt]}")


def sidecar_path(output: Path) -> Path:
    return output.with_name(output.name + ".json")


def export_generator(run_dir: Union[str, Path], fmt: str = "onnx",
                     output: Union[str, Path, None] = None, overwrite: bool = False,
                     ema: bool = True) -> Path:
    """Write the run's generator as one ONNX or TorchScript file, checked, plus FILE.json.

    `output` defaults to ./<run name>-generator.onnx (.ts.pt for TorchScript); an existing
    directory gets that name inside it. An existing file (or its .json) is replaced only with
    `overwrite`. Returns the path written. Raises RunError (missing, corrupt or custom-net run),
    ConfigError (bad format or output) or ExportError (missing packages, export failed, or the
    file does not reproduce the generator).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}: use onnx or torchscript")
    if fmt == "onnx":   # before loading anything: a missing package is the most likely problem
        _require_onnx()
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)   # RunError for a missing, non-run or corrupt directory
    spec = tasks.get(cfg.task)
    if not spec.exports:
        takers = " and ".join(s.name for s in tasks.specs() if s.exports)
        raise RunError(f"{run_dir} is a {cfg.task} run: export works on the generators of "
                       f"{takers} runs (noise -> samples) so far")
    if cfg.model.model == "custom":
        raise RunError(f"{run_dir} was trained with your own nets, which gankit cannot rebuild "
                       f"from the run directory: load it with gankit.load_run(RUN, generator=..., "
                       f"discriminator=...) and export gan.task.sampler_net with torch.onnx")
    output = _resolve_output(run_dir, fmt, output, overwrite)

    from .api import load_run
    gan = load_run(run_dir, device="cpu", weights_only=True)
    task = gan.task
    used_ema = bool(ema and task.G_ema is not None)
    G = task.G_ema if used_ema else task.G
    conditional = bool(cfg.model.conditional)
    module = (_Conditional(G) if conditional else _Unconditional(G)).eval()
    data_shape = tuple(int(s) for s in cfg.data_shape)
    out_name = spec.export_output or ("images" if is_image_shape(data_shape) else "samples")
    example = _inputs(task.z_dim, cfg.num_classes if conditional else 0, EXAMPLE_BATCH, seed=1)

    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}{FORMATS[fmt]}")
    try:
        if fmt == "onnx":
            info = _export_onnx(module, example, tmp, out_name)
            run = _onnx_runner(tmp, out_name)
        else:
            info = _export_torchscript(module, example, tmp)
            run = _torchscript_runner(tmp)

        def reference(z: torch.Tensor, y: Optional[torch.Tensor]) -> np.ndarray:
            return task.generate(z, ema=used_ema, labels=y).numpy()

        check = verify(run, reference, task.z_dim, cfg.num_classes if conditional else 0,
                       data_shape)
        doc = describe(fmt=fmt, run_dir=run_dir, step=gan.step, ema=used_ema, cfg=cfg,
                       z_dim=task.z_dim, out_name=out_name, output=output, info=info, check=check,
                       notes=spec.export_notes(cfg, G))
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    # After the model: a description never exists without the file it describes.
    atomic_write_text(sidecar_path(output), json.dumps(doc, indent=2) + "\n")
    return output


def _require_onnx() -> None:
    missing = []
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportError(f"ONNX export needs the {', '.join(missing)} package"
                          f"{'s' if len(missing) > 1 else ''}: {INSTALL_HINT}")


def _resolve_output(run_dir: Path, fmt: str, output: Union[str, Path, None],
                    overwrite: bool) -> Path:
    if output is None:
        output = default_output(run_dir, fmt)
    output = Path(output)
    if output.is_dir():
        output = output / default_output(run_dir, fmt).name
    if not output.parent.is_dir():
        raise ConfigError(f"cannot write {output}: the directory {output.parent} does not exist")
    if run_dir.resolve() in output.resolve().parents:   # e.g. `gankit export .` inside the run
        raise ConfigError(f"{output} is inside the run directory {run_dir}, which exporting never "
                          f"changes: choose another --output")
    name = output.name.lower()
    if (fmt == "torchscript" and name.endswith(".onnx")) or (
            fmt == "onnx" and name.endswith((".pt", ".pth", ".ts"))):
        raise ConfigError(f"{output} is named like the other format; with --format {fmt} use a "
                          f"name ending in {FORMATS[fmt]}")
    for path in (output, sidecar_path(output)):
        if path.exists() and not overwrite:
            raise ConfigError(f"{path} already exists; pass --overwrite to replace it")
    return output


def _inputs(z_dim: int, num_classes: int, n: int, seed: int,
            ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Standard-normal latents [n, z_dim] (what the generator was trained on) and, for a
    conditional generator, class labels [n] drawn from every class."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, z_dim, generator=gen)
    y = torch.randint(0, num_classes, (n,), generator=gen) if num_classes else None
    return z, y


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' chatter for the duration of an export: deprecation notices, notes
    about optional packages (torchvision) and shape-naming remarks are not the user's business,
    and whether the result is right is checked afterwards by running it."""
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


def _export_onnx(module: nn.Module, example: tuple, path: Path, out_name: str) -> dict[str, Any]:
    """torch.onnx.export with the torch.export-based ("dynamo") exporter: the default since
    torch 2.9, the one PyTorch maintains (the TorchScript-based exporter is deprecated). Weights
    are stored inside the file (external_data=False): one self-contained .onnx, and the temporary
    name it is written under cannot leak into an external-data reference."""
    z, y = example
    args = (z,) if y is None else (z, y)
    names = ["z"] if y is None else ["z", "labels"]
    batch = torch.export.Dim("batch")
    try:
        with _quiet(), torch.no_grad():
            torch.onnx.export(module, args, str(path), input_names=names, output_names=[out_name],
                              dynamic_shapes={n: {0: batch} for n in names}, dynamo=True,
                              external_data=False, verbose=False)
    except Exception as e:  # noqa: BLE001 - whatever it raises, the file cannot be made
        raise ExportError(f"torch.onnx could not export this generator ({_first_line(e)}); "
                          f"--format torchscript may work") from None
    import onnx
    model = onnx.load(str(path), load_external_data=False)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return {"exporter": f"torch.onnx.export(dynamo=True), torch {torch.__version__}",
            "opset": opset, "ir_version": model.ir_version}


def _export_torchscript(module: nn.Module, example: tuple, path: Path) -> dict[str, Any]:
    """torch.jit.trace: gankit's generators have no data-dependent control flow, so a trace
    records the whole computation; the batch size is read from the input at run time (checked
    by `verify` at batch sizes other than the example's)."""
    z, y = example
    args = (z,) if y is None else (z, y)
    try:
        with _quiet(), torch.no_grad():
            traced = torch.jit.trace(module, args)
            traced.save(str(path))
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"torch.jit.trace could not trace this generator ({_first_line(e)}); "
                          f"--format onnx may work") from None
    return {"exporter": f"torch.jit.trace, torch {torch.__version__}"}


Runner = Callable[[torch.Tensor, Optional[torch.Tensor]], np.ndarray]


def _onnx_runner(path: Path, out_name: str) -> Runner:
    import onnxruntime as ort
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"onnxruntime cannot load the exported file ({_first_line(e)})") from None

    def run(z: torch.Tensor, y: Optional[torch.Tensor]) -> np.ndarray:
        feed = {"z": z.numpy()}
        if y is not None:
            feed["labels"] = y.numpy()
        return session.run([out_name], feed)[0]
    return run


def _torchscript_runner(path: Path) -> Runner:
    with _quiet():   # torch.jit.load warns that TorchScript is deprecated, on every call
        loaded = torch.jit.load(str(path), map_location="cpu")

    def run(z: torch.Tensor, y: Optional[torch.Tensor]) -> np.ndarray:
        with torch.no_grad():
            out = loaded(z) if y is None else loaded(z, y)
        return out.float().numpy()
    return run


def verify(run: Runner, reference: Callable[[torch.Tensor, Optional[torch.Tensor]], np.ndarray],
           z_dim: int, num_classes: int, data_shape: tuple[int, ...]) -> dict[str, Any]:
    """Run the exported file and gankit's sampling on the same inputs at each of CHECK_BATCHES;
    ExportError unless shapes match and the largest difference is within tolerance."""
    worst, scale = 0.0, 1.0
    for i, n in enumerate(CHECK_BATCHES):
        z, y = _inputs(z_dim, num_classes, n, seed=100 + i)
        try:
            got = np.asarray(run(z, y))
        except Exception as e:  # noqa: BLE001 - failing at this batch size: unusable
            raise ExportError(f"the exported generator fails at batch size {n} "
                              f"({_first_line(e)})") from None
        want = reference(z, y)
        if got.shape != (n, *data_shape) or got.dtype != np.float32:
            raise ExportError(f"the exported generator returns {got.dtype} {list(got.shape)} at "
                              f"batch size {n}, expected float32 {[n, *data_shape]}")
        worst = max(worst, float(np.abs(got - want).max()))
        scale = max(scale, float(np.abs(want).max()))
    if not worst <= TOLERANCE * scale:   # `not <=`: a NaN difference fails too
        raise ExportError(f"the exported generator differs from PyTorch by up to {worst:.3g} "
                          f"(tolerance {TOLERANCE * scale:.3g}); nothing was written")
    return {"batch_sizes": list(CHECK_BATCHES), "max_abs_diff": worst,
            "tolerance": TOLERANCE * scale}


def describe(*, fmt: str, run_dir: Path, step: int, ema: bool, cfg: Any, z_dim: int,
             out_name: str, output: Path, info: dict[str, Any], check: dict[str, Any],
             notes: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """FILE.json: everything needed to use the file without gankit. `notes`: what the task's spec
    adds or replaces (its "output" entry updates the output's description)."""
    data_shape = [int(s) for s in cfg.data_shape]
    image, vector = out_name == "images", out_name == "samples"
    inputs = [{"name": "z", "dtype": "float32", "shape": ["N", z_dim],
               "distribution": "standard normal, N(0, 1), independent entries"}]
    num_classes = int(cfg.num_classes) if cfg.model.conditional else None
    if num_classes is not None:
        inputs.append({"name": "labels", "dtype": "int64", "shape": ["N"],
                       "range": [0, num_classes - 1]})
    runtime = (f"onnxruntime {importlib.import_module('onnxruntime').__version__}"
               if fmt == "onnx" else f"torch.jit.load, torch {torch.__version__}")
    notes = dict(notes or {})
    doc = {
        "format": fmt,
        "file": output.name,
        **info,
        "gankit_version": __version__,
        "run": str(run_dir.resolve()),
        "step": int(step),
        "ema": ema,
        "model": cfg.model.model,
        "dataset": cfg.data.dataset,
        "conditional": num_classes is not None,
        "z_dim": z_dim,
        "num_classes": num_classes,
        "inputs": inputs,
        "output": {"name": out_name, "dtype": "float32", "shape": ["N", *data_shape],
                   "layout": "NCHW" if image else None},
        "image_shape": data_shape if image else None,
        "vector_shape": data_shape if vector else None,
        "value_range": [-1.0, 1.0] if image else None,
        "to_uint8": ("numpy.clip((x + 1) * 127.5, 0, 255).round().astype(numpy.uint8), then "
                     "transpose(0, 2, 3, 1) for [N, H, W, C] pictures") if image else None,
        "batch": "dynamic: any N >= 1",
        "verification": {"runtime": runtime, **check},
    }
    doc["output"].update(notes.pop("output", {}))
    doc.update(notes)
    return doc
