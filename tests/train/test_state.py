"""Checkpoints: exact round trips, atomic writes, pruning, a trustworthy `latest`, loud corruption;
optimizer and data-order state that resume bit-exactly."""
from __future__ import annotations

import json
import os

import pytest
import torch

from gankit.errors import GanKitWarning, RunError
from gankit.train import state as state_module
from gankit.train.state import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_latest,
    load_optimizer_state,
    optimizer_state,
    read_progress,
    save_checkpoint,
    step_name,
)
from gankit.train.trainer import BatchSampler


def _tensors(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return {
        "G": {"w": torch.randn(3, 4, generator=g), "b": torch.randn(4, generator=g).to(torch.float64)},
        "D": {"n": torch.randint(0, 100, (5,), generator=g), "h": torch.randn(2, 2, generator=g).half()},
        "rng": {"noise": torch.Generator().manual_seed(seed).get_state()},
    }


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for stem in a:
        assert a[stem].keys() == b[stem].keys(), stem
        for k in a[stem]:
            assert a[stem][k].dtype == b[stem][k].dtype, (stem, k)
            assert torch.equal(a[stem][k], b[stem][k]), (stem, k)


def _leftovers(run) -> list[str]:
    """Anything in checkpoints/ besides complete step dirs and the pointers."""
    return sorted(p.name for p in (run / "checkpoints").iterdir()
                  if not (p.name.startswith("step-") or p.name in ("latest", "best")))


def test_round_trip_is_exact(tmp_path):
    tensors = _tensors()
    meta = {"nimg": 6400, "elapsed": 12.5, "sampler": {"epoch": 3, "pos": 64}, "note": "ünïcode"}
    path = save_checkpoint(tmp_path, 100, tensors, meta)
    assert path == tmp_path / "checkpoints" / "step-0000100"
    back, back_meta = load_checkpoint(path)
    _assert_same(back, tensors)
    assert back_meta["step"] == 100
    assert {k: back_meta[k] for k in meta} == meta
    assert json.loads((path / "state.json").read_text())["step"] == 100
    assert _leftovers(tmp_path) == []


def test_saved_tensors_do_not_alias_the_live_ones(tmp_path):
    tensors = _tensors()
    expected = {s: {k: v.clone() for k, v in d.items()} for s, d in tensors.items()}
    path = save_checkpoint(tmp_path, 1, tensors, {})
    tensors["G"]["w"].add_(1)   # training goes on after the save
    _assert_same(load_checkpoint(path)[0], expected)


def test_latest_points_to_the_newest(tmp_path):
    for step in (10, 20, 30):
        save_checkpoint(tmp_path, step, _tensors(step), {"step_seen": step})
        assert (tmp_path / "checkpoints" / "latest").read_text().strip() == step_name(step)
        assert latest_checkpoint(tmp_path).name == step_name(step)
    assert [p.name for p in list_checkpoints(tmp_path)] == [step_name(s) for s in (10, 20, 30)]
    assert _leftovers(tmp_path) == []


def test_resaving_the_same_step_replaces_it(tmp_path):
    save_checkpoint(tmp_path, 5, _tensors(1), {"version": 1})
    path = save_checkpoint(tmp_path, 5, _tensors(2), {"version": 2})
    back, meta = load_checkpoint(path)
    _assert_same(back, _tensors(2))
    assert meta["version"] == 2
    assert [p.name for p in list_checkpoints(tmp_path)] == [step_name(5)]
    assert _leftovers(tmp_path) == []   # neither the temp dir nor the moved-aside old one remain


def test_a_stale_temp_dir_is_replaced(tmp_path):
    """A crash mid-write leaves a hidden temp dir; the next save of that step must still work."""
    save_checkpoint(tmp_path, 1, _tensors(), {})
    tmps = [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]
    assert tmps == []
    junk = tmp_path / "checkpoints" / f".tmp-{step_name(2)}-{os.getpid()}"
    junk.mkdir()
    (junk / "G.safetensors").write_bytes(b"half")
    path = save_checkpoint(tmp_path, 2, _tensors(3), {})
    _assert_same(load_checkpoint(path)[0], _tensors(3))
    assert not junk.exists()


def test_keep_prunes_old_checkpoints(tmp_path):
    for step in range(1, 6):
        save_checkpoint(tmp_path, step, _tensors(step), {}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == [step_name(4), step_name(5)]
    assert latest_checkpoint(tmp_path).name == step_name(5)
    _assert_same(load_checkpoint(latest_checkpoint(tmp_path))[0], _tensors(5))


def test_keep_zero_keeps_everything(tmp_path):
    for step in range(1, 5):
        save_checkpoint(tmp_path, step, _tensors(step), {}, keep=0)
    assert len(list_checkpoints(tmp_path)) == 4


def test_pruning_spares_the_best_checkpoint(tmp_path):
    save_checkpoint(tmp_path, 1, _tensors(1), {})
    (tmp_path / "checkpoints" / "best").write_text(step_name(1) + "\n")
    for step in range(2, 6):
        save_checkpoint(tmp_path, step, _tensors(step), {}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == [step_name(s) for s in (1, 4, 5)]


def _half_written(run, step: int) -> None:
    """A step dir whose tensors landed but whose state.json never did."""
    d = run / "checkpoints" / step_name(step)
    d.mkdir()
    (d / "G.safetensors").write_bytes(b"\0" * 16)


def test_latest_falls_back_when_the_pointer_is_missing(tmp_path):
    for step in (1, 2):
        save_checkpoint(tmp_path, step, _tensors(step), {})
    _half_written(tmp_path, 3)
    (tmp_path / "checkpoints" / "latest").unlink()
    assert latest_checkpoint(tmp_path).name == step_name(2)


def test_latest_falls_back_when_the_pointer_names_a_half_written_checkpoint(tmp_path):
    for step in (1, 2):
        save_checkpoint(tmp_path, step, _tensors(step), {})
    _half_written(tmp_path, 3)
    (tmp_path / "checkpoints" / "latest").write_text(step_name(3) + "\n")
    assert latest_checkpoint(tmp_path).name == step_name(2)
    assert step_name(3) not in [p.name for p in list_checkpoints(tmp_path)]


def test_no_checkpoint_is_a_run_error(tmp_path):
    with pytest.raises(RunError):
        latest_checkpoint(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    _half_written(tmp_path, 1)
    with pytest.raises(RunError):
        latest_checkpoint(tmp_path)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_tensor_file_is_a_run_error(tmp_path, damage):
    path = save_checkpoint(tmp_path, 1, _tensors(), {})
    f = path / "G.safetensors"
    data = f.read_bytes()
    f.write_bytes({"garbage": b"\x8bnot a safetensors file at all" * 7,
                   "truncated": data[:len(data) - 10],
                   "empty": b""}[damage])
    with pytest.raises(RunError, match="G.safetensors"):
        load_checkpoint(path)


@pytest.mark.parametrize("text", ["{not json", None])
def test_bad_state_json_is_a_run_error(tmp_path, text):
    path = save_checkpoint(tmp_path, 1, _tensors(), {})
    if text is None:
        (path / "state.json").unlink()
    else:
        (path / "state.json").write_text(text)
    with pytest.raises(RunError):
        load_checkpoint(path)


def test_a_bit_flip_inside_the_tensors_is_caught_by_the_saved_sha256(tmp_path):
    path = save_checkpoint(tmp_path, 1, _tensors(), {})
    f = path / "G.safetensors"
    data = bytearray(f.read_bytes())
    data[-3] ^= 0x10   # inside a tensor's bytes: still a valid safetensors file
    f.write_bytes(bytes(data))
    with pytest.raises(RunError, match="SHA-256"):
        load_checkpoint(path)


def test_a_missing_file_of_a_checkpoint_is_a_run_error(tmp_path):
    path = save_checkpoint(tmp_path, 1, _tensors(), {})
    (path / "D.safetensors").unlink()
    with pytest.raises(RunError, match="D.safetensors is missing"):
        load_checkpoint(path)


def test_loading_falls_back_to_the_newest_intact_checkpoint_and_says_so(tmp_path):
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, _tensors(step), {})
    for step in (2, 3):   # the two newest are damaged
        (tmp_path / "checkpoints" / step_name(step) / "G.safetensors").write_bytes(b"\0" * 9)
    with pytest.warns(GanKitWarning, match=f"{step_name(3)}.*using {step_name(1)}"):
        ckpt, tensors, _ = load_latest(tmp_path)
    assert ckpt.name == step_name(1)
    _assert_same(tensors, _tensors(1))
    (tmp_path / "checkpoints" / step_name(1) / "state.json").write_text("{")
    with pytest.raises(RunError, match="no intact checkpoint"):
        load_latest(tmp_path)


@pytest.mark.parametrize("pointer", ["../../elsewhere/checkpoints/step-0000009", "/tmp/x",
                                     "step-0000001/../step-0000002"])
def test_latest_never_names_a_checkpoint_outside_its_run(tmp_path, pointer):
    other = tmp_path / "elsewhere"
    save_checkpoint(other, 9, _tensors(9), {})
    run = tmp_path / "run"
    save_checkpoint(run, 1, _tensors(1), {})
    (run / "checkpoints" / "latest").write_text(pointer + "\n")
    ckpt, tensors, _ = load_latest(run)
    assert ckpt == run / "checkpoints" / step_name(1)
    _assert_same(tensors, _tensors(1))


class _Crash(Exception):
    pass


_WRITE_POINTS = ["write_durable", "_fsync_dir", "rename", "replace"]


def _crash_during(monkeypatch, point: str, nth: int, write) -> None:
    """Run `write` with the nth call of one of the checkpoint writer's steps raising, as if the
    process died there; the patch is undone afterwards."""
    calls = {"n": 0}
    target = {"rename": os.rename, "replace": os.replace}.get(point) or getattr(state_module, point)

    def crashing(*a, **kw):
        calls["n"] += 1
        if calls["n"] == nth:
            raise _Crash
        return target(*a, **kw)
    if point in ("rename", "replace"):
        monkeypatch.setattr(state_module.os, point, crashing)
    else:
        monkeypatch.setattr(state_module, point, crashing)
    try:
        write()
    except _Crash:
        pass
    monkeypatch.undo()


def _plus_one(tensors):
    return {k: {n: t + 1 for n, t in d.items()} for k, d in tensors.items()}


@pytest.mark.parametrize("point", _WRITE_POINTS)
@pytest.mark.parametrize("nth", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("again", [False, True], ids=["new-step", "same-step"])
def test_a_crash_at_any_point_of_a_checkpoint_write_leaves_a_loadable_run(tmp_path, monkeypatch,
                                                                          point, nth, again):
    """The process dies at the nth call of one of the write's steps (files, fsyncs, the renames
    into place, the `latest` swap), writing a new step or the same step again (a resume that
    stops where it started; the best checkpoint, then the periodic one at that step): the run
    still loads, at the old step or the new one, whole, and says how far it got; the next save
    cleans up what was left."""
    save_checkpoint(tmp_path, 1, _tensors(1), {}, keep=1)
    step = 1 if again else 2
    new = _plus_one(_tensors(1)) if again else _tensors(2)
    _crash_during(monkeypatch, point, nth,
                  lambda: save_checkpoint(tmp_path, step, new, {}, keep=1))
    ckpt, tensors, meta = load_latest(tmp_path)
    assert meta["step"] in (1, step) and read_progress(tmp_path)[1]["step"] == meta["step"]
    try:
        _assert_same(tensors, _tensors(meta["step"]))
    except AssertionError:   # the re-saved version of the same step, whole
        _assert_same(tensors, new)
    monkeypatch.setattr(state_module, "_alive", lambda pid: False)   # as after the process died
    save_checkpoint(tmp_path, 3, _tensors(3), {}, keep=1)
    assert _leftovers(tmp_path) == [] and load_latest(tmp_path)[0].name == step_name(3)


def test_a_crash_between_the_renames_of_a_re_save_loses_nothing(tmp_path, monkeypatch):
    """The case the renames leave open: the old copy moved aside, the new one not yet in place,
    so no step-N exists; `latest` still names it. Loading finds the complete copy, and the next
    save puts it back in place before cleaning up."""
    save_checkpoint(tmp_path, 1, _tensors(1), {}, keep=1)
    _crash_during(monkeypatch, "rename", 2,   # 1: old aside, 2: new into place
                  lambda: save_checkpoint(tmp_path, 1, _plus_one(_tensors(1)), {}, keep=1))
    root = tmp_path / "checkpoints"
    assert not (root / step_name(1)).exists() and len(_leftovers(tmp_path)) == 2
    ckpt, tensors, _ = load_latest(tmp_path)
    assert ckpt.name.startswith(f".tmp-{step_name(1)}")
    _assert_same(tensors, _plus_one(_tensors(1)))
    monkeypatch.setattr(state_module, "_alive", lambda pid: False)
    save_checkpoint(tmp_path, 2, _tensors(2), {}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == [step_name(1), step_name(2)]
    _assert_same(load_checkpoint(root / step_name(1))[0], _plus_one(_tensors(1)))
    assert _leftovers(tmp_path) == []


def test_old_checkpoints_are_pruned_only_after_latest_names_the_new_one(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, 1, _tensors(1), {}, keep=1)
    seen = []
    real_prune = state_module._prune
    monkeypatch.setattr(state_module, "_prune", lambda root, keep, protect: (
        seen.append((root / "latest").read_text().strip()), real_prune(root, keep, protect)))
    save_checkpoint(tmp_path, 2, _tensors(2), {}, keep=1)
    assert seen == [step_name(2)]
    assert [p.name for p in list_checkpoints(tmp_path)] == [step_name(2)]


def test_every_file_is_fsynced_before_the_checkpoint_is_renamed_into_place(tmp_path, monkeypatch):
    events = []
    real_fsync, real_rename = os.fsync, os.rename
    monkeypatch.setattr(state_module.os, "fsync", lambda fd: (events.append("fsync"),
                                                               real_fsync(fd))[1])
    monkeypatch.setattr(state_module.os, "rename", lambda a, b: (events.append("rename"),
                                                                  real_rename(a, b))[1])
    save_checkpoint(tmp_path, 1, _tensors(), {})
    files = len(_tensors()) + 1   # the safetensors files and state.json
    assert events[:files + 2] == ["fsync"] * (files + 1) + ["rename"]   # + the folder itself
    assert events.count("fsync") >= files + 3   # then the parent folder and `latest`


# ---- optimizer ------------------------------------------------------------------------------

def _model_and_adam(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.99))


def _adam_step(model, opt, seed: int) -> None:
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(seed))
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()


def test_optimizer_state_round_trip_continues_bit_exactly(tmp_path):
    model, opt = _model_and_adam()
    for i in range(3):
        _adam_step(model, opt, i)
    opt_tensors, opt_meta = optimizer_state(opt)
    path = save_checkpoint(tmp_path, 3, {"G": model.state_dict(), "opt_G": opt_tensors},
                           {"opt_G": opt_meta})
    tensors, meta = load_checkpoint(path)   # through safetensors files and JSON

    fresh, fresh_opt = _model_and_adam(seed=99)
    fresh.load_state_dict(tensors["G"])
    load_optimizer_state(fresh_opt, tensors["opt_G"], meta["opt_G"])
    assert fresh_opt.param_groups[0]["lr"] == 1e-2
    assert tuple(fresh_opt.param_groups[0]["betas"]) == (0.5, 0.99)

    for i in (3, 4):
        _adam_step(model, opt, i)
        _adam_step(fresh, fresh_opt, i)
        for (name, a), b in zip(model.named_parameters(), fresh.parameters()):
            assert torch.equal(a, b), f"{name} differs after resumed step {i}"


def test_optimizer_state_for_other_nets_is_a_run_error():
    model, opt = _model_and_adam()
    _adam_step(model, opt, 0)
    tensors, meta = optimizer_state(opt)
    other = torch.nn.Linear(3, 1)
    with pytest.raises(RunError):
        load_optimizer_state(torch.optim.Adam(other.parameters()), tensors, meta)


# ---- data order -----------------------------------------------------------------------------

N, BS = 20, 4   # 5 batches per epoch


def _sampler(seed: int, n: int = N, bs: int = BS) -> BatchSampler:
    return BatchSampler(torch.arange(n), bs, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("n, bs", [(20, 4), (22, 4), (7, 7)])
def test_each_epoch_covers_the_data_without_repeats(n, bs):
    s = _sampler(0, n, bs)
    per_epoch = n // bs
    epochs = []
    for _ in range(3):
        batches = [s.next() for _ in range(per_epoch)]
        assert all(len(b) == bs for b in batches)
        seen = torch.cat(batches)
        assert len(set(seen.tolist())) == len(seen), "a sample repeats within an epoch"
        if n % bs == 0:
            assert sorted(seen.tolist()) == list(range(n))
        epochs.append(seen)
    if n > bs:
        assert not torch.equal(epochs[0], epochs[1]), "every epoch should reshuffle"


def test_transform_is_applied_to_each_batch():
    s = BatchSampler(torch.arange(8), 4, torch.Generator().manual_seed(0), transform=lambda x: -x)
    assert (s.next() <= 0).all()


@pytest.mark.parametrize("drawn", [1, 2, 5, 7, 10, 13])   # mid-epoch, at and across epoch boundaries
def test_sampler_resumes_with_identical_batches(drawn, tmp_path):
    original = _sampler(seed=123)
    for _ in range(drawn):
        original.next()
    tensors, meta = original.state()
    path = save_checkpoint(tmp_path, drawn, {"rng": tensors}, {"sampler": meta})
    back, back_meta = load_checkpoint(path)
    expected = [original.next() for _ in range(12)]

    resumed = _sampler(seed=999)   # the generator's own seed must not matter
    resumed.load(back["rng"], back_meta["sampler"])
    got = [resumed.next() for _ in range(12)]
    for i, (a, b) in enumerate(zip(expected, got)):
        assert torch.equal(a, b), f"batch {i} after resume differs"


def test_sampler_resumes_before_the_first_batch():
    """A checkpoint taken before any batch was drawn must replay the same first epoch too."""
    original = _sampler(seed=123)
    tensors, meta = original.state()
    expected = [original.next() for _ in range(7)]
    resumed = _sampler(seed=999)
    resumed.load(tensors, meta)
    got = [resumed.next() for _ in range(7)]
    assert all(torch.equal(a, b) for a, b in zip(expected, got))
