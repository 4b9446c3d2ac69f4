"""What a run is on disk: checkpoints of safetensors + JSON, written atomically, never unpickled.

checkpoints/step-0001000/
    G.safetensors  G_ema.safetensors  D.safetensors     one per named net
    opt_G.safetensors  opt_D.safetensors                optimizer tensors (Adam moments)
    rng.safetensors                                     torch.Generator states
    state.json                                          step, counters, optimizer hyper-parameters
checkpoints/latest                                      the name of the newest complete checkpoint

A checkpoint is written into a hidden temporary directory and renamed into place, and `latest` is
replaced atomically after that, so a crash never leaves a half-written checkpoint to be resumed.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import RunError

FORMAT = 1


def step_name(step: int) -> str:
    return f"step-{step:07d}"


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(run_dir: Path, step: int, tensors: dict[str, dict[str, torch.Tensor]],
                    meta: dict[str, Any], keep: int = 0) -> Path:
    """Write one checkpoint: `tensors` maps file stem -> tensor dict; `meta` goes to state.json.

    With keep > 0, older periodic checkpoints beyond the newest `keep` are removed afterwards.
    """
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_name(step)
    tmp = root / f".tmp-{step_name(step)}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for stem, tdict in tensors.items():
        save_file({k: v.detach().to("cpu").contiguous() for k, v in tdict.items()},
                  str(tmp / f"{stem}.safetensors"))
    (tmp / "state.json").write_text(json.dumps({"format": FORMAT, "step": step, **meta}, indent=1))
    if final.exists():   # re-saving the same step: move the old one aside first, then drop it
        old = root / f".old-{step_name(step)}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    atomic_write_text(root / "latest", final.name + "\n")
    if keep > 0:
        _prune(root, keep, protect={final.name, _best_name(root)})
    return final


def _best_name(root: Path) -> str:
    best = root / "best"
    return best.read_text().strip() if best.exists() else ""


def _prune(root: Path, keep: int, protect: set[str]) -> None:
    steps = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-"))
    for p in steps[:-keep]:
        if p.name not in protect:
            shutil.rmtree(p, ignore_errors=True)


def list_checkpoints(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and p.name.startswith("step-") and (p / "state.json").exists())


def latest_checkpoint(run_dir: Path) -> Path:
    """The checkpoint named by `latest` (or else the newest complete one)."""
    root = Path(run_dir) / "checkpoints"
    pointer = root / "latest"
    if pointer.exists():
        cand = root / pointer.read_text().strip()
        if (cand / "state.json").exists():
            return cand
    found = list_checkpoints(run_dir)
    if not found:
        raise RunError(f"{run_dir}: no checkpoint found (the run never saved one)")
    return found[-1]


def load_checkpoint(ckpt: Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Read a checkpoint back: (file stem -> tensors, state.json contents). Corrupt -> RunError."""
    ckpt = Path(ckpt)
    try:
        meta = json.loads((ckpt / "state.json").read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{ckpt}: unreadable state.json ({e})") from None
    tensors = {}
    for f in sorted(ckpt.glob("*.safetensors")):
        try:
            tensors[f.stem] = load_file(str(f))
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise RunError(f"{f}: corrupt checkpoint file ({e})") from None
    return tensors, meta


def optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state dict into tensors (for safetensors) and JSON-able rest."""
    sd = opt.state_dict()
    tensors, plain = {}, {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"{idx}.{key}"] = val
            else:
                plain[f"{idx}.{key}"] = val
    return tensors, {"param_groups": sd["param_groups"], "plain": plain}


def load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, val in list(tensors.items()) + list(meta.get("plain", {}).items()):
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = val
    try:
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (KeyError, ValueError) as e:
        raise RunError(f"optimizer state does not fit the nets ({e})") from None


def load_module_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], what: str) -> None:
    try:
        module.load_state_dict(tensors)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise RunError(f"{what}: weights do not fit the net ({first})") from None


def task_state(task: Any) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """A task's checkpoint contents: each named net, each optimizer (tensors + JSON), and the
    states of its random generators (`task.generators`)."""
    tensors = {name: net.state_dict() for name, net in task.nets.items()}
    meta: dict[str, Any] = {}
    for name, opt in task.optimizers.items():
        tensors[f"opt_{name}"], meta[f"opt_{name}"] = optimizer_state(opt)
    tensors["rng"] = {k: g.get_state() for k, g in task.generators.items()}
    return tensors, meta


def load_task_state(task: Any, tensors: dict[str, dict[str, torch.Tensor]], meta: dict[str, Any],
                    weights_only: bool = False) -> None:
    """The inverse of task_state (only the nets with weights_only)."""
    # Every net the config builds was saved; a missing file means a damaged checkpoint, and
    # skipping it would sample from freshly initialised weights without a word.
    missing = [f"{name}.safetensors" for name in task.nets if name not in tensors]
    if missing:
        raise RunError(f"the checkpoint lacks {', '.join(missing)}: the run is incomplete or "
                       f"was damaged")
    for name, net in task.nets.items():
        load_module_state(net, tensors[name], name)
    if weights_only:
        return
    for name, opt in task.optimizers.items():
        load_optimizer_state(opt, tensors.get(f"opt_{name}", {}), meta[f"opt_{name}"])
    for k, g in task.generators.items():
        g.set_state(tensors["rng"][k])
