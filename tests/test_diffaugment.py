"""DiffAugment ops: shapes, gradients, seeded determinism, and matching transforms for real and fake."""
from __future__ import annotations

import pytest
import torch

from gankit.diffaugment import (
    AUGMENTATIONS,
    color,
    cutout,
    cutout_boxes,
    diff_augment,
    parse_policy,
    translation,
    translation_shifts,
)
from gankit.errors import ConfigError

OPS = sorted(AUGMENTATIONS)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 8, c: int = 3, size: int = 16, seed: int = 1,
           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Random images [n, c, size, size] in [-1, 1]."""
    return (torch.rand(n, c, size, size, generator=gen(seed), dtype=dtype) * 2 - 1)


def deltas(n: int, row: int, col: int, size: int = 16) -> torch.Tensor:
    """One-hot images [n, 1, size, size]: a single 1 at (row, col)."""
    x = torch.zeros(n, 1, size, size)
    x[:, 0, row, col] = 1.0
    return x


def positions(x: torch.Tensor) -> torch.Tensor:
    """(row, col) [N, 2] of each image's single nonzero pixel, of one-hot images [N, 1, H, W]."""
    flat = x.flatten(1).argmax(dim=1)
    return torch.stack([flat // x.shape[-1], flat % x.shape[-1]], dim=1)


@pytest.mark.parametrize("policy", OPS + ["color,translation,cutout"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_unchanged(policy, channels, dtype):
    x = images(c=channels, dtype=dtype)
    y = diff_augment(x, policy, gen())
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device


@pytest.mark.parametrize("policy", OPS + ["color,translation,cutout"])
@pytest.mark.parametrize("channels", [1, 3])
def test_gradient_reaches_the_input(policy, channels):
    x = images(c=channels).requires_grad_(True)
    diff_augment(x, policy, gen()).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


def test_translation_gradient_is_the_shifted_pattern_of_ones():
    n, size = 16, 16
    x = images(n=n, c=2, size=size).requires_grad_(True)
    g = gen(3)
    state = g.get_state()
    translation(x, generator=g).sum().backward()
    g.set_state(state)
    shifts = translation_shifts(n, size, size, generator=g)  # [n, 2]
    # An input pixel (i, j) lands at (i + dy, j + dx); it gets gradient 1 iff that is on the canvas.
    idx = torch.arange(size)
    rows = idx[None, :] + shifts[:, :1]
    cols = idx[None, :] + shifts[:, 1:]
    inside = ((rows >= 0) & (rows < size))[:, :, None] & ((cols >= 0) & (cols < size))[:, None, :]
    expected = inside[:, None].expand(n, 2, size, size).float()
    torch.testing.assert_close(x.grad, expected)
    assert (shifts != 0).any()  # the check above is not vacuous


@pytest.mark.parametrize("policy", OPS + ["color,translation,cutout"])
def test_same_generator_state_same_output_other_seed_differs(policy):
    x = images(n=16)
    a = diff_augment(x, policy, gen(7))
    b = diff_augment(x, policy, gen(7))
    c = diff_augment(x, policy, gen(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_real_and_fake_get_the_same_shifts_from_the_same_state():
    n = 32
    real, fake = deltas(n, 8, 8), deltas(n, 5, 10)  # different batches, same shape
    g = gen(11)
    state = g.get_state()
    moved_real = positions(translation(real, generator=g)) - torch.tensor([8, 8])
    g.set_state(state)
    moved_fake = positions(translation(fake, generator=g)) - torch.tensor([5, 10])
    torch.testing.assert_close(moved_real, moved_fake)
    assert len({tuple(s) for s in moved_real.tolist()}) > 1  # per-sample, not one shift for all


def test_real_and_fake_get_the_same_cutout_and_color_from_the_same_state():
    real, fake = images(seed=1), images(seed=2)
    for policy in ("cutout", "color"):
        g = gen(5)
        state = g.get_state()
        a = diff_augment(real, policy, g)
        g.set_state(state)
        b = diff_augment(fake, policy, g)
        if policy == "cutout":  # the same pixels are zeroed in both batches
            assert torch.equal(a == 0, b == 0)
        else:  # a constant added to both inputs passes through the same affine map
            g.set_state(state)
            c = diff_augment(real + 0.25, policy, g)
            assert torch.allclose((c - a).std(dim=(1, 2, 3)), torch.zeros(len(a)), atol=1e-5)


def test_translation_shifts_are_symmetric_and_bounded():
    n, size, ratio = 4000, 16, 1 / 8
    x = deltas(n, 8, 8, size)
    shifts = positions(translation(x, ratio, gen(0))) - torch.tensor([8, 8])  # [n, 2]
    bound = int(size * ratio + 0.5)  # 2
    assert shifts.abs().max() == bound  # reaches the bound, never exceeds it
    assert shifts.float().mean(dim=0).abs().max() < 0.15  # std error of the mean ≈ 0.02
    for k in range(1, bound + 1):  # +k and -k about equally often, per axis
        for axis in range(2):
            plus, minus = (shifts[:, axis] == k).sum(), (shifts[:, axis] == -k).sum()
            assert abs(int(plus) - int(minus)) < 0.25 * n / (2 * bound + 1)


def test_translation_with_zero_ratio_is_the_identity():
    x = images()
    torch.testing.assert_close(translation(x, 0.0, gen()), x)


@pytest.mark.parametrize("size,ratio", [(16, 0.5), (20, 0.3)])
def test_cutout_zeroes_about_ratio_squared_of_the_area(size, ratio):
    x = torch.ones(500, 1, size, size)
    y = cutout(x, ratio, gen(2))
    zeroed = (y == 0).float().mean(dim=(1, 2, 3))  # [n]
    assert abs(zeroed.mean().item() - ratio**2) < 0.02
    boxes = cutout_boxes(500, size, size, ratio, generator=gen(2))
    assert (boxes[:, 0] + boxes[:, 2] <= size).all() and (boxes[:, 1] + boxes[:, 3] <= size).all()
    assert len(set(boxes[:, :2].flatten().tolist())) > 1  # the square moves around


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("value", [-0.8, 0.0, 0.6])
def test_color_moves_a_constant_image_by_a_bounded_amount(channels, value):
    x = torch.full((200, channels, 8, 8), value)
    y = color(x, gen(4))
    change = (y - x).mean(dim=(1, 2, 3))  # [n]
    # Saturation and contrast leave a flat image flat; only the brightness shift (< 0.5) remains.
    assert change.abs().max() <= 0.5
    assert change.std() > 0.1  # a real, per-sample shift
    torch.testing.assert_close(y, y[:, :1, :1, :1].expand_as(y))  # still flat


def test_color_saturation_is_a_no_op_on_gray():
    gray = images(c=1)
    a = color(gray, gen(9))
    b = color(gray.expand(-1, 3, -1, -1), gen(9))  # gray as RGB: every channel equal
    torch.testing.assert_close(b, a.expand(-1, 3, -1, -1))


def test_parse_policy():
    assert parse_policy("color,translation,cutout") == ["color", "translation", "cutout"]
    assert parse_policy(" cutout , color ") == ["cutout", "color"]
    assert parse_policy("") == [] and parse_policy("  ") == []


def test_empty_policy_is_no_augmentation():
    x = images()
    assert torch.equal(diff_augment(x, "", gen()), x)
    assert torch.equal(diff_augment(x, [], gen()), x)


def test_unknown_policy_name_raises_config_error_naming_the_valid_ones():
    with pytest.raises(ConfigError, match="color, translation, cutout") as err:
        parse_policy("color,flip")
    assert "'flip'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError):
        diff_augment(images(), "colour", gen())


def test_bad_ratio_and_bad_input_raise_config_error():
    with pytest.raises(ConfigError, match="ratio"):
        cutout(images(), 1.5, gen())
    with pytest.raises(ConfigError, match="N, C, H, W"):
        translation(torch.zeros(3, 16, 16), generator=gen())
