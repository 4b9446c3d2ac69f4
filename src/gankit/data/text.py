"""Plain text for the text GAN: one item per line (a word, a name, a short sentence).

    data = load_text("words.txt", unit="char")            # or unit="word", vocab_size=5000
    data.train_ids                                        # int64 [N, max_len + 1]
    data.vocab.decode(data.train_ids[:3])                 # the first three training items back

An item becomes a fixed-length row of token ids: its units (characters, or whitespace-separated
words), then the end mark, then padding up to `max_len + 1` positions, so the end mark always
fits. Ids 0, 1, 2 are the padding, the end mark and the unknown mark (units outside the
vocabulary); the units follow, most frequent first.

Held-out items: a folder with `train.txt` and `test.txt` uses those; a single file holds out
every 10th non-blank line (the 10th, 20th, ...), so the split follows the file and needs no seed.
The vocabulary comes from the training items alone; held-out items are kept as strings, for the
metrics.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch

from ..errors import ConfigError, DataError

PAD, END, UNK = 0, 1, 2
SPECIALS = ("<pad>", "<end>", "<unk>")
UNITS = ("char", "word")
MAX_LEN_CAP = {"char": 64, "word": 32}      # the default max_len is never above these
DEFAULT_WORD_VOCAB = 5000
HOLD_EVERY = 10
# What an unknown unit decodes to: U+FFFD, the replacement character, inside character text;
# <unk> between words.
UNK_TEXT = {"char": "\ufffd", "word": "<unk>"}


def split_units(item: str, unit: str) -> list[str]:
    """An item's units: its characters, or its whitespace-separated words."""
    return list(item) if unit == "char" else item.split()


def join_units(units: Sequence[str], unit: str) -> str:
    return "".join(units) if unit == "char" else " ".join(units)


@dataclass
class Vocab:
    """Token ids <-> units. `units` are the units in id order from id 3 (after the specials)."""

    unit: str
    units: list[str]

    def __post_init__(self) -> None:
        self.index = {u: i + len(SPECIALS) for i, u in enumerate(self.units)}

    def __len__(self) -> int:
        return len(SPECIALS) + len(self.units)

    @classmethod
    def build(cls, items: Iterable[str], unit: str, size: Optional[int]) -> Vocab:
        """The `size` most frequent units of `items` (all of them when None); ties in order of
        first appearance, so the same file always gives the same ids."""
        counts = Counter(u for item in items for u in split_units(item, unit))
        return cls(unit, [u for u, _ in counts.most_common(size)])

    def encode(self, items: Sequence[str], length: int) -> torch.Tensor:
        """Items -> int64 [N, length]: units, end mark, padding. Each item must have fewer than
        `length` units."""
        out = torch.full((len(items), length), PAD, dtype=torch.long)
        for row, item in enumerate(items):
            ids = [self.index.get(u, UNK) for u in split_units(item, self.unit)]
            if len(ids) >= length:
                raise DataError(f"an item of {len(ids)} {self.unit}s does not fit in sequences "
                                f"of {length - 1} {self.unit}s")
            out[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
            out[row, len(ids)] = END
        return out

    def decode(self, ids: torch.Tensor) -> list[str]:
        """int64 [N, L] -> N items: units up to the first end mark (or padding, which only a
        generator can put before the end), unknowns as UNK_TEXT."""
        names = list(SPECIALS[:UNK]) + [UNK_TEXT[self.unit]] + self.units
        out = []
        for row in ids.tolist():
            units = []
            for i in row:
                if i in (PAD, END):
                    break
                units.append(names[i])
            out.append(join_units(units, self.unit))
        return out

    def to_dict(self) -> dict:
        return {"unit": self.unit, "specials": list(SPECIALS), "units": self.units}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        if d.get("specials") != list(SPECIALS) or d.get("unit") not in UNITS:
            raise DataError("vocab.json is not a gankit text vocabulary")
        return cls(d["unit"], list(d["units"]))


@dataclass
class TextData:
    """Training items (as strings and as ids [N, max_len + 1]), held-out items, the vocabulary."""

    train: list[str]
    held: list[str]
    train_ids: torch.Tensor
    vocab: Vocab
    max_len: int
    note: str
    everything: set[str]   # every item of the file(s), long ones included: what "valid" means


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of a UTF-8 text file, stripped. Binary or undecodable -> DataError."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
    if b"\x00" in raw:
        raise DataError(f"{path} looks like a binary file (it holds NUL bytes), not text with one "
                        f"item per line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text (an invalid byte at offset {e.start}); "
                        f"convert it, e.g. iconv -f latin1 -t utf-8") from None
    return [ln for ln in (line.strip() for line in text.splitlines()) if ln]


def read_split(source: Union[str, Path]) -> tuple[list[str], list[str], str]:
    """(training lines, held-out lines, how they were split) of a file or a folder."""
    path = Path(source).expanduser()
    if path.is_dir():
        train, test = path / "train.txt", path / "test.txt"
        if not train.is_file():
            raise DataError(f"{path}: a text dataset folder needs train.txt (and test.txt for "
                            f"held-out items)")
        held = read_lines(test) if test.is_file() else []
        how = "train.txt/test.txt" if test.is_file() else "train.txt, nothing held out"
        return read_lines(train), held, how
    if not path.is_file():
        raise DataError(f"{path}: no such text file or folder")
    lines = read_lines(path)
    held = lines[HOLD_EVERY - 1::HOLD_EVERY]
    train = [ln for i, ln in enumerate(lines) if i % HOLD_EVERY != HOLD_EVERY - 1]
    return train, held, f"every {HOLD_EVERY}th line held out"


def check_text_options(unit: str, max_len: Optional[int], vocab_size: Optional[int]) -> None:
    if unit not in UNITS:
        raise ConfigError(f"--unit must be char or word, got {unit!r}")
    if max_len is not None and max_len < 1:
        raise ConfigError(f"--max-len must be at least 1 {unit}, got {max_len}")
    if vocab_size is not None and vocab_size < 2:
        raise ConfigError(f"--vocab-size must be at least 2 (with one {unit} there is nothing to "
                          f"learn), got {vocab_size}")


def default_max_len(lengths: Sequence[int], unit: str) -> int:
    """The 99th percentile of the item lengths (nearest rank), at most MAX_LEN_CAP[unit]."""
    ranked = sorted(lengths)
    p99 = ranked[max(math.ceil(0.99 * len(ranked)) - 1, 0)]
    return max(1, min(p99, MAX_LEN_CAP[unit]))


def load_text(source: Union[str, Path], unit: str = "char", max_len: Optional[int] = None,
              vocab_size: Optional[int] = None, vocab: Optional[Vocab] = None) -> TextData:
    """Read, split, build (or reuse) the vocabulary, drop items longer than max_len, encode."""
    check_text_options(unit, max_len, vocab_size)
    train, held, how = read_split(source)
    if not train:
        raise DataError(f"{source}: no text in it (an empty file, or only blank lines)")
    everything = set(train) | set(held)
    if vocab is None:
        size = vocab_size if vocab_size is not None else (None if unit == "char"
                                                         else DEFAULT_WORD_VOCAB)
        vocab = Vocab.build(train, unit, size)
    lengths = [len(split_units(t, unit)) for t in train]
    if max_len is None:
        max_len = default_max_len(lengths, unit)
    kept = [t for t, n in zip(train, lengths) if n <= max_len]
    dropped = len(train) - len(kept)
    if not kept:
        raise DataError(f"{source}: all {len(train)} training items are longer than --max-len "
                        f"{max_len} {unit}s (the shortest has {min(lengths)})")
    held_kept = [t for t in held if len(split_units(t, unit)) <= max_len]
    ids = vocab.encode(kept, max_len + 1)
    note = (f"{len(kept)} training and {len(held_kept)} held-out items ({how}) from {source}: "
            f"{len(vocab.units)} {unit}s (+ pad, end, unknown marks), up to {max_len} {unit}s "
            f"an item")
    if dropped or len(held_kept) < len(held):
        note += (f"; left out {dropped} training and {len(held) - len(held_kept)} held-out items "
                 f"longer than {max_len} {unit}s")
    units = ids[ids > END]
    unknown = float((units == UNK).float().mean()) if units.numel() else 0.0
    if unknown > 0:
        note += f"; {unknown:.1%} of the training {unit}s are outside the vocabulary (unknown)"
    return TextData(kept, held_kept, ids, vocab, max_len, note, everything)


__all__ = ["END", "PAD", "UNK", "TextData", "Vocab", "load_text", "read_lines", "split_units"]
