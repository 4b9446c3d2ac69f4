"""Benchmark: GAIN vs classic imputers, and TableGAN's synthetic tables, on scikit-learn's real tables.

Imputation: RMSE over the removed cells (min-max normalized), mean ± std over seeds, at 20% and 50%
MCAR, with fit time. Synthesis: machine-learning efficacy (train on synthetic rows, test on held-out
real rows) vs training on real rows, plus marginal (KS / TV) and correlation fidelity. Prints markdown.

    OMP_NUM_THREADS=1 python bench/tabular.py [--seeds 5] [--rates 0.2 0.5] [--synth-seeds 2]
    python bench/tabular.py --collect

Each table's numbers (per seed) go to bench/records/tabular.jsonl (bench/record.py: the command,
machine, date, commit and the numbers); --collect reprints every recorded table from there.
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from typing import Optional

import numpy as np
import pandas as pd
import record
import torch
from scipy.stats import ks_2samp
from sklearn import datasets
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (registers the class)
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import BayesianRidge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split

from gankit.tasks.impute import GAINImputer
from gankit.tasks.table import TableGAN

TABLES = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine,
          "diabetes": datasets.load_diabetes, "iris": datasets.load_iris}


def imputers(seed: int, gain_iterations: int, n_cols: int) -> dict:
    """The contenders; "GAIN (paper)" is Yoon et al.'s setting (hidden width = number of columns,
    no hidden cells, no validation), "GAIN" is GAINImputer's defaults."""
    return {
        "mean": SimpleImputer(),
        "kNN (k=5)": KNNImputer(),
        "II(BayesianRidge)": IterativeImputer(BayesianRidge(), max_iter=10, random_state=seed),
        "II(ExtraTrees)": IterativeImputer(ExtraTreesRegressor(n_estimators=50, random_state=seed,
                                                               n_jobs=1), max_iter=5,
                                           random_state=seed),
        "GAIN (paper)": GAINImputer(iterations=gain_iterations, hidden=n_cols, hide_rate=0,
                                    validation_fraction=0, random_state=seed),
        "GAIN": GAINImputer(iterations=gain_iterations, random_state=seed),
    }


def rmse(filled: np.ndarray, x: np.ndarray, mask: np.ndarray) -> float:
    lo, hi = x.min(0), x.max(0)
    return float(np.sqrt(np.mean((((filled - x) / np.where(hi > lo, hi - lo, 1))[mask]) ** 2)))


def bench_imputation(seeds: int, rates: list, gain_iterations: int) -> None:
    for rate in rates:
        out = {"section": "imputation", "rate": rate, "seeds": seeds,
               "gain_iterations": gain_iterations, "tables": {}}
        names = list(imputers(0, gain_iterations, 1))
        print_imputation_head(out, names)
        for table, load in TABLES.items():
            x = load().data
            scores = {n: [] for n in names}
            times = {n: [] for n in names}
            for seed in range(seeds):
                mask = np.random.default_rng(seed).random(x.shape) < rate
                holed = np.where(mask, np.nan, x)
                for name, imp in imputers(seed, gain_iterations, x.shape[1]).items():
                    t = time.perf_counter()
                    filled = imp.fit_transform(holed)
                    times[name].append(time.perf_counter() - t)
                    scores[name].append(rmse(filled, x, mask))
            out["tables"][table] = {"rmse": scores, "seconds": times}
            print_imputation_row(table, out["tables"][table], names)
        record.append("tabular", [out])


def print_imputation_head(out: dict, names: list) -> None:
    print(f"\n### Imputation RMSE at {out['rate']:.0%} MCAR (min-max normalized; mean ± std over "
          f"{out['seeds']} seeds; fit+transform seconds)\n")
    print("| table | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")


def print_imputation_row(table: str, t: dict, names: list) -> None:
    scores, times = t["rmse"], t["seconds"]
    cells = [f"{np.mean(scores[n]):.4f} ± {np.std(scores[n]):.4f} ({np.mean(times[n]):.1f}s)"
             for n in names]
    print(f"| {table} | " + " | ".join(cells) + " |", flush=True)


def fidelity(real: pd.DataFrame, fake: pd.DataFrame, discrete: list) -> tuple[float, float, float]:
    """(mean KS over numeric columns, mean TV over discrete ones, mean |corr difference|)."""
    num = [c for c in real.columns if c not in discrete]
    ks = np.mean([ks_2samp(real[c], fake[c]).statistic for c in num])
    tv = np.mean([0.5 * real[c].value_counts(normalize=True).sub(
        fake[c].value_counts(normalize=True), fill_value=0).abs().sum() for c in discrete])
    corr = np.abs(real[num].corr().to_numpy() - fake[num].corr().to_numpy())
    return float(ks), float(tv), float(np.nanmean(corr[np.triu_indices(len(num), 1)]))


def bench_synthesis(epochs: Optional[int], seeds: int) -> None:
    out = {"section": "synthesis", "epochs": epochs, "seeds": seeds, "tables": {},
           "fields": "score on real, score on synthetic, KS, TV, corr diff, fit seconds"}
    print_synthesis_head(out)
    for table in TABLES:
        out["tables"][table] = [[None if v != v else float(v) for v in synth_once(table, epochs, seed)]
                                for seed in range(seeds)]   # NaN (no TV) as null
        print_synthesis_row(table, out["tables"][table])
    record.append("tabular", [out])


def print_synthesis_head(out: dict) -> None:
    epochs, seeds = out["epochs"], out["seeds"]
    steps = "default length: 300 epochs, at least 1500 steps" if epochs is None else f"{epochs} epochs"
    print(f"\n### Synthesis: TableGAN ({steps}) — ML efficacy on held-out real rows "
          f"(mean ± std over {seeds} seed(s))\n")
    print("| table | task | model on real | model on synthetic | mean KS | mean TV | "
          "mean abs corr diff | fit s |")
    print("|---|---|---|---|---|---|---|---|")


def print_synthesis_row(table: str, per_seed: list) -> None:
    rows = np.array(per_seed, dtype=float)  # [S, 6]
    m, sd = rows.mean(0), rows.std(0)
    task = "R²" if table == "diabetes" else "accuracy"
    cells = [f"{m[i]:.3f} ± {sd[i]:.3f}" for i in range(5)]
    print(f"| {table} | {task} | " + " | ".join(cells) + f" | {m[5]:.0f} |", flush=True)


def collect() -> None:
    """Every recorded table, from bench/records/tabular.jsonl alone."""
    for rec in record.read("tabular"):
        r = rec["row"]
        print(f"\n`{rec['command']}`: {record.describe([rec])}")
        if r["section"] == "imputation":
            names = list(next(iter(r["tables"].values()))["rmse"])
            print_imputation_head(r, names)
            for table, t in r["tables"].items():
                print_imputation_row(table, t, names)
        else:
            print_synthesis_head(r)
            for table, per_seed in r["tables"].items():
                print_synthesis_row(table, per_seed)


def synth_once(table: str, epochs: Optional[int], seed: int) -> list:
    """[score on real, score on synthetic, KS, TV, corr diff, fit seconds] for one split/seed."""
    frame = TABLES[table](as_frame=True).frame
    classify = table != "diabetes"
    if classify:
        frame["target"] = frame["target"].astype(str)
    train, test = train_test_split(frame, test_size=0.3, random_state=seed)
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:   # the run directory is not kept
        gan = TableGAN(train, out=f"{tmp}/run", epochs=epochs, seed=seed).fit(progress=False)
    fit_s = time.perf_counter() - t
    fake = gan.sample(len(train), seed=seed)
    feats = [c for c in frame.columns if c != "target"]
    model = (lambda: RandomForestClassifier(200, random_state=seed, n_jobs=1)) if classify \
        else (lambda: RandomForestRegressor(200, random_state=seed, n_jobs=1))
    score = accuracy_score if classify else r2_score
    on = [score(test["target"], model().fit(d[feats], d["target"]).predict(test[feats]))
          for d in (train, fake)]
    ks, tv, corr = fidelity(train, fake, ["target"] if classify else [])
    return [on[0], on[1], ks, tv if classify else float("nan"), corr, fit_s]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5])
    p.add_argument("--gain-iterations", type=int, default=3000)
    p.add_argument("--epochs", type=int, default=None, help="TableGAN epochs (default: its own)")
    p.add_argument("--synth-seeds", type=int, default=2)
    p.add_argument("--skip-synthesis", action="store_true")
    p.add_argument("--skip-imputation", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--collect", action="store_true", help="measure nothing: reprint the tables "
                   "recorded in bench/records/tabular.jsonl")
    a = p.parse_args()
    if a.collect:
        return collect()
    torch.set_num_threads(a.threads)
    warnings.simplefilter("ignore")   # IterativeImputer convergence chatter
    print(f"torch {torch.__version__}, {a.threads} thread(s)")
    if not a.skip_imputation:
        bench_imputation(a.seeds, a.rates, a.gain_iterations)
    if not a.skip_synthesis:
        bench_synthesis(a.epochs, a.synth_seeds)


if __name__ == "__main__":
    main()
