"""Two gloo processes on the CPU: ranks stay identical, one set of outputs, resume across sizes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.cli import main
from gankit.train.state import list_checkpoints

pytestmark = pytest.mark.skipif(not torch.distributed.is_available()
                                or not torch.distributed.is_gloo_available(),
                                reason="needs torch.distributed with gloo")

# Each rank trains, then dumps the nets it ended with (parameters only: BatchNorm's running
# averages are per rank by design) next to the run for the test to compare.
WORKER = textwrap.dedent("""
    import sys, torch, gankit
    from safetensors.torch import save_file
    out, steps, more = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    gan = gankit.GAN("dcgan", "digits", out=out, batch_size=8, width=8, log_every=2,
                     sample_every=4, checkpoint_every=4)
    gan.fit(steps=steps, progress=False)
    if more:   # every rank resumes from rank 0's checkpoint and trains on
        torch.distributed.barrier()
        gan = gankit.load_run(out).fit(steps=more, progress=False)
    params = {f"{n}.{k}": p.detach().contiguous() for n in ("G", "D")
              for k, p in gan.task.nets[n].named_parameters()}
    params["noise"] = gan.task.noise(4)   # the rank's own noise stream
    save_file(params, f"{out}-rank{gan.dist.rank}.safetensors")
    print("rank", gan.dist.rank, "world", gan.dist.world, "step", gan.step, "nimg",
          gan.run.trainer.nimg)
""")


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    src = str(Path(gankit.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    return env


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           *args]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def test_two_gloo_ranks_stay_identical_write_once_and_resume(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    done = _torchrun("worker.py", "run", "6", "4")
    assert "rank 0 world 2 step 10 nimg 160" in done.stdout    # 2 ranks x 8 images per step
    ranks = [load_file(str(tmp_path / f"run-rank{r}.safetensors")) for r in range(2)]
    assert ranks[0].keys() == ranks[1].keys()
    assert not torch.equal(ranks[0].pop("noise"), ranks[1].pop("noise")), "ranks share noise"
    for k in ranks[0]:
        assert torch.equal(ranks[0][k], ranks[1][k]), f"{k} differs between ranks"

    # One set of outputs: a single run directory (no runs/ elsewhere), one log row per interval.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run", "run-rank0.safetensors", "run-rank1.safetensors", "worker.py"]
    rows = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6, 8, 10]
    assert [p.name for p in sorted((tmp_path / "run/samples").glob("*.png"))] == [
        "step-0000004.png", "step-0000006.png", "step-0000008.png", "step-0000010.png"]
    saved = load_file(str(list_checkpoints(tmp_path / "run")[-1] / "G.safetensors"))
    assert set(saved) == {k[2:] for k in ranks[0] if k.startswith("G.")} | {
        k for k in saved if "running" in k or "num_batches" in k}   # plain module names

    # From 2 processes to 1: the single-process CLI continues the same run.
    assert main(["train", "--resume", "run", "--steps", "12", "--no-progress"]) == 0
    back = gankit.load_run("run", weights_only=True)
    assert back.step == 12


def test_cli_distributed_flag_relaunches_under_torchrun(tmp_path, monkeypatch):
    for k, v in _env().items():   # the relaunched processes import this gankit
        monkeypatch.setenv(k, v)
    code = main(["train", "--distributed", "2", "--dataset", "digits", "--width", "8",
                 "--batch-size", "8", "--steps", "3", "--out", "cli", "--no-progress",
                 "--sample-every", "100", "--log-every", "1"])
    assert code == 0
    rows = [json.loads(line) for line in (tmp_path / "cli/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and rows[-1]["nimg"] == 48
    assert [p.name for p in list_checkpoints(tmp_path / "cli")] == ["step-0000003"]


def test_distributed_without_gpus_needs_a_count(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has GPUs")
    assert main(["train", "--distributed", "--steps", "1"]) == 2
    assert "--distributed 2" in capsys.readouterr().err


def test_ranks_agree_when_to_stop_at_sync_steps():
    """A time limit or a callback's stop on any rank stops every rank at the same step."""
    gan = gankit.GAN("dcgan", "digits", out="agree", batch_size=8, width=8, log_every=100,
                     sample_every=10**6, checkpoint_every=10**6)
    trainer = gan.run.trainer
    asked = []
    # This rank never wants to stop; "another rank" does at the second agreement.
    trainer.stop_sync = lambda stop: asked.append((trainer.step, stop)) or len(asked) == 2
    trainer.sync_every = 4
    assert trainer.fit(100) == "another process stopped" and trainer.step == 4
    assert asked == [(0, False), (4, False)]
    trainer.stop_sync, trainer.sync_every = (lambda stop: stop), 3   # alone, its own time limit:
    assert "max-time" in trainer.fit(100, max_time=0.0) and trainer.step == 6   # at a sync step
