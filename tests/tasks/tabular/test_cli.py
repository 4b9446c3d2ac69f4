"""`gankit impute` / `gankit synth` through run_impute / run_synth with argparse namespaces."""
from __future__ import annotations

import argparse
import csv

import pandas as pd
import pytest

import gankit
from gankit.errors import GanKitError
from gankit.tasks.impute.commands import add_impute, run_impute
from gankit.tasks.table.commands import add_synth, run_synth


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gankit")
    sub = parser.add_subparsers(dest="command")
    add_impute(sub)
    add_synth(sub)
    return parser.parse_args(argv)


CSV = ("id,height,city,ok,score\r\n"
       "1,1.50,\"Lyon\",true,7\r\n"
       "2,,Paris,false,\r\n"
       "3,1.72,,true,9\r\n"
       "4,1.80,Lyon,,10\r\n"
       "5,1.655,Nice,false,3\r\n"
       "6,1.70,Paris,true,7\r\n")


def test_impute_changes_only_missing_cells(tmp_path):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(CSV.encode())
    assert run_impute(_args("impute", str(src), "--output", str(dst), "--iterations", "50")) == 0
    before = list(csv.reader(CSV.splitlines()))
    after = list(csv.reader(dst.read_text().splitlines()))
    assert dst.read_bytes().count(b"\r\n") == 7                    # line endings kept
    assert after[0] == before[0] and len(after) == len(before)
    for row_b, row_a in zip(before[1:], after[1:]):
        for cell_b, cell_a in zip(row_b, row_a):
            assert cell_a == cell_b if cell_b else cell_a != ""    # same text, or now filled
    filled = pd.read_csv(dst)
    assert 1.5 <= filled.loc[1, "height"] <= 1.8 and filled.loc[2, "city"] in {"Lyon", "Paris",
                                                                               "Nice"}
    assert after[4][3] in {"true", "false"}                         # the file's own spelling
    assert after[2][4].isdigit()                                    # an int column stays int


def test_impute_without_missing_cells_copies_the_file(tmp_path, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(b"a,b\n1,x\n2.50,y\n")
    assert run_impute(_args("impute", str(src), "--output", str(dst))) == 0
    assert dst.read_bytes() == src.read_bytes()
    assert "no missing cells" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (b"\0\1\2binary", "not a CSV"),
    (b"a,b\n", "empty"),
    (b"a,b\n1,\n,\n", "no values at all: b"),
    (b"a,b\n1,2\n,abc\n3,4\n", "column 'b' is numeric but line 3 holds 'abc'"),
])
def test_impute_bad_input(tmp_path, content, message):
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    with pytest.raises(GanKitError, match=message):
        run_impute(_args("impute", str(src), "--output", str(tmp_path / "o.csv")))
    with pytest.raises(GanKitError, match="no such file"):
        run_impute(_args("impute", str(tmp_path / "nope.csv"), "--output", "o.csv"))


def test_synth_writes_rows_like_the_input(tmp_path, mixed):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    df = mixed(120)
    df.to_csv(src, index=False)
    args = _args("synth", str(src), "--num", "50", "--output", str(dst), "--discrete", "kids",
                 "--epochs", "5", "--seed", "3", "--save", str(tmp_path / "model"))
    assert run_synth(args) == 0
    out = pd.read_csv(dst)
    assert list(out.columns) == list(df.columns) and len(out) == 50
    assert set(out["kids"]) <= set(df["kids"]) and set(out["city"]) <= set(df["city"])
    run_dir = tmp_path / "model"   # --save keeps the table run: it loads, samples and resumes
    back = gankit.load_run(run_dir, weights_only=True)
    assert back.config.task == "table" and back.step == 5   # 120 rows: one batch per epoch
    assert list(back.sample(3).columns) == list(df.columns)
    with pytest.raises(GanKitError, match="is a gankit run"):
        run_synth(_args("synth", str(src), "--num", "5", "--output", str(tmp_path / "o2.csv"),
                        "--save", str(run_dir)))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(GanKitError, match="not empty"):
        run_synth(_args("synth", str(src), "--num", "5", "--output", str(tmp_path / "o2.csv"),
                        "--save", str(tmp_path / "full")))
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "o2.csv").exists()
    with pytest.raises(GanKitError, match="--overwrite"):
        run_synth(_args("synth", str(src), "--num", "5", "--output", str(dst)))
    with pytest.raises(GanKitError, match="unknown column"):
        run_synth(_args("synth", str(src), "--num", "5", "--output", str(dst), "--discrete", "x",
                        "--overwrite"))
    with pytest.raises(GanKitError, match="at least 1"):
        run_synth(_args("synth", str(src), "--num", "0", "--output", str(dst)))
