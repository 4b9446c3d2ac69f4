"""Edge maps: lines where the picture changes, none where it is flat; the paired folder they make."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gankit.data.edges import edge_maps, read_pair_labels, write_edge_pairs
from gankit.errors import ConfigError, DataError


def square(size: int = 16, lo: int = 4, hi: int = 12, value: int = 200) -> torch.Tensor:
    x = torch.zeros(1, 1, size, size, dtype=torch.uint8)
    x[..., lo:hi, lo:hi] = value
    return x


def test_lines_follow_the_outline_and_flat_pictures_have_none():
    e = edge_maps(square())[0, 0]
    assert e.dtype == torch.uint8 and set(e.unique().tolist()) == {0, 255}
    lines = e == 0
    assert lines[3:5, 4:12].all() and lines[11:13, 4:12].all()   # top and bottom borders
    assert not lines[6:10, 6:10].any()                           # the flat inside
    assert not lines[:2].any() and not lines[-2:].any()          # the flat outside
    flat = torch.full((2, 3, 8, 8), 90, dtype=torch.uint8)
    assert (edge_maps(flat) == 255).all()
    # the outline does not depend on how bright the object is (threshold is relative)
    assert torch.equal(edge_maps(square(value=40)), e[None, None])


def test_soft_edges_keep_line_strength_on_the_same_lines():
    img = square(size=20, lo=5, hi=15)
    img[..., 8:12, 8:12] = 120   # a fainter inner square: weaker lines
    hard, soft = edge_maps(img)[0, 0], edge_maps(img, soft=True)[0, 0]
    assert torch.equal(soft < 255, hard == 0)              # lines in the same places
    assert soft.min() == 0 and len(soft.unique()) > 3       # black at the strongest, grays between
    outer, inner = soft[4, 10], soft[7:13, 7:13][hard[7:13, 7:13] == 0].float().mean()
    assert outer < inner < 255                              # the fainter square's lines are lighter
    assert (edge_maps(torch.full((1, 1, 8, 8), 9, dtype=torch.uint8), soft=True) == 255).all()
    half = edge_maps(img // 2, soft=True)   # relative to the picture's strongest, as hard lines are
    assert (half.int() - soft.int()).abs().max() <= 1


def test_bad_inputs_are_one_error():
    with pytest.raises(DataError):
        edge_maps(torch.zeros(2, 2, 8, 8, dtype=torch.uint8))
    with pytest.raises(ConfigError):
        edge_maps(square(), threshold=1.5)


def test_write_edge_pairs_makes_a_pix2pix_folder_and_refuses_to_overwrite(tmp_path):
    imgs = torch.cat([square(value=v) for v in (100, 200, 250)])
    counts = write_edge_pairs(tmp_path / "p", {"train": imgs[:2], "test": imgs[2:]},
                              {"train": torch.tensor([0, 1]), "test": torch.tensor([1])})
    assert counts == {"train": 2, "test": 1}
    assert sorted(p.relative_to(tmp_path / "p").as_posix() for p in (tmp_path / "p").rglob("*.png")) \
        == ["A/test/000000.png", "A/train/000000.png", "A/train/000001.png",
            "B/test/000000.png", "B/train/000000.png", "B/train/000001.png"]
    assert read_pair_labels(tmp_path / "p", "test").tolist() == [1]
    before = (tmp_path / "p" / "pairs.json").read_text()
    with pytest.raises(ConfigError):
        write_edge_pairs(tmp_path / "p", {"train": imgs})
    assert (tmp_path / "p" / "pairs.json").read_text() == before
    assert json.loads(before)["threshold"] > 0
    with pytest.raises(DataError):
        read_pair_labels(tmp_path / "nothing")
    assert np.asarray(read_pair_labels(tmp_path / "p", "train")).dtype == np.int64
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(ConfigError, match="not a gankit edges folder"):   # even with overwrite
        write_edge_pairs(tmp_path / "mine", {"train": imgs}, overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    write_edge_pairs(tmp_path / "p", {"train": imgs[:1]}, overwrite=True, soft=True)   # its own
    assert len(list((tmp_path / "p").rglob("*.png"))) == 2
    assert json.loads((tmp_path / "p" / "pairs.json").read_text())["soft"] is True


def test_cli_writes_pairs_from_a_labeled_folder_and_says_no_in_one_line(capsys, tmp_path):
    from helpers import one_error, run
    from PIL import Image
    for split in ("train", "test"):
        for k, cls in enumerate(("circle", "square")):
            (tmp_path / "imgs" / split / cls).mkdir(parents=True)
            for i in range(3):
                img = square(size=20, lo=3 + i, hi=14, value=120 + 40 * k)[0, 0].numpy()
                Image.fromarray(img).save(tmp_path / "imgs" / split / cls / f"{i}.png")
    code, _, err = run(capsys, "edges", tmp_path / "imgs", tmp_path / "pairs", "--limit", 4)
    assert code == 0 and "4 train, 4 test pairs" in err
    assert read_pair_labels(tmp_path / "pairs", "test").tolist() == [0, 0, 0, 1]
    assert "--overwrite" in one_error(capsys, "edges", tmp_path / "imgs", tmp_path / "pairs")
    code, _, _ = run(capsys, "edges", tmp_path / "imgs", tmp_path / "soft", "--soft", "--limit", 2)
    assert code == 0 and json.loads((tmp_path / "soft" / "pairs.json").read_text())["soft"]
    assert "unknown dataset" in one_error(capsys, "edges", tmp_path / "none", tmp_path / "x")
    assert "--limit" in one_error(capsys, "edges", tmp_path / "imgs", tmp_path / "y", "--limit", 0)
