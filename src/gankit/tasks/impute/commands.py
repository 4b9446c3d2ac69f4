"""`gankit impute`: CSV in, CSV out, through an impute run (kept with --save, or one named by
--run). The impute task adds it (`add_impute`); user errors are raised as GanKitError
subclasses."""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ...errors import ConfigError
from ..table.commands import check_save_dir, progress

if TYPE_CHECKING:   # pandas, torch and the encoder load only when a table command runs
    import pandas as pd

    from ...data.tabular import ColumnSpec


def add_impute(subparsers: Any) -> dict:
    """Add `gankit impute` to an argparse subparsers object."""
    i = subparsers.add_parser("impute", help="fill the missing cells of a CSV table with GAIN")
    i.add_argument("input", type=Path, metavar="IN.csv")
    i.add_argument("--output", type=Path, required=True, metavar="OUT.csv")
    i.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    i.add_argument("--iterations", type=int, default=None, help="GAIN training iterations "
                   "(default 3000; it stops sooner when its held-out cells stop improving)")
    i.add_argument("--save", type=Path, default=None, metavar="RUN", help="keep the impute run "
                   "in this new directory (impute other tables with it: --run RUN; resume it); "
                   "default: none kept")
    i.add_argument("--run", type=Path, default=None, metavar="RUN", help="impute with this "
                   "trained impute run (gankit train --task impute, or --save) instead of "
                   "training on IN.csv")
    i.add_argument("--no-progress", action="store_true", help="no progress bar")
    i.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return {"impute": run_impute}


def run_impute(args: argparse.Namespace) -> int:
    """Impute IN.csv into OUT.csv; cells that were not missing keep their exact text. The model
    is an impute run: trained on IN.csv (kept with --save, else in a temporary directory), or
    the run named by --run."""
    import tempfile

    from ...data.tabular import read_csv_table
    from ...outputs import refuse_overwrite
    from ..table.csvio import line_end, write_csv
    run_dir, save = getattr(args, "run", None), getattr(args, "save", None)
    if run_dir is not None and (save is not None or getattr(args, "iterations", None)):
        raise ConfigError("--run imputes with a trained run; --save and --iterations are for "
                          "training one")
    refuse_overwrite(Path(args.output), getattr(args, "overwrite", False))
    if save is not None:   # refused before training, not after
        check_save_dir(save)
    typed, raw = read_csv_table(args.input)
    missing = typed.isna()
    n_missing = int(missing.to_numpy().sum())
    if n_missing == 0 and save is None:
        if Path(args.input).resolve() != Path(args.output).resolve():
            shutil.copyfile(args.input, args.output)
        print(f"no missing cells in {args.input}; wrote it unchanged to {args.output}",
              file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory(prefix="gankit-impute-") as tmp:
        imp = _impute_run(args, run_dir, save if save is not None else Path(tmp) / "run")
        filled = imp.transform(typed)
    out = raw.copy()
    for spec in imp.imputer.encoder_.columns:
        rows = missing[spec.name].to_numpy()
        if rows.any():
            texts = _texts(spec, filled[spec.name][rows], typed[spec.name], raw[spec.name])
            out.loc[rows, spec.name] = texts
    write_csv(out, Path(args.output), line_end(Path(args.input)))
    kept = f"; the run is in {save}" if save is not None else ""
    print(f"imputed {n_missing} missing cells; wrote {args.output}{kept}", file=sys.stderr)
    return 0


def _impute_run(args: argparse.Namespace, run_dir: Optional[Path], out: Path) -> Any:
    """The impute run that fills IN.csv: --run's, or one trained on IN.csv into `out`."""
    from .facade import GAINRun
    from .options import TASK
    if run_dir is not None:
        from ...api import load_run
        imp = load_run(run_dir, weights_only=True)
        if imp.config.task != TASK:
            raise ConfigError(f"--run {run_dir} is a {imp.config.task} run, not an {TASK} run "
                              f"(gankit train --task {TASK})")
        return imp
    options: dict[str, Any] = {"seed": args.seed}
    if getattr(args, "iterations", None) is not None:
        options["steps"] = args.iterations
    return GAINRun(args.input, out=out, **options).fit(progress=progress(args))


def _texts(spec: ColumnSpec, values: pd.Series, typed: pd.Series, raw: pd.Series) -> list[str]:
    """Imputed values as text like the column's own: its decimals, or its categories' spelling."""
    import numpy as np

    from ...data.tabular import NUMERIC
    if spec.kind == NUMERIC:
        if spec.decimals == 0:   # whole numbers, as digits up to 2**53 (beyond: 1e+308)
            return [str(int(round(float(v)))) if abs(float(v)) < 2.0 ** 53 else repr(float(v))
                    for v in values]
        return [repr(float(np.round(v, spec.decimals))) if spec.decimals else repr(float(v))
                for v in values]
    seen = typed.notna().to_numpy()
    spelling = dict(zip(typed[seen].tolist(), raw[seen].tolist()))
    return [spelling.get(v, str(v)) for v in values]


__all__ = ["add_impute", "run_impute"]
