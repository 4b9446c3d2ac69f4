"""Run configuration: frozen dataclasses whose defaults are the documented defaults.

A run's configuration is the shared sections (data, model, loss, train) plus its task's own
options (a TaskOptions subclass declared by the task's module, with its defaults). The CLI flags
of `gankit train --task T` are generated from the fields that apply to T (see `cli.py`), and
`config.json` in a run directory is `RunConfig.to_dict()`: only those fields, so a run can be
rebuilt without flags and a resume can name the field that changed. `compat.upgrade_v1` reads
the configs of gankit 0.1, which kept every task's fields in the shared sections.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
import typing
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Optional

from .errors import ConfigError


def option(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with CLI help text attached."""
    return field(default=default, metadata={"help": help, **kw})


class _Checked:
    """Each field's value is checked when a config is made (from flags, Python or config.json):
    its type, a finite number, and the field's bounds (`low`, `above`, `below`, `high` in its
    metadata).
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
    if "high" in meta and value > meta["high"]:
        raise ConfigError(f"{flag} must be at most {meta['high']:g}, got {value:g}")
    return value


def _is_bool(value: Any) -> bool:
    """Python's bool or NumPy's (without importing NumPy: `gankit --help` stays light)."""
    return isinstance(value, bool) or type(value).__name__ == "bool_"


@dataclass(frozen=True)
class DataConfig(_Checked):
    dataset: str = option("mnist", "dataset name (mnist, fashion-mnist, digits) or a path: an image "
                          "folder, a .npy or .npz file")
    resolution: Optional[int] = option(None, "resize images to this square size (28, 32 or 64 for the "
                                       "built-in nets); default: the data's own size (folders: the largest "
                                       "size the nets build up to the images' own or 64), 32 for "
                                       "digits", low=1)
    channels: Optional[int] = option(None, "force 1 (gray) or 3 (RGB) channels; default: the data's own", low=1)


@dataclass(frozen=True)
class ModelConfig(_Checked):
    model: str = option("dcgan", "network family: mlp, dcgan or resnet (or a name registered from "
                        "Python, see --plugins)")
    z_dim: int = option(64, "size of the generator's noise vector", low=1)
    width: Optional[int] = option(None, "base channel width (dcgan and resnet, default 32) or hidden "
                                  "size (mlp, default 256)", low=1)
    d_norm: Optional[str] = option(None, "normalization in the discriminator: batch, none or "
                                   "spectral; default: batch for dcgan, spectral for resnet")
    conditional: bool = option(False, "class-conditional GAN on labeled data: G takes a class, "
                               "sample with --label")
    cond: str = option("projection", "how a conditional D uses the class: projection or acgan")
    plugins: str = option("", "comma list of Python modules or .py files to import first; they "
                          "register nets and objectives by name (register_net, register_objective); "
                          "a run records them, but later commands import them only when named "
                          "again (or with --trust-plugins)", resumable=True)


@dataclass(frozen=True)
class LossConfig(_Checked):
    loss: str = option("ns", "adversarial loss: ns (non-saturating), minimax, lsgan, hinge, wgan-gp "
                       "or rpgan (relativistic pairing)")
    n_critic: int = option(1, "discriminator updates per generator update (5 is usual for wgan-gp)", low=1)
    gp_weight: float = option(10.0, "weight of the gradient penalty (wgan-gp)", low=0.0)
    r1_gamma: float = option(0.0, "R1 penalty weight on real images (0 = off)", low=0.0)
    r2_gamma: float = option(0.0, "R2 penalty weight on generated images (0 = off); with R1, what "
                             "R3GAN pairs with --loss rpgan", low=0.0)
    r1_every: int = option(16, "apply the R1 (and R2) penalty lazily every N steps", low=1)
    augment: str = option("", "differentiable augmentation of real and fake images for D: a comma "
                          "list of color, translation, cutout (DiffAugment)")


@dataclass(frozen=True)
class TrainConfig(_Checked):
    steps: Optional[int] = option(None, "stop after this many steps in total (default 3000 when no "
                                  "--steps, --epochs or --max-time is given)", resumable=True, low=0)
    epochs: Optional[float] = option(None, "stop after this many passes over the data", resumable=True, above=0.0)
    max_time: Optional[float] = option(None, "stop after this many seconds of training in this "
                                       "invocation", resumable=True, low=0.0)
    batch_size: int = option(64, "images per step", low=1)
    lr: float = option(4e-4, "Adam learning rate of the generator (and of D unless --lr-d); 4e-4 "
                       "reached a lower FID per CPU-minute than the articles' 2e-4 (--preset "
                       "classic); may change on --resume (a diverged run goes on at a lower one)",
                       resumable=True, above=0.0)
    lr_d: Optional[float] = option(None, "discriminator learning rate (two time-scale update rule)",
                                   resumable=True, above=0.0)
    beta1: float = option(0.5, "Adam beta1", low=0.0, below=1.0)
    beta2: float = option(0.999, "Adam beta2", low=0.0, below=1.0)
    ema_halflife: float = option(10_000.0, "half-life of the generator's moving average, in images "
                                 "(0 disables the average)", low=0.0)
    lr_decay: str = option("none", "learning-rate schedule: none, or linear: from --lr (and --lr-d) "
                           "down to 0 at the run's end, where --steps, --epochs or --max-time puts "
                           "it (--max-time: this invocation's time)", resumable=True)
    seed: int = option(0, "random seed: same seed on CPU, same run")
    log_every: int = option(50, "log losses every N steps", resumable=True, low=1)
    sample_every: int = option(500, "write a sample grid every N steps", resumable=True, low=1)
    checkpoint_every: int = option(1000, "write a checkpoint every N steps", resumable=True, low=1)
    checkpoint_minutes: float = option(10.0, "also write one when this many minutes have passed "
                                       "since the last (0: only every N steps)", resumable=True, low=0.0)
    keep_checkpoints: int = option(3, "how many periodic checkpoints to keep", resumable=True, low=0)
    device: str = option("auto", "cpu, cuda, cuda:N or auto", resumable=True)
    eval_every: Optional[int] = option(None, "evaluate every N steps (FID etc. into metrics.jsonl and "
                                       "curves.png; keeps the best-FID checkpoint)", resumable=True, low=1)
    eval_metrics: str = option("fid", "metrics for --eval-every: fid,kid,pr,classes,dloss",
                               resumable=True)
    eval_num: int = option(5000, "samples per evaluation during training", resumable=True, low=2)
    early_stop_patience: int = option(0, "with --eval-every: stop when FID has not improved for N "
                                      "evaluations in a row (0: never)", resumable=True, low=0)
    stop_on_divergence: bool = option(True, "end the run when it diverges (a non-finite loss, or D "
                                      "winning outright for a long stretch), keeping the last good "
                                      "checkpoint (on by default; --no-stop-on-divergence only "
                                      "warns and trains on)", resumable=True)
    # Arithmetic, not model: may change on resume (see gankit/train/speed.py).
    precision: str = option("fp32", "fp32, or bf16 (autocast on CUDA and CPU; weights and losses "
                            "stay fp32)", resumable=True)
    compile: str = option("none", "torch.compile the nets: bare --compile = auto (CUDA graphs on "
                          "CUDA), or a mode: default, reduce-overhead, max-autotune; falls back to "
                          "eager if compiling fails", resumable=True, const="auto")
    memory_format: str = option("auto", "layout of conv weights and activations: channels-last, "
                                "contiguous, or auto (channels-last for images)", resumable=True)


DEFAULT_STEPS = 3000
CONFIG_VERSION = 2   # 1: one flat set of sections for every task (gankit 0.1); 2: shared + task
SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig,
                             "train": TrainConfig}


@dataclass(frozen=True)
class TaskOptions(_Checked):
    """A task's own configuration: the options that apply to it alone (one subclass per task,
    declared in the task's module; the image GAN has none). The class also says how the task uses
    the shared sections: `UNUSED` names the shared fields it does not read (they get no flag and
    stay out of its config.json), and `defaults(given)` its own defaults for shared fields."""

    UNUSED: ClassVar[frozenset[str]] = frozenset()
    # what a shared field means for this task, where it differs (field -> its flag's help)
    HELP: ClassVar[dict[str, str]] = {}
    # True: with no --steps, --epochs or --max-time the facade's fit() sizes the run from its
    # data (the CLI then sets no default number of steps)
    LENGTH_FROM_DATA: ClassVar[bool] = False

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The task's defaults (field -> value, shared or its own) for a new run, from the
        options the user gave (field -> value): a task's recipe may follow the model chosen."""
        return {}


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to rebuild a run's nets and continue its training: the shared sections
    and the task's own options."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data_shape: tuple[int, ...] = ()   # one sample: (C, H, W) for images, (D,) for vectors
    num_classes: int = 0
    task: str = field(default_factory=lambda: _default_task())
    options: TaskOptions = field(default_factory=TaskOptions)

    def to_dict(self) -> dict:
        """config.json's content: the shared fields the task reads and the task's options."""
        unused = type(self.options).UNUSED
        d: dict[str, Any] = {"config_version": CONFIG_VERSION, "task": self.task,
                             "data_shape": list(self.data_shape), "num_classes": self.num_classes}
        for name in SECTIONS:
            section = dataclasses.asdict(getattr(self, name))
            d[name] = {k: v for k, v in section.items() if k not in unused}
        if fields(self.options):
            d["options"] = dataclasses.asdict(self.options)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict, options: type = TaskOptions) -> RunConfig:
        """A config from config.json's content; `options` is the task's TaskOptions class (the
        task registry's `task_options(d["task"])`). A version 1 file is converted first."""
        if not isinstance(d, dict):
            raise ConfigError("invalid run configuration: not a JSON object")
        version = d.get("config_version", 1)
        if version == 1:
            from .compat import upgrade_v1
            d = upgrade_v1(d, options)
        elif version != CONFIG_VERSION:
            raise ConfigError(f"config_version {version!r} is not one this gankit reads "
                              f"({CONFIG_VERSION}); upgrade gankit")
        unknown = set(d) - set(SECTIONS) - {"data_shape", "num_classes", "task", "meta",
                                            "options", "config_version"}
        if unknown:
            raise ConfigError(f"unknown run configuration key(s): {', '.join(sorted(unknown))}")
        try:
            sections = {name: _section_from_dict(klass, d.get(name, {}))
                        for name, klass in SECTIONS.items()}
            return cls(**sections, data_shape=tuple(d.get("data_shape", ())),
                       num_classes=int(d.get("num_classes", 0)), task=d.get("task") or _default_task(),
                       options=_section_from_dict(options, d.get("options", {})))
        except (TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"invalid run configuration: {e}") from None

    def replace(self, **sections: Any) -> RunConfig:
        return dataclasses.replace(self, **sections)


def _default_task() -> str:
    """The task a config names when none is given (the registry's default task)."""
    from .tasks import default_task
    return default_task().name


def with_options(cfg: RunConfig, **options: Any) -> RunConfig:
    """Place keyword options (z_dim=, batch_size=, a task's own max_len=, …) into their config
    sections. An option of another task, or a shared one this task does not read, is refused
    (unless it is given at its default)."""
    own = {f.name for f in fields(cfg.options)}
    by_section: dict[str, dict[str, Any]] = {}
    for key, value in options.items():
        if key in own:
            by_section.setdefault("options", {})[key] = value
            continue
        for section, klass in SECTIONS.items():
            found = {f.name: f for f in fields(klass)}
            if key in found:
                if key in type(cfg.options).UNUSED:
                    if value != found[key].default:
                        raise ConfigError(f"--{key.replace('_', '-')} does not apply to the "
                                          f"{cfg.task} task")
                    break
                by_section.setdefault(section, {})[key] = value
                break
        else:
            raise ConfigError(f"unknown option {key!r} for the {cfg.task} task")
    return cfg.replace(**{s: dataclasses.replace(getattr(cfg, s), **v)
                          for s, v in by_section.items()})


def require_options(cfg: RunConfig, options: type, task: str) -> None:
    """ConfigError unless `cfg` carries `task`'s options (class `options`): a config made for
    another task cannot build this one's run."""
    if not isinstance(cfg.options, options):
        raise ConfigError(f"the {task} task needs its own options; this config was made for the "
                          f"{cfg.task} task")


def option_fields(options: type) -> dict[str, list[dataclasses.Field]]:
    """The fields a task's runs have, by section (its own under "options"): what its flags are
    made from."""
    out = {name: [f for f in fields(klass) if f.name not in options.UNUSED]
           for name, klass in SECTIONS.items()}
    out["options"] = list(fields(options))
    return out


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


def config_changes(old: RunConfig, new: RunConfig) -> list[tuple[str, Any, Any, bool]]:
    """The fields that differ between two configs of one task: (section.name, old value, new
    value, whether a resume may change it)."""
    out = []
    for section in (*SECTIONS, "options"):
        a, b = getattr(old, section), getattr(new, section)
        for f in fields(a):
            if getattr(a, f.name) != getattr(b, f.name, getattr(a, f.name)):
                out.append((f"{section}.{f.name}", getattr(a, f.name), getattr(b, f.name),
                            bool(f.metadata.get("resumable"))))
    return out


def resume_conflicts(saved: RunConfig, given: dict[str, dict[str, Any]]) -> list[str]:
    """Fields the user set explicitly that differ from the saved run and may not change on resume.

    `given` maps section -> {field: value} for the flags the user actually passed.
    """
    out = []
    for section, values in given.items():
        klass = SECTIONS.get(section) or type(saved.options)
        meta = {f.name: f.metadata for f in fields(klass)}
        old = getattr(saved, section)
        for name, value in values.items():
            if meta[name].get("resumable"):
                continue
            if getattr(old, name) != value:
                out.append(f"--{name.replace('_', '-')} (run has {getattr(old, name)!r}, "
                           f"given {value!r})")
    return out
