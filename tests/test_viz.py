"""Images leave the library as uint8 [N, H, W, C]; grids put each image in its cell; PNGs read back."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.viz import make_grid, save_png, to_uint8


def test_to_uint8_maps_the_ends_and_the_middle():
    x = torch.tensor([-1.0, 0.0, 1.0, -0.5, 0.5]).reshape(1, 1, 1, 5)
    out = to_uint8(x)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 5, 1)
    # (v + 1) * 127.5 rounded: 0, 127.5 -> 128, 255, 63.75 -> 64, 191.25 -> 191
    assert out.ravel().tolist() == [0, 128, 255, 64, 191]


def test_to_uint8_clamps_out_of_range_values():
    x = torch.tensor([-7.0, -1.0001, 1.0001, 3.0, 1e6, -float("inf"), float("inf")]).reshape(1, 1, 1, 7)
    assert to_uint8(x).ravel().tolist() == [0, 0, 255, 255, 255, 0, 255]   # no wrap-around


def test_to_uint8_accepts_grad_half_and_double_tensors():
    base = torch.linspace(-1, 1, 12).reshape(1, 3, 2, 2)
    expected = to_uint8(base)
    assert np.array_equal(to_uint8(base.clone().requires_grad_(True)), expected)
    assert np.array_equal(to_uint8(base.double()), expected)
    assert np.abs(to_uint8(base.half()).astype(int) - expected).max() <= 1


def test_to_uint8_layout_is_n_h_w_c():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 4, 5, generator=g) * 2 - 1   # [N, C, H, W]
    out = to_uint8(x)
    assert out.shape == (2, 4, 5, 3)
    expected = ((x.numpy() + 1) * 127.5).round().astype(np.uint8).transpose(0, 2, 3, 1)
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1   # float rounding at .5 only
    # one pixel followed by hand: image 1, channel 2, row 3, column 4
    assert out[1, 3, 4, 2] == round((float(x[1, 2, 3, 4]) + 1) * 127.5)


def _distinct_images(n: int, h: int, w: int, c: int) -> np.ndarray:
    """Image i holds values unique to it, varying over rows, columns and channels (all < 255)."""
    i, y, x, ch = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return (i * 37 + y * 5 + x * 2 + ch * 11) % 250


@pytest.mark.parametrize("n, nrow, rows, cols", [(5, None, 2, 3), (4, None, 2, 2), (1, None, 1, 1),
                                                 (5, 2, 3, 2), (3, 5, 1, 5)])
@pytest.mark.parametrize("c", [1, 3])
def test_make_grid_puts_image_i_in_its_cell(n, nrow, rows, cols, c):
    h, w, pad = 4, 3, 2
    images = _distinct_images(n, h, w, c).astype(np.uint8)
    grid = make_grid(images, nrow=nrow, pad=pad)
    assert grid.dtype == np.uint8
    assert grid.shape == (rows * (h + pad) + pad, cols * (w + pad) + pad, c)
    covered = np.zeros(grid.shape[:2], bool)
    for i in range(rows * cols):
        r, k = divmod(i, cols)   # row-major: image i at row i // cols, column i % cols
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        cell = grid[y:y + h, x:x + w]
        if i < n:
            assert np.array_equal(cell, images[i]), f"image {i} not at cell ({r}, {k})"
        else:
            assert (cell == 255).all(), "empty cells stay white"
        covered[y:y + h, x:x + w] = True
    assert (grid[~covered] == 255).all(), "padding is white"


def test_make_grid_without_padding_tiles_exactly():
    images = _distinct_images(4, 2, 2, 1).astype(np.uint8)
    grid = make_grid(images, nrow=2, pad=0)
    top, bottom = np.concatenate(images[:2], axis=1), np.concatenate(images[2:], axis=1)
    assert np.array_equal(grid, np.concatenate([top, bottom], axis=0))


@pytest.mark.parametrize("c, mode", [(1, "L"), (3, "RGB")])
def test_save_png_reads_back_identically(tmp_path, c, mode):
    array = _distinct_images(1, 5, 7, c)[0].astype(np.uint8)   # [H=5, W=7, C]
    path = tmp_path / "out.png"
    save_png(array, path)
    with Image.open(path) as img:
        assert img.format == "PNG" and img.mode == mode and img.size == (7, 5)
        back = np.asarray(img)
    assert np.array_equal(back.reshape(array.shape), array)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]   # no temp file left


def test_save_png_scale_enlarges_each_pixel(tmp_path):
    array = _distinct_images(1, 2, 3, 3)[0].astype(np.uint8)
    save_png(array, tmp_path / "big.png", scale=4)
    with Image.open(tmp_path / "big.png") as img:
        assert img.size == (12, 8)
        back = np.asarray(img)
    assert np.array_equal(back, array.repeat(4, axis=0).repeat(4, axis=1))


def test_save_png_overwrites_an_existing_file(tmp_path):
    path = tmp_path / "s.png"
    save_png(np.zeros((2, 2, 1), np.uint8), path)
    save_png(np.full((3, 4, 3), 200, np.uint8), path)
    with Image.open(path) as img:
        assert img.size == (4, 3) and np.asarray(img).min() == 200


def test_samples_to_png_end_to_end(tmp_path):
    """The usual path: G output in [-1, 1] -> uint8 -> grid -> PNG; black and white survive."""
    x = torch.full((4, 3, 6, 6), -1.0)
    x[1] = 1.0
    grid = make_grid(to_uint8(x), pad=1)
    save_png(grid, tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as img:
        back = np.asarray(img)
    assert back.shape == (2 * 7 + 1, 2 * 7 + 1, 3)
    assert (back[1:7, 1:7] == 0).all() and (back[1:7, 8:14] == 255).all()


def test_plots_leave_the_users_matplotlib_backend_and_figures_alone(tmp_path):
    """A notebook's inline plots must keep working after a fit, a report or a live view drew
    gankit's figures: no matplotlib.use("Agg"), and no figure left open in pyplot."""
    import matplotlib
    import matplotlib.pyplot as plt

    from gankit import notebook
    from gankit.report import figures
    from gankit.train.callbacks import scatter_png
    from gankit.viz import plot_curves

    before = matplotlib.get_backend()
    matplotlib.use("svg")   # stands in for a notebook's inline backend
    try:
        records = [{"step": s, "elapsed": s / 10, "d_loss": 1.0, "g_loss": 1.0 + s / 100,
                    "d_real": 0.6, "d_fake": 0.4, "fid": 50.0 - s} for s in (10, 20, 30)]
        plot_curves(records, tmp_path / "curves.png")
        assert notebook.curves_png(records)[:4] == b"\x89PNG"
        scatter_png(torch.randn(20, 2), torch.randn(20, 2), tmp_path / "points.png", "step 1")
        assert figures.curves(records, best_step=20)
        assert Image.open(tmp_path / "curves.png").size == (1600, 400)
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == []
    finally:
        matplotlib.use(before)
