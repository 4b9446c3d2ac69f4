"""The run directory: creating it without ever clobbering anything, config.json, metrics.jsonl."""
from __future__ import annotations

import json
import os
import platform
import re
import time
from pathlib import Path
from typing import Any, Optional

import torch

from ._version import __version__
from .config import RunConfig
from .errors import RunError
from .train.state import atomic_write_text

RUNS = Path("runs")


def is_run(path: Path) -> bool:
    return (Path(path) / "config.json").is_file()


def create_run_dir(out: Optional[Path], cfg: RunConfig) -> Path:
    """A fresh directory for a new run: `out` if it is new or empty, else runs/<name>-NNN."""
    if out is None:
        stem = f"{Path(cfg.data.dataset).stem or 'data'}-{cfg.model.model}".strip("<>").replace(" ", "-")
        RUNS.mkdir(parents=True, exist_ok=True)
        for i in range(1, 100_000):
            cand = RUNS / f"{stem}-{i:03d}"
            try:
                cand.mkdir()
                return cand
            except FileExistsError:
                continue
        raise RunError(f"{RUNS}: no free run name left")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} is a file, not a directory; refusing to touch it")
    if is_run(out):
        raise RunError(f"--out {out} is already a gankit run: continue it with "
                       f"`gankit train --resume {out}` or choose another --out")
    if out.exists() and any(out.iterdir()):
        raise RunError(f"--out {out} exists and is not an empty directory nor a gankit run; "
                       f"refusing to write into it")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_config(run_dir: Path, cfg: RunConfig, extra: Optional[dict[str, Any]] = None) -> None:
    """config.json: the resolved configuration plus where and with what it ran."""
    doc = cfg.to_dict()
    doc["meta"] = {"gankit_version": __version__, "torch_version": torch.__version__,
                   "python": platform.python_version(), "machine": platform.machine(),
                   "hardware": hardware(), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
                   **(extra or {})}
    atomic_write_text(Path(run_dir) / "config.json", json.dumps(doc, indent=2, sort_keys=True))


def hardware() -> str:
    """This machine in a few words: CPU, cores, and the GPU when there is one."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = f"{cpu}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        out += f"; {torch.cuda.get_device_name()}"
    return out


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", v)[:3])


def read_config(run_dir: Path) -> RunConfig:
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RunError(f"{run_dir}: no such run directory")
    if not is_run(run_dir):
        raise RunError(f"{run_dir} is not a gankit run (no config.json)")
    try:
        doc = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{run_dir}/config.json is corrupt ({e})") from None
    if not isinstance(doc, dict):
        raise RunError(f"{run_dir}/config.json is corrupt (not a JSON object)")
    written_by = str((doc.get("meta") or {}).get("gankit_version", "0"))
    if _version_tuple(written_by) > _version_tuple(__version__):
        raise RunError(f"{run_dir} was written by gankit {written_by}, newer than this gankit "
                       f"{__version__}: upgrade gankit (pip install -U gankit) to read it")
    try:
        return RunConfig.from_dict(doc)
    except Exception as e:  # noqa: BLE001 - any malformed field is the same user-facing problem
        raise RunError(f"{run_dir}/config.json is corrupt ({e})") from None


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop log rows past `step` (logged after the checkpoint a resume starts from)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except ValueError:
            continue
    atomic_write_text(path, "".join(k + "\n" for k in keep))
