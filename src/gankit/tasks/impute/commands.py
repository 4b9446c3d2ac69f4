"""`gankit impute` and `gankit synth`: CSV in, CSV out, each through a run of its task (impute,
table), kept with --save. The table and impute tasks add them (`add_impute`, `add_synth`); user errors are raised as GanKitError subclasses."""
from __future__ import annotations

import argparse
import csv
import io
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..errors import ConfigError, DataError

if TYPE_CHECKING:   # pandas, torch and the encoder load only when a table command runs
    import pandas as pd

    from ..data.tabular import ColumnSpec


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


def add_synth(subparsers: Any) -> dict:
    """Add `gankit synth` to an argparse subparsers object."""
    s = subparsers.add_parser("synth", help="generate a synthetic CSV table like a real one (in "
                              "one go: `gankit train --task table` and `gankit sample`)")
    s.add_argument("input", type=Path, metavar="IN.csv")
    s.add_argument("--num", type=int, required=True, help="how many rows to generate")
    s.add_argument("--output", type=Path, required=True, metavar="OUT.csv")
    s.add_argument("--discrete", default="", help="numeric columns to treat as categories: a,b")
    s.add_argument("--epochs", type=float, default=None, help="training epochs (default: 300, and "
                   "at least 1500 steps)")
    s.add_argument("--save", type=Path, default=None, metavar="RUN", help="keep the table run in "
                   "this new directory (sample it again, report on it, resume it); default: none "
                   "kept")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return {"synth": run_synth}


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def run_impute(args: argparse.Namespace) -> int:
    """Impute IN.csv into OUT.csv; cells that were not missing keep their exact text. The model
    is an impute run: trained on IN.csv (kept with --save, else in a temporary directory), or
    the run named by --run."""
    import tempfile
    from ..data.tabular import read_csv_table
    from ..outputs import refuse_overwrite
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
    _write_csv(out, Path(args.output), _line_end(Path(args.input)))
    kept = f"; the run is in {save}" if save is not None else ""
    print(f"imputed {n_missing} missing cells; wrote {args.output}{kept}", file=sys.stderr)
    return 0


def _impute_run(args: argparse.Namespace, run_dir: Optional[Path], out: Path) -> Any:
    """The impute run that fills IN.csv: --run's, or one trained on IN.csv into `out`."""
    from .gain import TASK, GAINRun
    if run_dir is not None:
        from ..api import load_run
        imp = load_run(run_dir, weights_only=True)
        if imp.config.task != TASK:
            raise ConfigError(f"--run {run_dir} is a {imp.config.task} run, not an {TASK} run "
                              f"(gankit train --task {TASK})")
        return imp
    options: dict[str, Any] = {"seed": args.seed}
    if getattr(args, "iterations", None) is not None:
        options["steps"] = args.iterations
    return GAINRun(args.input, out=out, **options).fit(progress=_progress(args))


def _texts(spec: ColumnSpec, values: pd.Series, typed: pd.Series, raw: pd.Series) -> list[str]:
    """Imputed values as text like the column's own: its decimals, or its categories' spelling."""
    import numpy as np

    from ..data.tabular import NUMERIC
    if spec.kind == NUMERIC:
        if spec.decimals == 0:
            return [str(int(round(float(v)))) for v in values]
        return [repr(float(np.round(v, spec.decimals))) if spec.decimals else repr(float(v))
                for v in values]
    seen = typed.notna().to_numpy()
    spelling = dict(zip(typed[seen].tolist(), raw[seen].tolist()))
    return [spelling.get(v, str(v)) for v in values]


def _line_end(path: Path) -> str:
    with open(path, "rb") as f:
        return "\r\n" if b"\r\n" in f.read(65536) else "\n"


def _write_csv(table: pd.DataFrame, path: Path, line_end: str = "\n") -> None:
    from ..train.state import atomic_write_text
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=line_end)
    w.writerow([str(c) for c in table.columns])
    w.writerows(table.itertuples(index=False, name=None))
    try:
        atomic_write_text(path, buf.getvalue())
    except OSError as e:
        raise DataError(f"{path}: cannot write ({e.strerror})") from None


def run_synth(args: argparse.Namespace) -> int:
    """Train a table run on IN.csv and write --num synthetic rows to OUT.csv."""
    import tempfile
    from ..outputs import refuse_overwrite
    from .synth import TableGAN, write_rows
    if args.num < 1:
        raise ConfigError(f"--num must be at least 1, got {args.num}")
    refuse_overwrite(Path(args.output), getattr(args, "overwrite", False))
    if args.save is not None:   # refused before training, not after
        check_save_dir(args.save)
    options: dict[str, Any] = {"discrete": getattr(args, "discrete", ""), "seed": args.seed}
    if getattr(args, "epochs", None) is not None:
        options["epochs"] = args.epochs
    with tempfile.TemporaryDirectory(prefix="gankit-synth-") as tmp:
        out = args.save if args.save is not None else Path(tmp) / "run"
        gan = TableGAN(args.input, out=out, **options).fit(progress=_progress(args))
        rows = gan.sample(args.num, seed=args.seed)
        write_rows(rows, Path(args.output))
    kept = f"; the run is in {args.save}" if args.save is not None else ""
    print(f"wrote {args.num} synthetic rows to {args.output}{kept}", file=sys.stderr)
    return 0


def check_save_dir(path: Path) -> None:
    """Where `gankit synth/impute --save` may put its run: a new or empty directory, never a
    gankit run or any other folder of files."""
    from ..rundir import is_run
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--save {path} is a file, not a directory; refusing to touch it")
    if is_run(path):
        raise ConfigError(f"--save {path} is a gankit run; keep the table run somewhere else")
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(f"--save {path} is not empty; refusing to write into it")
