"""GANs for text: words, names, short sentences from a plain text file, one item per line.

    gankit train --task text --dataset words.txt --steps 20000           # characters
    gankit train --task text --dataset sentences.txt --unit word --vocab-size 2000
    gankit sample runs/words-resnet1d-001 --num 100 --output words.txt
    gankit eval runs/words-resnet1d-001                                 # n-gram JSD, valid, novel

Three text models (`--text-model`):

mle-gan (the default; a maximum-likelihood warm start, then a RelGAN-style adversarial phase):
G is an autoregressive LSTM. For the first `--mle-steps` steps the only phase is maximum
likelihood (next-unit cross-entropy, Adam 2e-3); then D, a 1-D conv resnet, and G play a
relativistic pairing GAN (`--loss rpgan`: D scores each real item above its paired fake), one D
step per G step, Adam(1e-4), G keeping `--mle-weight` times the likelihood loss beside it. D sees
G's own draws as one-hot sequences, the form of real data; G's gradient comes through their
Gumbel-softmax relaxation (straight through), its temperature falling from 1 to `--tau-min`
over the adversarial steps. Measured on words (bench/text.py): when D saw the soft relaxations
themselves it told them from one-hot data by their softness, and G collapsed onto one word
within a thousand steps; without the likelihood term the game made its warm start's n-gram and
validity scores worse.

softmax (Gulrajani et al. 2017, the WGAN-GP language model): G maps noise to a softmax over the
vocabulary at every position of a fixed-length sequence, [N, V, L]; D scores one-hot real
sequences against those softmaxes; Wasserstein loss, gradient penalty 10, 5 critic steps per G
step, Adam(1e-4, 0.5, 0.9). A sample is the argmax at each position, read up to the end mark.
`gumbel`: the same nets, D seeing Gumbel-softmax samples of G's logits instead.

Temperatures and phases are functions of the step (never of the clock), so a resumed run anneals
and switches phase exactly as an uninterrupted one.

Data, vocabulary, padding and the held-out split: see gankit.data.text. Scores: gankit.metrics.text.
The run directory also holds vocab.json (the units in id order), so sampling needs no data.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..api import Sampling
from ..config import RunConfig, TaskOptions, option, require_options
from ..data.text import END, PAD, TextData, Vocab, load_text
from ..errors import ConfigError, DataError, RunError
from ..nets.text import TextCritic, TextGenerator, TextLSTMGenerator, gumbel_noise
from ..objectives import get_objective
from ..penalties import gradient_penalty
from ..run import Run, RunFacade, RunHooks
from ..tasks import new_config
from ..train import callbacks as cb
from ..train.optim import adam_for
from ..train.state import atomic_write_text, load_task_state, task_state
from ..train.trainer import BatchSampler, Phase, Trainer

NET = "resnet1d"
TEXT_MODELS = ("mle-gan", "softmax", "gumbel")
DEFAULT_WIDTH = {"softmax": 128, "gumbel": 128,   # the paper's 512 costs 16x the compute
                 "mle-gan": 256}                  # the LSTM's hidden units
D_WIDTH_MLE = 64         # mle-gan's D: the game is short, G starts good; a small D keeps it cheap
DEFAULT_TAU_STEPS = 5000
# The warm start's default length without --steps: a fixed amount of likelihood training, in
# sequence positions of 64-item batches (steps x L), so longer items get fewer, dearer steps:
# 20,000 steps for 14-letter words, 4,615 for 64-character lines (5.3 and 7.3 CPU-minutes
# of the 10 in bench/text.py).
MLE_POSITIONS = 300_000
MLE_SHARE = 0.75         # with --steps: the warm start's share of them
MLE_LR = 2e-3            # maximum likelihood takes a larger step than the adversarial game
PREVIEW = 32             # items in each samples/step-*.txt
# Defaults of the text task that differ from the image GAN's, per text model, applied where the
# user gave no option (TextOptions.defaults).
WGAN_GP = {"loss": "wgan-gp", "n_critic": 5, "gp_weight": 10.0, "lr": 1e-4, "beta1": 0.5,
           "beta2": 0.9}
MODEL_DEFAULTS = {"softmax": WGAN_GP, "gumbel": WGAN_GP,
                  "mle-gan": {"loss": "rpgan", "n_critic": 1, "mle_weight": 1.0, "lr": 1e-4,
                              "beta1": 0.9, "beta2": 0.999}}


@dataclass(frozen=True)
class TextOptions(TaskOptions):
    """The text task's own options (`gankit train --task text --help` lists them)."""

    UNUSED: ClassVar[frozenset[str]] = frozenset({
        "resolution", "channels", "d_norm", "conditional", "cond", "augment", "r1_gamma",
        "r2_gamma", "r1_every"})
    unit: str = option("char", "what a sequence is made of, char (characters) or word "
                       "(whitespace-separated words)")
    max_len: Optional[int] = option(None, "the longest item in units (characters or words); "
                                    "longer items are left out; default: the 99th percentile of "
                                    "the training items' lengths, at most 64 characters or 32 "
                                    "words", low=1)
    vocab_size: Optional[int] = option(None, "keep the N most frequent units, the rest become an "
                                       "unknown mark; default: every character, or 5000 words",
                                       low=2)
    text_model: str = option("mle-gan", "mle-gan (an LSTM generator trained by maximum "
                             "likelihood for --mle-steps, then adversarially through "
                             "Gumbel-softmax samples), softmax (WGAN-GP's language model: G "
                             "hands D a distribution over the vocabulary at each position) or "
                             "gumbel (the same G handing D a Gumbel-softmax sample)")
    tau_min: float = option(0.1, "with --text-model gumbel or mle-gan: the lowest temperature",
                            above=0.0)
    tau_steps: Optional[int] = option(None, "with --text-model gumbel or mle-gan: steps over "
                                      "which the temperature falls from 1 to --tau-min (default: "
                                      "the adversarial steps of --steps, or 5000 without it)",
                                      low=1)
    mle_steps: Optional[int] = option(None, "with --text-model mle-gan: steps of maximum "
                                      "likelihood before the adversarial ones (default: 3/4 of "
                                      "--steps, or 300,000 / (--max-len + 1) without it)", low=0)
    mle_weight: float = option(0.0, "with --text-model mle-gan: weight of the maximum-likelihood "
                               "loss G keeps beside the adversarial one after the warm start "
                               "(0 = the game alone; mle-gan's default is 1)", low=0.0)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The recipe of the text model the user chose (mle-gan unless told)."""
        return {"model": NET, **MODEL_DEFAULTS.get(given.get("text_model", cls.text_model), {})}


OPTIONS = {"text": TextOptions}


def temperature(step: int, tau_min: float, tau_steps: int) -> float:
    """Gumbel-softmax temperature at a step: 1 at step 0, falling geometrically to tau_min at
    tau_steps, tau_min after."""
    return max(tau_min, tau_min ** (max(step, 0) / max(tau_steps, 1)))


# --- the task ----------------------------------------------------------------------------------

class TextTask:
    """Nets G and D, phases as a function of the step. softmax and gumbel: G noise -> logits
    [N, V, L]; D every step, G every n_critic steps. mle-gan: G an LSTM; the phase MLE alone
    while step < mle_steps, then D and G. D scores sequences [N, V, L] -> [N]. The fake batch
    of a step is reused by its G phase."""

    def __init__(self, G: nn.Module, D: nn.Module, cfg: RunConfig, device: torch.device):
        t, lc = cfg.train, cfg.loss
        self.cfg, self.device = cfg, device
        self.G, self.D = G.to(device), D.to(device)
        self.nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.optimizers = adam_for({"G": self.G, "D": self.D}, t)
        self.objective = get_objective(lc.loss, pairs=True)   # G's phase sees the real batch
        if lc.n_critic < 1:
            raise ConfigError("--n-critic must be at least 1")
        self.generators = {"noise": torch.Generator(device).manual_seed(t.seed * 2 + 1),
                           "aux": torch.Generator(device).manual_seed(t.seed * 2 + 2)}
        self.adversarial = [Phase("D", ("D",), self.d_loss, grad=("D", "G")),
                            Phase("G", ("G",), self.g_loss, every=lc.n_critic)]
        self.warm_start = [Phase("MLE", ("G",), self.mle_loss)]
        self._fake: Optional[torch.Tensor] = None
        self._real_s: Optional[torch.Tensor] = None
        self._step = 0
        self.world = 1
        if self.in_mle():
            self._set_g_lr(MLE_LR)

    @property
    def model(self) -> str:
        return self.cfg.options.text_model

    @property
    def mle_steps(self) -> int:
        return (self.cfg.options.mle_steps or 0) if self.model == "mle-gan" else 0

    def in_mle(self, step: Optional[int] = None) -> bool:
        return (self._step if step is None else step) < self.mle_steps

    @property
    def phases(self) -> list[Phase]:
        """What the trainer walks at the current step: the warm start, then the game."""
        return self.warm_start if self.in_mle() else self.adversarial

    def _set_g_lr(self, lr: float) -> None:
        for group in self.optimizers["G"].param_groups:
            group["lr"] = lr

    def tau(self, step: Optional[int] = None) -> float:
        """The Gumbel-softmax temperature: it starts falling when the adversarial phase starts."""
        o = self.cfg.options
        step = self._step if step is None else step
        return temperature(step - self.mle_steps, o.tau_min, o.tau_steps or 1)

    def noise(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        gen = generator or self.generators["noise"]
        return torch.randn(n, self.G.z_dim, generator=gen, device=gen.device)

    def fake(self, n: int) -> torch.Tensor:
        """What D sees of G [N, V, L]: a softmax of its logits, or a Gumbel-softmax sample."""
        if self.model == "mle-gan":
            # straight through: D sees the drawn one-hot sequence, the form of real data (a soft
            # relaxation D can tell by its softness alone, and G then collapses to beat that);
            # G's gradient is the relaxation's
            ids, soft = self.G.sample(n, self.generators["noise"], self.tau())
            hard = F.one_hot(ids, soft.shape[1]).transpose(1, 2).to(soft.dtype)
            return hard + soft - soft.detach()
        logits = self.G(self.noise(n)).float()
        if self.model == "gumbel":
            logits = (logits + gumbel_noise(tuple(logits.shape), self.generators["noise"])) \
                / self.tau()
        return torch.softmax(logits, dim=1)

    def mle_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Next-unit cross-entropy (nats per unit) of the real batch [N, V, L], padding ignored."""
        ids = real.argmax(1)                                                 # [N, L]
        loss = F.cross_entropy(self.G(ids).float(), ids, ignore_index=PAD)
        return loss, {"mle_loss": loss}

    def d_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        g_step_now = self._step % self.cfg.loss.n_critic == 0
        with torch.set_grad_enabled(g_step_now):   # keep G's graph only if the G phase runs now
            fake = self.fake(real.shape[0])
        self._fake = fake if g_step_now else None
        real_s, fake_s = self.D(real).float(), self.D(fake.detach()).float()
        loss = self.objective.d_loss(real_s, fake_s)
        if self.objective.relativistic and g_step_now:   # G's fakes are paired with these reals
            self._real_s = real_s.detach()
        # real minus fake score: the critic's estimate of the Wasserstein distance under wgan-gp
        stats = {"d_loss": loss, "w_dist": real_s.mean() - fake_s.mean()}
        if self.objective.needs_penalty == "gp":
            gp = gradient_penalty(self.D, real, fake.detach(), self.generators["aux"])
            stats["gp"] = gp
            loss = loss + self.cfg.loss.gp_weight * gp
        return loss, stats

    def g_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake, self._fake = self._fake, None
        fake_s = self.D(fake).float()
        if self.objective.relativistic:
            # the reals' scores from this step's D phase (before D's update), as paired there
            loss = self.objective.g_loss(fake_s, self._real_s)
        else:
            loss = self.objective.g_loss(fake_s)
        stats = {"g_loss": loss}
        if self.model == "mle-gan" and self.cfg.options.mle_weight:
            mle, _ = self.mle_loss(real)
            stats["mle_loss"] = mle
            loss = loss + self.cfg.options.mle_weight * mle
        if self.model != "softmax":
            stats["tau"] = torch.tensor(self.tau())
        return loss, stats

    def end_step(self, step: int, nimg: int) -> None:
        if step == self.mle_steps and self.mle_steps and self._step < step:
            # the game starts: G's own Adam afresh, at the adversarial learning rate
            self.optimizers["G"].state.clear()
            self._set_g_lr(self.cfg.train.lr)
        self._step = step

    @torch.no_grad()
    def generate_ids(self, n: int, generator: torch.Generator, batch: int = 1000
                     ) -> torch.Tensor:
        """Token ids [n, L]. mle-gan: ancestral draws; softmax: the argmax at each position of
        G(noise); gumbel: a categorical draw at each position (Gumbel-max). All from `generator`."""
        out = []
        for i in range(0, n, batch):
            m = min(batch, n - i)
            if self.model == "mle-gan":
                ids = self.G.sample(m, generator)[0]
                ids[:, -1] = END           # cut at max_len, as the sequences D sees are
                out.append(ids.cpu())
                continue
            logits = self.G(self.noise(m, generator)).float()
            if self.model == "gumbel":
                logits = logits + gumbel_noise(tuple(logits.shape), generator)
            out.append(logits.argmax(1).cpu())
        return torch.cat(out) if out else torch.empty(0, self.G.length, dtype=torch.long)

    def state(self):  # noqa: ANN201
        return task_state(self)

    def load(self, tensors: dict, meta: dict, weights_only: bool = False) -> None:
        load_task_state(self, tensors, meta, weights_only)   # G's lr comes with its optimizer
        self._step = int(meta.get("step", 0))


# --- the API -----------------------------------------------------------------------------------

class TextGAN(Sampling, RunFacade):
    """A GAN for text: `TextGAN("words.txt").fit(steps=20000)`, then `sample(10)` -> 10 strings.
    Options are the config fields, as for GAN (`unit`, `max_len`, `vocab_size`, `text_model`,
    `width`, `batch_size`, `lr`, `n_critic`, ...). (`run=` and `vocab=`: a run already built and
    its vocabulary, as load_run makes them.)"""

    def __init__(self, dataset: Union[str, Path, None] = None, *,
                 out: Union[str, Path, None] = None, config: Optional[RunConfig] = None,
                 run: Optional[Run] = None, vocab: Optional[Vocab] = None, **options: Any):
        self._text: Optional[TextData] = None
        if run is not None:
            self._attach(run, vocab)
            return
        if not isinstance(dataset, (str, Path)):
            raise DataError("a text GAN learns from a text file (one item per line) or a folder "
                            "with train.txt and test.txt")
        if config is None:
            config = new_config("text", dataset=str(dataset), **options)
        cfg = config.replace(task="text", data=dataclasses.replace(
            config.data, dataset=str(Path(dataset).expanduser().resolve())))
        check_config(cfg)
        o = cfg.options
        text = load_text(cfg.data.dataset, o.unit, o.max_len, o.vocab_size)
        print(text.note, file=sys.stderr)
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
                   progress: Optional[bool]) -> list[cb.Callback]:
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
        from ..metrics.text import text_scores
        ref, text = self.reference(split)
        return text_scores(self.sample(num, seed=seed), ref, set(text.train), text.everything,
                           self.config.options.unit)

    def report_sections(self, facts: Any, n: int = 30) -> list:
        """n items drawn now."""
        from ..report.run import SEED, section
        return [section("texts", self.sample(n, seed=SEED))]

    def metric_results(self, num: int, seed: int = 0, split: str = "test", **_: Any) -> dict:
        """`evaluate` as MetricResults with their protocol (what `gankit eval RUN` prints)."""
        from ..metrics import task_results
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
        path = self.out_dir / f"step-{trainer.step:07d}.txt"
        atomic_write_text(path, "".join(f"{item}\n" for item in items))


# --- config, runs ------------------------------------------------------------------------------

def build_nets(cfg: RunConfig) -> tuple[nn.Module, nn.Module]:
    """G and D of a resolved config (data_shape (V, L)), their initial weights from the seed."""
    vocab, length = cfg.data_shape
    m = cfg.model
    width = m.width or DEFAULT_WIDTH[cfg.options.text_model]
    torch.manual_seed(cfg.train.seed)
    if cfg.options.text_model == "mle-gan":
        return TextLSTMGenerator(vocab, length, width), TextCritic(vocab, length, D_WIDTH_MLE)
    return TextGenerator(vocab, length, m.z_dim, width), TextCritic(vocab, length, width)


def check_config(cfg: RunConfig) -> None:
    m, o = cfg.model, cfg.options
    require_options(cfg, TextOptions, "text")
    model = m.model if m.model != "dcgan" else NET
    if model != NET:
        raise ConfigError(f"--task text uses its own nets (--model {NET}), not {m.model}")
    if o.text_model not in TEXT_MODELS:
        raise ConfigError(f"--text-model must be one of {', '.join(TEXT_MODELS)}, got "
                          f"{o.text_model!r}")
    if not o.tau_min <= 1:
        raise ConfigError(f"--tau-min must be in (0, 1], got {o.tau_min}")
    get_objective(cfg.loss.loss, pairs=True)   # an unknown --loss: say so before the data loads


def prepare_config(cfg: RunConfig, text: TextData) -> RunConfig:
    """The resolved config: net name, max_len and vocabulary size as used, the lengths of the
    warm start (mle-gan) and of the temperature schedule, and data_shape (V, L) that the nets are
    built from."""
    o, steps = cfg.options, cfg.train.steps
    mle = None
    if o.text_model == "mle-gan":
        length = text.max_len + 1
        mle = o.mle_steps if o.mle_steps is not None else (
            int(steps * MLE_SHARE) if steps else MLE_POSITIONS // length)
    tau_steps = o.tau_steps or (max(steps - (mle or 0), 1) if steps else DEFAULT_TAU_STEPS)
    return cfg.replace(
        model=dataclasses.replace(cfg.model, model=NET),
        options=dataclasses.replace(o, tau_steps=tau_steps, mle_steps=mle, max_len=text.max_len,
                                    vocab_size=len(text.vocab.units)),
        data_shape=(len(text.vocab), text.max_len + 1))


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


__all__ = ["OPTIONS", "TextGAN", "TextOptions", "TextTask", "load_task_run", "new_run",
           "temperature"]
