"""The run directory: creating it without ever clobbering anything, config.json, metrics.jsonl."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ._version import __version__
from .config import RunConfig
from .errors import ConfigError, DataError, GanKitWarning, RunError
from .tasks import task_options
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
    """config.json: the resolved configuration plus where and with what it ran. Rewriting it (a
    resume with new settings) keeps what the first writing recorded (data note, fingerprint)."""
    doc = cfg.to_dict()
    doc["meta"] = {**read_meta(run_dir),
                   "gankit_version": __version__, "torch_version": torch.__version__,
                   "python": platform.python_version(), "machine": platform.machine(),
                   "hardware": hardware(), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
                   **(extra or {})}
    atomic_write_text(Path(run_dir) / "config.json", json.dumps(doc, indent=2, sort_keys=True))


def read_meta(run_dir: Path) -> dict[str, Any]:
    """The `meta` of a run's config.json ({} when there is none or it does not read)."""
    try:
        meta = json.loads((Path(run_dir) / "config.json").read_text()).get("meta")
    except (OSError, ValueError, AttributeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def data_fingerprint(data: Any) -> dict[str, Any]:
    """What identifies a training set cheaply: how many items, their shape, and a hash of the
    first and the last. `data`: a tensor [N, ...], a list of tensors, or a tuple of such lists
    (CycleGAN's two domains)."""
    parts = list(data) if isinstance(data, tuple) else [data]
    count = sum(len(p) for p in parts)
    nonempty = [p for p in parts if len(p)]
    h = hashlib.sha256()
    for item in (nonempty[0][0], nonempty[-1][-1]) if nonempty else ():
        for t in _leaves(item):
            t = t.detach().cpu().contiguous()
            h.update(f"{t.dtype}{list(t.shape)}".encode())
            h.update((t.float() if t.dtype == torch.bfloat16 else t).numpy().tobytes())
    return {"count": count, "first_last_sha256": h.hexdigest()[:16]}


def _leaves(item: Any) -> list[torch.Tensor]:
    """The tensors of one item: itself, or those of a pair (pix2pix's (A, B)) and so on."""
    if isinstance(item, (tuple, list)):
        return [t for part in item for t in _leaves(part)]
    return [item if torch.is_tensor(item) else torch.as_tensor(np.asarray(item))]


def check_same_data(run_dir: Path, data: Any, allow_change: bool) -> None:
    """Refuse to resume a run on other data than it trained on (DataError), unless
    `allow_change`, then warn. Runs saved before fingerprints were recorded are not checked."""
    saved = read_meta(run_dir).get("data_fingerprint")
    if not isinstance(saved, dict) or data is None:
        return
    now = data_fingerprint(data)
    if now == saved:
        return
    what = (f"{saved.get('count')} items then, {now['count']} now" if now["count"] !=
            saved.get("count") else "the same number of items, but other first or last ones")
    if not allow_change:
        raise DataError(f"{run_dir} trained on other data ({what}); resuming on this data is not "
                        f"the same run: pass --allow-data-change (Python: allow_data_change=True) "
                        f"if you mean it")
    warnings.warn(f"{run_dir}: training goes on with changed data ({what})", GanKitWarning)


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
        options = task_options(doc.get("task"))
    except ConfigError as e:   # a task of plugin code not imported now, or no task at all
        raise RunError(f"{run_dir} is a run of {e}") from None
    try:
        return RunConfig.from_dict(doc, options)
    except Exception as e:  # noqa: BLE001 - any malformed field is the same user-facing problem
        raise RunError(f"{run_dir}/config.json is corrupt ({e})") from None


class RunLock:
    """An exclusive lock on a run directory while one process trains it (`RUN/.lock`, flock):
    a second `--resume` of the same run is refused in one line instead of both writing the log
    and the checkpoints. The system drops the lock when the process ends, however it ends."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self.file: Optional[Any] = None

    def acquire(self) -> None:
        if self.file is not None:
            return
        try:
            import fcntl
        except ImportError:   # no flock (Windows): one process per run is then up to the user
            return
        f = open(self.path, "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise RunError(f"{self.path.parent} is being trained by {holder}; wait for it to "
                           f"end (or stop it) before resuming it") from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on {platform.node()}\n")
        f.flush()
        self.file = f

    def release(self) -> None:
        if self.file is not None:
            self.file.close()   # closing the file drops the flock
            self.file = None


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
        except (ValueError, AttributeError, TypeError):   # a torn or foreign line
            continue
    atomic_write_text(path, "".join(k + "\n" for k in keep))
