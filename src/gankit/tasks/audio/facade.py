"""GANs for sound: one-second clips of speech, instrument notes, or a user's own WAV files.

    gankit audio-data spoken-digits data/digits          # build a bundled set (espeak-ng)
    gankit train --task audio --dataset data/digits --max-time 900
    gankit sample runs/digits-mel-001 --num 20 --output clips/     # WAVs + spectrograms.png
    gankit eval runs/digits-mel-001                      # IS, FID, coverage (bundled sets)

Three models. `--model mel` (the default) is an image GAN on log-mel spectrograms: each clip is
a `--resolution` x `--resolution` image (64 x 64: 64 mel bands, 64 frames), made by the image
path's DCGAN nets (gankit.nets.dcgan, BatchNorm in D) with its recipe: the non-saturating loss,
one D step per G step, Adam(MEL_LR, 0.5, 0.999), an EMA of G, `--width` 32 (on instrument notes
`--r1-gamma 1 --lr-decay linear` stops a late drift, at a cost on spoken digits: docs/audio.md);
its spectrograms become audio through the mel filterbank's pseudo-inverse and Griffin-Lim. It
was chosen by measured quality per CPU-minute (docs/audio.md). `--model wavegan` generates
waveforms and `--model specgan` 128 x 128 linear log spectrograms (gankit.nets.audio has both
nets), each with its paper's recipe: WGAN-GP (gradient penalty 10), 5 critic steps per G step,
Adam(1e-4, 0.5, 0.9), noise of 100 dimensions, phase shuffle 2 in WaveGAN's D, `--width` 16
(the paper: 64, sixteen times the compute of the nets' widest layers; too slow for a CPU). The
recipe follows the model: flags the user gives win over it (`AudioOptions.defaults`).

A folder of class folders makes a conditional GAN by default (G takes a class, D adds a
projection term); `--no-conditional` (Python: conditional=False) turns that off.

Data: gankit.data.audio (a folder of WAVs or of class folders, 16 kHz mono, cut or padded to
`--audio-length` samples). Spectrograms are normalized per frequency bin into [-1, 1], as G's
tanh output lies: SpecGAN's by the training clips' mean and standard deviation, clipped at 3
standard deviations and divided by 3; mel's from the silence floor (-1) to the bin's 99.9th
percentile over the training clips (+1). The run directory holds audio.json (rate,
length, class names, the spectrogram's shape and normalization, the bundled set's name), so
sampling needs no data.

This module: AudioGAN and its runs; options.py: flags and recipes; data.py: spectrograms and
audio.json; task.py: the nets; outputs.py: WAV files and previews.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any, ClassVar, Optional, Union

import torch

from ...config import RunConfig
from ...data.audio import DEFAULT_LENGTH, AudioData, griffin_lim, load_audio, mel_to_clips
from ...errors import ConfigError, DataError, GanKitWarning
from ...run import ProgressOption, Run, RunHooks
from ...train import callbacks as cb
from ...train.trainer import BatchSampler
from ..base import TaskFacade
from ..gan.sampling import Sampling
from .data import CLIP_STD, audio_info, read_info, spectrograms
from .options import check_config, net_shape
from .outputs import AudioPreview, players, players_html, save_clips
from .task import audio_run

GRIFFIN_LIM_ITERS = 32


class AudioGAN(Sampling, TaskFacade):
    """A GAN for sound: `AudioGAN("digits/", model="wavegan").fit(max_time=600)`, then
    `sample(10)` -> clips float32 [10, L] in [-1, 1] at 16 kHz, `save(clips, "out/")` -> WAVs.
    Options are the config fields, as for GAN (`model`, `width`, `conditional`, `audio_length`,
    `batch_size`, `lr`, `n_critic`, ...). (`run=` and `info=`: a run already built and its
    audio.json, as load_run makes them.)"""

    TASK: ClassVar[str] = "audio"
    NEEDS_PATH: ClassVar[str] = ("an audio GAN learns from a folder of WAV files (or of class "
                                 "folders of WAV files)")
    _audio: Optional[AudioData] = None
    _labels: Optional[torch.Tensor] = None

    def __init__(self, dataset: Union[str, Path, None] = None, **options: Any):
        if options.get("conditional", False) is None:   # not given: on for class folders
            del options["conditional"]
        super().__init__(dataset, **options)

    def _build(self, dataset: Union[str, Path, None], config: RunConfig,
               out: Union[str, Path, None]) -> None:
        cfg = self._on_path(config, dataset)
        cfg = check_config(cfg)
        length = cfg.options.audio_length or DEFAULT_LENGTH
        shape = net_shape(cfg.model.model, length, cfg.data.resolution)   # before the clips load
        audio = load_audio(cfg.data.dataset, length)
        warnings.warn(audio.note, GanKitWarning)
        if cfg.model.conditional and audio.train_labels is None:
            raise DataError(f"--conditional needs class labels: put the WAV files of each class "
                            f"in a folder of its own under {cfg.data.dataset}")
        self._audio = audio
        side = shape[-1] if cfg.model.model == "mel" else None   # config.json records the size
        cfg = cfg.replace(data=dataclasses.replace(cfg.data, resolution=side),
                          options=dataclasses.replace(cfg.options, audio_length=length),
                          data_shape=shape,
                          num_classes=len(audio.classes) if cfg.model.conditional else 0)
        spec = spectrograms(audio.train, cfg.model.model, shape)
        self._attach(audio_run(cfg, out=out), audio_info(cfg, audio, spec))
        self.run.data, self.run.data_note = self.to_net_input(audio.train, spec), audio.note
        self._labels = audio.train_labels

    def _attach(self, run: Run, info: dict) -> None:
        self.run, self.info = run, info
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks,
                             files=lambda: {"audio.json": json.dumps(info, indent=1)})

    # --- waveforms <-> what the nets see -------------------------------------------------------
    def to_net_input(self, clips: torch.Tensor,
                     spec: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Clips [N, L] -> WaveGAN's [N, 1, L], or normalized spectrograms in [-1, 1]: SpecGAN's
        [N, 1, 128, 128], mel's [N, 1, bands, frames] (`spec`: the clips' log spectrograms, if
        already made)."""
        model = self.config.model.model
        if model == "wavegan":
            return clips[:, None, :].float()
        mean, std = (torch.tensor(self.info[k])[:, None] for k in ("spec_mean", "spec_std"))
        if spec is None:
            spec = spectrograms(clips, model, self.config.data_shape)
        # one new tensor the size of `spec`, the rest in place on it (spec itself is left alone)
        return (spec - mean).div_(std).clamp_(-CLIP_STD, CLIP_STD).div_(CLIP_STD)[:, None]

    def to_clips(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """G's outputs -> clips [N, L] in [-1, 1] (SpecGAN: undo the normalization, then
        Griffin-Lim from random phases drawn from `seed`)."""
        if self.config.model.model == "wavegan":
            return x[:, 0].float().clamp(-1, 1)
        mean, std = (torch.tensor(self.info[k])[:, None] for k in ("spec_mean", "spec_std"))
        gen = torch.Generator().manual_seed(seed)
        if self.config.model.model == "mel":   # [N, 1, bands, frames] -> log mel -> sound
            logmel = x[:, 0].float() * CLIP_STD * std + mean
            return mel_to_clips(logmel, self.info["length"], GRIFFIN_LIM_ITERS, gen).clamp(-1, 1)
        out = []
        for i in range(0, len(x), 250):    # bounds the memory of the complex spectrograms
            mag = torch.exp(x[i:i + 250, 0].float() * CLIP_STD * std + mean)
            out.append(griffin_lim(mag, self.info["length"], GRIFFIN_LIM_ITERS, gen).clamp(-1, 1))
        return torch.cat(out) if out else torch.zeros(0, self.info["length"])

    # --- training ----------------------------------------------------------------------------
    def _sampler(self) -> BatchSampler:
        data = self.run.data
        if data is None:
            raise DataError("this run's clips could not be loaded")
        t = self.config.train
        if len(data) < t.batch_size:
            raise ConfigError(f"--batch-size {t.batch_size} is larger than the data "
                              f"({len(data)} clips)")
        gen = torch.Generator().manual_seed(t.seed * 2)   # data order: CPU generator, any device
        labels = self._labels.to(self.device) if self.config.model.conditional else None
        return BatchSampler(data.to(self.device), t.batch_size, gen, labels=labels)

    def _callbacks(self, total: int, max_time: Optional[float],
                   progress: ProgressOption) -> list[cb.Callback]:
        t = self.config.train
        return self.run.standard_callbacks(
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
        return save_clips(clips, output, self.rate, self.classes, overwrite, labels)

    def reference(self, split: str = "test") -> AudioData:
        """The run's clips, loaded again from its dataset folder (train and held-out)."""
        if split not in ("test", "train"):
            raise ConfigError(f"--split for an audio run is test (held-out clips) or train, not "
                              f"{split!r}")
        audio = self._audio
        if audio is None:
            audio = self._audio = load_audio(self.config.data.dataset, self.info["length"],
                                             classes=self.classes or None)
        return audio

    def evaluate(self, num: int = 1000, seed: int = 0, split: str = "test") -> dict[str, float]:
        """Scores of `num` samples from the shipped classifier of a bundled set (see
        gankit.metrics.audio): inception score, FID against the held-out clips, coverage."""
        return {k: r.value for k, r in self.metric_results(num, seed, split).items()}

    # --- its report -------------------------------------------------------------------------
    report_images = False   # spectrograms, shown as sound

    def report_sections(self, facts: Any, n: int = 8) -> list:
        """n clips now: their spectrograms and players (WAV data: URIs), with their classes
        when it is conditional."""
        from ...data.audio import spectrogram_image
        from ...report.page import array_uri
        from ...report.run import SEED, section
        labels = self.labels_for(None, n)
        clips = self.sample(n, seed=SEED, labels=labels)
        return [section("clips", {"spectrograms": array_uri(spectrogram_image(clips, rows=2)),
                                  "players": players(clips, self.rate, self.clip_names(
                                      len(clips), labels)),
                                  "seconds": clips.shape[-1] / self.rate})]

    def clip_names(self, n: int, labels: Optional[torch.Tensor]) -> list[str]:
        """What each of n clips is called: its class, or "clip 1", "clip 2", ..."""
        if labels is not None:
            return [self.classes[int(k)] for k in labels]
        return [f"clip {i + 1}" for i in range(n)]

    # --- in a notebook -----------------------------------------------------------------------
    def show(self, n: int = 16, seed: Optional[int] = None, labels: Any = None,
             **options: Any) -> Any:
        """n clips drawn now: their spectrograms and a player each, named by class when it is
        conditional (put on a notebook's page, and returned; see RunFacade.show)."""
        from ...notebook import show
        y = self.labels_for(labels, int(n))
        return show(self.view(self.sample(n, seed=seed, labels=y, **options), y))

    def view(self, samples: torch.Tensor, labels: Optional[torch.Tensor] = None) -> Any:
        """Clips [N, L] as spectrograms and <audio> players (WAVs embedded as base64)."""
        from ...notebook import HTML
        names = self.clip_names(len(samples), labels)
        return HTML(players_html(samples, self.rate, names), f"{len(samples)} clips")

    def metric_results(self, num: int, seed: int = 0, split: str = "test", **_: Any) -> dict:
        name = self.info.get("bundled")
        if name is None:
            raise ConfigError("audio scores need a classifier of the data's sounds; gankit ships "
                              "them for its bundled sets (gankit audio-data spoken-digits|notes), "
                              "and this run's data is not one of them")
        from ...metrics.audio import audio_scores, load_audio_classifier
        audio = self.reference(split)
        ref = audio.held if split == "test" and len(audio.held) else audio.train
        labels = self.labels_for(None, num)
        clips = self.sample(num, seed=seed, labels=labels)
        ext = load_audio_classifier(name)
        return audio_scores(clips, ext, reference=ref, train=audio.train, seed=seed,
                            requested_labels=classifier_labels(labels, self.classes, ext.classes))


def classifier_labels(labels: Optional[torch.Tensor], classes: list[str],
                      classifier_classes: list[str]) -> Optional[torch.Tensor]:
    """Class numbers [N] in a run's order (its folders', sorted) -> the same classes numbered in
    the classifier's order (spoken digits: zero, one, ...), matched by name."""
    if labels is None:
        return None
    missing = [c for c in classes if c not in classifier_classes]
    if missing:
        raise ConfigError(f"the classifier has no class {missing[0]!r}; it knows "
                          f"{', '.join(classifier_classes)}")
    order = torch.tensor([classifier_classes.index(c) for c in classes])
    return order[labels.long()]


# --- runs --------------------------------------------------------------------------------------

def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> AudioGAN:
    """A new audio run (the CLI's `gankit train --task audio`)."""
    return AudioGAN(cfg.data.dataset, config=cfg, out=out)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool) -> AudioGAN:
    """Rebuild an audio run (see api.load_run): nets, optimizers, step, data order."""
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    gan = AudioGAN(run=audio_run(cfg, run_dir=run_dir), info=read_info(run_dir))

    def load_data() -> None:
        audio = gan.reference("train")
        gan.run.data, gan.run.data_note = gan.to_net_input(audio.train), audio.note
        gan._labels = audio.train_labels
    gan.run.resume(weights_only, load_data)
    return gan


__all__ = ["AudioGAN", "classifier_labels", "load_task_run", "new_run"]
