"""scripts/bagan_d_capacity.py: bad input is one line and exit status 2, before any work."""
import json
import subprocess
import sys

from tests.conftest import ROOT


def run(*args):
    return subprocess.run([sys.executable, "scripts/bagan_d_capacity.py", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_bad_flags_and_unfinished_runs_are_one_line_errors(tmp_path):
    unfinished = tmp_path / "res_unfinished"      # a run whose autoencoder phase never finished
    unfinished.mkdir()
    (unfinished / "config.json").write_text(json.dumps(
        {"command": "python bagan/train.py", "config": {"unbalance": 0.05, "variant": "bagan", "keep_imbalance": True}}))
    for args, expected in ((["--width", "0", str(tmp_path)], "--width: 0.0 is out of range"),
                           ([str(tmp_path / "none")], "is not a BAGAN result directory"),
                           ([str(unfinished)], "has no all_kept_indices.npy"),
                           ([str(unfinished), "--trunk", "vgg"], "invalid choice: 'vgg'")):
        result = run(*args)
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
