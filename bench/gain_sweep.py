"""Sweep GAINImputer settings over the 4 tables x MCAR rates x seeds, in parallel processes.

    python bench/gain_sweep.py --procs 16 --seeds 3 --config 'name=json-kwargs' ...
    python bench/gain_sweep.py --collect
Prints, per config, the RMSE per table/rate and the mean ratio to II(BayesianRidge). Every fit's
RMSE, seconds and best iteration go to bench/records/gain_sweep.jsonl (bench/record.py: the
command, machine, date, commit and the numbers); --collect reprints every recorded table.
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import record  # noqa: E402
from sklearn import datasets  # noqa: E402

TABLES = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine,
          "diabetes": datasets.load_diabetes, "iris": datasets.load_iris}


def rmse(filled, x, mask):
    lo, hi = x.min(0), x.max(0)
    return float(np.sqrt(np.mean((((filled - x) / np.where(hi > lo, hi - lo, 1))[mask]) ** 2)))


def job(args):
    name, kw, table, rate, seed = args
    import torch
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    x = TABLES[table]().data
    mask = np.random.default_rng(seed).random(x.shape) < rate
    holed = np.where(mask, np.nan, x)
    t = time.perf_counter()
    if name == "II(BR)":
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer
        from sklearn.linear_model import BayesianRidge
        imp = IterativeImputer(BayesianRidge(), max_iter=10, random_state=seed)
    else:
        from gankit.tasks.impute import GAINImputer
        imp = GAINImputer(random_state=seed, **kw)
    filled = imp.fit_transform(holed)
    return name, table, rate, seed, rmse(filled, x, mask), time.perf_counter() - t, \
        getattr(imp, "best_iteration_", None)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5])
    p.add_argument("--config", nargs="+", default=[])
    p.add_argument("--collect", action="store_true", help="fit nothing: reprint the tables "
                   "recorded in bench/records/gain_sweep.jsonl")
    a = p.parse_args()
    if a.collect:
        for rec in record.read("gain_sweep"):
            r = rec["row"]
            print(f"\n`{rec['command']}`: {record.describe([rec])}\n")
            res = {}
            for n, t, rate, s, e, sec, best in r["fits"]:
                res.setdefault((n, t, rate), []).append((e, sec, best))
            print_table(list(r["configs"]), res, r["rates"])
        return
    configs = {"II(BR)": {}}
    for c in a.config:
        name, kw = c.split("=", 1)
        configs[name] = json.loads(kw)
    jobs = [(n, kw, t, r, s) for n, kw in configs.items() for t in TABLES for r in a.rates
            for s in range(a.seeds)]
    res, fits = {}, []
    with ProcessPoolExecutor(a.procs) as ex:
        for n, t, r, s, e, sec, best in ex.map(job, jobs):
            res.setdefault((n, t, r), []).append((e, sec, best))
            fits.append([n, t, r, s, e, sec, None if best is None else int(best)])
    record.append("gain_sweep", [{"seeds": a.seeds, "rates": a.rates, "configs": configs,
                                  "fits": fits,
                                  "fit_fields": "config, table, rate, seed, RMSE, seconds, "
                                                "best iteration"}])
    print_table(list(configs), res, a.rates)


def print_table(configs: list, res: dict, rates: list) -> None:
    cols = [(t, r) for r in rates for t in TABLES]
    print("| config | " + " | ".join(f"{t[:6]}@{r:.0%}" for t, r in cols) + " | ratio to II | s |")
    for n in configs:
        cells, ratios, secs = [], [], []
        for t, r in cols:
            v = res[(n, t, r)]
            e = np.mean([u[0] for u in v])
            ratios.append(e / np.mean([u[0] for u in res[("II(BR)", t, r)]]))
            secs += [u[1] for u in v]
            best = [u[2] for u in v if u[2] is not None]
            cells.append(f"{e:.4f}" + (f" b{int(np.mean(best))}" if best else ""))
        print(f"| {n} | " + " | ".join(cells) + f" | {np.mean(ratios):.3f} | {np.mean(secs):.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
