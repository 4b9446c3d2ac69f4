"""The audio task's options and recipes: AudioOptions (its flags), the recipe of each model
(mel, wavegan, specgan), and the checks and shapes a config resolves to."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from ...config import RunConfig, TaskOptions, option, require_options
from ...data.audio import DEFAULT_LENGTH, MEL_N_FFT, is_labeled
from ...errors import ConfigError

MODELS = ("mel", "wavegan", "specgan")
DEFAULT_MODEL = "mel"
DEFAULT_WIDTH = {"mel": 32, "wavegan": 16, "specgan": 16}
MEL_SIDE = 64              # mel bands = frames per clip (--resolution)
MEL_LR = 4e-4
WGAN_GP = {"loss": "wgan-gp", "n_critic": 5, "gp_weight": 10.0, "lr": 1e-4, "beta1": 0.5,
           "beta2": 0.9, "z_dim": 100}
RECIPES = {"mel": {"loss": "ns", "n_critic": 1, "lr": MEL_LR, "beta1": 0.5, "beta2": 0.999,
                   "z_dim": 64},
           "wavegan": WGAN_GP, "specgan": WGAN_GP}


@dataclass(frozen=True)
class AudioOptions(TaskOptions):
    """The audio task's own options (`gankit train --task audio --help` lists them)."""

    UNUSED: ClassVar[frozenset[str]] = frozenset({"channels", "cond", "augment"})
    HELP: ClassVar[dict[str, str]] = {
        "resolution": "the side of the mel model's spectrogram",
        "conditional": "a class-conditional GAN: G takes a class, sample with --label (on by "
                       "default for a folder of class folders; --no-conditional turns it off)"}
    audio_length: Optional[int] = option(None, "clip length in samples at 16 kHz, a multiple of "
                                         "1024; longer clips are cut, shorter ones padded with "
                                         "silence; default 16384 (about 1 s)", low=1024)

    @classmethod
    def defaults(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The recipe of the model the user chose (mel unless told), and conditional when the
        dataset is a folder of class folders."""
        recipe = RECIPES.get(model_name(given.get("model", DEFAULT_MODEL)),
                             RECIPES[DEFAULT_MODEL])
        dataset = given.get("dataset")
        return {"model": DEFAULT_MODEL, **recipe,
                "conditional": bool(dataset) and is_labeled(dataset)}


OPTIONS = {"audio": AudioOptions}


def model_name(model: str) -> str:
    """The audio model a --model value means ("dcgan", ModelConfig's default, is the default)."""
    return DEFAULT_MODEL if model == "dcgan" else model


def check_config(cfg: RunConfig) -> RunConfig:
    m = cfg.model
    require_options(cfg, AudioOptions, "audio")
    model = model_name(m.model)
    if model not in MODELS:
        raise ConfigError(f"--task audio has the models mel, wavegan and specgan, not "
                          f"{m.model!r}")
    if cfg.data.resolution is not None and model != "mel":
        raise ConfigError(f"--resolution sets the mel model's spectrogram size; {model} has "
                          f"none to set")
    if m.d_norm not in (None, "batch") and model != "mel":
        raise ConfigError(f"--d-norm is the mel model's; {model}'s D has no normalization")
    if m.conditional and m.cond != "projection":
        raise ConfigError("a conditional audio GAN uses a projection discriminator (--cond "
                          "projection)")
    if (cfg.loss.r1_gamma or cfg.loss.r2_gamma) and model != "mel":
        raise ConfigError(f"--r1-gamma and --r2-gamma are the mel model's; {model} has the "
                          f"gradient penalty of WGAN-GP")
    d_norm = (m.d_norm or "batch") if model == "mel" else m.d_norm
    return cfg.replace(model=dataclasses.replace(m, model=model, d_norm=d_norm,
                                                 width=m.width or DEFAULT_WIDTH[model]))


def net_shape(model: str, length: int, side: Optional[int] = None) -> tuple[int, ...]:
    """What G outputs and D takes: [1, L] waveforms, [1, side, side] mel spectrograms (bands x
    frames) or [1, 128, 128] linear spectrograms."""
    if length % 1024:
        raise ConfigError(f"--audio-length must be a multiple of 1024 (the nets upsample 4x five "
                          f"times), got {length}")
    if model == "wavegan":
        return (1, length)
    if model == "mel":
        side = side or MEL_SIDE
        if side not in (16, 32, 64, 128) or length < MEL_N_FFT:
            raise ConfigError(f"--resolution for audio is the mel spectrogram's side: 16, 32, 64 "
                              f"or 128 (clips of at least {MEL_N_FFT} samples), got {side}")
        return (1, side, side)
    if length != DEFAULT_LENGTH:
        raise ConfigError(f"specgan makes 128 x 128 spectrograms: clips of {DEFAULT_LENGTH} "
                          f"samples, not --audio-length {length}")
    return (1, 128, 128)


__all__ = ["OPTIONS", "AudioOptions", "check_config", "model_name", "net_shape"]
