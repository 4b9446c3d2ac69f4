"""TextGAN, the text task's user-facing class, and its runs: a new one from a text file, or one
rebuilt from its run directory (config.json, checkpoints and vocab.json).

    gankit train --task text --dataset words.txt --steps 20000           # characters
    gankit sample runs/words-resnet1d-001 --num 100 --output words.txt
    gankit eval runs/words-resnet1d-001                                 # n-gram JSD, valid, novel

Data, vocabulary, padding and the held-out split: see gankit.data.text. Scores: gankit.metrics.text.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any, ClassVar, Optional, Union

import torch
import torch.nn.functional as F

from ...config import RunConfig
from ...data.text import TextData, Vocab, load_text
from ...errors import ConfigError, DataError, GanKitWarning, RunError
from ...run import ProgressOption, Run, RunHooks
from ...train import callbacks as cb
from ...train.state import atomic_write_text, step_name
from ...train.trainer import BatchSampler, Trainer
from ..base import TaskFacade
from .options import check_config, prepare_config
from .task import TextTask, build_nets

PREVIEW = 32             # items in each samples/step-*.txt


class TextGAN(TaskFacade):
    """A GAN for text: `TextGAN("words.txt").fit(steps=20000)`, then `sample(10)` -> 10 strings.
    Options are the config fields, as for GAN (`unit`, `max_len`, `vocab_size`, `text_model`,
    `width`, `batch_size`, `lr`, `n_critic`, ...). (`run=` and `vocab=`: a run already built and
    its vocabulary, as load_run makes them.)"""

    TASK: ClassVar[str] = "text"
    NEEDS_PATH: ClassVar[str] = ("a text GAN learns from a text file (one item per line) or a "
                                 "folder with train.txt and test.txt")
    _text: Optional[TextData] = None

    def _build(self, dataset: Union[str, Path, None], config: RunConfig,
               out: Union[str, Path, None]) -> None:
        cfg = self._on_path(config, dataset)
        check_config(cfg)
        o = cfg.options
        text = load_text(cfg.data.dataset, o.unit, o.max_len, o.vocab_size)
        warnings.warn(text.note, GanKitWarning)
        self._attach(text_run(prepare_config(cfg, text), out=out), text.vocab)
        self._text = text
        self.run.data, self.run.data_note = text.train_ids, text.note

    def _attach(self, run: Run, vocab: Vocab) -> None:
        self.run, self.vocab = run, vocab
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks,
                             files=lambda: {"vocab.json": json.dumps(vocab.to_dict())})

    def _sampler(self) -> BatchSampler:
        data = self.run.data
        if data is None:
            raise DataError("this run's text could not be loaded")
        t = self.config.train
        if len(data) < t.batch_size:
            raise ConfigError(f"--batch-size {t.batch_size} is larger than the data "
                              f"({len(data)} items)")
        vocab = self.config.data_shape[0]

        def one_hot(ids: torch.Tensor) -> torch.Tensor:   # [N, L] -> [N, V, L]
            return F.one_hot(ids, vocab).transpose(1, 2).float()
        gen = torch.Generator().manual_seed(t.seed * 2)   # data order: CPU generator, any device
        return BatchSampler(data.to(self.device), t.batch_size, gen, transform=one_hot)

    def _callbacks(self, total: int, max_time: Optional[float],
                   progress: ProgressOption) -> list[cb.Callback]:
        t = self.config.train
        return self.run.standard_callbacks(
            total, max_time, progress, TextPreview(self.run_dir / "samples", t.sample_every, self),
            lambda: self.evaluate(t.eval_num), key="jsd_4")

    # --- using it ---------------------------------------------------------------------------
    def sample(self, n: int, seed: Optional[int] = None, ema: bool = True,
               labels: Any = None) -> list[str]:
        """n generated items (strings). With a seed the same items come back every time. (There
        is no moving average of G in these recipes, so `ema` changes nothing.)"""
        self.labels_for(labels, int(n))   # refuses labels: a text GAN is unconditional
        gen = torch.Generator(self.device)
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        return self.vocab.decode(self.task.generate_ids(int(n), gen))

    def view(self, samples: list[str]) -> Any:
        """Items as a numbered list (what `show(n)` puts on a notebook's page)."""
        from ...notebook import items_html
        return items_html(samples)

    def reference(self, split: str = "test") -> tuple[list[str], TextData]:
        """The items generated text is compared with: held-out (split "test", the training items
        when nothing is held out) or training items (split "train")."""
        if split not in ("test", "train"):
            raise ConfigError(f"--split for a text run is test (held-out items) or train, not "
                              f"{split!r}")
        text = self._text
        if text is None or not text.train:
            o = self.config.options
            text = self._text = load_text(self.config.data.dataset, o.unit, o.max_len,
                                          vocab=self.vocab)
        return (text.held if split == "test" and text.held else text.train), text

    def evaluate(self, num: int = 5000, seed: int = 0, split: str = "test") -> dict[str, float]:
        """n-gram JSD (bits), validity, novelty and distinct-n of `num` samples (see
        gankit.metrics.text)."""
        from ...metrics.text import text_scores
        ref, text = self.reference(split)
        return text_scores(self.sample(num, seed=seed), ref, set(text.train), text.everything,
                           self.config.options.unit)

    def report_sections(self, facts: Any, n: int = 30) -> list:
        """n items drawn now."""
        from ...report.run import SEED, section
        return [section("texts", self.sample(n, seed=SEED))]

    def metric_results(self, num: int, seed: int = 0, split: str = "test", **_: Any) -> dict:
        """`evaluate` as MetricResults with their protocol (what `gankit eval RUN` prints)."""
        from ...metrics import task_results
        ref, _ = self.reference(split)
        scores = self.evaluate(num, seed, split)
        # the side scores go into the `extra` of their headline
        groups = {"valid": ("valid_items", "valid_words"), "novel": ("valid_novel",)}
        side = {e for group in groups.values() for e in group}
        return task_results({k: v for k, v in scores.items() if k not in side},
                            {k: {e: scores[e] for e in group} for k, group in groups.items()
                             if k in scores},
                            extractor=f"{self.config.options.unit} n-grams", n_real=len(ref),
                            n_fake=num, reference=self.config.data.dataset,
                            reference_split="held-out" if split == "test" else "train",
                            seed=seed)


class TextPreview(cb.Every):
    """samples/step-NNNNNNN.txt: PREVIEW items from fixed noise, one a line."""

    def __init__(self, out_dir: Path, every: int, gan: TextGAN):
        super().__init__(every)
        self.out_dir, self.gan = Path(out_dir), gan
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def act(self, trainer: Trainer) -> None:
        items = self.gan.sample(PREVIEW, seed=self.gan.config.train.seed + 7)
        path = self.out_dir / f"{step_name(trainer.step)}.txt"
        atomic_write_text(path, "".join(f"{item}\n" for item in items))

# --- runs --------------------------------------------------------------------------------------

def read_vocab(run_dir: Path) -> Vocab:
    path = Path(run_dir) / "vocab.json"
    try:
        return Vocab.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, DataError) as e:
        raise RunError(f"{path}: missing or corrupt ({e}); the run cannot decode its samples") \
            from None


def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> TextGAN:
    """A new text run (the CLI's `gankit train --task text`)."""
    return TextGAN(cfg.data.dataset, config=cfg, out=out)


def text_run(cfg: RunConfig, *, out: Union[str, Path, None] = None,
             run_dir: Optional[Path] = None) -> Run:
    """The text GAN's run for a resolved config: nets from the seed, task, device."""
    G, D = build_nets(cfg)
    return Run.for_task(cfg, lambda device: TextTask(G, D, cfg, device),
                        one_process="the text GAN", out=out, run_dir=run_dir)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool) -> TextGAN:
    """Rebuild a text run (see api.load_run): nets, optimizers, step, data order, vocabulary."""
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    vocab = read_vocab(run_dir)
    if len(vocab) != cfg.data_shape[0]:
        raise RunError(f"{run_dir}/vocab.json has {len(vocab)} tokens, the nets "
                       f"{cfg.data_shape[0]}: the run directory is inconsistent")
    gan = TextGAN(run=text_run(cfg, run_dir=run_dir), vocab=vocab)

    def load_data() -> None:
        o = cfg.options
        gan._text = load_text(cfg.data.dataset, o.unit, o.max_len, vocab=vocab)
        gan.run.data, gan.run.data_note = gan._text.train_ids, gan._text.note
    gan.run.resume(weights_only, load_data)
    return gan


__all__ = ["TextGAN", "load_task_run", "new_run", "read_vocab", "text_run"]
