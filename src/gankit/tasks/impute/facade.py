"""`GAINRun`, the impute task's facade: GAIN as a run (checkpoints, exact resume, a report) on a
CSV table or a DataFrame, made new or rebuilt from a run directory (`new_run`,
`load_task_run`: what the spec calls)."""
from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import pandas as pd
import torch

from ...config import DEFAULT_STEPS, RunConfig
from ...data.tabular import NUMERIC, TableEncoder
from ...data.training import USER_DATA, dataset_name
from ...errors import ConfigError, DataError, GanKitWarning, RunError
from ...run import ProgressOption, Run, RunHooks
from ...train import callbacks as cb
from ..base import TaskFacade
from ..table.csvio import PREVIEW_ROWS, RowsPreview, read_table, reference_table
from .imputer import GAINImputer
from .options import NET, TASK, require_impute
from .task import GAINTask, RowIndices


def imputer_for(cfg: RunConfig) -> GAINImputer:
    """The GAINImputer whose settings are the run's (its nets and training are the run's)."""
    o, t = cfg.options, cfg.train
    return GAINImputer(iterations=DEFAULT_STEPS if t.steps is None else t.steps,
                       batch_size=t.batch_size,
                       hint_rate=o.hint_rate, alpha=o.alpha, hidden=cfg.model.width,
                       learning_rate=t.lr, hide_rate=o.hide_rate,
                       validation_fraction=o.validation_fraction, patience=o.patience,
                       eval_every=o.validate_every, weight_decay=o.weight_decay,
                       random_state=t.seed)


class GAINRun(TaskFacade):
    """GAIN imputation as a run:

        imp = GAINRun("people.csv").fit()          # a run directory under runs/
        filled = imp.transform(df)                   # missing cells filled, the rest unchanged
        gankit.load_run(imp.run_dir).transform(new_rows)

    `data`: a CSV file or a DataFrame with missing cells. Options are the config fields (`steps`,
    `batch_size`, `lr`, `width`, `seed`, `hint_rate`, `alpha`, `hide_rate`,
    `validation_fraction`, `validate_every`, `patience`, `weight_decay`); the defaults are
    GAINImputer's, and for a seed the imputations are the ones GAINImputer(random_state=seed)
    gives. (`run=`, `imputer=`: a run already built and its imputer, as load_run makes them.)"""

    TASK = TASK

    def __init__(self, data: Any = None, *, out: Union[str, Path, None] = None,
                 config: Optional[RunConfig] = None, run: Optional[Run] = None,
                 imputer: Optional[GAINImputer] = None, **options: Any):
        if run is not None:
            super().__init__(run=run, imputer=imputer)
            return
        self._read = read_table(data)   # a table it cannot read is refused before the options
        super().__init__(data, out=out, config=config, **options)

    @staticmethod
    def _dataset_option(dataset: Any) -> dict[str, Any]:
        return {"dataset": dataset_name(dataset)}

    def _build(self, data: Any, config: RunConfig, out: Union[str, Path, None]) -> None:
        df = self.__dict__.pop("_read")
        require_impute(config)
        cfg = config.replace(task=TASK, data=dataclasses.replace(config.data,
                                                                 dataset=dataset_name(data)))
        imp = imputer_for(cfg)
        prepared = prepare_data(imp, df)
        cfg = cfg.replace(data_shape=(imp.encoder_.dim,), num_classes=0)
        self._attach(gain_run(cfg, imp, prepared, out=out), imp)
        self.table = df
        self.run.data, self.run.data_note = prepared[0], describe(df)
        warnings.warn(self.run.data_note, GanKitWarning, stacklevel=4)

    def _attach(self, run: Run, imputer: GAINImputer) -> None:
        self.run, self.imputer = run, imputer
        self.table: Optional[pd.DataFrame] = None   # the table it trains on, when loaded
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks,
                             files=lambda: {"table.json": layout_json(imputer, self.task)})

    def _sampler(self) -> RowIndices:
        if self.run.data is None:
            raise DataError(f"this run's table could not be loaded from "
                            f"{self.config.data.dataset}")
        return self.task.rows()

    def _callbacks(self, total: int, max_time: Optional[float], progress: ProgressOption
                   ) -> list:
        self.imputer.iterations = total   # G is also scored at the fit's last step
        preview = RowsPreview(self.run_dir / "samples", self.config.train.sample_every,
                              self.preview_rows)
        guard = cb.HealthGuard(None, None, NET, stop_on_divergence=False,
                               past=cb.read_metrics(self.run_dir))
        out = self.run.standard_callbacks(total, max_time, progress, preview, dict, guard=guard,
                                          title=f"GAIN on {Path(self.config.data.dataset).name}")
        if self.task.keep is not None:   # scored before a checkpoint saves the step
            out.insert(out.index(preview), self.task.keep)
        return out

    def fit(self, steps: Optional[int] = None, epochs: Optional[float] = None,
            max_time: Optional[float] = None, *, until: Optional[int] = None,
            progress: ProgressOption = None) -> GAINRun:
        """Train for `steps` more steps, `epochs` more passes or `max_time` seconds (`until`: an
        absolute step); with none given, to the run's --steps (default 3,000)."""
        if steps is None and epochs is None and max_time is None and until is None:
            length = self.config.train.steps
            until = DEFAULT_STEPS if length is None else length
        self.run.fit(steps, epochs, max_time, until=until, progress=progress)
        return self

    # --- use -----------------------------------------------------------------------------------
    def transform(self, X: Any) -> Any:
        """X with its missing cells filled by the best validated G (else the latest); observed
        cells unchanged; the same kind as X (a DataFrame, or an array of a numeric table)."""
        return self.imputing().transform(X)

    def imputing(self) -> GAINImputer:
        """The imputer with the G that fills tables (see GAINTask.imputing_net)."""
        view = copy.copy(self.imputer)
        view.generator_ = self.task.imputing_net()
        return view

    def preview_rows(self) -> Optional[pd.DataFrame]:
        """The table's first PREVIEW_ROWS rows with missing cells, filled by the current G (what
        samples/step-*.csv show); None for a complete table or none loaded."""
        df = self.table
        rows = None if df is None else df[df.isna().any(axis=1).to_numpy()].head(PREVIEW_ROWS)
        return None if rows is None or rows.empty else self.imputer.transform(rows)

    def show(self, n: int = 16, seed: Optional[int] = None, **_: Any) -> Any:
        """The first `n` rows with missing cells, filled by G now (what samples/step-*.csv
        hold), as an HTML table (put on a notebook's page, and returned)."""
        from ...notebook import HTML, show
        rows = self.preview_rows()
        if rows is None:
            raise ConfigError("nothing to show: the run's table is not loaded here, or it has "
                              "no missing cells (use transform(table))")
        rows = rows.head(int(n))
        return show(HTML(rows.to_html(index=False, border=0), f"{len(rows)} filled rows"))

    def sample(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError(f"an {TASK} run fills the missing cells of a table, it does not sample "
                          f"rows: use `gankit impute IN.csv --run {self.run_dir} --output "
                          f"OUT.csv` (or --task table for new rows)")

    def reference(self, data: Any = None) -> pd.DataFrame:
        """The table it trained on (or `data`, a CSV file or DataFrame with its columns)."""
        names = [str(c) for c in self.imputer.feature_names_in_]
        return reference_table(data, self.table, self.config.data.dataset, names,
                               self.run_dir)[0]

    def held_out(self, df: pd.DataFrame) -> tuple[GAINImputer, torch.Tensor, torch.Tensor,
                                                  torch.Tensor]:
        """(the imputer that fills tables, df's cells x [N, D], observed [N, F], the observed
        cells training never saw [N, F]: the validation cells, drawn again from the seed)."""
        imp = self.imputing()
        x, m = imp.encode(df)
        return imp, x, m, imp._held_out(m, torch.Generator().manual_seed(imp._seed()))

    def evaluate(self, data: Any = None) -> dict[str, float]:
        """G's error on the observed cells training never saw (see held_out): mean squared error
        of min-max-scaled numbers and cross-entropy of categories, per cell (lower is better);
        and how many cells."""
        imp, x, m, held = self.held_out(self.reference(data))
        if not held.sum():
            raise DataError("no observed cells were held out of training "
                            "(--validation-fraction 0, or a tiny table): nothing to score")
        score = imp.validate(x, m * (1 - held), held, torch.Generator().manual_seed(imp._seed()))
        return {"held_out_error": score, "held_out_cells": float(held.sum())}

    def column_errors(self, data: Any = None) -> list[tuple]:
        """Per column with held-out cells: (column, kind, held-out cells, GAIN's error, the
        error of filling with the column's mean or most frequent value), the errors in the
        column's own units: RMSE for numbers, the share of wrong categories otherwise. Both
        fill the held-out cells (hidden, with the table's missing ones) from the cells training
        saw."""
        df = self.reference(data)
        imp, _, _, held_cells = self.held_out(df)
        held = held_cells.bool().numpy()
        hidden = df.mask(held)
        filled = imp.transform(hidden)
        rows = []
        for j, spec in enumerate(imp.encoder_.columns):
            h = held[:, j]
            if not h.any():
                continue
            name = df.columns[j]
            truth, guess, seen = df[name][h], filled[name][h], hidden[name].dropna()
            if spec.kind == NUMERIC:
                t = truth.to_numpy(dtype=np.float64)
                err = float(np.sqrt(np.mean((t - guess.to_numpy(dtype=np.float64)) ** 2)))
                base = float(np.sqrt(np.mean((t - float(seen.astype(float).mean())) ** 2)))
                kind = "numeric (RMSE)"
            else:
                t = truth.astype(str).to_numpy()
                err = float(np.mean(t != guess.astype(str).to_numpy()))
                base = float(np.mean(t != str(seen.astype(str).mode().iloc[0])))
                kind = "categorical (error rate)"
            rows.append((str(name), kind, int(h.sum()), err, base))
        return rows

    def metric_results(self, num: int, seed: int = 0, split: str = "train", **_: Any) -> dict:
        """`evaluate` as MetricResults with their protocol (what `gankit eval RUN` prints)."""
        from ...metrics import task_results
        df = self.reference()   # read once, scored twice
        scores, cols = self.evaluate(df), self.column_errors(df)
        ratios = [err / base for *_, err, base in cols if base > 0]
        out = {"held_out_error": scores["held_out_error"]}
        extras = {"held_out_error": {"cells": scores["held_out_cells"]}}
        if ratios:   # below 1: GAIN fills better than each column's mean or most frequent value
            out["vs_mean_fill"] = float(np.mean(ratios))
            extras["vs_mean_fill"] = {"columns_better": sum(r < 1 for r in ratios),
                                      "columns": len(ratios)}
        cells = int(scores["held_out_cells"])
        return task_results(out, extras, extractor="held-out observed cells", n_real=cells,
                            n_fake=cells, reference=self.config.data.dataset,
                            reference_split="train", seed=self.config.train.seed)


def describe(df: pd.DataFrame) -> str:
    missing = int(df.isna().to_numpy().sum())
    return (f"{len(df):,} rows, {len(df.columns)} columns, {missing:,} missing cells "
            f"({missing / max(df.size, 1):.1%})")


def prepare_data(imp: GAINImputer, df: pd.DataFrame) -> tuple:
    """imp.prepare(df) for a run: ([x, observed] for the data fingerprint, x, trained-on,
    held-out, generator); a table with no rows or no observed cell is refused."""
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise DataError("the table to impute has no rows")
    x, observed, m, held, gen = imp.prepare(df)
    if not observed.sum():
        raise DataError("the table has no observed cell to learn from")
    return torch.cat([x, observed], 1), x, m, held, gen


def layout_json(imp: GAINImputer, task: GAINTask) -> str:
    """table.json: the columns (what a loaded run encodes new rows with) and whether G was
    validated (a G_best net is then part of its checkpoints)."""
    import json
    return json.dumps({"format": 1, "columns": json.loads(imp.encoder_.to_json()),
                       "validated": task.keep is not None}, indent=1)


def gain_run(cfg: RunConfig, imp: GAINImputer, prepared: Optional[tuple], *,
             validated: Optional[bool] = None, out: Union[str, Path, None] = None,
             run_dir: Optional[Path] = None) -> Run:
    """The run of GAINTask on the prepared table (None: a run loaded with its weights alone)."""
    if prepared is None:
        d, f = imp.encoder_.dim, len(imp.encoder_.columns)
        x, m, held = torch.zeros(0, d), torch.zeros(0, f), torch.zeros(0, f)
        gen = torch.Generator().manual_seed(imp._seed())
    else:
        _, x, m, held, gen = prepared
    return Run.for_task(cfg, lambda device: GAINTask(imp, x, m, held, gen, validated),
                        one_process="GAIN", out=out, run_dir=run_dir)


def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> GAINRun:
    """A new impute run (the CLI's `gankit train --task impute`)."""
    return GAINRun(cfg.data.dataset, config=cfg, out=out)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool,
                  dataset: Any = None) -> GAINRun:
    """Rebuild an impute run (see api.load_run): the columns from table.json, then G, D, the best
    G, optimizers, step, stream and validation state from the latest checkpoint; with the table
    (the CSV it recorded, or `dataset`) to go on training."""
    import json
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    imp = imputer_for(cfg)
    try:
        meta = json.loads((Path(run_dir) / "table.json").read_text())
        imp.encoder_ = TableEncoder.from_json(json.dumps(meta["columns"]))
        validated = bool(meta["validated"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"{run_dir}/table.json: missing or corrupt ({e})") from None
    imp.n_features_in_ = len(imp.encoder_.columns)
    imp.feature_names_in_ = np.asarray(imp.encoder_.names, dtype=object)
    imp._pandas_in, imp._empty_cols = True, []
    source = dataset if dataset is not None else cfg.data.dataset
    if weights_only or (isinstance(source, str) and source == USER_DATA):
        imp.build_nets()
        run = GAINRun(run=gain_run(cfg, imp, None, validated=validated, run_dir=run_dir),
                      imputer=imp)
        run.run.resume(True)
        return run
    df = read_table(source)
    prepared = prepare_data(imp, df)   # the encoder, nets and held-out cells, as at the start
    if imp.encoder_.dim != cfg.data_shape[0]:
        raise DataError(f"the table now encodes to rows of {imp.encoder_.dim} values, the run "
                        f"was trained on {cfg.data_shape[0]}")
    run = GAINRun(run=gain_run(cfg, imp, prepared, validated=validated, run_dir=run_dir),
                  imputer=imp)
    run.table = df

    def load_data() -> None:
        run.run.data = prepared[0]
    run.run.resume(False, load_data)
    return run


__all__ = ["GAINRun", "gain_run", "imputer_for", "load_task_run", "new_run"]
