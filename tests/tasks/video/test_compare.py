"""`gankit compare` on two video runs: the setting that differs, their losses and motion scores
side by side, each run's best score by the key it keeps its best checkpoint by, and the page."""
from __future__ import annotations

import json

import pytest
from helpers import run

from gankit.report import compare

pytestmark = pytest.mark.filterwarnings("ignore::gankit.errors.GanKitWarning")


def test_compare_two_video_runs(video_runs, tmp_path, capsys):
    a, b = video_runs / "plain", video_runs / "slow"
    result = compare([a, b])
    assert result["runs"] == ["plain", "slow"]
    assert result["differences"] == {"train.lr": [0.02, 0.002]}
    for name in ("plain", "slow"):
        final = result["final"][name]
        assert final["step"] == 4 and {"d_img", "d_vid", "g_loss", "motion_gap"} <= set(final)
        best = json.loads((video_runs / name / "checkpoints" / "best.json").read_text())
        assert final["best_fvd"] == best["fvd"]   # --eval-every keeps moving-mnist's best by fvd
    code, out, err = run(capsys, "compare", a, b, "--json")
    assert code == 0 and json.loads(out)["final"] == result["final"], err
    code, out, err = run(capsys, "compare", a, b, "--output", tmp_path / "cmp.html")
    assert code == 0 and "train.lr: plain=0.02, slow=0.002" in out and "motion_gap" in out, err
    page = (tmp_path / "cmp.html").read_text()
    assert "motion_gap" in page and "d_vid" in page and "<img" in page
