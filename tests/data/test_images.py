"""The user's files: image folders and .npy/.npz arrays, plus the shared resize and channel conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import load_dataset
from gankit.data.images import convert_channels, resize_square
from gankit.errors import DataError, GanKitWarning


def save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def gray(h, w, value=0):
    img = np.full((h, w), value, np.uint8)
    img[h // 4 : h // 2] = 255 - value  # a band, so the image is not flat
    return img


@pytest.fixture
def pets(tmp_path):
    """Two class folders of gray images (PNG, JPEG, RGB-with-equal-channels), different sizes, one corrupt."""
    root = tmp_path / "pets"
    save(root / "cats" / "a.png", gray(40, 30))
    save(root / "cats" / "b.png", np.repeat(gray(20, 20, 50)[..., None], 3, axis=2))  # RGB mode, but gray
    save(root / "dogs" / "c.JPG", gray(64, 64, 200))
    save(root / "dogs" / "deep" / "d.jpeg", gray(10, 12))  # nested: still a dog
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "notes.txt").write_text("ignored: not an image")
    return root


def test_folder_with_classes_and_a_corrupt_file(pets):
    with pytest.warns(GanKitWarning, match=r"skipped 1 of 5 image files .*broken\.png") as record:
        data = load_dataset(str(pets))
    assert len([w for w in record if issubclass(w.category, GanKitWarning)]) == 1
    # shorter sides 30, 20, 64, 10: median 25, so the largest side the nets build below it, 16
    assert data.images.shape == (4, 1, 16, 16) and data.images.dtype == torch.uint8
    assert data.classes == ["cats", "dogs"] and data.labels.tolist() == [0, 0, 1, 1]
    assert data.labels.dtype == torch.int64 and data.name == str(pets)


def test_folder_resolution_and_forced_channels(pets):
    with pytest.warns(GanKitWarning):
        data = load_dataset(str(pets), resolution=16, channels=3)
    assert data.images.shape == (4, 3, 16, 16)
    assert torch.equal(data.images[:, 0], data.images[:, 1])


def test_one_color_image_makes_the_folder_rgb(tmp_path):
    save(tmp_path / "a.png", gray(8, 8))
    color = np.zeros((8, 8, 3), np.uint8)
    color[..., 0] = 255
    save(tmp_path / "b.png", color)
    data = load_dataset(str(tmp_path), resolution=8)
    assert data.images.shape == (2, 3, 8, 8) and data.labels is None and data.classes is None
    assert data.images[1, :, 0, 0].tolist() == [255, 0, 0]
    assert load_dataset(str(tmp_path), resolution=8, channels=1).images[1, 0, 0, 0] == 76  # BT.601 luma of red


def test_transparency_is_composited_onto_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4, :, :] = (0, 0, 255, 255)  # opaque blue top half, fully transparent bottom half
    save(tmp_path / "t.png", rgba, "RGBA")
    image = load_dataset(str(tmp_path), resolution=8).images[0]
    assert image[:, 0, 0].tolist() == [0, 0, 255] and image[:, 7, 0].tolist() == [255, 255, 255]


def test_sixteen_bit_gray_png(tmp_path):
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(tmp_path / "deep.png")
    image = load_dataset(str(tmp_path), resolution=8).images
    assert image.shape == (1, 1, 8, 8) and image.min() == 255


def test_train_and_test_subfolders(tmp_path):
    save(tmp_path / "train" / "a" / "1.png", gray(8, 8))
    save(tmp_path / "train" / "b" / "2.png", gray(8, 8))
    save(tmp_path / "test" / "b" / "3.png", gray(8, 8))
    train = load_dataset(str(tmp_path), "train", resolution=8)
    test = load_dataset(str(tmp_path), "test", resolution=8)
    assert (len(train.images), len(test.images)) == (2, 1)
    assert train.classes == test.classes == ["a", "b"] and test.labels.tolist() == [1]


def test_flat_folder_has_no_test_split(tmp_path):
    save(tmp_path / "x.png", gray(8, 8))
    assert load_dataset(str(tmp_path)).labels is None
    with pytest.raises(DataError, match="has no test split: add train/ and test/ subfolders"):
        load_dataset(str(tmp_path), "test")


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no .png/.jpg/.jpeg images in"):
        load_dataset(str(tmp_path))
    with pytest.raises(DataError, match="unknown dataset .*no such file or folder"):
        load_dataset(str(tmp_path / "missing"))
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"none of the 1 image files .*bad\.jpg"):
        load_dataset(str(tmp_path))


def test_resize_center_crops_the_longer_side():
    image = torch.zeros(1, 1, 20, 40, dtype=torch.uint8)
    image[..., 10:30] = 128  # only the central 20 columns survive a 20x20 crop
    assert torch.equal(resize_square(image, 20), torch.full((1, 1, 20, 20), 128, dtype=torch.uint8))
    assert resize_square(image, 10).shape == (1, 1, 10, 10)


def test_resize_is_antialiased():
    checker = (torch.arange(64)[:, None] + torch.arange(64)[None]) % 2 * 255
    small = resize_square(checker.to(torch.uint8).view(1, 1, 64, 64), 8)
    assert (small.float() - 127.5).abs().max() < 2  # averaged to gray; without antialiasing it aliases


def test_convert_channels_round_trip():
    image = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
    rgb = convert_channels(image, 3)
    assert rgb.shape == (2, 3, 4, 4) and torch.equal(convert_channels(rgb, 1), image)


# ---------------------------------------------------------------- arrays

RNG = np.random.default_rng(0)
NHW = RNG.integers(0, 256, (5, 8, 8), dtype=np.uint8)
NHWC = RNG.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "array, expected",
    [
        (NHW, torch.from_numpy(NHW)[:, None]),
        (NHWC, torch.from_numpy(NHWC).permute(0, 3, 1, 2)),
        (NHWC.transpose(0, 3, 1, 2), torch.from_numpy(NHWC).permute(0, 3, 1, 2)),  # [N, C, H, W]
        (NHW[..., None], torch.from_numpy(NHW)[:, None]),
        (NHW.astype(np.int64), torch.from_numpy(NHW)[:, None]),  # integers within 0..255 are fine
        (NHW / 255.0, torch.from_numpy(NHW)[:, None]),  # floats in [0, 1]
    ],
)
def test_npy_layouts(tmp_path, array, expected):
    path = tmp_path / "x.npy"
    np.save(path, array)
    data = load_dataset(str(path))
    assert data.images.dtype == torch.uint8 and torch.equal(data.images, expected)
    assert data.labels is None and data.name == str(path)


@pytest.mark.parametrize(
    "array, fragment",
    [
        (NHW.astype(np.complex64), "dtype complex64"),
        (NHW.astype(np.int64) + 200, r"int64 images with values 200\.\.455"),
        (NHW / 100.0, "float64 images with values"),
        (NHW[0], r"shape \(8, 8\)"),
        (RNG.integers(0, 256, (5, 8, 8, 4), dtype=np.uint8), r"shape \(5, 8, 8, 4\)"),
        (NHW[:0], "no images"),
        (RNG.integers(0, 256, (3, 8, 12), dtype=np.uint8), "not square; pass a resolution"),
    ],
)
def test_npy_rejects(tmp_path, array, fragment):
    path = tmp_path / "x.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=fragment) as info:
        load_dataset(str(path))
    assert "\n" not in str(info.value)


def test_non_square_array_is_cropped_with_a_resolution(tmp_path):
    np.save(tmp_path / "wide.npy", RNG.integers(0, 256, (3, 8, 12), dtype=np.uint8))
    data = load_dataset(str(tmp_path / "wide.npy"), resolution=8, channels=3)
    assert data.images.shape == (3, 3, 8, 8)


def test_npz_images_and_labels(tmp_path):
    np.savez(tmp_path / "a.npz", images=NHWC, labels=np.array([0, 2, 1, 2, 0]))
    data = load_dataset(str(tmp_path / "a.npz"))
    assert data.images.shape == (5, 3, 8, 8) and data.labels.tolist() == [0, 2, 1, 2, 0]
    assert data.classes == ["0", "1", "2"]
    with pytest.raises(DataError, match="has no test split"):
        load_dataset(str(tmp_path / "a.npz"), "test")


def test_npz_keras_splits(tmp_path):
    path = tmp_path / "k.npz"
    y_train = np.arange(5, dtype=np.uint8)[:, None]  # Keras keeps CIFAR labels as [N, 1]
    np.savez_compressed(path, x_train=NHWC, y_train=y_train, x_test=NHWC[:2], y_test=np.array([7, 1]))
    train, test = load_dataset(str(path), "train"), load_dataset(str(path), "test")
    assert train.images.shape == (5, 3, 8, 8) and test.images.shape == (2, 3, 8, 8)
    assert train.labels.tolist() == [0, 1, 2, 3, 4] and test.labels.tolist() == [7, 1]
    assert train.classes == test.classes == [str(i) for i in range(8)]


def test_npz_single_array_and_errors(tmp_path):
    np.savez(tmp_path / "one.npz", NHW)
    assert load_dataset(str(tmp_path / "one.npz")).images.shape == (5, 1, 8, 8)
    np.savez(tmp_path / "two.npz", a=NHW, b=NHW)
    with pytest.raises(DataError, match="expected an array named 'images'"):
        load_dataset(str(tmp_path / "two.npz"))
    np.savez(tmp_path / "len.npz", images=NHW, labels=np.arange(3))
    with pytest.raises(DataError, match=r"labels have shape \(3,\); expected \[5\]"):
        load_dataset(str(tmp_path / "len.npz"))
    np.savez(tmp_path / "obj.npz", images=np.array([NHW, "x"], dtype=object))
    with pytest.raises(DataError, match="object arrays"):
        load_dataset(str(tmp_path / "obj.npz"))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(str(tmp_path / "junk.npz"))
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY broken")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(str(tmp_path / "junk.npy"))


@pytest.mark.parametrize("sides, expected", [([28] * 5, 28), ([30, 29, 31], 28), ([32], 32),
                                             ([500, 375, 600], 64), ([50, 60, 100], 56), ([5], 8)])
def test_folders_train_at_their_own_size_never_upscaled(tmp_path, sides, expected):
    """28-px images stay 28 px (the nets build 7 -> 14 -> 28), photos come down to 64."""
    for i, side in enumerate(sides):
        save(tmp_path / f"{i}.png", gray(side, side + 3))
    from gankit.data.images import folder_resolution
    assert folder_resolution(sorted(tmp_path.glob("*.png"))) == expected
    assert load_dataset(str(tmp_path)).images.shape[-1] == expected
    assert load_dataset(str(tmp_path), resolution=64).images.shape[-1] == 64   # asked for: kept


@pytest.mark.parametrize("value, said", [(np.inf, "NaN or infinite"), (np.nan, "NaN or infinite"),
                                         (1e300, "float32's range"), (-1e39, "float32's range")])
def test_vectors_at_the_float_extremes_are_one_data_error(value, said):
    """Float vectors (2-D points, features) train in float32: a value that does not fit is
    said, not turned into inf inside the nets."""
    from gankit.data.user import user_samples
    x = np.random.default_rng(0).normal(size=(50, 2))
    x[7, 1] = value
    with pytest.raises(DataError, match=said):
        user_samples(x)
    assert user_samples(np.full((4, 2), 5e-324))[0].shape == (4, 2)   # subnormals: fine
