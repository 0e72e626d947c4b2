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


def test_met_reads_the_target():
    assert summary.met(0.96, ">= 0.95") is True and summary.met(0.41, "<= 0.40") is False
    assert summary.met(0.1, "> 0") is True and summary.met(None, ">= 1") is None
    assert summary.met(0.5, "") is None and summary.met(0.5, "as the paper") is None


def test_scoreboard_keeps_other_rows_replaces_remeasured_ones_and_renders_the_page(tmp_path):
    results, docs = tmp_path / "results", tmp_path / "docs"
    _status(results / "bagan", "bagan", "ok")
    run = results / "bagan" / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"config": {"profile": "quick"}}))
    headline = [{"paper": "BAGAN", "metric": "SSIM of generated pairs", "paper_value": 0.317, "value": 0.35,
                 "target": "<= 0.40", "seeds": "0,1", "command": "python -m bagan.evaluate run"}]
    (run / "headline.json").write_text(json.dumps(headline))
    docs.mkdir()
    pd.DataFrame([["dagan", "gain at k = 1", 2.8, 1.0, ">= 2.8", False, "quick", "0", "python -m dagan.evaluate r"],
                  ["bagan", "SSIM of generated pairs", 0.317, 0.8, "<= 0.40", False, "quick", "0", "old"]],
                 columns=summary.SCOREBOARD).to_csv(docs / "scoreboard.csv", index=False)
    (docs / "RESULTS.md").write_text("# Measured results\n\nHand-written sections.\n")
    args = [str(results), "--scoreboard", str(docs / "scoreboard.csv"), "--page", str(docs / "RESULTS.md")]
    for _ in range(2):                        # a second run replaces its rows, it does not add them again
        summary.cli(args)
    board = pd.read_csv(docs / "scoreboard.csv")
    assert list(board.columns) == summary.SCOREBOARD and len(board) == 2
    bagan = board[board["package"] == "bagan"].iloc[0]
    assert bagan["ours"] == 0.35 and bool(bagan["met"]) and bagan["seeds"] == "0,1"
    assert bagan["command"] == "python -m bagan.evaluate run" and bagan["profile"] == "quick"
    assert board[board["package"] == "dagan"].iloc[0]["ours"] == 1.0         # not re-measured: kept
    page = (docs / "RESULTS.md").read_text()
    assert page.startswith("# Measured results\n\n" + summary.MARKERS[0]) and page.count(summary.MARKERS[0]) == 1
    assert "| bagan | SSIM of generated pairs | 0.317 | 0.35 | <= 0.40 | yes |" in page
    assert "| dagan | gain at k = 1 | 2.8 | 1 | >= 2.8 | **no** |" in page and "Hand-written sections." in page


def test_a_sub_runs_headline_is_collected_with_its_command_once(tmp_path):
    run = tmp_path / "cgan_infogan" / "mnist_quick"
    sub = run / "infogan"
    sub.mkdir(parents=True)
    command = "python -m cgan_infogan.train --variant official"
    (run / "config.json").write_text(json.dumps({"config": {"profile": "quick"}, "command": command}))
    (sub / "config.json").write_text(json.dumps({"config": {"model": "infogan"}, "command": command}))
    (sub / "headline.json").write_text(json.dumps([{"paper": "CGAN/InfoGAN", "metric": "mapping", "value": 0.9,
                                                    "target": ">= 0.95", "command": command}]))
    row = summary.collect(tmp_path).iloc[0]
    assert row["metric"] == "mapping" and row["profile"] == "quick" and row["command"] == command
    assert row["run_dir"] == "cgan_infogan/mnist_quick/infogan"


def _run(results, name, headline, written, config=None):
    """A run dir holding `headline` (its file dated `written`, seconds since the epoch) and a config.json."""
    run = results / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config or {"config": {"profile": "quick", "seed": 0},
                                                           "command": "python -m dagan.train"}))
    (run / "headline.json").write_text(json.dumps(headline))
    os.utime(run / "headline.json", (written, written))


def test_the_scoreboard_keeps_one_row_per_claim_the_newest_runs(tmp_path, capsys):
    row = {"paper": "DAGAN", "metric": "variety ratio", "target": ">= 0.3", "command": "python -m dagan.evaluate"}
    same = {"paper": "DAGAN", "metric": "class kept", "value": 0.02, "command": "python -m dagan.evaluate"}
    # the newer run first in path order: the file's date decides, not the order
    _run(tmp_path / "dagan", "ms0", [dict(row, value=0.29), same], written=2_000_000_000)
    _run(tmp_path / "dagan", "ms0_e200", [dict(row, value=0.08, command="python -m dagan.evaluate --epochs 200"),
                                          same], written=1_900_000_000)
    board = summary.scoreboard_rows(summary.collect(tmp_path))
    assert len(board) == 2 and board.set_index("claim").loc["variety ratio", "ours"] == 0.29
    assert capsys.readouterr().out.splitlines() == [               # the identical "class kept" rows: silently
        "scoreboard: 'variety ratio' from dagan/ms0 replaces dagan/ms0_e200"]


def test_seeds_are_the_headlines_else_the_runs_config_else_the_status(tmp_path):
    _status(tmp_path / "dagan", "dagan", "ok")                     # seed 0
    _run(tmp_path / "dagan", "seeded", [{"metric": "a", "value": 1}, {"metric": "b", "value": 1, "seeds": "0,1,2"}],
         written=2_000_000_000, config={"config": {"seed": 3}})
    _run(tmp_path / "dagan", "unseeded", [{"metric": "c", "value": 1}], written=2_000_000_000, config={"config": {}})
    sub = tmp_path / "dagan" / "seeded" / "infogan"                 # a sub-run: its parent's seed
    sub.mkdir()
    (sub / "headline.json").write_text(json.dumps([{"metric": "d", "value": 1}]))
    board = summary.scoreboard_rows(summary.collect(tmp_path)).set_index("claim")["seeds"]
    assert board.to_dict() == {"a": "3", "b": "0,1,2", "c": "0", "d": "3"}
    summary.update_scoreboard(tmp_path / "scoreboard.csv", summary.collect(tmp_path))
    summary.update_scoreboard(tmp_path / "scoreboard.csv", summary.collect(tmp_path).iloc[:1])    # the others kept
    assert (tmp_path / "scoreboard.csv").read_text().count(",3,") == 2                           # not 3.0


def test_runs_of_one_claim_at_other_seeds_pool_into_their_mean(tmp_path, capsys):
    claim = {"paper": "BAGAN", "metric": "SSIM of generated pairs", "target": "<= 0.40"}
    _run(tmp_path / "bagan", "seed_1", [dict(claim, value=0.50, command="train -s 1")], written=2_000_000_000,
         config={"config": {"seed": 1}})
    _run(tmp_path / "bagan", "seed_0", [dict(claim, value=0.20, command="train -s 0")], written=1_900_000_000,
         config={"config": {"seed": 0}})
    _run(tmp_path / "bagan", "seed_0_again", [dict(claim, value=0.30, command="train -s 0 again")],
         written=1_950_000_000, config={"config": {"seed": 0}})              # a newer run of seed 0 replaces it
    board = summary.scoreboard_rows(summary.collect(tmp_path))
    assert len(board) == 1
    row = board.iloc[0]
    assert row["ours"] == pytest.approx(0.40) and row["seeds"] == "0,1" and row["met"] is True   # (0.30 + 0.50) / 2
    assert row["command"] == "train -s 0 again ; train -s 1"
    assert "seed_0_again replaces bagan/seed_0" in capsys.readouterr().out


def test_a_run_is_scored_under_the_package_of_its_command_and_not_while_it_trains(tmp_path, capsys):
    """A run trained into any --out folder (e.g. results/bagan_gtsrb/) is scored under the package its
    command names; a run whose lock a live process holds is skipped, with one line."""
    import socket
    row = {"paper": "BAGAN", "metric": "accuracy, gtsrb", "value": 0.5}
    _run(tmp_path / "bagan_gtsrb", "res_GTSRB", [row], written=2_000_000_000,
         config={"config": {"profile": "quick", "seed": 0}, "command": "python bagan/train.py -D GTSRB"})
    _run(tmp_path / "probe", "x", [dict(row, metric="other")], written=2_000_000_000,
         config={"config": {}, "command": "python scripts/bagan_probe.py"})
    busy = tmp_path / "cgan_x"
    _run(busy, "mnist_quick", [dict(row, metric="mapping")], written=2_000_000_000)
    (busy / "mnist_quick" / "run.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    table = summary.collect(tmp_path).set_index("metric")
    assert table.loc["accuracy, gtsrb", "package"] == "bagan" and table.loc["other", "package"] == "probe"
    assert "mapping" not in table.index
    assert "skipped, a run is still training in it" in capsys.readouterr().err


def test_a_seed_measured_on_another_machine_joins_the_mean_once(tmp_path, capsys):
    """The scoreboard's single-seed row of a claim re-measured at other seeds joins their mean; a second
    summary keeps that mean (the kept seed's run is no longer on disk)."""
    claim = {"paper": "BAGAN", "metric": "generated accuracy", "target": ">= 0.90"}
    for seed, value in ((1, 0.80), (2, 0.90)):
        _run(tmp_path / "results" / "bagan", f"seed_{seed}", [dict(claim, value=value, command=f"evaluate {seed}")],
             written=2_000_000_000 + seed, config={"config": {"seed": seed, "profile": "quick"}})
    board = tmp_path / "scoreboard.csv"
    pd.DataFrame([["bagan", "generated accuracy", None, 0.70, ">= 0.90", False, "quick", "0", "evaluate 0"],
                  ["bagan", "other claim", None, 1.0, None, None, "quick", "0", "evaluate 0"]],
                 columns=summary.SCOREBOARD).to_csv(board, index=False)
    for _ in range(2):
        summary.update_scoreboard(board, summary.collect(tmp_path / "results"))
        row = pd.read_csv(board, dtype={"seeds": str}).set_index("claim").loc["generated accuracy"]
        assert row["ours"] == pytest.approx(0.80) and row["seeds"] == "0,1,2" and not row["met"]
        assert row["command"] == "evaluate 0 ; evaluate 1 ; evaluate 2"
    assert "keeps its mean over seeds 0,1,2, which counts the runs of seeds 1,2" in capsys.readouterr().out
    assert len(pd.read_csv(board)) == 2
