"""VideoGAN, the video task's user-facing class, and its runs.

    gankit train --task video --dataset moving-mnist             # two digits bouncing, made offline
    gankit train --task video --dataset ./clips                  # GIFs, frame folders, .npy/.npz
    gankit sample RUN --num 16 --output clips.gif                # or clips.mp4, clips.npz, or a
    gankit sample RUN --num 16 --output clips --format mp4       # folder of GIFs (or MP4s)
    gankit sample RUN --num 8 --same-content --output walk.gif   # one content, eight motions

Clips inside are floats [N, T, C, H, W] in [-1, 1]; on disk uint8 [N, T, H, W, C].
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Optional, Union

import torch

from ...config import RunConfig
from ...data.images import resize_square
from ...errors import ConfigError, DataError
from ...run import Run, RunHooks
from ...train import callbacks as cb
from ...train.state import step_name
from ...train.trainer import BatchSampler, Trainer
from ...viz import from_uint8
from ..base import TaskFacade
from ..gan.sampling import Sampling
from .options import BUNDLED, sizes
from .outputs import gif_bytes, grid_frames, write_atomic, write_clips
from .task import VideoTask, build_nets

PREVIEW = 16        # clips in each samples/step-*.gif (a 4 x 4 grid that plays)
MM_CANVAS = 64      # Moving MNIST's canvas; resized to the run's frame side


class VideoGAN(Sampling, TaskFacade):
    """A video GAN (layered sprites or MoCoGAN): `VideoGAN("moving-mnist").fit(max_time=600)`, then
    `sample(8)` -> clips [8, T, C, H, W]; `sample(8, same_content=True)` keeps one content and
    draws eight motions, `same_motion=True` the reverse. Options are the config fields (`frames`,
    `resolution`, `width`, `batch_size`, `lr`, `clips`, `digits`, ...)."""

    TASK: ClassVar[str] = "video"
    _clips: Any = None

    def _build(self, dataset: Any, config: RunConfig, out: Union[str, Path, None]) -> None:
        cfg, clips = prepare(config, dataset)
        self._attach(video_run(cfg, out=out), clips=clips)

    def _attach(self, run: Run, clips: Any = None, **state: Any) -> None:
        self.run, self._clips = run, clips
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks)
        if clips is not None:
            run.data, run.data_note = clips.train, clips.note

    # --- training ----------------------------------------------------------------------------
    def _sampler(self) -> BatchSampler:
        clips, t = self.run.data, self.config.train
        if clips is None:
            raise DataError("this run's clips could not be loaded")
        if len(clips) < t.batch_size:
            raise ConfigError(f"--batch-size {t.batch_size} is larger than the data "
                            f"({len(clips)} clips)")
        labels = None
        if self.config.model.conditional:
            labels = self._clips.train_labels.to(self.device)
        gen = torch.Generator().manual_seed(t.seed * 2)   # data order: CPU generator, any device
        return BatchSampler(clips.to(self.device), t.batch_size, gen, transform=from_uint8,
                            labels=labels)

    def _callbacks(self, total: int, max_time: Optional[float],
                   progress: Optional[bool]) -> list[cb.Callback]:
        t = self.config.train
        return self.run.standard_callbacks(
            total, max_time, progress, GifPreview(self.run_dir / "samples", t.sample_every, self),
            lambda: {k: r.value for k, r in self.metric_results(t.eval_num).items()},
            # the best checkpoint: by fvd where it is measured (what is shown and how it moves)
            key="fvd" if self.config.data.dataset == BUNDLED else "motion_gap",
            title=f"{self.config.model.model} on {Path(self.config.data.dataset).name}")

    # --- using it ----------------------------------------------------------------------------
    def sample(self, n: int, seed: Optional[int] = None, ema: bool = True, labels: Any = None,
               same_content: bool = False, same_motion: bool = False) -> torch.Tensor:
        """n clips [n, T, C, H, W] in [-1, 1]. `same_content`: every clip keeps the first one's
        content code (one digit pair, say, moving n ways); `same_motion`: every clip keeps its
        motion noise (n contents moving alike)."""
        n = int(n)
        y = self.labels_for(labels, n)
        gen = torch.Generator(self.device)
        gen.manual_seed(int(seed)) if seed is not None else gen.seed()
        z = self.task.noise(n, gen)
        dc = self.task.G.content_dim
        if same_content:
            z[:, :dc] = z[:1, :dc]
        if same_motion:
            z[:, dc:] = z[:1, dc:]
        return self.task.generate(z, ema=ema, labels=y)

    def save(self, samples: torch.Tensor, output: Union[str, Path], overwrite: bool = False,
             labels: Optional[torch.Tensor] = None, fmt: Optional[str] = None) -> Path:
        """Clips to FILE.npz (`videos` uint8 [N, T, H, W, C]), FILE.gif or FILE.mp4 (one grid
        that plays) or a folder of GIFs (`fmt="mp4"`: of MP4s; see outputs.write_clips). MP4
        needs PyAV (`pip install av`)."""
        return write_clips(samples, Path(output), overwrite, labels, fmt)

    def reference(self, split: str = "test") -> torch.Tensor:
        """The real clips scores compare with: held-out (or, with none, training) as uint8."""
        if self._clips is None:
            self._clips = prepare(self.config, self.config.data.dataset)[1]
        held = self._clips.test
        return held if split == "test" and len(held) else self._clips.train

    def metric_results(self, num: int, seed: int = 0, split: str = "test",
                       extractor: Optional[str] = None, **_: Any) -> dict:
        """`num` clips against (at most `num`) real ones, see scores.video_results: how they move
        (motion, accel, their gaps, frozen), frame_fid (moving digits: in the MNIST classifier's
        features; else in `extractor`'s, when named) and, for moving digits, fvd, identity,
        identity_real and identity_rigid in the shipped clip network's."""
        from .scores import video_results
        real = from_uint8(self.reference(split)[:num])
        fake = self.sample(num, seed=seed, labels=self.labels_for(None, num))
        digits = self.config.options.digits if self.config.data.dataset == BUNDLED else None
        return video_results(fake, real, moving_digits=digits, extractor=extractor,
                             reference=self.config.data.dataset,
                             reference_split="held-out" if split == "test" else "train",
                             seed=seed)

    def view(self, samples: torch.Tensor) -> Any:
        """Clips as one GIF grid that plays (what `show(n)` puts on a notebook's page)."""
        from ...notebook import HTML, img_tag
        nrow = max(1, min(len(samples), 4))
        return HTML(img_tag(gif_bytes(grid_frames(samples, nrow), scale=2), "image/gif",
                            f"{len(samples)} clips"), f"{len(samples)} clips")

    # --- its report --------------------------------------------------------------------------
    @property
    def report_images(self) -> bool:
        return False

    def report_sections(self, facts: Any, n: int = 16) -> list:
        """n clips from seed 0 playing in one grid; the same content moved 8 ways."""
        import base64

        from ...report.run import SEED, section
        def uri(clips: torch.Tensor, nrow: int) -> str:
            data = gif_bytes(grid_frames(clips, nrow), scale=2)
            return "data:image/gif;base64," + base64.b64encode(data).decode("ascii")
        labels = self.labels_for(None, n)
        return [section("animation", {
            "clips": uri(self.sample(n, seed=SEED, labels=labels), 4),
            "same_content": uri(self.sample(8, seed=SEED, same_content=True,
                                            labels=self.labels_for(None, 8)), 8),
            "frames": self.config.data_shape[0]}, template="video.html.j2")]


class GifPreview(cb.Every):
    """samples/step-NNNNNNN.gif: PREVIEW clips from fixed noise playing in one grid."""

    def __init__(self, out_dir: Path, every: int, gan: VideoGAN):
        super().__init__(every)
        self.out_dir, self.gan = Path(out_dir), gan
        self.out_dir.mkdir(parents=True, exist_ok=True)
        seed = gan.config.train.seed + 7
        self.z = gan.task.noise(PREVIEW, torch.Generator(gan.device).manual_seed(seed))
        self.y = gan.labels_for(None, PREVIEW)

    def act(self, trainer: Trainer) -> None:
        clips = self.gan.task.generate(self.z, labels=self.y)
        path = self.out_dir / f"{step_name(trainer.step)}.gif"
        write_atomic(path, gif_bytes(grid_frames(clips, 4)))


# --- data and runs -----------------------------------------------------------------------------

def prepare(config: RunConfig, dataset: Any) -> tuple[RunConfig, Any]:
    """The clips for `config` (moving-mnist made offline, or the user's) at the frame side and
    length the device affords, and the config they resolve (frames, data shape, classes)."""
    from .data import load_clips
    o, afford = config.options, sizes(config.train.device)
    bundled = isinstance(dataset, str) and dataset == BUNDLED   # not `==` on an array of clips
    frames = o.frames or (afford["frames"] if bundled else None)
    side = config.data.resolution or afford["resolution"]
    if bundled:
        clips = _moving_mnist(o.clips, frames, side, o.digits, config.train.seed)
    else:
        given = config.data.resolution   # resized as they are read: frames may differ in size
        clips = load_clips(dataset, frames, given, config.train.seed)
        if frames is None and clips.train.shape[1] > afford["frames"]:
            clips = load_clips(dataset, afford["frames"], given, config.train.seed)
        if given is None:   # their own size, capped where the device cannot afford it
            clips = _resized(clips, min(side, clips.train.shape[-1]))
    if config.model.conditional and clips.train_labels is None:
        raise DataError("--conditional needs labeled clips: put each class's clips in a folder "
                        "of its own, or give `labels` in the .npz")
    name = dataset if bundled else (
        str(Path(dataset).expanduser().resolve()) if isinstance(dataset, (str, Path))
        else "<clips from Python>")
    cfg = config.replace(
        task=VideoGAN.TASK, data=dataclasses.replace(config.data, dataset=name,
                                                     resolution=clips.train.shape[-1]),
        options=dataclasses.replace(o, frames=clips.train.shape[1]),
        data_shape=tuple(clips.train.shape[1:]),
        num_classes=len(clips.classes) if clips.train_labels is not None else 0)
    return cfg, clips


def _moving_mnist(n: int, frames: int, side: int, digits: int, seed: int) -> Any:
    """Moving MNIST (train: n clips; held-out: n // 10, of other digits) at `side` px."""
    from .data import Clips, moving_mnist
    parts = {}
    for split, count in (("train", n), ("test", max(n // 10, 1))):
        chunks = [moving_mnist(min(1000, count - i), split, frames, MM_CANVAS, digits,
                               seed=seed * 100_003 + i // 1000)[0]
                  for i in range(0, count, 1000)]
        parts[split] = _resize(torch.cat(chunks), side)
    note = (f"moving-mnist: {n:,} training and {len(parts['test']):,} held-out clips of "
            f"{frames} frames, {digits} digit(s) on a {MM_CANVAS}-px canvas shown at {side} px")
    return Clips(parts["train"], parts["test"], None, None, [], note)


def _resize(clips: torch.Tensor, side: int) -> torch.Tensor:
    """uint8 clips [N, T, C, H, W] with frames of `side` px."""
    n, t, c = clips.shape[:3]
    if clips.shape[-1] == side and clips.shape[-2] == side:
        return clips
    return resize_square(clips.reshape(n * t, c, *clips.shape[3:]), side).reshape(
        n, t, c, side, side)


def _resized(clips: Any, side: int) -> Any:
    return dataclasses.replace(clips, train=_resize(clips.train, side),
                               test=_resize(clips.test, side) if len(clips.test) else clips.test)


def video_run(cfg: RunConfig, *, out: Union[str, Path, None] = None,
              run_dir: Optional[Path] = None) -> Run:
    """The video GAN's run for a resolved config: nets from the seed, task, device."""
    nets = build_nets(cfg)
    return Run.for_task(cfg, lambda device: VideoTask(nets, cfg, device),
                        one_process="the video GAN", out=out, run_dir=run_dir)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool) -> VideoGAN:
    """Rebuild a video run: nets, EMA, optimizers, step, data order (the clips read again)."""
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    gan = VideoGAN(run=video_run(cfg, run_dir=run_dir))

    def load_data() -> None:
        clips = prepare(cfg, cfg.data.dataset)[1]
        if tuple(clips.train.shape[1:]) != tuple(cfg.data_shape):
            raise DataError(f"the clips now have shape {list(clips.train.shape[1:])}, the run "
                            f"was trained on {list(cfg.data_shape)}")
        gan._attach(gan.run, clips=clips)
    gan.run.resume(weights_only, load_data)
    return gan


__all__ = ["VideoGAN", "load_task_run", "prepare", "video_run"]
