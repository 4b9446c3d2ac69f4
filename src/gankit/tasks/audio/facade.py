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
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional, Union

import numpy as np
import torch

from ..api import Sampling
from ..config import RunConfig, TaskOptions, option, require_options
from ..data.audio import (DEFAULT_LENGTH, MEL_EPS, MEL_N_FFT, AudioData, griffin_lim, is_labeled,
                          load_audio, log_mel, log_spectrogram, mel_hop, mel_to_clips,
                          spectrogram_image, write_wav)
from ..errors import ConfigError, DataError, RunError
from ..nets import build_nets
from ..nets.audio import (PhaseShuffle, SpecGANDiscriminator, SpecGANGenerator,
                          WaveGANDiscriminator, WaveGANGenerator)
from ..run import Run, RunFacade, RunHooks
from ..tasks import new_config
from ..tasks.gan.task import GANTask
from ..train import callbacks as cb
from ..train.trainer import BatchSampler, Trainer

MODELS = ("mel", "wavegan", "specgan")
DEFAULT_MODEL = "mel"
DEFAULT_WIDTH = {"mel": 32, "wavegan": 16, "specgan": 16}
MEL_SIDE = 64              # mel bands = frames per clip (--resolution)
MEL_LR = 4e-4
PHASE_SHUFFLE = 2
CLIP_STD = 3.0             # SpecGAN: normalized spectrograms are clipped at 3 standard deviations
GRIFFIN_LIM_ITERS = 32
PREVIEW = 16               # clips in each samples/step-*.png and .wav
GAP = 0.25                 # seconds of silence between the clips of a preview WAV
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


class AudioGAN(Sampling, RunFacade):
    """A GAN for sound: `AudioGAN("digits/", model="wavegan").fit(max_time=600)`, then
    `sample(10)` -> clips float32 [10, L] in [-1, 1] at 16 kHz, `save(clips, "out/")` -> WAVs.
    Options are the config fields, as for GAN (`model`, `width`, `conditional`, `audio_length`,
    `batch_size`, `lr`, `n_critic`, ...). (`run=` and `info=`: a run already built and its
    audio.json, as load_run makes them.)"""

    def __init__(self, dataset: Union[str, Path, None] = None, *,
                 out: Union[str, Path, None] = None, config: Optional[RunConfig] = None,
                 run: Optional[Run] = None, info: Optional[dict] = None, **options: Any):
        self._audio: Optional[AudioData] = None
        self._labels: Optional[torch.Tensor] = None
        if run is not None:
            self._attach(run, info)
            return
        if not isinstance(dataset, (str, Path)):
            raise DataError("an audio GAN learns from a folder of WAV files (or of class folders "
                            "of WAV files)")
        if config is None:
            if options.get("conditional") is None:   # not given: on for class folders
                options.pop("conditional", None)
            config = new_config("audio", dataset=str(dataset), **options)
        cfg = config.replace(task="audio", data=dataclasses.replace(
            config.data, dataset=str(Path(dataset).expanduser().resolve())))
        cfg = check_config(cfg)
        length = cfg.options.audio_length or DEFAULT_LENGTH
        shape = net_shape(cfg.model.model, length, cfg.data.resolution)   # before the clips load
        audio = load_audio(cfg.data.dataset, length)
        print(audio.note, file=sys.stderr)
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
                   progress: Optional[bool]) -> list[cb.Callback]:
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
        from ..outputs import refuse_overwrite
        from ..viz import save_png
        from ..outputs import check_output_kind
        output = Path(output)
        if not output.parent.is_dir():
            raise ConfigError(f"--output {output}: no such directory {output.parent}")
        check_output_kind(output)
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
        import base64

        from ..data.audio import spectrogram_image, wav_bytes
        from ..report.page import array_uri
        from ..report.run import SEED, section
        labels = self.labels_for(None, n)
        clips = self.sample(n, seed=SEED, labels=labels)
        names = ([self.classes[int(k)] for k in labels] if labels is not None
                 else [f"clip {i + 1}" for i in range(len(clips))])
        players = [(name, "data:audio/wav;base64," + base64.b64encode(
            wav_bytes(clip, self.rate)).decode("ascii")) for name, clip in zip(names, clips)]
        return [section("clips", {"spectrograms": array_uri(spectrogram_image(clips, rows=2)),
                                  "players": players, "seconds": clips.shape[-1] / self.rate})]

    def metric_results(self, num: int, seed: int = 0, split: str = "test", **_: Any) -> dict:
        name = self.info.get("bundled")
        if name is None:
            raise ConfigError("audio scores need a classifier of the data's sounds; gankit ships "
                              "them for its bundled sets (gankit audio-data spoken-digits|notes), "
                              "and this run's data is not one of them")
        from ..metrics.audio import audio_scores, load_audio_classifier
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


def spectrograms(clips: torch.Tensor, model: str = "specgan",
                 shape: tuple[int, ...] = (1, 128, 128)) -> Optional[torch.Tensor]:
    """What the model's G makes, before normalization: log spectrograms [N, 128, 128] (specgan)
    or log mel [N, bands, frames] (mel) of clips [N, L], 500 clips at a time; None for wavegan."""
    if model == "mel":
        return log_mel(clips, shape[1], shape[2])
    if model != "specgan":
        return None
    return torch.cat([log_spectrogram(clips[i:i + 500]) for i in range(0, len(clips), 500)])


def audio_info(cfg: RunConfig, audio: AudioData, spec: Optional[torch.Tensor] = None) -> dict:
    """audio.json: what turns the nets' outputs back into sound and names their classes
    (`spec`: the training spectrograms, from which it records each bin's normalization as
    spec_mean and spec_std: x -> clamp((x - mean) / std, -3, 3) / 3)."""
    info: dict[str, Any] = {"rate": audio.rate, "length": audio.length, "classes": audio.classes,
                            "bundled": bundled_name(Path(cfg.data.dataset))}
    model = cfg.model.model
    if model not in ("mel", "specgan"):
        return info
    s = spectrograms(audio.train, model, cfg.data_shape) if spec is None else spec
    if model == "specgan":
        info["spec_mean"] = s.mean(dim=(0, 2)).tolist()
        info["spec_std"] = s.std(dim=(0, 2)).clamp_min(1e-3).tolist()
        return info
    info["mel"] = {"bands": cfg.data_shape[1], "frames": cfg.data_shape[2],
                   "n_fft": MEL_N_FFT, "hop": mel_hop(audio.length, cfg.data_shape[2])}
    # Mel: each bin's range [silence floor, its 99.9th percentile] maps to [-1, 1]. (Mean and
    # std put the floor only ~0.3 below the mean: silence is most of a clip, and the sound was
    # squeezed into the top of the range.)
    lo = math.log(MEL_EPS)
    hi = torch.quantile(s.transpose(0, 1).reshape(s.shape[1], -1)[:, ::7], 0.999, dim=1)
    hi = torch.maximum(hi, torch.full_like(hi, lo + 1.0))    # a bin that is always silent
    info["spec_mean"] = ((hi + lo) / 2).tolist()
    info["spec_std"] = ((hi - lo) / (2 * CLIP_STD)).tolist()
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


def audio_run(cfg: RunConfig, *, out: Union[str, Path, None] = None,
              run_dir: Optional[Path] = None) -> Run:
    """The audio GAN's run for a resolved config: nets from the seed, task, device."""
    m = cfg.model
    width, k = m.width or DEFAULT_WIDTH[m.model], cfg.num_classes
    torch.manual_seed(cfg.train.seed)   # the nets' initial weights come from the seed
    if m.model == "mel":   # the image path's nets, conditional wrappers included
        G, D = build_nets(dataclasses.replace(m, model="dcgan"), cfg.data_shape, k)
    elif m.model == "wavegan":
        length = cfg.data_shape[-1]
        G = WaveGANGenerator(length, m.z_dim, width, k)
        D = WaveGANDiscriminator(length, width, k, PHASE_SHUFFLE)
    else:
        G = SpecGANGenerator(cfg.data_shape[-1], m.z_dim, width, k)
        D = SpecGANDiscriminator(cfg.data_shape[-1], width, k)
    run = Run.for_task(cfg, lambda device: GANTask(G, D, cfg, device),
                       one_process="the audio GAN", out=out, run_dir=run_dir)
    for module in run.task.D.modules():   # phase shuffle draws from a checkpointed generator
        if isinstance(module, PhaseShuffle):
            module.generator = run.task.generators["aux"]
    return run


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


__all__ = ["OPTIONS", "AudioGAN", "AudioOptions", "classifier_labels", "load_task_run",
           "new_run"]
