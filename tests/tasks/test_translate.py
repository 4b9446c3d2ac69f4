"""pix2pix and colorization: the nets' shapes, color conversions, a known mapping learned, exact
resume, translation of files of any size, and each bad input as one line."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from helpers import blobs, one_error, run, write_pairs
from PIL import Image

from gankit.errors import DataError
from gankit.nets.unet import PatchDiscriminator, UNetGenerator
from gankit.tasks.translate import color
from gankit.tasks.translate.data import colorize_pair
from gankit.tasks.translate.facade import Translator

QUIET = dict(batch_size=8, width=8, log_every=10, sample_every=1000, checkpoint_every=1000)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("c_in, c_out", [(1, 2), (3, 3)])
def test_unet_keeps_the_size_and_patchgan_sees_patches(size, c_in, c_out):
    G = UNetGenerator(c_in, c_out, size, width=4).eval()
    x = torch.rand(2, c_in, size, size) * 2 - 1
    y = G(x)
    assert y.shape == (2, c_out, size, size) and y.abs().max() <= 1
    assert G.depth == int(np.log2(size))                      # down to 1x1
    D = PatchDiscriminator(c_in + c_out, width=4)
    patches = D(torch.cat([x, y], 1))
    side = size // 8 - 2                                      # 3 stride-2 layers, 2 stride-1
    assert patches.shape == (2, side, side)
    # fully convolutional: a larger picture (a multiple of 2**depth) comes back the same size
    assert G(torch.zeros(1, c_in, size * 2, size)).shape == (1, c_out, size * 2, size)


def test_ycbcr_round_trip_and_colorize_pairs_keep_lightness():
    rgb = torch.from_numpy(blobs(4, 32, 0)).permute(0, 3, 1, 2).float() / 127.5 - 1
    y, cbcr = colorize_pair(rgb)
    assert y.shape == (4, 1, 32, 32) and cbcr.shape == (4, 2, 32, 32)
    back = color.ycbcr_to_rgb(torch.cat([y, cbcr], 1))
    assert (back - rgb).abs().max() < 1e-5
    gray = color.ycbcr_to_rgb(torch.cat([y, torch.zeros_like(cbcr)], 1))
    assert torch.allclose(gray, color.gray_rgb(y), atol=1e-5)
    assert color.colorfulness(gray).max() < 1e-3 < color.colorfulness(rgb).min()


def test_psnr_and_ssim_order_things_right():
    a = torch.from_numpy(blobs(2, 32, 1)).permute(0, 3, 1, 2).float() / 127.5 - 1
    g = torch.Generator().manual_seed(0)
    slight = (a + 0.02 * torch.randn(a.shape, generator=g)).clamp(-1, 1)
    strong = (a + 0.3 * torch.randn(a.shape, generator=g)).clamp(-1, 1)
    assert (color.ssim(a, a) > 0.999).all()
    assert (color.psnr(a, slight) > color.psnr(a, strong)).all()
    assert (color.ssim(a, slight) > color.ssim(a, strong)).all()


def test_pix2pix_learns_a_known_mapping(tmp_path):
    a = blobs(40, 16, 2)
    write_pairs(tmp_path / "pairs", a, 255 - a)               # B = A inverted
    tr = Translator(tmp_path / "pairs", "pix2pix", out=tmp_path / "run", resolution=16,
                    lr=2e-3, **QUIET)
    before = tr.evaluate()["l1"]
    tr.fit(steps=300, progress=False)
    after = tr.evaluate()["l1"]
    held = [b for _, b in tr.pictures.held]
    constant = float(np.mean([np.abs(b.float().numpy() / 127.5 - 1 - (255 - 127.5) / 127.5).mean()
                              for b in held]))            # always answering mid-gray
    assert after < 0.1 < before and after < constant / 3, (before, after, constant)
    out = tr.translate(a[:2])
    assert out.shape == (2, 16, 16, 3) and np.abs(out.astype(int) - (255 - a[:2])).mean() < 20


def test_colorize_resume_is_exact(capsys, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, img in enumerate(blobs(6, 48, 3)):
        Image.fromarray(img).save(photos / f"{i}.png")
    flags = ["--task", "colorize", "--dataset", photos, "--resolution", 16, "--batch-size", 4,
             "--width", 4, "--no-progress", "--log-every", 2, "--checkpoint-every", 3,
             "--sample-every", 3]
    assert run(capsys, "train", "--out", tmp_path / "full", "--steps", 6, *flags)[0] == 0
    assert run(capsys, "train", "--out", tmp_path / "half", "--steps", 3, *flags)[0] == 0
    code, _, err = run(capsys, "train", "--resume", tmp_path / "half", "--steps", 6, "--no-progress")
    assert code == 0, err
    from safetensors.torch import load_file
    for net in ("G", "D", "opt_G"):
        a = load_file(str(tmp_path / "full/checkpoints/step-0000006" / f"{net}.safetensors"))
        b = load_file(str(tmp_path / "half/checkpoints/step-0000006" / f"{net}.safetensors"))
        assert all(torch.equal(a[k], b[k]) for k in a), net
    cfg = json.loads((tmp_path / "full/config.json").read_text())
    assert cfg["task"] == "colorize" and cfg["data_shape"] == [1, 2, 16]
    # translate: any size back at its own size; the output keeps the input's lightness
    big = blobs(1, 40, 9)[0][:40, :36]
    Image.fromarray(big).save(tmp_path / "big.png")
    code, _, err = run(capsys, "translate", tmp_path / "full", tmp_path / "big.png", "--output",
                       tmp_path / "out")
    assert code == 0, err
    out = np.asarray(Image.open(tmp_path / "out" / "big.png"))
    assert out.shape == (40, 36, 3)
    y_in = colorize_pair(torch.from_numpy(big).permute(2, 0, 1)[None].float() / 127.5 - 1)[0]
    y_out = colorize_pair(torch.from_numpy(out.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1)[0]
    assert (y_in - y_out).abs().mean() < 0.03
    # nothing is overwritten without --overwrite
    assert "already exists" in one_error(capsys, "translate", tmp_path / "full",
                                         tmp_path / "big.png", "--output", tmp_path / "out")
    assert "smaller than" in one_error(capsys, "translate", tmp_path / "full",
                                       tmp_path / "small.png" if Image.fromarray(big[:8, :8]).save(
                                           tmp_path / "small.png") is None else None,
                                       "--output", tmp_path / "out2")
    assert "A to B only" in one_error(capsys, "translate", tmp_path / "full", tmp_path / "big.png",
                                      "--output", tmp_path / "out3", "--direction", "BtoA")
    assert "translates images" in one_error(capsys, "sample", tmp_path / "full", "--output",
                                            tmp_path / "s.png")


def test_bad_folders_are_one_line(capsys, tmp_path):
    a = blobs(4, 16, 4)
    write_pairs(tmp_path / "p", a, a)
    (tmp_path / "p" / "B" / "001.png").rename(tmp_path / "p" / "B" / "zzz.png")
    line = one_error(capsys, "train", "--task", "pix2pix", "--dataset", tmp_path / "p",
                     "--resolution", 16, "--steps", 1)
    assert "1 in A/ have no partner" in line and "A/001" in line and "B/zzz" in line
    gray = tmp_path / "gray"
    gray.mkdir()
    for i, img in enumerate(blobs(3, 32, 5)):
        Image.fromarray(img[..., 0]).save(gray / f"{i}.png")
    (gray / "broken.png").write_bytes(b"not a png")
    line = one_error(capsys, "train", "--task", "colorize", "--dataset", gray, "--resolution", 16,
                     "--steps", 1)
    assert "no color photographs" in line and "3 grayscale" in line and "1 unreadable" in line
    assert "needs --dataset" in one_error(capsys, "train", "--task", "colorize", "--steps", 1)
    assert "power of two" in one_error(capsys, "train", "--task", "colorize", "--dataset", gray,
                                       "--resolution", 24, "--steps", 1)
    with pytest.raises(DataError, match="no such folder"):
        Translator(tmp_path / "missing", "colorize")


@pytest.mark.parametrize("task, short, cap, size", [
    ("pix2pix", 28, 64, 32),      # the next power of two: pads 4 px, never scales up
    ("pix2pix", 40, 64, 32),      # 64 would pad by more than a quarter
    ("pix2pix", 600, 64, 64),     # photos: the CPU's cap
    ("pix2pix", 600, 256, 256),   # on a GPU: the paper's size
    ("cyclegan", 28, 64, 28),     # a multiple of 4: the data's own size
    ("cyclegan", 30, 64, 28),
    ("cyclegan", 10, 64, 16),     # the smallest crop the nets take
    ("colorize", 600, 64, 64),    # crops of photos resized to twice the crop
    ("colorize", 64, 64, 32),
    ("pix2pix", None, 64, 64),    # nothing readable: the loader will say why
])
def test_default_crop_follows_the_data(task, short, cap, size):
    from gankit.tasks.translate.options import default_size
    assert default_size(task, short, cap) == size


def test_28px_folders_train_at_their_own_size_with_cpu_defaults(tmp_path):
    from gankit.tasks.cyclegan.facade import CycleGAN
    a = blobs(12, 28, 3)
    write_pairs(tmp_path / "pairs", a, 255 - a)
    tr = Translator(tmp_path / "pairs", "pix2pix", out=tmp_path / "run", device="cpu")
    assert tr.config.data.resolution == 32 and tr.config.model.width == 16
    assert tr.config.train.batch_size == 16
    a0, b0 = tr.pictures.train[0]
    assert a0.shape == (3, 32, 32)                      # padded, not upscaled:
    assert torch.equal(a0[:, :28, :28], torch.from_numpy(a[0]).permute(2, 0, 1))
    cg = CycleGAN(tmp_path / "pairs", "cyclegan", out=tmp_path / "run2", device="cpu")
    c = cg.config
    assert (c.data.resolution, c.model.width, c.train.batch_size, c.loss.loss) == (28, 16, 16, "lsgan")
    assert cg.pictures.train[0][0].shape == (3, 28, 28)
    # options given by the user win over the data-sized defaults, and are recorded
    cg = CycleGAN(tmp_path / "pairs", "cyclegan", out=tmp_path / "run3", width=8, batch_size=4,
                  resolution=16, device="cpu")
    assert (cg.config.data.resolution, cg.config.model.width, cg.config.train.batch_size) == (16, 8, 4)


def test_pix2pix_learns_edges_to_shapes_where_a_constant_fails(tmp_path):
    """The edges -> items task in miniature: filled rectangles of random size and brightness
    from their edge maps (gankit.data.edges), 16 px."""
    from gankit.data.edges import write_edge_pairs
    g = torch.Generator().manual_seed(0)
    shapes = torch.zeros(60, 1, 16, 16, dtype=torch.uint8)
    for img in shapes:
        top, left = torch.randint(1, 6, (2,), generator=g).tolist()
        h, w = torch.randint(6, 10, (2,), generator=g).tolist()
        img[:, top:top + h, left:left + w] = int(torch.randint(120, 255, (1,), generator=g))
    write_edge_pairs(tmp_path / "pairs", {"train": shapes[:50], "test": shapes[50:]})
    tr = Translator(tmp_path / "pairs", "pix2pix", out=tmp_path / "run", lr=2e-3, **QUIET)
    assert tr.config.data.resolution == 16
    tr.fit(steps=300, progress=False)
    truth = shapes[50:].float() / 127.5 - 1
    from gankit.data.edges import edge_maps
    out = tr.task.translate(edge_maps(shapes[50:]).float() / 127.5 - 1)
    err = float((out - truth).abs().mean())
    constant = float((truth - shapes[:50].float().mean(0) / 127.5 + 1).abs().mean())
    assert err < constant / 2, (err, constant)


def test_runs_that_recorded_no_width_still_load_with_the_old_default(capsys, tmp_path):
    """Runs made before the data-sized defaults have "width": null in config.json, meaning 32."""
    from gankit.api import load_run
    a = blobs(12, 16, 6)
    write_pairs(tmp_path / "pairs", a, 255 - a)
    flags = ["--task", "pix2pix", "--dataset", tmp_path / "pairs", "--batch-size", 4,
             "--width", 32, "--no-progress", "--checkpoint-every", 2]
    assert run(capsys, "train", "--out", tmp_path / "old", "--steps", 2, *flags)[0] == 0
    path = tmp_path / "old" / "config.json"
    cfg = json.loads(path.read_text())
    assert cfg["model"]["width"] == 32 and cfg["data"]["resolution"] == 16
    cfg["model"]["width"] = None
    path.write_text(json.dumps(cfg))
    for state in (tmp_path / "old" / "checkpoints").glob("step-*/state.json"):
        doc = json.loads(state.read_text())   # nor did their checkpoints record a config
        del doc["config"]
        state.write_text(json.dumps(doc))
    tr = load_run(tmp_path / "old")
    assert tr.step == 2 and tr.translate(a[:1]).shape == (1, 16, 16, 3)


def test_show_gives_the_preview_rows_input_output_truth(tmp_path):
    a = blobs(30, 16, seed=0)
    write_pairs(tmp_path / "pairs", a, 255 - a)
    tr = Translator(tmp_path / "pairs", "pix2pix", out=tmp_path / "r", resolution=16, **QUIET)
    rows = len(tr.triptych()) // 3   # the held-out examples the previews show
    assert rows > 1
    # rows of three 16 px pictures with 2 px gaps, enlarged 2x as the previews are; at most n
    for n, shown in ((16, rows), (1, 1)):
        png = tr.show(n)._repr_png_()
        assert Image.open(io.BytesIO(png)).size == (2 * (3 * 18 + 2), 2 * (shown * 18 + 2))
