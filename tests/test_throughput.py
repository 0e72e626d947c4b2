"""common.throughput: the one writer and reader of training throughput, and the older files it reads."""
import json

import pytest

from common import throughput


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def test_record_and_read_round_trip(tmp_path):
    rec = throughput.record(tmp_path, "gan", 10.0, 50, 32, epochs_done=5, epochs_timed=2, note="wall")
    throughput.record(tmp_path, "0_autoencoder", 4.0, 8, 16, epochs_done=2, epochs_timed=2, note="ae",
                      images_per_step=48)
    assert json.loads((tmp_path / "throughput.json").read_text())["gan"] == rec
    got = throughput.read(tmp_path)
    assert set(got) == {"gan", "0_autoencoder"}
    assert got["gan"] == {"seconds": 10.0, "steps": 50, "batch_size": 32, "images_per_step": 32,
                          "images_per_s": 160.0, "steps_per_s": 5.0, "epochs_timed": 2, "epochs_done": 5,
                          "note": "wall"}
    assert got["0_autoencoder"]["images_per_s"] == 96.0 and got["0_autoencoder"]["steps_per_s"] == 2.0
    # a later invocation replaces its phase only
    throughput.record(tmp_path, "gan", 5.0, 10, 32, epochs_done=6, epochs_timed=1, note="wall")
    got = throughput.read(tmp_path)
    assert got["gan"]["epochs_done"] == 6 and got["gan"]["steps"] == 10 and "0_autoencoder" in got
    assert all(set(r) == set(throughput.KEYS) for r in got.values())


def test_no_record_reads_empty(tmp_path):
    assert throughput.read(tmp_path) == {}


def test_reads_bagan_timing_json(tmp_path):
    write(tmp_path / "config.json", {"batch_size": 64})        # a flat config.json of an older run
    write(tmp_path / "timing.json", {"all_gan": {"epochs_done": 3, "epochs_timed": 2, "seconds": 100.0,
                                                 "images_per_s": 128.0, "note": "wall time incl. test losses"}})
    got = throughput.read(tmp_path)["all_gan"]
    assert got == {"seconds": 100.0, "steps": 200, "batch_size": 64, "images_per_step": 64,
                   "images_per_s": 128.0, "steps_per_s": 2.0, "epochs_timed": 2, "epochs_done": 3,
                   "note": "wall time incl. test losses"}


def test_reads_began_timing_epochs(tmp_path):
    write(tmp_path / "config.json", {"config": {"batch_size": 16}, "package": "began"})
    write(tmp_path / "timing_epochs_0001-0002.json",
          {"epochs": 2, "images": 320, "seconds": 4.0, "images_per_second": 80.0, "note": "whole fit"})
    write(tmp_path / "timing_epochs_0003-0004.json",
          {"epochs": 2, "images": 320, "seconds": 2.0, "images_per_second": 160.0, "note": "whole fit"})
    got = throughput.read(tmp_path)
    assert set(got) == {"gan", "gan_epochs_0001-0002"}
    assert got["gan"] == {"seconds": 2.0, "steps": 20, "batch_size": 16, "images_per_step": 16,
                          "images_per_s": 160.0, "steps_per_s": 10.0, "epochs_timed": 2, "epochs_done": 4,
                          "note": "whole fit"}
    assert got["gan_epochs_0001-0002"]["images_per_s"] == 80.0


def test_reads_dagan_timing_epochs(tmp_path):
    write(tmp_path / "config.json", {"config": {"batch_size": 8, "critic_steps": 5}, "package": "dagan"})
    write(tmp_path / "timing_epochs_0001-0003.json",
          {"epochs": 3, "iterations": 30, "seconds": 10.0, "images_per_second": 144.0,
           "iterations_per_second": 3.0, "note": "pairs"})
    got = throughput.read(tmp_path)["gan"]
    assert got == {"seconds": 10.0, "steps": 30, "batch_size": 8, "images_per_step": 48,
                   "images_per_s": 144.0, "steps_per_s": 3.0, "epochs_timed": 3, "epochs_done": 3,
                   "note": "pairs"}


def test_reads_cgan_infogan_sub_dir_files(tmp_path):
    write(tmp_path / "cgan" / "throughput.json",
          {"images_per_s": 256.0012345, "epochs": 2, "steps": 40, "batch_size": 64, "wall_s": 10.0, "note": "fit"})
    write(tmp_path / "cgan" / "state.json", {"epoch": 2})
    got = throughput.read(tmp_path)
    assert got == {"cgan": {"seconds": 10.0, "steps": 40, "batch_size": 64, "images_per_step": 64,
                            "images_per_s": 256.0, "steps_per_s": 4.0, "epochs_timed": 2, "epochs_done": 2,
                            "note": "fit"}}


def test_the_new_file_wins_over_an_old_one(tmp_path):
    write(tmp_path / "timing.json", {"all_gan": {"epochs_done": 1, "epochs_timed": 1, "seconds": 1.0,
                                                 "images_per_s": 1.0, "note": "old"}})
    throughput.record(tmp_path, "all_gan", 2.0, 4, 2, epochs_done=2, epochs_timed=1, note="new")
    assert throughput.read(tmp_path)["all_gan"]["note"] == "new"


@pytest.mark.parametrize("seconds", [0, 0.0])
def test_zero_seconds_has_no_rate(tmp_path, seconds):
    rec = throughput.record(tmp_path, "gan", seconds, 1, 1, epochs_done=1, epochs_timed=1, note="")
    assert rec["images_per_s"] is None and rec["steps_per_s"] is None


def test_side_by_side_rows_are_the_suites_median_over_the_originals(tmp_path):
    import json
    import subprocess
    import sys

    from common import summary
    from tests.conftest import ROOT
    peer = {"meta": {"torch": "2.13.0+cpu", "cpu_model": "X"},
            "results": {"cgan": {"runs": [{"gen_steps_per_s": v} for v in (4.0, 5.0, 6.0)]}}}
    runs = [{"steps_per_s": v} for v in (7.0, 7.5, 8.0)]
    suite = {"machine": {"cpu_model": "X", "logical_cpus": 2, "tensorflow": "2", "keras": "3",
                         "date": "2026-12-05 18:00 UTC"},
             "rows": [{"package": "cgan", "profile": "paper=quick", "mode": "fit", "precision": "float32", "runs": runs},
                      {"package": "cgan", "profile": "paper=quick", "mode": "loop", "precision": "float32",
                       "runs": [{"steps_per_s": 100.0}]},
                      {"package": "cgan", "profile": "paper=quick", "mode": "fit", "precision": "mixed_bfloat16",
                       "runs": [{"steps_per_s": 10.0}]}]}
    (tmp_path / "peer.json").write_text(json.dumps(peer))
    # dagan_torch's harness writes its one model flat
    (tmp_path / "peer_dagan.json").write_text(json.dumps({"model": "DAGAN (WGAN-GP)", "torch": "2.13.0+cpu",
                                                          "runs": [{"gen_steps_per_s": 0.05}]}))
    suite["rows"].append({"package": "dagan", "profile": "paper", "mode": "fit", "precision": "float32",
                          "runs": [{"steps_per_s": 0.1}]})
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    out = subprocess.run([sys.executable, "scripts/side_by_side.py", "--peer", str(tmp_path / "peer.json"),
                          str(tmp_path / "peer_dagan.json"),
                          "--suite", str(tmp_path / "suite.json"), "--out", str(tmp_path / "results" / "throughput")],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    table = summary.collect(tmp_path / "results")
    assert len(table) == 3
    assert table[table["metric"].str.startswith("dagan")]["value"].tolist() == [2.0]
    row = table[table["metric"].str.startswith("cgan") & ~table["metric"].str.contains("bfloat16")].iloc[0]
    assert row["value"] == 1.5 and row["target"] == ">= 1.5" and row["profile"] == "paper"   # 7.5 / 5.0; loop ignored
    assert summary.met(row["value"], row["target"]) is True and "side_by_side.sh" in row["command"]
    bf16 = table[table["metric"].str.contains("bfloat16")].iloc[0]   # its own row, named, never pooled with float32
    assert bf16["value"] == 2.0 and "--precision mixed_bfloat16" in bf16["metric"]
