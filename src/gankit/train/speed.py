"""The fast paths a run can switch on: bf16 autocast, torch.compile, cudnn autotuning, channels-last.

Each is a choice of arithmetic, not of model: the nets, their fp32 weights, the optimizers and the
checkpoints are the same with or without them, so they may change when a run is resumed (a resumed
run is bit-identical to a straight one only when both used fp32 without compile on the CPU).

- `--precision bf16`: the phases' forward passes run under `torch.autocast(dtype=bfloat16)` (on
  CUDA GPUs that support it, and on the CPU); weights, optimizer state and gradients stay fp32 and
  the task computes its losses from fp32 logits. Without bf16 support: fp32, with a one-line note.
- `--compile`: the nets used in the step are wrapped by `torch.compile` (CUDA graphs,
  "reduce-overhead", on CUDA; the default inductor mode elsewhere). If compiling fails (no C++
  compiler, an unsupported op, an old PyTorch) the run says so in one line and continues eagerly.
- On CUDA, `torch.backends.cudnn.benchmark` picks the fastest convolution algorithms for the
  run's fixed shapes.
"""
from __future__ import annotations

import contextlib
import os
import time
import warnings
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import nn

from ..errors import ConfigError, GanKitWarning

PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("none", "auto", "default", "reduce-overhead", "max-autotune",
                 "max-autotune-no-cudagraphs")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown --precision {precision!r}: choose {' or '.join(PRECISIONS)}")


def autocast_for(precision: str, device: torch.device) -> Callable[[], AbstractContextManager]:
    """A factory of the context each phase's forward pass runs in."""
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        warnings.warn(GanKitWarning("this GPU has no bf16 support; training in fp32"))
        return contextlib.nullcontext
    if device.type not in ("cuda", "cpu"):
        warnings.warn(GanKitWarning(f"--precision bf16 is not supported on {device.type}; "
                                    f"training in fp32"))
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)


def resolve_compile_mode(mode: str, device: torch.device) -> Optional[str]:
    """The torch.compile mode to use, or None for eager."""
    if mode not in COMPILE_MODES:
        raise ConfigError(f"unknown --compile mode {mode!r}: choose one of {', '.join(COMPILE_MODES)}")
    if mode == "none":
        return None
    if mode == "auto":
        return "reduce-overhead" if device.type == "cuda" else "default"
    return mode


class CompiledNet:
    """Calls `torch.compile(net)`; if compiling fails, warns once and calls the eager net from then
    on. Everything but the call (parameters(), train(), buffers(), ...) is the eager net's own, so
    state dicts and checkpoints never see the compiled wrapper."""

    def __init__(self, net: nn.Module, mode: str):
        self.eager = net
        self.compiled: Optional[Callable[..., Any]] = torch.compile(net, mode=mode)
        self.mode = mode
        # CUDA graphs hand out outputs living in the graph's memory pool, overwritten by the next
        # replay; the step keeps G's output across D's calls, so own a copy (a small tensor).
        self.own_outputs = mode in ("reduce-overhead", "max-autotune")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                out = self.compiled(*args, **kwargs)
                return out.clone() if self.own_outputs and torch.is_tensor(out) else out
            except Exception as e:   # noqa: BLE001 (any compiler failure; a real bug re-raises below)
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
                warnings.warn(GanKitWarning(f"--compile ({self.mode}) failed, training without it: "
                                            f"{type(e).__name__}: {first}"))
                self.compiled = None
        return self.eager(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.eager, name)


def compile_task_nets(task: Any, mode: str) -> list[str]:
    """Swap the task's net attributes (task.G, task.D, ...) for compiled callables.

    `task.nets` keeps the plain modules (what checkpoints and optimizers use); only the attributes
    the task calls in its loss functions are replaced. Returns the names compiled.
    """
    done = []
    for name, net in task.nets.items():
        if name in getattr(task, "optimizers", {}) and getattr(task, name, None) is net:
            setattr(task, name, CompiledNet(net, mode))
            done.append(name)
    return done


def step_begin_for(mode: Optional[str]) -> Optional[Callable[[], None]]:
    """With CUDA graphs, tell the graph trees where a training step begins (outputs of the last
    step may be overwritten from here on)."""
    if mode in ("reduce-overhead", "max-autotune"):
        return torch.compiler.cudagraph_mark_step_begin
    return None


def tune_backends(device: torch.device) -> None:
    """cudnn autotuning for the fixed shapes of a training run (CUDA only)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def busy_cores(samples: int = 3, interval: float = 0.02) -> float:
    """How many cores other work keeps busy now: the larger of the 1-minute load average and the
    median count of other running processes over a few readings of /proc/loadavg (0 where the
    system does not say)."""
    try:
        load1 = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0
    running = []
    for _ in range(samples):
        try:
            field = Path("/proc/loadavg").read_text().split()[3]   # "running/total"
            running.append(int(field.split("/")[0]) - 1)   # minus this process
        except (OSError, IndexError, ValueError):
            break
        time.sleep(interval)
    now = sorted(running)[len(running) // 2] if running else 0
    return max(load1, float(now))


def fit_threads(device: torch.device) -> Optional[str]:
    """The CPU threads of a training run: GANKIT_THREADS when set (0: as they are); else one
    thread when other work already keeps every core busy (a thread that waits for a descheduled
    sibling at each operation's barrier makes every step many times slower; see bench/load.py),
    else PyTorch's own choice. Returns a one-line hint when the machine is oversubscribed."""
    if device.type != "cpu":
        return None
    asked = os.environ.get("GANKIT_THREADS")
    if asked:   # N threads; 0: leave this process's own setting alone (as the tests do)
        try:
            n = int(asked)
        except ValueError:
            raise ConfigError(f"GANKIT_THREADS={asked!r} is not a whole number") from None
        if n > 0:
            torch.set_num_threads(n)
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    busy = busy_cores()
    if busy < (cores or 1):
        return None
    torch.set_num_threads(1)
    return (f"the machine is busy ({busy:.1f} cores' worth of other work on {cores}): training on "
            f"one thread, slower than alone (GANKIT_THREADS=N overrides)")


MEMORY_FORMATS = ("auto", "channels-last", "contiguous")


def set_memory_format(nets: list[nn.Module], choice: str, data_shape: tuple[int, ...]) -> None:
    """Store conv weights NHWC (channels-last) so convolutions run without layout conversions.

    "auto" = channels-last for image data ([C, H, W] samples): measured faster than contiguous
    for the dcgan nets on a 2-core CPU, and the layout cuDNN's tensor-core kernels want.
    """
    if choice not in MEMORY_FORMATS:
        raise ConfigError(f"unknown --memory-format {choice!r}: choose one of "
                          f"{', '.join(MEMORY_FORMATS)}")
    if choice == "contiguous" or (choice == "auto" and len(data_shape) != 3):
        return
    for net in nets:
        net.to(memory_format=torch.channels_last)


def match_layouts(optimizers: dict[str, torch.optim.Optimizer]) -> None:
    """Give loaded optimizer state the memory layout of its parameter (checkpoints store tensors
    contiguous; fused kernels expect moment buffers laid out like the weights)."""
    for opt in optimizers.values():
        for group in opt.param_groups:
            for p in group["params"]:
                for k, v in opt.state.get(p, {}).items():
                    if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                        opt.state[p][k] = torch.empty_like(p, dtype=v.dtype).copy_(v)
