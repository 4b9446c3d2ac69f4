"""Run configuration: frozen dataclasses whose defaults are the documented defaults.

The CLI flags are generated from these fields (see `cli.py`), and `config.json` in a run directory is
`RunConfig.to_dict()`, so a run can be rebuilt without flags and a resume can name the field that
changed.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from .errors import ConfigError


def _opt(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with CLI help text attached."""
    return field(default=default, metadata={"help": help, **kw})


class _Checked:
    """Each field's value is checked when a config is made (from flags, Python or config.json):
    its type, a finite number, and the field's bounds (`low`, `above`, `below` in its metadata).
    Whole numbers of other types (numpy's) become int; numbers given for a float become float."""

    def __post_init__(self) -> None:
        for f in fields(self):   # type: ignore[arg-type]
            value = _checked_value(f, getattr(self, f.name))
            object.__setattr__(self, f.name, value)


def _checked_value(f: dataclasses.Field, value: Any) -> Any:
    flag, kind = f"--{f.name.replace('_', '-')}", field_type(f)
    if value is None:
        if type(None) in typing.get_args(_annotation(f)):
            return None
        raise ConfigError(f"{flag} needs a value")
    if kind is bool:
        if not _is_bool(value):
            raise ConfigError(f"{flag} is a switch (true or false), got {value!r}")
        return bool(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{flag} must be text, got {value!r}")
        return value
    number = numbers.Integral if kind is int else numbers.Real
    if not isinstance(value, number) or _is_bool(value):
        raise ConfigError(f"{flag} must be a {'whole ' if kind is int else ''}number, got "
                          f"{value!r}")
    value = kind(value)
    if not math.isfinite(value):
        raise ConfigError(f"{flag} must be a finite number, got {value}")
    meta = f.metadata
    if "low" in meta and value < meta["low"]:
        raise ConfigError(f"{flag} must be at least {meta['low']:g}, got {value:g}")
    if "above" in meta and value <= meta["above"]:
        raise ConfigError(f"{flag} must be above {meta['above']:g}, got {value:g}")
    if "below" in meta and value >= meta["below"]:
        raise ConfigError(f"{flag} must be below {meta['below']:g}, got {value:g}")
    return value


def _is_bool(value: Any) -> bool:
    """Python's bool or NumPy's (without importing NumPy: `gankit --help` stays light)."""
    return isinstance(value, bool) or type(value).__name__ == "bool_"


@dataclass(frozen=True)
class DataConfig(_Checked):
    dataset: str = _opt("mnist", "dataset name (mnist, fashion-mnist, digits) or a path: an image "
                        "folder, a .npy or .npz file")
    resolution: Optional[int] = _opt(None, "resize images to this square size (28, 32 or 64 for the "
                                     "built-in nets); default: the data's own size (folders: the largest "
                                     "size the nets build up to the images' own or 64), 32 for "
                                     "digits; --task audio: the side of the mel model's "
                                     "spectrogram, default 64", low=1)
    channels: Optional[int] = _opt(None, "force 1 (gray) or 3 (RGB) channels; default: the data's own", low=1)
    domains: str = _opt("", "cyclegan on a labeled dataset: the classes A,B that are the two "
                        "domains (e.g. 7,9)")
    unit: str = _opt("char", "text: what a sequence is made of, char (characters) or word "
                     "(whitespace-separated words)")
    max_len: Optional[int] = _opt(None, "text: the longest item in units (characters or words); "
                                  "longer items are left out; default: the 99th percentile of the "
                                  "training items' lengths, at most 64 characters or 32 words", low=1)
    vocab_size: Optional[int] = _opt(None, "text: keep the N most frequent units, the rest become "
                                     "an unknown mark; default: every character, or 5000 words", low=2)
    labels_per_class: Optional[int] = _opt(None, "--task semi-supervised: keep the labels of N "
                                           "training images per class, drawn by --seed (recorded "
                                           "in the run's labeled.json); the rest train unlabeled",
                                           low=1)
    labeled: str = _opt("", "--task semi-supervised: a file naming the training items that keep "
                        "their labels (indices, one per line); the rest train unlabeled")
    audio_length: Optional[int] = _opt(None, "audio: clip length in samples at 16 kHz, a multiple "
                                       "of 1024; longer clips are cut, shorter ones padded with "
                                       "silence; default 16384 (about 1 s)", low=1024)


@dataclass(frozen=True)
class ModelConfig(_Checked):
    model: str = _opt("dcgan", "network family: mlp, dcgan or resnet (or a name registered from "
                      "Python, see --plugins)")
    z_dim: int = _opt(64, "size of the generator's noise vector", low=1)
    width: Optional[int] = _opt(None, "base channel width (dcgan and resnet, default 32) or hidden "
                                "size (mlp, default 256; --task semi-supervised: the "
                                "classifier's first layer, default 500)", low=1)
    d_norm: Optional[str] = _opt(None, "normalization in the discriminator: batch, none or "
                                 "spectral; default: batch for dcgan, spectral for resnet")
    conditional: bool = _opt(False, "class-conditional GAN on labeled data: G takes a class, "
                             "sample with --label (--task audio: on by default for a folder of "
                             "class folders; --no-conditional turns it off)")
    cond: str = _opt("projection", "how a conditional D uses the class: projection or acgan")
    plugins: str = _opt("", "comma list of Python modules or .py files to import first; they "
                        "register nets and objectives by name (register_net, register_objective); "
                        "a run records them, but later commands import them only when named "
                        "again (or with --trust-plugins)", resumable=True)
    text_model: str = _opt("mle-gan", "text: mle-gan (an LSTM generator trained by maximum "
                           "likelihood for --mle-steps, then adversarially through Gumbel-softmax "
                           "samples), softmax (WGAN-GP's language model: G hands D a distribution "
                           "over the vocabulary at each position) or gumbel (the same G handing D "
                           "a Gumbel-softmax sample)")
    tau_min: float = _opt(0.1, "text with --text-model gumbel or mle-gan: the lowest temperature", above=0.0)
    tau_steps: Optional[int] = _opt(None, "text with --text-model gumbel or mle-gan: steps over "
                                    "which the temperature falls from 1 to --tau-min (default: "
                                    "the adversarial steps of --steps, or 5000 without it)", low=1)
    mle_steps: Optional[int] = _opt(None, "text with --text-model mle-gan: steps of maximum "
                                    "likelihood before the adversarial ones (default: 3/4 of "
                                    "--steps, or 300,000 / (--max-len + 1) without it)", low=0)


@dataclass(frozen=True)
class LossConfig(_Checked):
    loss: str = _opt("ns", "adversarial loss: ns (non-saturating), minimax, lsgan, hinge, wgan-gp "
                     "or rpgan (relativistic pairing)")
    n_critic: int = _opt(1, "discriminator updates per generator update (5 is usual for wgan-gp)", low=1)
    gp_weight: float = _opt(10.0, "weight of the gradient penalty (wgan-gp)", low=0.0)
    r1_gamma: float = _opt(0.0, "R1 penalty weight on real images (0 = off)", low=0.0)
    r2_gamma: float = _opt(0.0, "R2 penalty weight on generated images (0 = off); with R1, what "
                           "R3GAN pairs with --loss rpgan", low=0.0)
    r1_every: int = _opt(16, "apply the R1 (and R2) penalty lazily every N steps", low=1)
    cycle_weight: float = _opt(10.0, "cyclegan: weight of the cycle-consistency loss (lambda)", low=0.0)
    identity_weight: float = _opt(0.5, "cyclegan: weight of the identity loss, times lambda "
                                  "(0 = off)", low=0.0)
    mle_weight: float = _opt(0.0, "text with --text-model mle-gan: weight of the maximum-"
                             "likelihood loss G keeps beside the adversarial one after the warm "
                             "start (0 = the game alone; mle-gan's default is 1)", low=0.0)
    l1_weight: float = _opt(100.0, "pix2pix and colorize: weight of the L1 distance to the true "
                            "output beside the adversarial loss", low=0.0)
    augment: str = _opt("", "differentiable augmentation of real and fake images for D: a comma "
                        "list of color, translation, cutout (DiffAugment)")


@dataclass(frozen=True)
class TrainConfig(_Checked):
    steps: Optional[int] = _opt(None, "stop after this many steps in total (default 3000 when no "
                                "--steps, --epochs or --max-time is given)", resumable=True, low=0)
    epochs: Optional[float] = _opt(None, "stop after this many passes over the data", resumable=True, above=0.0)
    max_time: Optional[float] = _opt(None, "stop after this many seconds of training in this "
                                     "invocation", resumable=True, low=0.0)
    batch_size: int = _opt(64, "images per step", low=1)
    lr: float = _opt(4e-4, "Adam learning rate of the generator (and of D unless --lr-d); 4e-4 "
                     "reached a lower FID per CPU-minute than the articles' 2e-4 (--preset "
                     "classic); may change on --resume (a diverged run goes on at a lower one)",
                     resumable=True, above=0.0)
    lr_d: Optional[float] = _opt(None, "discriminator learning rate (two time-scale update rule)",
                                 resumable=True, above=0.0)
    beta1: float = _opt(0.5, "Adam beta1", low=0.0, below=1.0)
    beta2: float = _opt(0.999, "Adam beta2", low=0.0, below=1.0)
    ema_halflife: float = _opt(10_000.0, "half-life of the generator's moving average, in images "
                               "(0 disables the average)", low=0.0)
    lr_decay: str = _opt("none", "learning-rate schedule: none, or linear: from --lr (and --lr-d) "
                         "down to 0 at the run's end, where --steps, --epochs or --max-time puts "
                         "it (--max-time: this invocation's time)", resumable=True)
    seed: int = _opt(0, "random seed: same seed on CPU, same run")
    log_every: int = _opt(50, "log losses every N steps", resumable=True, low=1)
    sample_every: int = _opt(500, "write a sample grid every N steps", resumable=True, low=1)
    checkpoint_every: int = _opt(1000, "write a checkpoint every N steps", resumable=True, low=1)
    checkpoint_minutes: float = _opt(10.0, "also write one when this many minutes have passed "
                                     "since the last (0: only every N steps)", resumable=True, low=0.0)
    keep_checkpoints: int = _opt(3, "how many periodic checkpoints to keep", resumable=True, low=0)
    device: str = _opt("auto", "cpu, cuda, cuda:N or auto", resumable=True)
    eval_every: Optional[int] = _opt(None, "evaluate every N steps (FID etc. into metrics.jsonl and "
                                     "curves.png; keeps the best-FID checkpoint)", resumable=True, low=1)
    eval_metrics: str = _opt("fid", "metrics for --eval-every: fid,kid,pr,classes,dloss",
                             resumable=True)
    eval_num: int = _opt(5000, "samples per evaluation during training", resumable=True, low=2)
    early_stop_patience: int = _opt(0, "with --eval-every: stop when FID has not improved for N "
                                    "evaluations in a row (0: never)", resumable=True, low=0)
    stop_on_divergence: bool = _opt(True, "end the run when it diverges (a non-finite loss, or D "
                                    "winning outright for a long stretch), keeping the last good "
                                    "checkpoint (on by default; --no-stop-on-divergence only "
                                    "warns and trains on)", resumable=True)
    # Arithmetic, not model: may change on resume (see gankit/train/speed.py).
    precision: str = _opt("fp32", "fp32, or bf16 (autocast on CUDA and CPU; weights and losses "
                          "stay fp32)", resumable=True)
    compile: str = _opt("none", "torch.compile the nets: bare --compile = auto (CUDA graphs on "
                        "CUDA), or a mode: default, reduce-overhead, max-autotune; falls back to "
                        "eager if compiling fails", resumable=True, const="auto")
    memory_format: str = _opt("auto", "layout of conv weights and activations: channels-last, "
                              "contiguous, or auto (channels-last for images)", resumable=True)


DEFAULT_STEPS = 3000
SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig,
                             "train": TrainConfig}


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to rebuild a run's nets and continue its training."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data_shape: tuple[int, ...] = ()   # one sample: (C, H, W) for images, (D,) for vectors
    num_classes: int = 0
    task: str = "image-gan"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        unknown = set(d) - set(SECTIONS) - {"data_shape", "num_classes", "task", "meta"}
        if unknown:
            raise ConfigError(f"unknown run configuration key(s): {', '.join(sorted(unknown))}")
        try:
            sections = {name: _section_from_dict(klass, d.get(name, {}))
                        for name, klass in SECTIONS.items()}
            return cls(**sections, data_shape=tuple(d.get("data_shape", ())),
                       num_classes=int(d.get("num_classes", 0)), task=d.get("task", "image-gan"))
        except (TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"invalid run configuration: {e}") from None

    def replace(self, **sections: Any) -> "RunConfig":
        return dataclasses.replace(self, **sections)


def with_options(cfg: RunConfig, **options: Any) -> RunConfig:
    """Place keyword options (z_dim=, batch_size=, …) into their config sections."""
    by_section: dict[str, dict[str, Any]] = {}
    for key, value in options.items():
        for section, klass in SECTIONS.items():
            if key in {f.name for f in fields(klass)}:
                by_section.setdefault(section, {})[key] = value
                break
        else:
            raise ConfigError(f"unknown option {key!r}")
    return cfg.replace(**{s: dataclasses.replace(getattr(cfg, s), **v)
                          for s, v in by_section.items()})


def _section_from_dict(klass: type, d: dict) -> Any:
    known = {f.name for f in fields(klass)}
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"unknown {klass.__name__} field(s): {', '.join(sorted(unknown))}")
    return klass(**d)


def _annotation(f: dataclasses.Field) -> Any:
    return f.type if not isinstance(f.type, str) else _ANNOTATIONS.setdefault(
        f.type, eval(f.type, vars(typing)))  # noqa: S307 (our own annotations)


_ANNOTATIONS: dict[str, Any] = {}


def field_type(f: dataclasses.Field) -> type:
    """The plain type of a field: Optional[int] -> int."""
    t = _annotation(f)
    args = [a for a in typing.get_args(t) if a is not type(None)]
    return args[0] if args else t


def resume_conflicts(saved: RunConfig, given: dict[str, dict[str, Any]]) -> list[str]:
    """Fields the user set explicitly that differ from the saved run and may not change on resume.

    `given` maps section -> {field: value} for the flags the user actually passed.
    """
    out = []
    for section, values in given.items():
        klass = SECTIONS[section]
        meta = {f.name: f.metadata for f in fields(klass)}
        old = getattr(saved, section)
        for name, value in values.items():
            if meta[name].get("resumable"):
                continue
            if getattr(old, name) != value:
                out.append(f"--{name.replace('_', '-')} (run has {getattr(old, name)!r}, "
                           f"given {value!r})")
    return out
