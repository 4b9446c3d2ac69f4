"""Training to a CPU-time budget, as every benchmark here measures: the CPU time this process
spends training (evaluation excluded), so configurations running side by side, or beside other
work, are compared fairly; and the pieces the benchmarks' arms share (launching them, their
KEY=VALUE options). Imported by the scripts in bench/ (run as `python bench/NAME.py`)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from gankit.train.callbacks import LRDecay
from gankit.train.trainer import Callback, Trainer


class CPUBudget(Callback):
    """Stops the trainer once `spent` (CPU seconds already used) + this session's reach `limit`."""

    def __init__(self, limit: float, spent: float = 0.0):
        self.limit, self.spent, self.start = limit, spent, time.process_time()

    def used(self) -> float:
        return self.spent + time.process_time() - self.start

    def on_step(self, trainer: Trainer) -> None:
        if self.used() >= self.limit:
            trainer.stop_reason = "budget"


class CPUDecay(LRDecay):
    """--lr-decay linear over a CPU budget: the run's end is where the budget runs out."""

    def __init__(self, optimizers: dict, train: Any, budget: CPUBudget):
        super().__init__(optimizers, train)
        self.budget = budget

    def progress(self, trainer: Trainer) -> float:
        return min(self.budget.used() / self.budget.limit, 1.0)


def train_until(trainer: Trainer, limit: float, spent: float = 0.0, decay: Any = None) -> float:
    """Train (with no other callbacks) until `limit` CPU seconds in all; returns the seconds used.
    `decay`: the GAN whose --lr-decay, if any, is to end at `limit` (what a run of that length
    does)."""
    budget = CPUBudget(limit, spent)
    trainer.callbacks = [budget]
    if decay is not None and decay.config.train.lr_decay != "none":
        trainer.callbacks.append(CPUDecay(decay.task.optimizers, decay.config.train, budget))
    trainer.fit(sys.maxsize)
    return budget.used()


def run_arms(base: Sequence[str], jobs: Sequence[tuple[str, ...]], parallel: int) -> None:
    """Run `base + ["--arm", *job]` for each job, `parallel` processes at a time, each with one
    OpenMP thread; a failing arm stops the benchmark."""
    t0 = time.time()

    def launch(job: tuple[str, ...]) -> None:
        subprocess.run([*base, "--arm", *job], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        print(f"done: {' '.join(job)} ({(time.time() - t0) / 60:.1f} min wall)", flush=True)
    with ThreadPoolExecutor(max(parallel, 1)) as pool:
        list(pool.map(launch, jobs))


def parse_options(pairs: Sequence[str]) -> dict:
    """KEY=VALUE strings -> gankit options ({key: int, float or str}); dashes in keys become
    underscores (`--set batch-size=16` is batch_size)."""
    out: dict = {}
    for kv in pairs:
        key, _, value = kv.partition("=")
        for cast in (int, float, str):
            try:
                out[key.replace("-", "_")] = cast(value)
                break
            except ValueError:
                continue
    return out


def finish_jobs(jobs: Sequence[Any], finished: Callable[[Any], Any], run: Callable[[Any], Any],
                parallel: int, collect: bool) -> tuple[dict, list]:
    """Run the jobs that have no finished result yet (`finished(job)` is None), `parallel` side by
    side, unless `collect`; ({job: result or None}, the jobs still without one)."""
    done = {job: finished(job) for job in jobs}
    todo = [job for job in jobs if done[job] is None]
    if not collect and todo:
        print(f"{len(jobs) - len(todo)} of {len(jobs)} jobs already finished; running "
              f"{len(todo)}", flush=True)
        with ThreadPoolExecutor(parallel) as pool:
            done.update(zip(todo, pool.map(run, todo)))
    return done, [job for job, r in done.items() if r is None]


def add_job_flags(p: Any, out: str, parallel: int, worker_args: int) -> None:
    """The flags of a benchmark made of one-process jobs: --parallel, --out, --collect and the
    hidden --worker (a job's own arguments)."""
    import argparse
    from pathlib import Path
    p.add_argument("--parallel", type=int, default=parallel, help="jobs side by side")
    p.add_argument("--out", type=Path, default=Path(out),
                   help="the jobs' raw outputs: logs and result files (git-ignored)")
    p.add_argument("--collect", action="store_true",
                   help="train nothing: print the table from the records (bench/records/)")
    p.add_argument("--worker", nargs=worker_args, help=argparse.SUPPRESS)


def run_logged(cmd: Sequence[str], env: dict, log: Any, name: str) -> Optional[float]:
    """Run a job's process with its output in `log`; its wall minutes, or None (said) if it
    failed."""
    t0 = time.monotonic()
    with open(log, "w") as f:
        proc = subprocess.run(list(cmd), stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        print(f"{name}: failed (exit {proc.returncode}); see {log}", flush=True)
        return None
    return (time.monotonic() - t0) / 60
