"""`TableGAN`, the table task's facade: a run of TableGANTask on a CSV table or a DataFrame,
made new or rebuilt from a run directory (`new_run`, `load_task_run`: what the spec calls)."""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import pandas as pd

from ...config import RunConfig, require_options
from ...data.tabular import TableEncoder
from ...data.training import USER_DATA, dataset_name
from ...errors import ConfigError, DataError, GanKitWarning, RunError
from ...run import ProgressOption, Run, RunHooks
from ..base import TaskFacade
from .csvio import PREVIEW_ROWS, RowsPreview, read_table, reference_table, write_rows
from .model import TableModel
from .options import DEFAULT_EPOCHS, TASK, TableOptions, check_config
from .task import RowSampler, TableGANTask

MAX_SHOWN = 60   # rows of a table shown in a notebook (more: the first and last 30)


class TableGAN(TaskFacade):
    """Synthetic rows like a real table's:

        gan = TableGAN("people.csv", discrete=["kids"]).fit()   # a run directory under runs/
        gan.sample(1000, condition={"city": "Lyon"})             # a DataFrame
        gankit.load_run(gan.run_dir).sample(10)

    `data`: a CSV file or a DataFrame (numeric and text columns, missing cells allowed). Options
    are the config fields (`epochs`, `batch_size`, `lr`, `width`, `z_dim`, `pac`, `seed`, ...).
    `fit()` with no length trains 300 epochs, but at least `min_steps` steps. (`run=` and
    `model=`: a run already built and its TableModel, as load_run makes them.)"""

    TASK = TASK

    def __init__(self, data: Any = None, *, out: Union[str, Path, None] = None,
                 config: Optional[RunConfig] = None, run: Optional[Run] = None,
                 model: Optional[TableModel] = None, **options: Any):
        if run is not None:
            super().__init__(run=run, model=model)
            return
        if isinstance(options.get("discrete"), (list, tuple)):
            options["discrete"] = ",".join(map(str, options["discrete"]))
        self._read = read_table(data)   # a table it cannot read is refused before the options
        super().__init__(data, out=out, config=config, **options)

    @staticmethod
    def _dataset_option(dataset: Any) -> dict[str, Any]:
        return {"dataset": dataset_name(dataset)}

    def _build(self, data: Any, config: RunConfig, out: Union[str, Path, None]) -> None:
        df = self.__dict__.pop("_read")
        require_options(config, TableOptions, TASK)
        cfg = config.replace(task=TASK, data=dataclasses.replace(config.data,
                                                                 dataset=dataset_name(data)))
        check_config(cfg)
        model = TableModel(cfg)
        x, rng = model.prepare(df)
        cfg = cfg.replace(data_shape=(model.dim,), num_classes=0)
        model.cfg = cfg
        self._attach(table_run(cfg, model, rng, out=out), model)
        self.table = df
        self.run.data, self.run.data_note = x, (f"{len(df):,} rows, {len(df.columns)} columns "
                                                f"({len(model.discrete_columns)} categorical)")
        warnings.warn(self.run.data_note, GanKitWarning, stacklevel=4)

    def _attach(self, run: Run, model: TableModel) -> None:
        self.run, self.model = run, model
        self.table: Optional[pd.DataFrame] = None   # the DataFrame it was made with, if any
        run.hooks = RunHooks(sampler=self._sampler, callbacks=self._callbacks,
                             files=lambda: {"table.json": model.to_json()},
                             epoch_steps=self._epoch_steps)

    def _sampler(self) -> RowSampler:
        if self.run.data is None:
            raise DataError(f"this run's table could not be loaded from "
                            f"{self.config.data.dataset}")
        return RowSampler(self.model, self.run.data, self.batch_rows(len(self.run.data)),
                          self.task.rng)

    def _callbacks(self, total: int, max_time: Optional[float], progress: ProgressOption
                   ) -> list:
        seed = self.config.train.seed + 7   # the same rows' draw at every preview
        preview = RowsPreview(self.run_dir / "samples", self.config.train.sample_every,
                              lambda: self.sample(PREVIEW_ROWS, seed=seed))
        return self.run.standard_callbacks(total, max_time, progress, preview, dict,
                                           title=f"TableGAN on "
                                                 f"{Path(self.config.data.dataset).name}")

    # --- length --------------------------------------------------------------------------------
    def batch_rows(self, n_rows: int) -> int:
        """Rows per batch: batch_size (at most the table), rounded down to whole packs of `pac`."""
        pac, b = self.config.options.pac, self.config.train.batch_size
        return max(pac, min(b, n_rows) // pac * pac)

    def steps_per_epoch(self, n_rows: Optional[int] = None) -> int:
        """Batches in one pass over a table of n_rows (default: the run's), at least one."""
        n = self.model.n_rows if n_rows is None else n_rows
        return max(n // self.batch_rows(n), 1)

    def _epoch_steps(self, epochs: float) -> int:
        return int(round(epochs * self.steps_per_epoch()))

    def total_steps(self, n_rows: Optional[int] = None) -> int:
        """The steps of a whole run: --epochs passes over the table; by default 300 epochs but at
        least --min-steps (on a table of a few hundred rows an epoch is one step; ML efficacy
        needed ~1500, see docs/tables.md)."""
        per_epoch = self.steps_per_epoch(n_rows)
        t = self.config.train
        if t.epochs is not None:
            return int(round(t.epochs * per_epoch))
        return max(DEFAULT_EPOCHS * per_epoch, self.config.options.min_steps)

    def fit(self, steps: Optional[int] = None, epochs: Optional[float] = None,
            max_time: Optional[float] = None, *, until: Optional[int] = None,
            progress: ProgressOption = None) -> TableGAN:
        """Train for `steps` more steps, `epochs` more passes or `max_time` seconds (`until`: an
        absolute step); with none given, to the run's whole length (total_steps)."""
        if steps is None and epochs is None and max_time is None and until is None:
            until = self.total_steps()
        self.run.fit(steps, epochs, max_time, until=until, progress=progress)
        return self

    @property
    def losses(self) -> list[dict]:
        """The logged records (losses averaged over --log-every steps)."""
        return self.history

    @property
    def discrete_columns(self) -> list[int]:
        return self.model.discrete_columns

    @property
    def encoder(self) -> TableEncoder:
        return self.model.encoder

    # --- use -----------------------------------------------------------------------------------
    def sample(self, n: int, condition: Optional[Mapping[Hashable, Any]] = None,
               seed: Optional[int] = None, **_: Any) -> pd.DataFrame:
        """n new rows as a DataFrame. `condition={column: value}` asks for rows holding that value
        of a discrete column (the column is set to it; the other columns follow it)."""
        return self.model.sample(int(n), condition, seed)

    def view(self, samples: pd.DataFrame) -> Any:
        """Rows as an HTML table (what `show(n)` puts on a notebook's page)."""
        from ...notebook import HTML
        return HTML(samples.to_html(index=False, max_rows=MAX_SHOWN, border=0),
                    f"{len(samples)} rows")

    def reference(self, data: Any = None) -> tuple[pd.DataFrame, str]:
        """(the real table, what it is): `data` (a CSV file or a DataFrame), else the table the
        run was trained on (its CSV, or the DataFrame this TableGAN was made with); DataError if
        none is there or its columns are not the run's."""
        return reference_table(data, self.table, self.config.data.dataset,
                               [str(c.name) for c in self.encoder.columns], self.run_dir)

    def evaluate(self, num: Optional[int] = None, seed: int = 0, data: Any = None
                 ) -> dict[str, float]:
        """How close `num` sampled rows (default: as many as the real table has) are to the real
        table (see fidelity.fidelity_scores; lower is closer)."""
        from .fidelity import fidelity_scores
        real, _ = self.reference(data)
        fake = self.sample(num or len(real), seed=seed)
        return fidelity_scores(real, fake, [str(real.columns[j]) for j in self.discrete_columns])

    def metric_results(self, num: int, seed: int = 0, split: str = "train", **_: Any) -> dict:
        """`evaluate` as MetricResults with their protocol (what `gankit eval RUN` prints); the
        reference is the table it trained on (a table run keeps no held-out rows)."""
        from ...metrics import task_results
        real, source = self.reference()
        return task_results(self.evaluate(num, seed, real), extractor="column marginals and "
                            "correlations", n_real=len(real), n_fake=num or len(real),
                            reference=source, reference_split="train", seed=seed)

    def save(self, rows: pd.DataFrame, path: Union[str, Path], overwrite: bool = False,
             labels: Any = None) -> Path:
        """Rows as a CSV file (what `gankit sample` writes for a table run)."""
        from ...outputs import refuse_overwrite
        path = Path(path)
        if path.suffix.lower() != ".csv":
            raise ConfigError(f"--output for a table run is a .csv file, got {path}")
        refuse_overwrite(path, overwrite)
        write_rows(rows, path)
        return path


def table_run(cfg: RunConfig, model: TableModel, rng: np.random.Generator, *,
              out: Union[str, Path, None] = None, run_dir: Optional[Path] = None) -> Run:
    """The table GAN's run: its task on the CPU device the config names, one process."""
    return Run.for_task(cfg, lambda device: TableGANTask(model, rng), one_process="TableGAN",
                        out=out, run_dir=run_dir)


def new_run(task: str, cfg: RunConfig, out: Optional[Path] = None) -> TableGAN:
    """A new table run (the CLI's `gankit train --task table`)."""
    return TableGAN(cfg.data.dataset, config=cfg, out=out)


def load_task_run(run_dir: Path, cfg: RunConfig, device: str, weights_only: bool,
                  dataset: Any = None) -> TableGAN:
    """Rebuild a table run (see api.load_run): its layout from table.json, then the nets,
    optimizers, step and sampling stream from the latest checkpoint; with the table (the CSV it
    recorded, or `dataset`) to go on training."""
    cfg = cfg.replace(train=dataclasses.replace(cfg.train, device=device))
    model = TableModel(cfg)
    try:
        model.load_json((Path(run_dir) / "table.json").read_text())
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"{run_dir}/table.json: missing or corrupt ({e})") from None
    rng = np.random.default_rng(cfg.train.seed)
    gan = TableGAN(run=table_run(cfg, model, rng, run_dir=run_dir), model=model)
    source = dataset if dataset is not None else cfg.data.dataset
    if weights_only or (isinstance(source, str) and source == USER_DATA):
        gan.run.resume(True)
        return gan

    def load_data() -> None:
        df = read_table(source)
        fresh = TableModel(cfg)
        x, fresh_rng = fresh.prepare(df)   # the layout, encoding and cond tables, as at the start
        if fresh.dim != model.dim:
            raise DataError(f"the table now encodes to rows of {fresh.dim} values, the run was "
                            f"trained on {model.dim}")
        model.cond_tables_from(fresh)
        gan.task.rng.bit_generator.state = fresh_rng.bit_generator.state
        gan.run.data = x
    gan.run.resume(False, load_data)
    return gan


__all__ = ["TableGAN", "load_task_run", "new_run", "table_run"]
