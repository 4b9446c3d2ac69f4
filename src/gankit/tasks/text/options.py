"""The text task's options and recipes: TextOptions (its flags), the defaults of each text model,
and the resolved config a run is built from (check_config, prepare_config)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from ...config import RunConfig, TaskOptions, option, require_options
from ...data.text import TextData
from ...errors import ConfigError
from ...objectives import get_objective

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


__all__ = ["OPTIONS", "TextOptions", "check_config", "prepare_config"]
