"""GANs for sound: one-second clips of speech, instrument notes, or a user's own WAV files.

    gankit audio-data spoken-digits data/digits          # build a bundled set (espeak-ng)
    gankit train --task audio --dataset data/digits --model wavegan --conditional --max-time 600
    gankit sample runs/digits-wavegan-001 --num 20 --output clips/     # WAVs + spectrograms.png
    gankit eval runs/digits-wavegan-001                  # IS, FID, coverage (bundled sets)

`--model wavegan` (the default) generates waveforms; `--model specgan` generates normalized log
spectrograms, which become audio by Griffin-Lim (gankit.nets.audio has both nets). The recipe is
the paper's: WGAN-GP (gradient penalty 10), 5 critic steps per G step, Adam(1e-4, 0.5, 0.9),
noise of 100 dimensions, phase shuffle 2 in WaveGAN's D. The model size `--width` defaults to 16
(the paper: 64, sixteen times the compute of the nets' widest layers; too slow for a CPU).
`--conditional` on a folder of class folders gives G a class input and D a projection term.

Data: gankit.data.audio (a folder of WAVs or of class folders, 16 kHz mono, cut or padded to
`--audio-length` samples). SpecGAN's spectrograms are normalized per frequency bin by the
training clips' mean and standard deviation, clipped at 3 standard deviations and divided by 3,
so they lie in [-1, 1] as G's tanh output does. The run directory holds audio.json (rate, length,
class names, the normalization, the bundled set's name), so sampling needs no data.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import nn

from ..api import GAN
from ..config import RunConfig, with_options
from ..data.audio import (DEFAULT_LENGTH, AudioData, griffin_lim, load_audio,
                          log_spectrogram, spectrogram_image, write_wav)
from ..errors import ConfigError, DataError, RunError
from ..nets.audio import (PhaseShuffle, SpecGANDiscriminator, SpecGANGenerator,
                          WaveGANDiscriminator, WaveGANGenerator)
from ..tasks.gan import GANTask
from ..train import callbacks as cb
from ..train.state import atomic_write_text
from ..train.trainer import BatchSampler, Trainer

MODELS = ("wavegan", "specgan")
DEFAULT_WIDTH = 16
PHASE_SHUFFLE = 2
CLIP_STD = 3.0             # SpecGAN: normalized spectrograms are clipped at 3 standard deviations
GRIFFIN_LIM_ITERS = 32
PREVIEW = 16               # clips in each samples/step-*.png and .wav
GAP = 0.25                 # seconds of silence between the clips of a preview WAV
TASK_DEFAULTS = {"audio": {"loss": {"loss": "wgan-gp", "n_critic": 5, "gp_weight": 10.0},
                           "train": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9},
                           "model": {"z_dim": 100}}}


class AudioGAN(GAN):
    """A GAN for sound: `AudioGAN("digits/", model="wavegan").fit(max_time=600)`, then
    `sample(10)` -> clips float32 [10, L] in [-1, 1] at 16 kHz, `save(clips, "out/")` -> WAVs.
    Options are the config fields, as for GAN (`model`, `width`, `conditional`, `audio_length`,
    `batch_size`, `lr`, `n_critic`, ...)."""

    def __init__(self, dataset: Union[str, Path], *, out: Union[str, Path, None] = None,
                 config: Optional[RunConfig] = None, **options: Any):
        if not isinstance(dataset, (str, Path)):
            raise DataError("an audio GAN learns from a folder of WAV files (or of class folders "
                            "of WAV files)")
        if config is None:
            options = self._task_options(options, TASK_DEFAULTS["audio"])
            config = with_options(RunConfig(), dataset=str(dataset), **options)
        cfg = config.replace(task="audio", data=dataclasses.replace(
            config.data, dataset=str(Path(dataset).expanduser().resolve())))
        cfg = check_config(cfg)
        length = cfg.data.audio_length or DEFAULT_LENGTH
        shape = net_shape(cfg.model.model, length)   # a bad length fails before the clips load
        audio = load_audio(cfg.data.dataset, length)
        print(audio.note, file=sys.stderr)
        if cfg.model.conditional and audio.train_labels is None:
            raise DataError(f"--conditional needs class labels: put the WAV files of each class "
                            f"in a folder of its own under {cfg.data.dataset}")
        self._audio = audio
        spec = spectrograms(audio.train) if cfg.model.model == "specgan" else None
        self.info = audio_info(cfg, audio, spec)
        cfg = cfg.replace(data=dataclasses.replace(cfg.data, audio_length=length),
                          data_shape=shape,
                          num_classes=len(audio.classes) if cfg.model.conditional else 0)
        self._setup(cfg, None, None)
        self._data = self.to_net_input(audio.train, spec)
        self._labels = audio.train_labels
        self.data_note = audio.note
        self.run_dir: Optional[Path] = None
        self._out = Path(out) if out is not None else None

    def _setup(self, cfg: RunConfig, G: Optional[nn.Module], D: Optional[nn.Module]) -> None:
        m = cfg.model
        width, k = m.width or DEFAULT_WIDTH, cfg.num_classes
        torch.manual_seed(cfg.train.seed)   # the nets' initial weights come from the seed
        if m.model == "wavegan":
            length = cfg.data_shape[-1]
            G = WaveGANGenerator(length, m.z_dim, width, k)
            D = WaveGANDiscriminator(length, width, k, PHASE_SHUFFLE)
        else:
            G = SpecGANGenerator(cfg.data_shape[-1], m.z_dim, width, k)
            D = SpecGANDiscriminator(cfg.data_shape[-1], width, k)
        self._one_process_setup(cfg, "the audio GAN")
        self.task = GANTask(G, D, cfg, self.device)
        for module in self.task.D.modules():   # phase shuffle draws from a checkpointed generator
            if isinstance(module, PhaseShuffle):
                module.generator = self.task.generators["aux"]

    # --- waveforms <-> what the nets see -------------------------------------------------------
    def to_net_input(self, clips: torch.Tensor,
                     spec: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Clips [N, L] -> WaveGAN's [N, 1, L], or SpecGAN's normalized spectrograms
        [N, 1, 128, 128] in [-1, 1] (`spec`: the clips' log spectrograms, if already made)."""
        if self.config.model.model == "wavegan":
            return clips[:, None, :].float()
        mean, std = (torch.tensor(self.info[k])[:, None] for k in ("spec_mean", "spec_std"))
        spec = spectrograms(clips) if spec is None else spec
        # one new tensor the size of `spec`, the rest in place on it (spec itself is left alone)
        return (spec - mean).div_(std).clamp_(-CLIP_STD, CLIP_STD).div_(CLIP_STD)[:, None]

    def to_clips(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """G's outputs -> clips [N, L] in [-1, 1] (SpecGAN: undo the normalization, then
        Griffin-Lim from random phases drawn from `seed`)."""
        if self.config.model.model == "wavegan":
            return x[:, 0].float().clamp(-1, 1)
        mean, std = (torch.tensor(self.info[k])[:, None] for k in ("spec_mean", "spec_std"))
        gen = torch.Generator().manual_seed(seed)
        out = []
        for i in range(0, len(x), 250):    # bounds the memory of the complex spectrograms
            mag = torch.exp(x[i:i + 250, 0].float() * CLIP_STD * std + mean)
            out.append(griffin_lim(mag, self.info["length"], GRIFFIN_LIM_ITERS, gen).clamp(-1, 1))
        return torch.cat(out) if out else torch.zeros(0, self.info["length"])

    # --- training ----------------------------------------------------------------------------
    def _get_trainer(self) -> Trainer:
        if self._trainer is not None:
            return self._trainer
        if self._data is None:
            raise DataError("this run's clips could not be loaded")
        t = self.config.train
        if len(self._data) < t.batch_size:
            raise ConfigError(f"--batch-size {t.batch_size} is larger than the data "
                              f"({len(self._data)} clips)")
        gen = torch.Generator().manual_seed(t.seed * 2)   # data order: CPU generator, any device
        labels = self._labels.to(self.device) if self.config.model.conditional else None
        sampler = BatchSampler(self._data.to(self.device), t.batch_size, gen, labels=labels)
        return self._one_process_trainer(sampler)

    def _start_run_dir(self) -> None:
        new = self.run_dir is None
        super()._start_run_dir()
        if new:
            atomic_write_text(self.run_dir / "audio.json", json.dumps(self.info, indent=1))

    def _callbacks(self, total: int, max_time: Optional[float],
                   progress: Optional[bool]) -> list[cb.Callback]:
        t = self.config.train
        return self._one_process_callbacks(
            total, max_time, progress, AudioPreview(self.run_dir / "samples", t.sample_every, self),
            lambda: self.evaluate(t.eval_num), key="fid",
            title=f"{self.config.model.model} on {Path(self.config.data.dataset).name}")

    # --- using it ------------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return list(self.info["classes"])

    @property
    def rate(self) -> int:
        return int(self.info["rate"])

    def labels_for(self, labels: Any, n: int) -> Optional[torch.Tensor]:
        """As GAN.labels_for; classes may also be given by name (their folders' names)."""
        names = [labels] if isinstance(labels, str) else labels
        if isinstance(names, (list, tuple)) and names and all(isinstance(x, str) for x in names):
            unknown = [x for x in names if x not in self.classes]
            if unknown:
                raise ConfigError(f"unknown class {unknown[0]!r}: this run's classes are "
                                  f"{', '.join(self.classes) or 'none (it is unconditional)'}")
            labels = [self.classes.index(x) for x in names]
        return super().labels_for(labels, n)

    def sample(self, n: int, seed: Optional[int] = None, ema: bool = True,
               labels: Any = None) -> torch.Tensor:
        """n clips float32 [n, L] in [-1, 1] at `rate` Hz. With a seed the same clips come back
        every time; a conditional GAN draws the classes in `labels` (numbers in the order of
        `classes`, or names; default: every class equally often)."""
        if seed is None:
            seed = int(torch.randint(0, 2 ** 31 - 1, ()).item())
        return self.to_clips(super().sample(n, seed, ema, labels), seed)

    def save(self, clips: torch.Tensor, output: Union[str, Path], overwrite: bool = False,
             labels: Optional[torch.Tensor] = None) -> Path:
        """Write clips: a folder gets one WAV each (named with their class when there are
        labels) and spectrograms.png; FILE.wav gets them one after another with short gaps;
        FILE.npz gets `audio` float32 [N, L], `rate` and `labels`."""
        from ..export import refuse_overwrite
        from ..viz import save_png
        output = Path(output)
        if not output.parent.is_dir():
            raise ConfigError(f"--output {output}: no such directory {output.parent}")
        suffix = output.suffix.lower()
        if suffix == ".wav":
            refuse_overwrite(output, overwrite)
            write_wav(output, with_gaps(clips, self.rate), self.rate)
            return output
        if suffix == ".npz":
            refuse_overwrite(output, overwrite)
            arrays = {"audio": clips.numpy().astype(np.float32), "rate": np.int64(self.rate)}
            if labels is not None:
                arrays["labels"] = labels.numpy().astype(np.int64)
            tmp = output.with_name(f".{output.name}.tmp.npz")
            np.savez_compressed(tmp, **arrays)
            tmp.replace(output)
            return output
        if suffix:
            raise ConfigError(f"unknown output type {output.suffix!r} for audio: use a folder, "
                              f".wav or .npz")
        if output.exists() and any(output.iterdir()):
            refuse_overwrite(output, overwrite)
        output.mkdir(parents=True, exist_ok=True)
        for i, clip in enumerate(clips):
            name = f"{i:06d}" + (f"-{self.classes[int(labels[i])]}" if labels is not None else "")
            write_wav(output / f"{name}.wav", clip, self.rate)
        save_png(spectrogram_image(clips[:64]), output / "spectrograms.png")
        return output

    def reference(self, split: str = "test") -> AudioData:
        """The run's clips, loaded again from its dataset folder (train and held-out)."""
        if split not in ("test", "train"):
            raise ConfigError(f"--split for an audio run is test (held-out clips) or train, not "
                              f"{split!r}")
        audio = getattr(self, "_audio", None)
        if audio is None:
            audio = self._audio = load_audio(self.config.data.dataset, self.info["length"],
                                             classes=self.classes or None)
        return audio

    def evaluate(self, num: int = 1000, seed: int = 0, split: str = "test") -> dict[str, float]:
        """Scores of `num` samples from the shipped classifier of a bundled set (see
        gankit.metrics.audio): inception score, FID against the held-out clips, coverage."""
        return {k: r.value for k, r in self.metric_results(num, seed, split).items()}

    def metric_results(self, num: int, seed: int = 0, split: str = "test") -> dict:
        name = self.info.get("bundled")
        if name is None:
            raise ConfigError("audio scores need a classifier of the data's sounds; gankit ships "
                              "them for its bundled sets (gankit audio-data spoken-digits|notes), "
                              "and this run's data is not one of them")
        from ..metrics.audio import audio_scores
        audio = self.reference(split)
        ref = audio.held if split == "test" and len(audio.held) else audio.train
        labels = self.labels_for(None, num)
        clips = self.sample(num, seed=seed, labels=labels)
        return audio_scores(clips, name, reference=ref, train=audio.train,
                            requested_labels=labels, seed=seed)


def with_gaps(clips: torch.Tensor, rate: int) -> torch.Tensor:
    """Clips [N, L] one after another, GAP seconds of silence after each: one listenable WAV."""
    gap = torch.zeros(len(clips), int(GAP * rate))
    return torch.cat([clips.reshape(len(clips), -1).float(), gap], 1).reshape(-1)


class AudioPreview(cb.Every):
    """samples/step-NNNNNNN.png (spectrograms) and .wav (the clips in a row), PREVIEW clips from
    fixed noise (a conditional run: classes in turn)."""

    def __init__(self, out_dir: Path, every: int, gan: AudioGAN):
        super().__init__(every)
        self.out_dir, self.gan = Path(out_dir), gan
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def act(self, trainer: Trainer) -> None:
        from ..viz import save_png
        clips = self.gan.sample(PREVIEW, seed=self.gan.config.train.seed + 7)
        stem = self.out_dir / f"step-{trainer.step:07d}"
        save_png(spectrogram_image(clips, rows=2), stem.with_suffix(".png"))
        write_wav(stem.with_suffix(".wav"), with_gaps(clips, self.gan.rate), self.gan.rate)


# --- config, runs ------------------------------------------------------------------------------

def check_config(cfg: RunConfig) -> RunConfig:
    m = cfg.model
    model = "wavegan" if m.model == "dcgan" else m.model
    if model not in MODELS:
        raise ConfigError(f"--task audio has the models wavegan and specgan, not {m.model!r}")
    if m.conditional and m.cond != "projection":
        raise ConfigError("a conditional audio GAN uses a projection discriminator (--cond "
                          "projection)")
    if cfg.loss.augment or cfg.loss.r1_gamma:
        raise ConfigError("--augment and --r1-gamma are image options; the audio GANs have "
                          "neither")
    return cfg.replace(model=dataclasses.replace(m, model=model,
                                                 width=m.width or DEFAULT_WIDTH))


def net_shape(model: str, length: int) -> tuple[int, ...]:
    """What G outputs and D takes: [1, L] waveforms or [1, 128, 128] spectrograms."""
    if length % 1024:
        raise ConfigError(f"--audio-length must be a multiple of 1024 (the nets upsample 4x five "
                          f"times), got {length}")
    if model == "wavegan":
        return (1, length)
    if length != DEFAULT_LENGTH:
        raise ConfigError(f"specgan makes 128 x 128 spectrograms: clips of {DEFAULT_LENGTH} "
                          f"samples, not --audio-length {length}")
    return (1, 128, 128)


def spectrograms(clips: torch.Tensor) -> torch.Tensor:
    """Log spectrograms [N, 128, 128] of clips [N, L], 500 clips at a time."""
    return torch.cat([log_spectrogram(clips[i:i + 500]) for i in range(0, len(clips), 500)])


def audio_info(cfg: RunConfig, audio: AudioData, spec: Optional[torch.Tensor] = None) -> dict:
    """audio.json: what turns the nets' outputs back into sound and names their classes
    (`spec`: SpecGAN's training spectrograms, whose per-bin mean and std it records)."""
    info: dict[str, Any] = {"rate": audio.rate, "length": audio.length, "classes": audio.classes,
                            "bundled": bundled_name(Path(cfg.data.dataset))}
    if cfg.model.model == "specgan":
        s = spectrograms(audio.train) if spec is None else spec
        info["spec_mean"] = s.mean(dim=(0, 2)).tolist()
        info["spec_std"] = s.std(dim=(0, 2)).clamp_min(1e-3).tolist()
    return info


def bundled_name(folder: Path) -> Optional[str]:
    """The name of a bundled set (gankit.data.audio_sets) built into `folder`, else None."""
    try:
        name = json.loads((folder / "dataset.json").read_text()).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    from ..data.audio_sets import BUNDLED
    return name if name in BUNDLED else None


def read_info(run_dir: Path) -> dict:
    path = Path(run_dir) / "audio.json"
    try:
        info = json.loads(path.read_text())
        int(info["rate"]), int(info["length"]), list(info["classes"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"{path}: missing or corrupt ({e}); the run cannot turn its samples into "
                       f"sound") from None
    return info


def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> AudioGAN:
    """A new audio run (the CLI's `gankit train --task audio`)."""
    return AudioGAN(cfg.data.dataset, config=cfg, out=out)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool) -> AudioGAN:
    """Rebuild an audio run (see api.load_run): nets, optimizers, step, data order."""
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    gan = AudioGAN.__new__(AudioGAN)
    gan.info = read_info(run_dir)
    gan._setup(cfg, None, None)
    gan.run_dir, gan._out, gan._labels, gan.data_note = run_dir, run_dir, None, None

    def load_data() -> None:
        audio = gan.reference("train")
        gan._data, gan._labels, gan.data_note = (gan.to_net_input(audio.train),
                                                 audio.train_labels, audio.note)
    return gan._resume_one_process(run_dir, weights_only, load_data)


__all__ = ["AudioGAN", "load_task_run", "new_run"]
