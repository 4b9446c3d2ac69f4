"""`gankit info RUN`: what a run is, how far it got, where its files are."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import tasks
from .rundir import read_config
from .train.callbacks import read_metrics, sample_frames
from .train.state import list_checkpoints, read_progress


def describe_run(run_dir: Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    meta = json.loads((run_dir / "config.json").read_text()).get("meta", {})
    ckpt, state = read_progress(run_dir)
    records = read_metrics(run_dir)
    spec = tasks.get(cfg.task)
    samples = sample_frames(run_dir, spec.previews[0])
    loss = None if "loss" in type(cfg.options).UNUSED else cfg.loss.loss
    return {
        "run": str(run_dir), "task": cfg.task, "model": cfg.model.model, "loss": loss,
        "dataset": cfg.data.dataset, "data_shape": list(cfg.data_shape),
        "step": state["step"], "images_seen": state.get("nimg"),
        "train_seconds": round(state["elapsed"], 1),
        "last_log": records[-1] if records else None,
        "checkpoints": [p.name for p in list_checkpoints(run_dir)], "latest": ckpt.name,
        "latest_samples": str(samples[-1]) if samples else None,
        "config": cfg.to_dict(), "meta": meta, **spec.describe(run_dir),
    }


def format_info(info: dict[str, Any]) -> str:
    t, model = info["config"]["train"], info["config"]["model"]
    lines = [
        f"run:      {info['run']}",
        f"model:    {info['model']}" + (f" (z_dim {model['z_dim']})" if "z_dim" in model else "")
        + (f", loss {info['loss']}" if info["loss"] else ""),
        f"data:     {info['dataset']}, samples of shape {info['data_shape']}"
        + tasks.get(info["task"]).info_data(info),
        f"training: batch {t['batch_size']}, lr {t['lr']}, seed {t['seed']}",
        f"progress: step {info['step']} ({info['images_seen']} items) in "
        f"{info['train_seconds'] / 60:.1f} min",
    ]
    if info["last_log"]:
        log = info["last_log"]
        lines.append("last log: " + ", ".join(f"{k} {v:.4g}" for k, v in log.items()
                                              if k not in ("step", "elapsed", "nimg")))
    lines.append(f"checkpoints: {', '.join(info['checkpoints'])} (latest {info['latest']})")
    if info["latest_samples"]:
        lines.append(f"samples:  {info['latest_samples']}")
    return "\n".join(lines)
