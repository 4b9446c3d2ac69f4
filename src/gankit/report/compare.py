"""`gankit compare RUN RUN …`: runs side by side: what differs in their configuration, their
curves on shared axes, and their final numbers in one table (or as JSON)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, Union

from ..errors import ConfigError
from ..rundir import read_config
from . import figures
from .page import render, write_page
from .run import flatten_config, report_data


def _names(runs: Sequence[Path]) -> list[str]:
    """Short, distinct names: the directory names, or their full paths when those clash."""
    names = [Path(r).resolve().name for r in runs]
    return names if len(set(names)) == len(names) else [str(Path(r).resolve()) for r in runs]


def final_numbers(data: dict[str, Any]) -> dict[str, Any]:
    """Step, training time, last logged losses, the last and best of each evaluated metric, and
    the best of the score the run keeps its best checkpoint by (checkpoints/best.json)."""
    out: dict[str, Any] = {"step": data["step"], "train_minutes": round(data["elapsed"] / 60, 2)}
    recs = data["records"]
    keys = sorted({k for r in recs for k in r if k not in figures.COUNTERS})
    for k in keys:
        vals = [r[k] for r in recs if isinstance(r.get(k), (int, float))]
        if not vals:
            continue
        out[k] = vals[-1]
        if k in figures.LOWER_IS_BETTER and len(vals) > 1:
            out[f"best_{k}"] = min(vals)
    # the score the run keeps its best checkpoint by, whatever its task calls it (--eval-every)
    for k, v in (data.get("best") or {}).items():
        if k != "step":
            out.setdefault(f"best_{k}", v)
    return out


def compare(runs: Sequence[Union[str, Path]]) -> dict[str, Any]:
    """{"runs": names, "differences": {field: [value per run]}, "final": {name: numbers}}."""
    runs = [Path(r) for r in runs]
    if len(runs) < 2:
        raise ConfigError("compare needs at least two runs")
    for r in runs:
        read_config(r)   # one clear RunError for a missing, corrupt or newer run
    data = [report_data(r) for r in runs]
    names = _names(runs)
    flats = [flatten_config(d["config"]) for d in data]
    fields = sorted(set().union(*flats))
    diff = {f: [fl.get(f) for fl in flats] for f in fields
            if len({repr(fl.get(f)) for fl in flats}) > 1}
    return {"runs": names, "differences": diff,
            "final": {n: final_numbers(d) for n, d in zip(names, data)},
            "_records": {n: d["records"] for n, d in zip(names, data)}}


def compare_runs(runs: Sequence[Union[str, Path]], output: Union[str, Path, None] = None,
                 overwrite: bool = False) -> tuple[dict[str, Any], Optional[Path]]:
    """The comparison, and the page written to `output` (None: no page)."""
    result = compare(runs)
    records = result.pop("_records")
    if output is None:
        return result, None
    names = result["runs"]
    keys = sorted({k for nums in result["final"].values() for k in nums})
    page = render("compare.html.j2", title="gankit compare: " + ", ".join(names), names=names,
                  differences=[(f, *vals) for f, vals in result["differences"].items()],
                  final=[(k, *(result["final"][n].get(k, "–") for n in names)) for k in keys],
                  curves=figures.shared_curves(records))
    return result, write_page(Path(output), page, overwrite)
