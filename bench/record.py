"""The compact records the docs cite: bench/records/NAME.jsonl, one JSON object a line.

A benchmark writes its raw outputs (logs, per-job files, checkpoints, grids, clips) under
bench/runs/, which git ignores, and appends one line here per result row it prints. Each line:

    bench     the script (or, for results whose script was removed, what made them)
    command   the command line that produced the row, as typed (`python bench/NAME.py ...`)
    machine   CPU model and cores (gankit.rundir.hardware()); "unrecorded" where not known
    date      when the row was written (YYYY-MM-DD HH:MM); "unrecorded" where not known
    commit    the git commit of the checkout that ran it (short hash, "+dirty" when src/ or
              bench/ had uncommitted changes); "unrecorded" where not known
    torch     torch's version
    row       the result itself: what the script's table prints, and a little more

Rows converted from the raw files that were once tracked under bench/runs/ also carry
`provenance`: the file they came from and the commit that still holds it, and where the command
comes from when the raw file did not record it.

A script's --collect mode reads these lines (`read`) and prints its table from them alone, so a
fresh clone reprints the docs' tables. Imported by the scripts in bench/ (run as
`python bench/NAME.py`).
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
RECORDS = HERE / "records"
ROOT = HERE.parent
UNRECORDED = "unrecorded"


def machine() -> str:
    """CPU model and cores (and the GPU where there is one) of this machine."""
    try:
        from gankit.rundir import hardware
        return hardware()
    except Exception:   # noqa: BLE001  (a record is still worth writing)
        return UNRECORDED


def commit() -> str:
    """The checkout's commit, '+dirty' when src/ or bench/ scripts have uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src",
                                "bench", ":!bench/records", ":!bench/runs"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return UNRECORDED
    return head + ("+dirty" if dirty else "") if head else UNRECORDED


def command(argv: Optional[list[str]] = None) -> str:
    """This process's command line as typed: `python bench/NAME.py ARGS`."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *argv[1:]])


def torch_version() -> str:
    try:
        import torch
        return torch.__version__
    except ImportError:
        return UNRECORDED


def make(bench: str, row: dict, cmd: Optional[str] = None) -> dict:
    """A record of `row` made now, on this machine, by this command."""
    return {"bench": bench, "command": cmd or command(), "machine": machine(),
            "date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit(),
            "torch": torch_version(), "row": row}


def path(bench: str) -> Path:
    return RECORDS / f"{bench}.jsonl"


def append(bench: str, rows: Iterable[dict], cmd: Optional[str] = None) -> Path:
    """Append one record per row to bench/records/BENCH.jsonl (one write per line, under a
    lock: jobs running side by side may append at once)."""
    out = path(bench)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(make(bench, r, cmd), ensure_ascii=False, default=_plain) + "\n"
                    for r in rows)
    if not lines:
        return out
    with open(out, "a", encoding="utf-8") as f:
        try:
            import fcntl
            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:   # not POSIX: one write is the best there is
            pass
        f.write(lines)
        f.flush()
        os.fsync(f.fileno())
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"records: {len(lines.splitlines())} row(s) appended to {shown}", flush=True)
    return out


def _plain(x: Any) -> Any:
    """numpy and torch scalars and arrays as plain numbers and lists; anything else as text."""
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    return repr(x)


def read(bench: str, keep: Optional[Callable[[dict], bool]] = None,
         key: Optional[Callable[[dict], Any]] = None) -> list[dict]:
    """The records of BENCH (in file order) that `keep(record)` accepts; with `key(record)`,
    only the last record of each key (a rerun's row replaces the earlier one)."""
    f = path(bench)
    recs = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()
            if line.strip()] if f.is_file() else []
    recs = [r for r in recs if keep is None or keep(r)]
    if key is None:
        return recs
    last = {key(r): i for i, r in enumerate(recs)}
    return [r for i, r in enumerate(recs) if last[key(r)] == i]


def describe(recs: list[dict]) -> str:
    """Where and when a set of records ran, for a table's header: machines, dates, torch and
    commits ("not recorded" where a record says "unrecorded")."""
    if not recs:
        return "no records"

    def some(field: str, cut: Optional[int] = None) -> str:
        values = sorted({(r.get(field) or UNRECORDED)[:cut] for r in recs})
        known = [v for v in values if v != UNRECORDED]
        if field == "date" and len(known) > 2:
            known = [f"{known[0]} to {known[-1]}"]
        return "; ".join(known + (["not recorded"] if len(known) < len(values) else []))
    return (f"machine: {some('machine')}; date: {some('date', 10)}; torch: {some('torch')}; "
            f"commit: {some('commit')}")


def rows(recs: list[dict]) -> list[dict]:
    return [r["row"] for r in recs]
