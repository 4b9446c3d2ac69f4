"""The text GAN: the default (mle-gan) and the WGAN-GP model learn a small regular language, the
default without collapsing; the n-gram scores against hand-computed values; the vocabulary round
trip; Gumbel-softmax gradients and temperature; the LSTM generator's draws; exact resume of every
text model, across the switch from the warm start to the game; old run directories; the loaders
on good and bad files; the CLI from training to a .txt of samples, and its per-model defaults."""
from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from helpers import grammar_file, one_error, run

import gankit
from gankit.data.text import END, PAD, UNK, Vocab, load_text
from gankit.errors import ConfigError, DataError
from gankit.metrics.text import (
    distinct_items,
    distinct_n,
    ngram_jsd,
    novelty,
    text_scores,
    validity,
)
from gankit.nets.text import TextLSTMGenerator
from gankit.tasks.text.facade import TextGAN
from gankit.tasks.text.task import temperature

QUIET = dict(log_every=50, sample_every=10**6, checkpoint_every=10**6)
GRAMMAR = re.compile(r"^(ab|cd)+$")


pytestmark = pytest.mark.usefixtures("one_thread")


def share_valid(items):
    return sum(bool(GRAMMAR.match(s)) for s in items) / len(items)


# --- learning ---------------------------------------------------------------------------------

def test_default_recipe_learns_a_small_regular_language_without_collapse(tmp_path):
    """The default, mle-gan: 300 steps of maximum likelihood, then 150 of the adversarial game
    (~11 CPU-seconds), take G from ~0% to > 90% strings of (ab|cd)+ and it keeps its spread
    after the game: nearly all 30 strings of the language among 500 draws, in about their
    proportions, and ~the same number of distinct items as the warm start alone drew."""
    gan = TextGAN(grammar_file(tmp_path / "abcd.txt"), width=64, batch_size=64, mle_steps=300,
                  tau_steps=150, **QUIET)
    c = gan.config
    assert (c.options.text_model, c.loss.loss, c.loss.n_critic, c.options.mle_weight) == \
        ("mle-gan", "rpgan", 1, 1.0)
    assert share_valid(gan.sample(500, seed=1)) < 0.05            # untrained
    gan.fit(steps=300, progress=False)
    warm = gan.sample(500, seed=1)
    gan.fit(steps=150, progress=False)                            # the game
    items = gan.sample(500, seed=1)
    assert gan.task.phases[0].name == "D" and share_valid(items) > 0.9, items[:20]
    assert len({s for s in items if GRAMMAR.match(s)}) >= 27      # of the 30: no collapse
    assert distinct_items(items) >= 0.8 * distinct_items(warm)
    assert items == gan.sample(500, seed=1)                       # a seed gives the same items
    assert gan.evaluate(500, seed=1)["jsd_2"] < 0.05              # the pairs' proportions


def test_wgan_gp_model_learns_a_small_regular_language(tmp_path):
    """The WGAN-GP language model (--text-model softmax): 600 critic steps (120 G steps, ~15
    CPU-seconds) take G from ~1% to > 60% strings of (ab|cd)+, at least 10 of the 30."""
    gan = TextGAN(grammar_file(tmp_path / "abcd.txt"), out=tmp_path / "run", width=32, lr=1e-3,
                  batch_size=64, text_model="softmax", **QUIET)
    assert (gan.config.loss.loss, gan.config.loss.n_critic) == ("wgan-gp", 5)
    assert share_valid(gan.sample(500, seed=1)) < 0.05            # untrained
    gan.fit(steps=600, progress=False)
    items = gan.sample(500, seed=1)
    assert share_valid(items) > 0.6, items[:20]
    assert len({s for s in items if GRAMMAR.match(s)}) >= 10
    assert items == gan.sample(500, seed=1)                       # a seed gives the same items
    scores = gan.evaluate(500, seed=1)
    assert scores["valid"] == pytest.approx(share_valid(items)) and scores["jsd_1"] < 0.1


# --- metrics ----------------------------------------------------------------------------------

def test_ngram_jsd_against_hand_values():
    assert ngram_jsd(["abc", "cab"], ["abc", "cab"], 2) == 0.0          # identical
    assert ngram_jsd(["abab"], ["abab", "abab"], 3) == 0.0             # same distribution
    assert ngram_jsd(["ab"], ["cd"], 1) == 1.0                          # disjoint: 1 bit
    # P = {a: 1/2, b: 1/2}, Q = {a: 1}, M = {a: 3/4, b: 1/4}:
    # JSD = 1/2 [1/2 log2(2/3) + 1/2 log2 2] + 1/2 log2(4/3)
    want = 0.5 * (0.5 * math.log2(2 / 3) + 0.5) + 0.5 * math.log2(4 / 3)
    assert ngram_jsd(["ab"], ["aa"], 1) == pytest.approx(want)          # 0.3113 bits
    assert ngram_jsd(["ab"], ["aa"], 2) == 1.0                          # {ab} vs {aa}
    assert ngram_jsd(["the cat"], ["the dog"], 1, unit="word") == pytest.approx(0.5)
    assert ngram_jsd([], [], 2) == 0.0 and ngram_jsd(["a"], ["ab"], 2) == 1.0   # no n-grams


def test_distinct_validity_novelty_on_hand_cases():
    assert distinct_n(["abab"], 2) == pytest.approx(2 / 3)              # ab, ba, ab
    assert distinct_n(["abc", "abd"], 1) == pytest.approx(4 / 6)
    assert distinct_n(["the cat the cat"], 1, unit="word") == 0.5
    assert distinct_n(["a"], 2) == 0.0
    assert distinct_items(["ab", "ab", "cd", "ef"]) == 0.75 and distinct_items([]) == 0.0
    assert text_scores(["ab", "ab"], ["ab"], set(), {"ab"})["distinct_items"] == 0.5
    v = validity(["the cat", "teh dog"], {"the cat", "a dog"})
    assert v == {"items": 0.5, "words": 0.75}
    assert validity(["The dog. -- Teh"], {"a dog"}) == {"items": 0.0, "words": 1 / 3}  # the dog teh
    n = novelty(["cat", "dog", "cat", "zzz"], train_items={"cat"}, real_items={"cat", "dog"})
    assert n == {"novel": 0.5, "valid_novel": 0.25}
    # a word list is judged by whole items, sentences by their words
    words = text_scores(["cat", "dgo"], ["dog"], {"cat"}, {"cat", "dog"})
    sentences = text_scores(["the dgo"], ["a dog"], {"the cat"}, {"the cat", "a dog"})
    assert words["valid"] == 0.5 and sentences["valid"] == 0.5 and sentences["valid_items"] == 0


# --- vocabulary -------------------------------------------------------------------------------

def test_vocabulary_round_trip_with_end_mark_padding_and_unknowns():
    items = ["abc", "a", "cab", "bb"]
    vocab = Vocab.build(items, "char", None)
    ids = vocab.encode(items, 5)                                        # max_len 4 + end mark
    assert ids.shape == (4, 5)
    assert ids[1].tolist() == [vocab.index["a"], END, PAD, PAD, PAD]
    one_hot = F.one_hot(ids, len(vocab)).transpose(1, 2).float()        # [N, V, L] as D sees it
    assert vocab.decode(one_hot.argmax(1)) == items
    # a generator may put padding before the end mark or units after it: both end the item
    a = vocab.index["a"]
    assert vocab.decode(torch.tensor([[a, PAD, a, END, a], [END, a, a, a, a]])) == ["a", ""]
    # rarer units beyond the vocabulary size become the unknown mark
    small = Vocab.build(["aaab", "aac"], "char", 1)
    assert small.units == ["a"] and small.encode(["ab"], 3)[0].tolist() == [3, UNK, END]
    assert small.decode(small.encode(["ab"], 3)) == ["a\ufffd"]
    words = Vocab.build(["the cat sat", "the dog"], "word", 3)   # ties: first seen first
    assert words.units == ["the", "cat", "sat"]
    assert words.decode(words.encode(["the cat sat", "the dog"], 4)) == ["the cat sat",
                                                                         "the <unk>"]
    with pytest.raises(DataError, match="does not fit"):
        vocab.encode(["abcab"], 5)
    assert Vocab.from_dict(vocab.to_dict()).units == vocab.units


# --- Gumbel-softmax ---------------------------------------------------------------------------

def test_temperature_schedule():
    assert temperature(0, 0.1, 1000) == 1.0
    assert temperature(500, 0.1, 1000) == pytest.approx(math.sqrt(0.1))   # geometric
    assert temperature(1000, 0.1, 1000) == pytest.approx(0.1)
    assert temperature(5000, 0.1, 1000) == 0.1                          # the floor
    taus = [temperature(s, 0.2, 300) for s in range(0, 400, 10)]
    assert all(a >= b for a, b in zip(taus, taus[1:]))


def test_gumbel_softmax_is_differentiable_and_anneals(tmp_path):
    gan = TextGAN(grammar_file(tmp_path / "abcd.txt", n=100), width=8, batch_size=8,
                  text_model="gumbel", tau_min=0.25, tau_steps=10, **QUIET)
    task = gan.task
    fake = task.fake(8)                                                 # [N, V, L]
    assert fake.shape == (8, *gan.config.data_shape)
    assert torch.allclose(fake.sum(1), torch.ones(8, 9))                # a distribution per place
    assert 0 < fake.max() < 1                                           # soft, not one-hot
    task.D(fake).mean().backward()
    grads = [p.grad for p in task.G.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    task.end_step(10, 0)                                                # at tau_steps: tau_min
    assert task.tau() == pytest.approx(0.25)
    sharp = task.fake(64).max(1).values.mean()
    task.end_step(0, 0)
    assert sharp > task.fake(64).max(1).values.mean()                  # colder: nearer one-hot


def test_lstm_generator_draws_end_in_padding_and_relax_to_distributions():
    torch.manual_seed(0)
    G = TextLSTMGenerator(vocab=6, length=7, width=16)
    ids, soft = G.sample(64, torch.Generator().manual_seed(0), tau=0.5)   # [N, L], [N, V, L]
    assert ids.shape == (64, 7) and soft.shape == (64, 6, 7)
    assert torch.allclose(soft.sum(1), torch.ones(64, 7))
    assert torch.equal(soft.argmax(1), ids)                  # the soft draw relaxes the hard one
    for row in ids.tolist():                                 # nothing after the end mark
        if END in row:
            assert set(row[row.index(END) + 1:]) <= {PAD}
        assert PAD not in row[:row.index(END) if END in row else len(row)]
    soft.sum(1).mul(torch.arange(7.0)).sum().backward()      # differentiable in G's weights
    assert torch.equal(ids, G.sample(64, torch.Generator().manual_seed(0))[0])   # seeded
    assert G.out.weight.grad is not None
    logits = G(ids)                                          # teacher forcing: [N, V, L]
    assert logits.shape == (64, 6, 7)


# --- resume -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text_model,mle_steps", [("softmax", None), ("gumbel", None),
                                                  ("mle-gan", 2), ("mle-gan", 4)])
def test_resume_is_exact(tmp_path, text_model, mle_steps):
    """3 steps + a resume of 3 steps end where 6 straight steps do (n_critic 2, so G steps fall on
    both sides of the break; Gumbel: the temperature follows the step; mle-gan: the switch from
    the warm start to the game falls before the break, or after it)."""
    data = grammar_file(tmp_path / "abcd.txt", n=200)
    opts = dict(width=8, batch_size=8, n_critic=2, log_every=2, sample_every=3,
                checkpoint_every=3, text_model=text_model, tau_steps=4, mle_steps=mle_steps)
    TextGAN(data, out=tmp_path / "full", **opts).fit(steps=6, progress=False)
    TextGAN(data, out=tmp_path / "half", **opts).fit(steps=3, progress=False)
    resumed = gankit.load_run(tmp_path / "half")
    assert isinstance(resumed, TextGAN) and resumed.step == 3
    resumed.fit(until=6, progress=False)
    from safetensors.torch import load_file
    for name in ("G", "D", "opt_G", "opt_D", "rng"):
        x = load_file(str(tmp_path / "full/checkpoints/step-0000006" / f"{name}.safetensors"))
        y = load_file(str(tmp_path / "half/checkpoints/step-0000006" / f"{name}.safetensors"))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), name
    assert (tmp_path / "half/samples/step-0000006.txt").read_text().count("\n") == 32


def test_old_run_directories_still_load(tmp_path):
    """A run of the WGAN-GP model written before mle-gan existed (config.json without
    mle_steps) loads, samples and resumes as the softmax model it is."""
    import json
    data = grammar_file(tmp_path / "abcd.txt", n=200)
    TextGAN(data, out=tmp_path / "old", width=8, batch_size=8, text_model="softmax",
            checkpoint_every=2, sample_every=10**6).fit(steps=2, progress=False)
    path = tmp_path / "old/config.json"
    cfg = json.loads(path.read_text())
    del cfg["options"]["mle_steps"]
    path.write_text(json.dumps(cfg))
    old = gankit.load_run(tmp_path / "old")
    assert old.config.options.text_model == "softmax" and old.task.phases[0].name == "D"
    assert len(old.sample(5, seed=0)) == 5
    old.fit(until=3, progress=False)
    assert old.step == 3


# --- loaders ----------------------------------------------------------------------------------

def test_loader_splits_and_encodes_a_file_and_a_folder(tmp_path):
    f = tmp_path / "names.txt"
    f.write_text("\n".join(f"name{i}" for i in range(30)) + "\n\n  \n")   # blank lines skipped
    d = load_text(f)
    assert d.held == ["name9", "name19", "name29"] and len(d.train) == 27
    assert d.train_ids.shape == (27, d.max_len + 1) and d.max_len == 6
    assert d.vocab.decode(d.train_ids) == d.train
    words = load_text(f, unit="word")
    assert words.max_len == 1 and len(words.vocab.units) == 27          # one word an item
    folder = tmp_path / "sentences"
    folder.mkdir()
    (folder / "train.txt").write_text("the cat sat\nthe dog sat on the cat\na cat\n")
    (folder / "test.txt").write_text("the dog\n")
    d = load_text(folder, unit="word", max_len=3)
    assert d.train == ["the cat sat", "a cat"] and d.held == ["the dog"]
    assert "left out 1 training" in d.note and "the cat sat" in d.everything


def test_loader_bad_inputs(tmp_path):
    def bad(content, **kw):
        path = tmp_path / "bad.txt"
        path.write_bytes(content)
        with pytest.raises((DataError, ConfigError)) as e:
            load_text(path, **kw)
        return str(e.value)
    assert "no text" in bad(b"")
    assert "no text" in bad(b"\n   \n\n")
    assert "binary" in bad(b"ab\x00cd\n")
    assert "not UTF-8" in bad("café\n".encode("latin-1"))
    assert "--vocab-size must be at least 2" in bad(b"ab\n", vocab_size=1)
    assert "--max-len must be at least 1" in bad(b"ab\n", max_len=0)
    assert "--unit must be char or word" in bad(b"ab\n", unit="byte")
    msg = bad(b"abcdef\nabcdefgh\nabcdefg\n", max_len=4)
    assert "all 3 training items are longer than --max-len 4" in msg and "shortest has 6" in msg
    with pytest.raises(DataError, match="no such text file"):
        load_text(tmp_path / "missing.txt")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="train.txt"):
        load_text(tmp_path / "empty_dir")


# --- command line -----------------------------------------------------------------------------

def test_cli_train_sample_eval(capsys, tmp_path):
    data = grammar_file(tmp_path / "abcd.txt", n=200)
    code, _, err = run(capsys, "train", "--task", "text", "--dataset", data, "--out",
                       tmp_path / "run", "--steps", 4, "--width", 8, "--batch-size", 8,
                       "--no-progress")
    assert code == 0, err
    assert "samples/step-0000004.txt" in err and "--output samples.txt" in err
    config = gankit.load_run(tmp_path / "run", weights_only=True).config
    assert (config.options.text_model, config.loss.loss, config.loss.n_critic, config.train.lr,
            config.options.mle_steps) == ("mle-gan", "rpgan", 1, 1e-4, 3)    # 3/4 of --steps
    assert config.options.mle_weight == 1.0
    code, _, err = run(capsys, "sample", tmp_path / "run", "--num", 7, "--output",
                       tmp_path / "out.txt")
    assert code == 0, err
    lines = (tmp_path / "out.txt").read_text().split("\n")
    assert len(lines) == 8 and lines[-1] == ""                          # 7 items, one a line
    code, _, err = run(capsys, "sample", tmp_path / "run", "--num", 7, "--output",
                       tmp_path / "out.txt")
    assert code == 2 and "already exists" in err                        # never overwritten
    for name in ("out.npz", "out.png"):
        one_error(capsys, "sample", tmp_path / "run", "--output", tmp_path / name, match=".txt")
    code, out, err = run(capsys, "eval", tmp_path / "run", "--num", 50)
    assert code == 0, err
    assert "jsd_4" in out and "valid" in out and "distinct_2" in out and "char n-grams" in out
    assert "distinct_items" in out


def test_cli_task_defaults_follow_the_text_model_and_yield_to_flags(capsys, tmp_path):
    data = grammar_file(tmp_path / "abcd.txt", n=200)
    for i, (flags, want) in enumerate((
            (["--text-model", "softmax"], ("wgan-gp", 5, 1e-4, 0.5)),
            (["--text-model", "gumbel", "--n-critic", 2, "--lr", 3e-4], ("wgan-gp", 2, 3e-4, 0.5)),
            (["--loss", "ns", "--beta1", 0.7], ("ns", 1, 1e-4, 0.7)))):
        code, _, err = run(capsys, "train", "--task", "text", "--dataset", data, "--out",
                           tmp_path / f"run{i}", "--steps", 1, "--width", 8, "--batch-size", 8,
                           "--no-progress", *flags)
        assert code == 0, err
        c = gankit.load_run(tmp_path / f"run{i}", weights_only=True).config
        assert (c.loss.loss, c.loss.n_critic, c.train.lr, c.train.beta1) == want, flags


def test_cli_bad_text_inputs_are_one_line(capsys, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02")
    (tmp_path / "ok.txt").write_text("ab\ncd\n")
    for argv, match in (
            (["--dataset", tmp_path / "empty.txt"], "no text"),
            (["--dataset", tmp_path / "binary.txt"], "binary"),
            (["--dataset", tmp_path / "ok.txt", "--vocab-size", 1], "--vocab-size"),
            (["--dataset", tmp_path / "ok.txt", "--max-len", 0], "--max-len"),
            (["--dataset", tmp_path / "ok.txt", "--text-model", "gru"], "--text-model"),
            (["--dataset", tmp_path / "ok.txt", "--model", "dcgan2"], "its own nets"),
            (["--dataset", tmp_path / "ok.txt", "--loss", "rpgann"], "unknown loss"),
            (["--dataset", tmp_path / "ok.txt", "--mle-steps", -1], "--mle-steps"),
            (["--dataset", tmp_path / "ok.txt"], "--batch-size 64 is larger")):
        one_error(capsys, "train", "--task", "text", "--steps", 1, *argv, match=match)


def test_show_lists_the_items_as_html(tmp_path):
    gan = TextGAN(grammar_file(tmp_path / "abcd.txt", n=200), out=tmp_path / "r", width=8,
                  batch_size=8)
    page = gan.show(5, seed=1)._repr_html_()
    assert page.count("<li>") == 5
    assert all(f"<code>{item}</code>" in page for item in gan.sample(5, seed=1))
    assert "<code>&lt;b&gt; &amp;</code>" in gan.view(["<b> &"])._repr_html_()   # escaped
