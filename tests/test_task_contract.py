"""The contract every registered task keeps, run over all of them (docs/design.md):

- stopping a run and going on from its checkpoint ends exactly where the run without a break does
  (every file of the last checkpoint: nets, EMA, optimizers, RNGs, sampler, pools);
- a run loaded with its weights alone does what the trained one does (same samples from the same
  seed, same translations, same class probabilities);
- a dataset that is not there is one clear line from the CLI, and a GanKitError from Python.

A new task gets these checks by adding a case below (and its registry entry)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import (
    blobs,
    digit_domains,
    grammar_file,
    one_error,
    run,
    square_clips,
    tone_folder,
    write_pairs,
)
from PIL import Image
from safetensors.torch import load_file

import gankit
import gankit.cli
from gankit.errors import GanKitError
from gankit.tasks import cli_names
from gankit.tasks.audio.facade import AudioGAN
from gankit.tasks.cyclegan.facade import CycleGAN
from gankit.tasks.impute import GAINRun
from gankit.tasks.semi.facade import SemiGAN
from gankit.tasks.table import TableGAN
from gankit.tasks.text.facade import TextGAN
from gankit.tasks.translate.facade import Translator
from gankit.tasks.video.facade import VideoGAN

STEPS = 4          # a full run; the broken one stops at STEPS // 2 and goes on
QUIET = dict(log_every=1, sample_every=STEPS // 2, checkpoint_every=STEPS // 2)


@dataclass
class Case:
    task: str                                  # `gankit train --task`
    data: Callable[[Path], Path | str]         # writes the dataset under tmp_path, returns it
    make: Callable[..., Any]                   # (dataset, out, **QUIET) -> a new run's facade
    use: Callable[[Any, Path], Any]            # what a trained run is for, made deterministic
    name: str = ""                             # the test id, when a task has several cases


def _images(gan: Any, _: Path) -> torch.Tensor:
    return gan.sample(6, seed=1)


def _translated(gan: Any, data: Path) -> np.ndarray:
    pic = np.asarray(Image.open(sorted(Path(data).rglob("*.png"))[0]))
    return gan.translate((pic[..., None] if pic.ndim == 2 else pic)[None])


def _photos(root: Path) -> Path:
    root.mkdir(parents=True)
    for i, img in enumerate(blobs(6, 48, 3)):
        Image.fromarray(img).save(root / f"{i}.png")
    return root


def _pairs(root: Path) -> Path:
    a = blobs(12, 16, 1)
    write_pairs(root, a, 255 - a)
    return root


def _table(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 60
    city = rng.choice(["Lyon", "Nice"], n)
    pd.DataFrame({"city": city, "age": rng.integers(18, 70, n),
                  "income": np.round(rng.lognormal(3, 0.5, n) + (city == "Nice"), 2)}
                 ).to_csv(path, index=False)
    return path


def _holed(path: Path) -> Path:
    df = pd.read_csv(_table(path))
    rng = np.random.default_rng(1)
    for c in df.columns:
        df[c] = df[c].mask(rng.random(len(df)) < 0.2)
    df.to_csv(path, index=False)
    return path


def _filled(imp: Any, data: Path) -> pd.DataFrame:
    return imp.transform(imp.reference(data))


def _domains(root: Path) -> Path:
    digit_domains(root, n=20)
    return root


CASES = [
    Case("gan", lambda tmp: "digits",
         lambda d, out, **kw: gankit.GAN("dcgan", d, out=out, width=8, batch_size=16, **kw),
         _images),
    Case("gan", lambda tmp: "digits",   # conditional: labels in the batches and the samples
         lambda d, out, **kw: gankit.GAN("dcgan", d, out=out, width=8, batch_size=16,
                                         conditional=True, **kw),
         _images, "gan-conditional"),
    Case("gan", lambda tmp: "digits",   # AC-GAN: D's class head and its loss
         lambda d, out, **kw: gankit.GAN("dcgan", d, out=out, width=8, batch_size=16,
                                         conditional=True, cond="acgan", **kw),
         _images, "gan-acgan"),
    Case("text", lambda tmp: grammar_file(tmp / "abcd.txt", n=200),
         lambda d, out, **kw: TextGAN(d, out=out, width=8, batch_size=8, n_critic=2, **kw),
         lambda gan, _: gan.sample(6, seed=1)),
    Case("text", lambda tmp: grammar_file(tmp / "abcd.txt", n=200),   # the break falls where
         lambda d, out, **kw: TextGAN(d, out=out, width=8, batch_size=8,   # maximum likelihood
                                      mle_steps=STEPS // 2, **kw),         # hands over to the game
         lambda gan, _: gan.sample(6, seed=1), "text-mle-switch"),
    Case("audio", lambda tmp: tone_folder(tmp / "tones", per_class=8, n=2048),
         lambda d, out, **kw: AudioGAN(d, out=out, width=4, batch_size=8, audio_length=2048,
                                       resolution=16, **kw),
         lambda gan, _: gan.sample(3, seed=1)),
    Case("pix2pix", lambda tmp: _pairs(tmp / "pairs"),
         lambda d, out, **kw: Translator(d, "pix2pix", out=out, width=4, batch_size=4,
                                         resolution=16, **kw),
         _translated),
    Case("colorize", lambda tmp: _photos(tmp / "photos"),
         lambda d, out, **kw: Translator(d, "colorize", out=out, width=4, batch_size=4,
                                         resolution=16, **kw),
         _translated),
    Case("cyclegan", lambda tmp: _domains(tmp / "domains"),
         lambda d, out, **kw: CycleGAN(d, "cyclegan", out=out, width=4, batch_size=4,
                                       resolution=16, **kw),
         _translated),
    Case("semi-supervised", lambda tmp: "digits",
         lambda d, out, **kw: SemiGAN(d, out=out, labels_per_class=3, width=32, batch_size=16,
                                      **kw),
         lambda clf, _: clf.predict_proba(clf.semi.test_x[:5])),
    Case("video", lambda tmp: "moving-mnist",
         lambda d, out, **kw: VideoGAN(d, out=out, clips=24, frames=4, resolution=16, width=4,
                                       batch_size=4, **kw),
         lambda gan, _: gan.sample(3, seed=1)),
    Case("video", lambda tmp: square_clips(tmp / "clips"),   # the user's GIFs, two classes
         lambda d, out, **kw: VideoGAN(d, out=out, frames=4, width=4, batch_size=4,
                                       conditional=True, **kw),
         lambda gan, _: gan.sample(3, seed=1), "video-clips"),
    Case("table", lambda tmp: _table(tmp / "t.csv"),
         lambda d, out, **kw: TableGAN(d, out=out, width=16, batch_size=20, **kw),
         lambda gan, _: gan.sample(6, seed=1)),
    Case("impute", lambda tmp: _holed(tmp / "t.csv"),   # G is scored (and the best kept) at
         lambda d, out, **kw: GAINRun(d, out=out, width=16, batch_size=16,   # every step
                                      validate_every=1, **kw),
         _filled),
]
IDS = [c.name or c.task for c in CASES]


def test_every_registered_task_has_a_case():
    assert {c.task for c in CASES} == set(cli_names())


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    return a == b


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_resumed_run_ends_where_a_straight_run_does(case, tmp_path):
    data = case.data(tmp_path)
    case.make(data, tmp_path / "full", **QUIET).fit(steps=STEPS, progress=False)
    case.make(data, tmp_path / "half", **QUIET).fit(steps=STEPS // 2, progress=False)
    resumed = gankit.load_run(tmp_path / "half")
    assert resumed.step == STEPS // 2
    assert resumed.config.task == {"gan": "image-gan"}.get(case.task, case.task)
    resumed.fit(until=STEPS, progress=False)
    last = f"checkpoints/step-{STEPS:07d}"
    files = sorted(p.name for p in (tmp_path / "full" / last).glob("*.safetensors"))
    assert files == sorted(p.name for p in (tmp_path / "half" / last).glob("*.safetensors"))
    assert len(files) >= 3, files   # nets, optimizers, RNG states at least
    for name in files:
        x = load_file(str(tmp_path / "full" / last / name))
        y = load_file(str(tmp_path / "half" / last / name))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), name
    full, half = (gankit.load_run(tmp_path / d, weights_only=True).history
                  for d in ("full", "half"))
    assert full, "nothing was logged"
    assert [r["step"] for r in full] == [r["step"] for r in half]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_run_loaded_with_its_weights_alone_does_what_it_did(case, tmp_path):
    data = case.data(tmp_path)
    trained = case.make(data, tmp_path / "run", **QUIET).fit(steps=2, progress=False)
    loaded = gankit.load_run(tmp_path / "run", weights_only=True)
    assert type(loaded) is type(trained) and loaded.step == 2
    assert _same(case.use(trained, data), case.use(loaded, data))


@pytest.mark.parametrize("task", cli_names())
def test_a_missing_dataset_is_one_line_and_a_gankit_error(task, tmp_path, capsys):
    missing = tmp_path / "no-such-data"
    line = one_error(capsys, "train", "--task", task, "--dataset", missing, "--steps", 1,
                     "--out", tmp_path / "run")
    assert "no-such-data" in line or "no such" in line.lower(), line
    assert not (tmp_path / "run").exists()
    make = next(c.make for c in CASES if c.task == task)
    with pytest.raises(GanKitError):
        make(missing, tmp_path / "run2")
    assert not (tmp_path / "run2").exists()


def _flag_of_another_task(task: str) -> str:
    from gankit.config import option_fields
    from gankit.tasks import task_name, task_options

    def flags(t: str) -> set[str]:
        return {f.name for found in option_fields(task_options(t)).values() for f in found}
    mine = flags(task_name(task))
    return next(sorted(flags(other) - mine) for other in cli_names()
                if flags(task_name(other)) - mine)[0]


@pytest.mark.parametrize("task", cli_names())
def test_each_task_has_its_own_flags_and_names_the_task_of_another_s(task, tmp_path, capsys):
    from gankit.config import option_fields
    from gankit.tasks import task_name, task_options
    with pytest.raises(SystemExit):
        gankit.cli.main(["train", "--task", task, "--help"])
    shown = capsys.readouterr().out
    own = option_fields(task_options(task_name(task)))
    for f in [*own["options"], *own["train"][:3]]:
        assert f"--{f.name.replace('_', '-')}" in shown, f.name
    other = _flag_of_another_task(task)
    flag = f"--{other.replace('_', '-')}"
    assert f"{flag} " not in shown
    line = one_error(capsys, "train", "--task", task, "--dataset", tmp_path, flag, "1",
                     "--out", tmp_path / "run")
    assert f"{flag} is an option of --task" in line, line
    assert not (tmp_path / "run").exists()


# What `gankit sample` writes for each task (images: a grid) and the tasks whose runs answer a
# command with one line instead (with a word of that line): what each command does on each task.
SAMPLE_TO = {"text": "s.txt", "table": "s.csv", "audio": "clips", "video": "s.gif"}
REFUSES = {"sample": {"pix2pix": "translate", "colorize": "translate", "cyclegan": "translate",
                      "impute": "gankit impute"},
           "report": {},
           "eval": {"audio": "bundled sets"}}   # scores need the set's shipped classifier


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_command_on_a_run_gives_its_result_or_one_line(case, tmp_path, capsys):
    data = case.data(tmp_path)
    case.make(data, tmp_path / "run", **QUIET).fit(steps=2, progress=False)
    r = tmp_path / "run"
    code, out, err = run(capsys, "info", r, "--json")
    assert code == 0 and json.loads(out)["step"] == 2, err
    commands = {"eval": ["eval", r, "--num", 20, "--json"],
                "sample": ["sample", r, "--num", 3, "--output",
                           tmp_path / SAMPLE_TO.get(case.task, "s.png")],
                "report": ["report", r, "--output", tmp_path / "r.html"]}
    for name, argv in commands.items():
        refusal = REFUSES[name].get(case.task)
        if refusal is not None:
            one_error(capsys, *argv, match=refusal)
            continue
        code, out, err = run(capsys, *argv)
        assert code == 0 and "Traceback" not in err, (name, err)
        if name == "eval":
            scores = json.loads(out)
            assert scores and all(isinstance(v["value"], float) for v in scores.values()), out
    page = (tmp_path / "r.html").read_text()   # what the generator makes now, by kind of task
    section = {"text": "texts", "audio": "clips", "table": "columns", "impute": "columns",
               "pix2pix": "translations", "colorize": "translations",
               "cyclegan": "translations", "video": "clips"}.get(case.task, "interpolations")
    assert f'id="{section}"' in page, section
