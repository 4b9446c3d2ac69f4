"""Benchmark: the text GAN against two plain maximum-likelihood models, at equal CPU time.

Data (offline, Debian packages; the file is made once under OUT/data/):

    words      /usr/share/dict/american-english (package wamerican): the entries made only of
               the letters a-z (no capitals, no possessives)
    fortunes   /usr/share/games/fortunes/* (packages fortunes-min, fortunes): the fortunes that
               fit on one line of at most 64 characters, whitespace collapsed, in file order

Each item is a line; every 10th line is held out (gankit.data.text). All three models are
character-level and see the same training items (those up to the GAN's --max-len):

    gan     gankit's text GAN with exactly the defaults of `gankit train --task text` (today
            --text-model mle-gan: an LSTM trained by maximum likelihood for --mle-steps, then
            a relativistic GAN game through straight-through Gumbel-softmax draws), or with
            --gan KEY=VALUE options (the row names them). A run with a warm start adds the row
            gan-mle: the same G at the last warm-start step, with the CPU time spent to there
    ngram   a character n-gram model with Witten-Bell interpolation down to the uniform
            distribution; its order (2-8) chosen by the likelihood of every 10th training item
            after counting the rest. Counting takes seconds: it uses far less than the budget.
    lstm    a one-layer character LSTM (embedding 64, 256 units) trained by maximum likelihood
            with Adam(2e-3), batches of 64, until the budget is spent; sampled at temperature 1
    train   no model: training items drawn at random, the row to beat (JSD here is the
            finite-sample floor of the measure; novel is 0 by construction)

Each arm runs in a process of its own with ONE thread; its budget is the CPU time of that process
spent training (bench/cpu_budget.py for the GAN, time.process_time for the others). Then
--num items are drawn from each and scored against the held-out items (gankit.metrics.text):
character 1- to 4-gram JSD in bits (0 = same distribution, 1 = disjoint), valid (a word list:
generated items that are real words of the list, train or held-out; fortunes: generated words,
case and punctuation aside, that occur in the fortunes), novel (not a training item), valid and
novel (a real item never trained on), distinct items (unique items / items drawn), distinct-2
and distinct-4.

    python bench/text.py [--data words fortunes] [--minutes 10] [--parallel 1] [--num 2000]
                         [--out bench/runs/text] [--reuse lstm] [--gan KEY=VALUE ...]
    python bench/text.py --collect [--data words fortunes]

--reuse ARM scores the items an earlier run left in OUT instead of running the arm again (for
arms whose code has not changed: the LSTM costs its full budget per dataset).

The items drawn and the data files stay in OUT (bench/runs/text, not tracked); each scored row
goes to bench/records/text.jsonl (bench/record.py: the command, machine, date, commit and the
row, with 8 example items). The table printed is that of the records (the latest row of each
data, model and options), and --collect prints it from them alone, without running anything;
rows recorded with a "candidate" name (the sweep that chose the default) get a table of their own.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional

import record
from cpu_budget import parse_options, run_arms

from gankit.train.trainer import Callback

ARMS = ("gan", "ngram", "lstm", "train")
FORTUNE_MAX = 64


# --- data --------------------------------------------------------------------------------------

def build_data(name: str, root: Path) -> Path:
    """OUT/data/NAME.txt from the Debian packages (made once)."""
    path = root / f"{name}.txt"
    if path.exists():
        return path
    root.mkdir(parents=True, exist_ok=True)
    if name == "words":
        src = Path("/usr/share/dict/american-english")
        if not src.exists():
            sys.exit("words: /usr/share/dict/american-english is missing: "
                     "apt-get install wamerican")
        items = [w for w in src.read_text(encoding="utf-8").split() if re.fullmatch(r"[a-z]+", w)]
    else:
        folder = Path("/usr/share/games/fortunes")
        files = sorted(f for f in folder.glob("*") if f.is_file() and not f.suffix
                       and f.name != "ascii-art") if folder.is_dir() else []
        if not files:
            sys.exit("fortunes: /usr/share/games/fortunes is missing: apt-get install fortunes-min "
                     "(or fortunes, for more of them)")
        items = []
        for f in files:
            for chunk in f.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
                text = " ".join(chunk.replace("%", " ").split())
                if 0 < len(text) <= FORTUNE_MAX and text.isascii() and text.isprintable():
                    items.append(text)
    path.write_text("".join(f"{t}\n" for t in items), encoding="utf-8")
    return path


# --- baselines ---------------------------------------------------------------------------------

class CharNGram:
    """Witten-Bell interpolated n-gram model over token ids (units and END)."""

    def __init__(self, order: int, n_tokens: int):
        self.order, self.n = order, n_tokens
        self.counts: dict[tuple, Counter] = defaultdict(Counter)
        self._cache: dict[tuple, list[float]] = {}

    def fit(self, seqs: list[list[int]]) -> CharNGram:
        for s in seqs:
            padded = [-1] * (self.order - 1) + s           # -1: before the item starts
            for i in range(self.order - 1, len(padded)):
                for k in range(self.order):                 # contexts of length 0 .. order-1
                    self.counts[tuple(padded[i - k:i])][padded[i]] += 1
        return self

    def dist(self, ctx: tuple) -> list[float]:
        """P(. | ctx) over the n tokens; ctx of length <= order - 1."""
        if ctx in self._cache:
            return self._cache[ctx]
        lower = self.dist(ctx[1:]) if ctx else [1.0 / self.n] * self.n
        c = self.counts.get(ctx)
        if not c:
            out = lower
        else:
            total, types = sum(c.values()), len(c)
            out = [(c.get(t, 0) + types * p) / (total + types) for t, p in enumerate(lower)]
        self._cache[ctx] = out
        return out

    def log_likelihood(self, seqs: list[list[int]]) -> float:
        ll = 0.0
        for s in seqs:
            padded = [-1] * (self.order - 1) + s
            for i in range(self.order - 1, len(padded)):
                ll += math.log(self.dist(tuple(padded[i - self.order + 1:i]))[padded[i]])
        return ll

    def sample(self, rng: random.Random, max_len: int, end: int) -> list[int]:
        out, ctx = [], [-1] * (self.order - 1)
        for _ in range(max_len + 1):
            p = self.dist(tuple(ctx[len(ctx) - self.order + 1:]) if self.order > 1 else ())
            t = rng.choices(range(self.n), weights=p)[0]
            if t == end:
                break
            out.append(t)
            ctx.append(t)
        return out


def run_ngram(data, budget: float, num: int, seed: int) -> tuple[list[str], dict]:
    from gankit.data.text import END
    t0 = time.process_time()
    seqs = [row[:row.index(END) + 1] for row in data.train_ids.tolist()]
    fit, held = [s for i, s in enumerate(seqs) if i % 10 != 9], seqs[9::10]
    scores = {}
    for order in range(2, 9):   # pick the order on held-back training items, within the budget
        scores[order] = CharNGram(order, len(data.vocab)).fit(fit).log_likelihood(held)
        worse = order > 2 and scores[order] < scores[order - 1]
        if worse or time.process_time() - t0 > budget / 2:
            break
    order = max(scores, key=scores.get)
    model = CharNGram(order, len(data.vocab)).fit(seqs)
    cpu = time.process_time() - t0
    rng = random.Random(seed)
    ids = [model.sample(rng, data.max_len, END) for _ in range(num)]
    items = [data.vocab.decode(_row(s, data.max_len))[0] for s in ids]
    return items, {"cpu_s": cpu, "order": order,
                   "held_back_nats_per_token": -scores[order] / sum(len(s) for s in held)}


def _row(ids: list[int], max_len: int):  # noqa: ANN202
    import torch

    from gankit.data.text import END, PAD
    row = torch.full((1, max_len + 1), PAD, dtype=torch.long)
    ids = ids[:max_len]
    row[0, :len(ids)] = torch.tensor(ids, dtype=torch.long)
    row[0, len(ids)] = END
    return row


def run_lstm(data, budget: float, num: int, seed: int) -> tuple[list[str], dict]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    from gankit.data.text import END, PAD
    torch.manual_seed(seed)
    V = len(data.vocab)

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, 64)      # id PAD doubles as the start token
            self.lstm = nn.LSTM(64, 256, batch_first=True)
            self.out = nn.Linear(256, V)

        def forward(self, x, state=None):  # noqa: ANN001, ANN201
            h, state = self.lstm(self.emb(x), state)
            return self.out(h), state

    net = CharLSTM()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    ids = data.train_ids                                      # [N, L]: units, END, PAD...
    inputs = torch.cat([torch.full((len(ids), 1), PAD), ids[:, :-1]], 1)
    g = torch.Generator().manual_seed(seed)
    t0, steps = time.process_time(), 0
    while time.process_time() - t0 < budget:
        idx = torch.randint(len(ids), (64,), generator=g)
        logits, _ = net(inputs[idx])
        loss = F.cross_entropy(logits.reshape(-1, V), ids[idx].reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        steps += 1
    cpu = time.process_time() - t0
    rows = []
    with torch.no_grad():
        for i in range(0, num, 500):
            n = min(500, num - i)
            x, state, out = torch.full((n, 1), PAD), None, []
            for _ in range(data.max_len + 1):
                logits, state = net(x, state)
                logits[:, -1, PAD] = -math.inf                # never trained to follow a unit
                x = torch.multinomial(torch.softmax(logits[:, -1], -1), 1, generator=g)
                out.append(x)
            seq = torch.cat(out, 1)
            seq[:, -1] = END                                   # cut at max_len, as the GAN is
            rows.append(seq)
    return data.vocab.decode(torch.cat(rows)), {"cpu_s": cpu, "steps": steps,
                                                 "last_loss": loss.item()}


class KeepWarmStart(Callback):
    """A copy of G's weights at the step where the maximum-likelihood warm start ends (mle-gan),
    so the warm start alone can be scored beside the finished run. Copying is CPU time charged
    to the run; it is a few milliseconds."""

    def __init__(self, at: int):
        self.at, self.weights, self.cpu = at, None, None

    def on_step(self, trainer) -> None:  # noqa: ANN001
        if trainer.step == self.at and self.weights is None:
            self.weights = {k: v.clone() for k, v in trainer.task.G.state_dict().items()}
            self.cpu = time.process_time()


def run_gan(data_path: Path, budget: float, num: int, seed: int, options: dict
            ) -> tuple[list[str], dict, Optional[tuple[list[str], dict]]]:
    """The GAN with `options` (none: exactly the defaults of `gankit train --task text`), trained
    to the budget; with a warm start, also the items and info of its last warm-start step."""
    from cpu_budget import CPUBudget

    from gankit.tasks.text.facade import TextGAN
    gan = TextGAN(data_path, seed=seed, **options)   # trained here, no run directory
    trainer, m, o = gan.run.trainer, gan.config.model, gan.config.options
    budget_cb, keep = CPUBudget(budget), KeepWarmStart(gan.task.mle_steps)
    trainer.callbacks = [budget_cb, keep]
    trainer.fit(sys.maxsize)
    cpu = budget_cb.used()
    info = {"cpu_s": cpu, "steps": trainer.step, "text_model": o.text_model,
            "width": m.width, "loss": gan.config.loss.loss, "n_critic": gan.config.loss.n_critic,
            "lr": gan.config.train.lr, "tau_min": o.tau_min, "mle_steps": gan.task.mle_steps,
            "options": options, "max_len": o.max_len}
    items, warm = gan.sample(num, seed=seed), None
    if keep.weights is not None:
        gan.task.G.load_state_dict(keep.weights)
        warm = (gan.sample(num, seed=seed),
                {**info, "cpu_s": keep.cpu - budget_cb.start, "steps": keep.at})
    return items, info, warm


def run_arm(args: argparse.Namespace) -> None:
    """One arm in this process (one thread): writes OUT/NAME-ARM.txt and OUT/NAME-ARM.json."""
    import torch
    torch.set_num_threads(1)
    from gankit.data.text import load_text
    name, arm = args.arm
    path = build_data(name, args.out / "data")
    data = load_text(path, "char")
    budget = args.minutes * 60
    if arm == "gan":
        items, info, warm = run_gan(path, budget, args.num, args.seed, gan_options(args))
        if warm is not None:   # the warm start alone: its own row
            write_arm(args.out, name, "gan-mle", *warm)
    elif arm == "ngram":
        items, info = run_ngram(data, budget, args.num, args.seed)
    elif arm == "lstm":
        items, info = run_lstm(data, budget, args.num, args.seed)
    else:
        items, info = random.Random(args.seed).choices(data.train, k=args.num), {"cpu_s": 0.0}
    write_arm(args.out, name, arm, items, info)


def write_arm(out: Path, name: str, arm: str, items: list[str], info: dict) -> None:
    (out / f"{name}-{arm}.txt").write_text("".join(f"{t}\n" for t in items), encoding="utf-8")
    (out / f"{name}-{arm}.json").write_text(json.dumps(info))


def gan_options(args: argparse.Namespace) -> dict:
    """--gan KEY=VALUE ... as TextGAN options (numbers parsed); none: the defaults."""
    return parse_options(args.gan or [])


# --- the table ---------------------------------------------------------------------------------

def score(name: str, arm: str, out: Path) -> dict:
    from gankit.data.text import load_text
    from gankit.metrics.text import text_scores
    data = load_text(build_data(name, out / "data"), "char")
    items = (out / f"{name}-{arm}.txt").read_text(encoding="utf-8").split("\n")[:-1]
    s = text_scores(items, data.held, set(data.train), data.everything, "char")
    return {"data": name, "model": arm, **s, **json.loads((out / f"{name}-{arm}.json").read_text()),
            "n_train": len(data.train), "n_held": len(data.held), "examples": items[:8]}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--data", nargs="+", default=["words", "fortunes"],
                   choices=["words", "fortunes"])
    p.add_argument("--models", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--reuse", nargs="*", default=[], choices=ARMS,
                   help="arms scored from their files already in OUT, not run again (results of "
                        "unchanged code)")
    p.add_argument("--minutes", type=float, default=10.0, help="CPU minutes per model")
    p.add_argument("--gan", nargs="*", metavar="KEY=VALUE",
                   help="TextGAN options for the GAN arm (default none: the defaults a user "
                        "gets); the table row names them")
    p.add_argument("--num", type=int, default=2000, help="items drawn from each model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parallel", type=int, default=1, help="arms run side by side")
    p.add_argument("--out", type=Path, default=Path("bench/runs/text"),
                   help="data files, items drawn and unscored rows (git-ignored)")
    p.add_argument("--collect", action="store_true", help="run nothing: print the table from the "
                   "records (bench/records/text.jsonl)")
    p.add_argument("--arm", nargs=2, help=argparse.SUPPRESS)   # internal: run one arm here
    return p.parse_args()


def main() -> None:
    args = parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    if args.collect:
        return print_table(args, 0.0)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.arm:
        return run_arm(args)
    for name in args.data:
        build_data(name, args.out / "data")
    t0 = time.time()
    jobs = [(name, arm) for name in args.data for arm in args.models if arm not in args.reuse]
    base = [sys.executable, __file__, "--minutes", str(args.minutes), "--num", str(args.num),
            "--seed", str(args.seed), "--out", str(args.out)] + \
        (["--gan", *args.gan] if args.gan else [])
    run_arms(base, jobs, args.parallel)
    rows = []
    for name in args.data:
        for arm in args.models:
            names = [arm, "gan-mle"] if arm == "gan" else [arm]
            rows += [score(name, a, args.out) for a in names
                     if (args.out / f"{name}-{a}.json").exists()]
    record.append("text", [{**r, "minutes": args.minutes, "num": args.num, "seed": args.seed,
                            "reused": r["model"] in args.reuse} for r in rows])
    print_table(args, time.time() - t0)


def row_name(r: dict) -> str:
    if r["model"] in ("gan", "gan-mle"):
        what = f"GAN {r['text_model']}" + (f" {r['options']}" if r.get("options") else
                                           " (defaults)")
        return what + (": its warm start alone" if r["model"] == "gan-mle" else "")
    return {"ngram": "n-gram", "lstm": "LSTM", "train": "training items"}[r["model"]]


def print_table(args: argparse.Namespace, wall: float) -> None:
    """The records of --data and --models, the latest of each (data, model, options): the main
    table, then the sweep's candidates (rows with a "candidate" name)."""
    models = set(args.models) | ({"gan-mle"} if "gan" in args.models else set())

    def key(rec: dict) -> tuple:
        r = rec["row"]
        return (r["data"], r["model"], json.dumps(r.get("options"), sort_keys=True),
                r.get("candidate"))
    recs = record.read("text", keep=lambda r: r["row"]["data"] in args.data
                       and r["row"]["model"] in models, key=key)
    recs.sort(key=lambda r: args.data.index(r["row"]["data"]))   # stable: file order within
    main = [r for r in recs if "candidate" not in r["row"]]
    sweep = [r for r in recs if "candidate" in r["row"]]
    for title, group in (("", main), ("The sweep's candidates (rows named by their options). ",
                                      sweep)):
        if group or not title:
            print_rows(group, f"{title}Items drawn per model scored against the held-out items; "
                              f"one thread each; {record.describe(group)}; this invocation "
                              f"{wall / 60:.1f} min wall")


def print_rows(recs: list[dict], about: str) -> None:
    rows = record.rows(recs)
    print(f"\n{about}\n")
    print("| data | model | JSD-1 | JSD-2 | JSD-3 | JSD-4 | valid | novel | valid & novel | "
          "distinct items | distinct-2 | distinct-4 | CPU min | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        notes = (f"order {r['order']}" if r["model"] == "ngram" else "real items"
                 if r["model"] == "train" else f"{r['steps']} steps")
        print(f"| {r['data']} | {row_name(r)} | {r['jsd_1']:.3f} | {r['jsd_2']:.3f} | "
              f"{r['jsd_3']:.3f} | {r['jsd_4']:.3f} | {r['valid']:.1%} | {r['novel']:.1%} | "
              f"{r['valid_novel']:.1%} | {r['distinct_items']:.1%} | {r['distinct_2']:.3f} | "
              f"{r['distinct_4']:.3f} | {r['cpu_s'] / 60:.2f} | "
              f"{notes}{', candidate ' + r['candidate'] if 'candidate' in r else ''} |")
    print()
    for r in rows:
        print(f"{r['data']} {r['model']}: " + " | ".join(r["examples"]))


if __name__ == "__main__":
    main()
