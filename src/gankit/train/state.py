"""What a run is on disk: checkpoints of safetensors + JSON, written atomically, never unpickled.

checkpoints/step-0001000/
    G.safetensors  G_ema.safetensors  D.safetensors     one per named net
    opt_G.safetensors  opt_D.safetensors                optimizer tensors (Adam moments)
    rng.safetensors                                     torch.Generator states
    state.json                                          step, counters, optimizer hyper-parameters
checkpoints/latest                                      the name of the newest complete checkpoint

A checkpoint is written into a hidden temporary directory, every file fsynced and its SHA-256
recorded in state.json, then renamed into place; `latest` is replaced atomically after that, and
old checkpoints are pruned last. So a crash or a power cut never leaves a half-written checkpoint
to be resumed, and a checkpoint damaged later is noticed on loading (the newest intact one before
it is used instead, with a warning).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from ..errors import GanKitWarning, RunError

FORMAT = 1
STEP_DIR = re.compile(r"step-\d{7,}")
STEP_IN = re.compile(r"step-\d{7,}")   # searched for: the step inside a temporary name
STALE = re.compile(r"\.(?:tmp|old)-step-\d+-(\d+)|\.\w+\.tmp-(\d+)")   # what a crash leaves


def step_name(step: int) -> str:
    return f"step-{step:07d}"


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable (a no-op where directories cannot be
    opened, as on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write `data` to `path` and wait until it is on the disk."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old or the new file, never half of one,
    and the new one survives a power cut once this returns."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write_durable(tmp, text.encode())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def save_checkpoint(run_dir: Path, step: int, tensors: dict[str, dict[str, torch.Tensor]],
                    meta: dict[str, Any], keep: int = 0) -> Path:
    """Write one checkpoint: `tensors` maps file stem -> tensor dict; `meta` goes to state.json.

    Every file is on the disk, with its SHA-256 in state.json, before the folder is renamed into
    place and `latest` moves to it; only then are older periodic checkpoints beyond the newest
    `keep` (> 0) removed.
    """
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    clean_stale(root)
    final = root / step_name(step)
    tmp = root / f".tmp-{step_name(step)}-{os.getpid()}"
    tmp.mkdir()
    sums = {}
    for stem, tdict in tensors.items():
        data = save({k: v.detach().to("cpu").contiguous() for k, v in tdict.items()})
        write_durable(tmp / f"{stem}.safetensors", data)
        sums[f"{stem}.safetensors"] = hashlib.sha256(data).hexdigest()
    doc = {"format": FORMAT, "step": step, **meta, "files": sums}
    write_durable(tmp / "state.json", json.dumps(doc, indent=1).encode())
    _fsync_dir(tmp)
    if final.exists():   # re-saving the same step: move the old one aside first, then drop it
        old = root / f".old-{step_name(step)}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    _fsync_dir(root)
    atomic_write_text(root / "latest", final.name + "\n")
    if keep > 0:
        _prune(root, keep, protect={final.name, _best_name(root)})
    return final


def stray_copy(root: Path, name: str) -> Optional[Path]:
    """A complete copy of checkpoint `name` (state.json written, which is last) left under a
    temporary name by a crash while that step was saved again: the new copy first, then the
    old one. Between the two renames of a re-save, these are the only copies of the step."""
    for prefix in (".tmp-", ".old-"):
        for p in sorted(root.glob(f"{prefix}{name}-*")):
            if STALE.fullmatch(p.name) and (p / "state.json").is_file():
                return p
    return None


def _recover(root: Path) -> None:
    """Put back the checkpoints that `latest` and `best` name, if a crash during their re-save
    left them only under a temporary name (before such names are cleaned away)."""
    for pointer in ("latest", "best"):
        target = _pointed(root, pointer)
        if target is None or target.exists():
            continue
        copy = stray_copy(root, target.name)
        pid = int(STALE.fullmatch(copy.name)[1]) if copy is not None else 0
        if copy is not None and (pid == os.getpid() or not _alive(pid)):
            os.rename(copy, target)
            _fsync_dir(root)


def clean_stale(root: Path) -> None:
    """Remove temporary folders that writes cut short by a crash left behind (those of a process
    still alive are left alone), after putting back any that holds the only copy of a
    checkpoint a pointer names."""
    _recover(root)
    for p in root.iterdir():
        m = STALE.fullmatch(p.name)
        pid = int(m[1] or m[2]) if m else 0
        if m is None or (pid != os.getpid() and _alive(pid)):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True   # it exists, owned by someone else
    return True


def _best_name(root: Path) -> str:
    best = root / "best"
    try:
        return best.read_text().strip() if best.exists() else ""
    except (OSError, UnicodeDecodeError):
        return ""


def _prune(root: Path, keep: int, protect: set[str]) -> None:
    steps = sorted(p for p in root.iterdir() if p.is_dir() and STEP_DIR.fullmatch(p.name))
    for p in steps[:-keep]:
        if p.name not in protect:
            shutil.rmtree(p, ignore_errors=True)


def list_checkpoints(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and STEP_DIR.fullmatch(p.name) and (p / "state.json").exists())


def _pointed(root: Path, pointer: str) -> Optional[Path]:
    """The checkpoint a pointer file (`latest`, `best`) names, if it names one of this run's
    own checkpoint folders: a path elsewhere (`../other-run/...`) is never followed."""
    try:
        name = (root / pointer).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return root / name if STEP_DIR.fullmatch(name) else None


def latest_checkpoint(run_dir: Path) -> Path:
    """The checkpoint named by `latest` (or else the newest complete one), unread."""
    root = Path(run_dir) / "checkpoints"
    cand = _pointed(root, "latest")
    if cand is not None and (cand / "state.json").exists():
        return cand
    if cand is not None and root.is_dir():   # a re-save of that step cut short (see _recover)
        copy = stray_copy(root, cand.name)
        if copy is not None:
            return copy
    found = list_checkpoints(run_dir)
    if not found:
        raise RunError(f"{run_dir}: no checkpoint found (the run never saved one)")
    return found[-1]


def load_latest(run_dir: Path) -> tuple[Path, dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """The newest intact checkpoint: (folder, tensors, state.json). The one `latest` names comes
    first; if it is damaged, the newest checkpoint before it that reads back whole is used,
    with a one-line warning saying so."""
    root = Path(run_dir) / "checkpoints"
    order = [latest_checkpoint(run_dir)]
    newest = STEP_IN.search(order[0].name)[0]   # a stray copy's name holds its step's
    order += [p for p in reversed(list_checkpoints(run_dir)) if p.name < newest]
    problems = []
    for ckpt in order:
        try:
            tensors, meta = load_checkpoint(ckpt)
        except RunError as e:
            problems.append(str(e))
            continue
        if problems:
            warnings.warn(f"{problems[0]}; using {ckpt.name}, the newest intact checkpoint "
                          f"before it", GanKitWarning)
        return ckpt, tensors, meta
    raise RunError(problems[0] + (f" (and the {len(order) - 1} older checkpoint(s) are damaged "
                                  f"too)" if len(order) > 1 else "") + f"; {root} has no "
                   f"intact checkpoint to load")


def read_progress(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The latest checkpoint (unread) and how far it got, from its state.json: `step`, `nimg`,
    `elapsed`, checked to be numbers (damaged -> RunError)."""
    ckpt = latest_checkpoint(run_dir)
    try:
        state = json.loads((ckpt / "state.json").read_text())
        out = {"step": state["step"], "nimg": state.get("nimg"),
               "elapsed": float(state.get("elapsed", 0.0))}
        if not isinstance(out["step"], int) or not isinstance(out["nimg"], (int, type(None))):
            raise TypeError("step and nimg must be whole numbers")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise RunError(f"{ckpt}/state.json is damaged ({type(e).__name__}: {e})") from None
    return ckpt, out


def read_best(run_dir: Path) -> Optional[dict[str, Any]]:
    """checkpoints/best.json ({"step": N, metric: value}) or None; damaged -> RunError."""
    path = Path(run_dir) / "checkpoints" / "best.json"
    if not path.is_file():
        return None
    try:
        best = json.loads(path.read_text())
        if not (isinstance(best, dict) and isinstance(best.get("step"), int) and all(
                isinstance(v, (int, float)) for v in best.values())):
            raise ValueError("not {\"step\": N, metric: value}")
    except (OSError, ValueError) as e:
        raise RunError(f"{path} is damaged ({e}); remove it to forget the best score") from None
    return best


def load_checkpoint(ckpt: Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Read a checkpoint back: (file stem -> tensors, state.json contents). Every file state.json
    lists must be there with its SHA-256; anything damaged or missing -> RunError."""
    ckpt = Path(ckpt)
    try:
        meta = json.loads((ckpt / "state.json").read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{ckpt}: unreadable state.json ({e})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("step"), int):
        raise RunError(f"{ckpt}/state.json is damaged (no whole-number step)")
    sums = meta.get("files")   # absent in checkpoints written before gankit recorded them
    names = sorted(sums) if isinstance(sums, dict) else sorted(
        f.name for f in ckpt.glob("*.safetensors"))
    tensors = {}
    for name in names:
        f = ckpt / name
        try:
            data = f.read_bytes()
            if isinstance(sums, dict) and hashlib.sha256(data).hexdigest() != sums[name]:
                raise RunError(f"{f}: damaged (its SHA-256 is not the one saved with it)")
            tensors[f.name[:-len(".safetensors")]] = load(data)
        except RunError:
            raise
        except FileNotFoundError:
            raise RunError(f"{f} is missing: the checkpoint is incomplete") from None
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


def _check_groups(opt: torch.optim.Optimizer, groups: Any) -> None:
    """A checkpoint's optimizer settings (lr, betas, eps, ...) as JSON read them back must be of
    the kinds the optimizer holds now: finite numbers where it has numbers, pairs where it has
    pairs, and no negative learning rate (a hand-edited "lr": "1e-4" would otherwise fail at the
    first step, or train wrongly)."""
    if not isinstance(groups, list) or len(groups) != len(opt.param_groups):
        raise RunError("the checkpoint's optimizer settings do not fit the optimizer")
    for group, now in zip(groups, opt.param_groups):
        if not isinstance(group, dict):
            raise RunError("the checkpoint's optimizer settings are damaged (not an object)")
        for key, current in now.items():
            if key == "params" or key not in group:
                continue
            value = group[key]
            values = value if isinstance(current, (tuple, list)) else [value]
            wanted = current if isinstance(current, (tuple, list)) else [current]
            if isinstance(current, (tuple, list)) and (not isinstance(value, (tuple, list))
                                                       or len(value) != len(current)):
                raise RunError(f"the checkpoint's optimizer setting {key} is {value!r}, not a "
                               f"list of {len(current)} numbers")
            for v, c in zip(values, wanted):
                number = isinstance(c, (int, float)) and not isinstance(c, bool)
                if number and (isinstance(v, bool) or not isinstance(v, (int, float))
                               or not math.isfinite(v) or (key == "lr" and v < 0)):
                    raise RunError(f"the checkpoint's optimizer setting {key} is {value!r}, not "
                                   f"a finite{' non-negative' if key == 'lr' else ''} number")
                if isinstance(c, bool) and not isinstance(v, bool):
                    raise RunError(f"the checkpoint's optimizer setting {key} is {value!r}, not "
                                   f"true or false")


def load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> None:
    _check_groups(opt, meta.get("param_groups"))
    state: dict[int, dict[str, Any]] = {}
    try:
        for key, val in list(tensors.items()) + list(meta.get("plain", {}).items()):
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = val
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (KeyError, ValueError, TypeError, AttributeError) as e:
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
    # (and a missing optimizer or RNG file would resume with a fresh Adam or another data order).
    wanted = list(task.nets) if weights_only else [*task.nets, *(f"opt_{n}" for n in
                                                                 task.optimizers), "rng"]
    missing = [f"{name}.safetensors" for name in wanted if name not in tensors]
    if missing:
        raise RunError(f"the checkpoint lacks {', '.join(missing)}: the run is incomplete or "
                       f"was damaged")
    for name, net in task.nets.items():
        load_module_state(net, tensors[name], name)
    if weights_only:
        return
    for name, opt in task.optimizers.items():
        if not isinstance(meta.get(f"opt_{name}"), dict):
            raise RunError(f"the checkpoint's state.json lacks the state of optimizer {name}")
        load_optimizer_state(opt, tensors[f"opt_{name}"], meta[f"opt_{name}"])
    for k, g in task.generators.items():
        set_generator_state(g, tensors["rng"], k)


def set_generator_state(g: torch.Generator, states: dict[str, torch.Tensor], key: str) -> None:
    """Restore one random generator from a checkpoint's rng file; missing or damaged -> RunError."""
    if key not in states:
        raise RunError(f"the checkpoint's rng.safetensors lacks the state of {key!r}")
    try:
        g.set_state(states[key])
    except (RuntimeError, TypeError, ValueError) as e:
        raise RunError(f"the checkpoint's random state {key!r} is damaged ({e})") from None
