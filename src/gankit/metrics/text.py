"""How good is generated text, measured against real text (lists of items, one string each).

    ngram_jsd(fake, real, n)      Jensen-Shannon divergence of the n-gram distributions, in bits:
                                  0 for the same distribution, 1 for n-grams that never overlap.
                                  The language-model score of Gulrajani et al. 2017 (WGAN-GP).
    validity(fake, real_items)    the share of generated items that are real items (a word list:
                                  real words), and the share of generated words that are words of
                                  the real text, case and punctuation aside (sentences)
    novelty(fake, train_items)    the share of generated items that are not copies of training
                                  items, and of those, the share that are real items all the same
    distinct_n(fake, n)           unique n-grams / all n-grams over the generated items (Li et
                                  al. 2016): low when a generator repeats itself
    distinct_items(fake)          unique items / items drawn: low when a generator collapses
                                  onto a few items (of real data drawn at random it is high
                                  but below 1 where items repeat)

N-grams are taken inside each item (none cross from one item to the next), over characters or
whitespace-separated words (`unit`). Every score depends on how many items are compared: compare
models on equal numbers of items (`text_scores` notes them).
"""
from __future__ import annotations

import math
import string
from collections import Counter
from collections.abc import Iterable, Sequence

from ..data.text import split_units


def ngrams(items: Iterable[str], n: int, unit: str = "char") -> Counter:
    """Counts of the n-grams (tuples of n units) inside each item."""
    counts: Counter = Counter()
    for item in items:
        units = split_units(item, unit)
        counts.update(tuple(units[i:i + n]) for i in range(len(units) - n + 1))
    return counts


def jsd(p: Counter, q: Counter) -> float:
    """Jensen-Shannon divergence in bits between two count tables (normalized here); 0..1.
    Empty tables: 0 if both are empty, else 1 (nothing in common)."""
    tp, tq = sum(p.values()), sum(q.values())
    if tp == 0 or tq == 0:
        return 0.0 if tp == tq else 1.0
    total = 0.0
    for key in p.keys() | q.keys():
        a, b = p.get(key, 0) / tp, q.get(key, 0) / tq
        m = (a + b) / 2
        if a > 0:
            total += 0.5 * a * math.log2(a / m)
        if b > 0:
            total += 0.5 * b * math.log2(b / m)
    return max(0.0, min(1.0, total))


def ngram_jsd(fake: Sequence[str], real: Sequence[str], n: int, unit: str = "char") -> float:
    return jsd(ngrams(fake, n, unit), ngrams(real, n, unit))


def distinct_n(items: Sequence[str], n: int, unit: str = "char") -> float:
    """Unique n-grams / all n-grams of the items (0 when there are none)."""
    counts = ngrams(items, n, unit)
    total = sum(counts.values())
    return len(counts) / total if total else 0.0


def distinct_items(items: Sequence[str]) -> float:
    """Unique items / items (0 for none)."""
    return len(set(items)) / len(items) if items else 0.0


def _words(items: Iterable[str]) -> list[str]:
    """The words of items with case and the punctuation around them set aside ("You." -> "you");
    tokens of punctuation alone are left out."""
    out = []
    for item in items:
        out += [k for k in (w.strip(string.punctuation).lower() for w in item.split()) if k]
    return out


def validity(fake: Sequence[str], real_items: set[str]) -> dict[str, float]:
    """items: share of generated items that are real items; words: share of generated words that
    are words of the real items (case and surrounding punctuation aside)."""
    words = set(_words(real_items))
    fake_words = _words(fake)
    return {"items": sum(f in real_items for f in fake) / max(len(fake), 1),
            "words": sum(w in words for w in fake_words) / max(len(fake_words), 1)}


def novelty(fake: Sequence[str], train_items: set[str], real_items: set[str]) -> dict[str, float]:
    """novel: share of generated items that are not training items; valid_novel: share that are
    real items (of `real_items`) but not training items: real items the model was never shown."""
    novel = [f for f in fake if f not in train_items]
    return {"novel": len(novel) / max(len(fake), 1),
            "valid_novel": sum(f in real_items for f in novel) / max(len(fake), 1)}


def is_word_list(items: Iterable[str]) -> bool:
    """Whether most items are one word (a word list) rather than phrases or sentences."""
    items = list(items)
    return sum(len(i.split()) <= 1 for i in items) * 2 > len(items)


def text_scores(fake: Sequence[str], reference: Sequence[str], train_items: set[str],
                real_items: set[str], unit: str = "char", max_n: int = 4) -> dict[str, float]:
    """Every score of this module in one flat dict:

    jsd_1..jsd_max_n    n-gram JSD (bits) of `fake` against `reference` (the held-out items)
    valid               valid_items for a word list, else valid_words (see `validity`)
    valid_items, valid_words, novel, valid_novel
    distinct_1..max_n   of the generated items
    distinct_items      unique generated items / generated items
    """
    out = {f"jsd_{n}": ngram_jsd(fake, reference, n, unit) for n in range(1, max_n + 1)}
    v = validity(fake, real_items)
    out["valid"] = v["items"] if is_word_list(real_items) else v["words"]
    out["valid_items"], out["valid_words"] = v["items"], v["words"]
    out.update(novelty(fake, train_items, real_items))
    out.update({f"distinct_{n}": distinct_n(fake, n, unit) for n in range(1, max_n + 1)})
    out["distinct_items"] = distinct_items(fake)
    return out


__all__ = ["distinct_items", "distinct_n", "is_word_list", "jsd", "ngram_jsd", "ngrams", "novelty",
           "text_scores", "validity"]
