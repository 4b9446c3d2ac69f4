"""torchrun / DistributedDataParallel glue: who this process is, and keeping the ranks in step.

`torchrun --nproc_per_node=N -m gankit train ...` starts N copies of the same command with RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in their environment; `setup()` reads them and
joins the process group (nccl for CUDA devices, gloo on the CPU). Every rank builds the same nets
from the same seed and holds the whole training tensor on its device; each epoch's permutation is
the same on every rank and rank r takes every world-th entry of it (its shard), see `BatchSampler`.

Gradients are averaged by hand, one all-reduce per net after each phase's backward, instead of
wrapping the nets in DistributedDataParallel: a GAN step calls D several times before one backward
(real and fake batches), backpropagates G's loss through a frozen D, and takes double-backward
gradient penalties, all of which DDP's bucketed hooks handle badly or not at all ("marked ready
twice", unused parameters, no double backward). A phase's backward runs on every rank, so the
all-reduce after it is collective and correct whatever happened inside the phase, and the nets stay
the plain modules that checkpoints save. The cost is that the reduction is not overlapped with the
backward pass; for GAN-sized nets that is a small share of a step.

BatchNorm statistics are per rank: D normalizes each rank's batch of `--batch-size` images, exactly
as a single-process run does, and each rank keeps its own running averages (rank 0's are saved).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Dist:
    """This process's place in a distributed run (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return dist.is_available() and dist.is_initialized()

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return all(v in os.environ for v in ("RANK", "WORLD_SIZE"))


def setup(device: str) -> tuple[Dist, str]:
    """Join the process group when started by torchrun; returns (Dist, the device name to use).

    On CUDA each rank takes the GPU numbered by its LOCAL_RANK ("auto"/"cuda" -> "cuda:LOCAL_RANK").
    """
    if not launched_by_torchrun():
        return Dist(), device
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but this machine has no usable CUDA GPU")
        if local >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s) here: "
                              f"use --nproc_per_node={torch.cuda.device_count()} or fewer")
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    elif device == "auto":
        device = "cpu"
    if not dist.is_initialized():
        if not dist.is_available():
            raise ConfigError("this PyTorch was built without torch.distributed")
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    return Dist(rank, world, local), device


def reseed_for_rank(generators: dict[str, torch.Generator], seed: int, rank: int,
                    step: int = 0) -> None:
    """Give ranks > 0 their own noise/augmentation streams (rank 0's are left untouched).

    Called after building the task and after loading a checkpoint (which holds rank 0's states),
    so ranks never draw the same noise; `step` keeps a resumed run from replaying its first draws.
    """
    if rank == 0:
        return
    for i, name in enumerate(sorted(generators)):
        mixed = seed * 1_000_003 + i * 7_919 + step * 104_729 + (rank << 40)
        generators[name].manual_seed(mixed % 2**63)


def broadcast_nets(nets: Iterable[nn.Module]) -> None:
    """Copy rank 0's parameters and buffers to every rank (they agree already when seeded alike;
    this makes it so for any net a user passes)."""
    for net in nets:
        for t in list(net.parameters()) + list(net.buffers()):
            with torch.no_grad():
                dist.broadcast(t.data, src=0)


def average_gradients(nets: Iterable[nn.Module], world: int) -> None:
    """All-reduce the gradients of `nets` as one flat tensor and divide by the world size.

    Parameters without a gradient (frozen, or unused by the phase) are left without one, as in a
    single-process run, so Adam skips them alike.
    """
    # Which parameters got a gradient depends only on the graph, the same on every rank.
    params = [p for net in nets for p in net.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad = flat[offset:offset + n].view_as(p)
        offset += n


def agree_to_stop(stop: bool, device: torch.device) -> bool:
    """True on every rank when any rank wants to stop (a time limit, Ctrl-C): ranks must stop at the
    same step or the next collective would wait forever."""
    flag = torch.tensor([1.0 if stop else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item() > 0)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The `torchrun --standalone` argument list that reruns `gankit train ARGV` on `nproc` ranks."""
    return ["--standalone", f"--nproc_per_node={nproc}", "-m", "gankit", *argv]


def default_nproc(requested: Optional[int]) -> int:
    if requested:
        return requested
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n == 0:
        raise ConfigError("--distributed on a machine without GPUs needs a process count: "
                          "--distributed 2 (gloo on the CPU)")
    return n
