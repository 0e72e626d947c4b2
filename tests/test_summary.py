"""The results summary: one row per headline metric, a status row for packages without any."""
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from common import summary
from common.errors import UserError
from tests.conftest import ROOT

EXPECTED = ["paper", "metric", "paper_value", "value", "profile", "seed", "wall_time_s", "status", "run_dir"]


def _status(path, package, status):
    path.mkdir(parents=True, exist_ok=True)
    (path / "status.json").write_text(json.dumps(
        {"package": package, "status": status, "wall_time_s": 12.5, "profile": "smoke", "seed": 0}))


def test_summary_table_has_the_expected_columns(tmp_path):
    _status(tmp_path / "bagan", "bagan", "ok")
    run = tmp_path / "bagan" / "mnist_run"
    run.mkdir()
    (run / "headline.json").write_text(json.dumps([
        {"paper": "BAGAN", "metric": "accuracy, MNIST", "paper_value": 0.9, "value": 0.85, "notes": "n"},
        {"paper": "BAGAN", "metric": "SSIM", "paper_value": None, "value": 0.2, "notes": ""}]))
    _status(tmp_path / "dagan", "dagan", "not implemented")
    _status(tmp_path / "began", "began", "failed")

    table = summary.write_summary(tmp_path)
    csv = pd.read_csv(tmp_path / "summary.csv")
    assert all(c in csv.columns for c in EXPECTED) and len(csv) == 4
    rows = csv.set_index("metric", drop=False)
    assert rows.loc["accuracy, MNIST", "value"] == 0.85 and rows.loc["SSIM", "run_dir"] == "bagan/mnist_run"
    assert set(csv.loc[csv["metric"].isna(), "status"]) == {"not implemented", "failed"}
    assert (csv["profile"] == "smoke").all() and (csv["wall_time_s"] == 12.5).all()
    md = (tmp_path / "summary.md").read_text()
    assert "| " + " | ".join(table.columns) in md and "accuracy, MNIST" in md and "not implemented" in md


def test_summary_cli_errors_are_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "common.summary", str(tmp_path / "absent")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "x" / "run").mkdir(parents=True)
    (tmp_path / "x" / "run" / "headline.json").write_text("{not json")
    with pytest.raises(UserError, match="headline.json") as e:
        summary.collect(tmp_path)
    assert "\n" not in str(e.value)
