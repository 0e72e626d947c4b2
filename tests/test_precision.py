"""`--precision mixed_bfloat16` on a smoke run of every training entry point: the run trains with
finite float32 losses, its checkpoint resumes, and the networks really compute in bfloat16."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, shared_data

# entry point with its smoke flags, the folder that holds losses.csv and state.json, and the epochs of
# the second call: BAGAN's run name holds the epoch count (as the original's), so it is called again
# with the same count and loads its checkpoint; the others go on to a second epoch.
RUNS = {
    "bagan": (["bagan.train", "-u", "0.05", "-c", "0", "--ae-epochs", "1"], "res_*/class_0/gan", 1),
    "dagan": (["dagan.train"], "omniglot_smoke_seed0", 2),
    "cgan": (["cgan_infogan.train", "--model", "cgan"], "mnist_smoke/cgan", 2),
    "began": (["began.train"], "*", 2),
}


def train(module_args, out, epochs):
    env = dict(os.environ, GAN_DATA_DIR=str(shared_data()))
    return subprocess.run([sys.executable, "-m", *module_args, "--profile", "smoke", "--precision",
                           "mixed_bfloat16", "--epochs", str(epochs), "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("package", sorted(RUNS))
def test_mixed_bfloat16_smoke_run_trains_and_resumes(package, tmp_path, data_root):
    module_args, pattern, epochs = RUNS[package]
    first = train(module_args, tmp_path, 1)
    assert first.returncode == 0, first.stderr[-3000:]
    again = train(module_args, tmp_path, epochs)
    assert again.returncode == 0, again.stderr[-3000:]
    run = next(p for p in sorted(Path(tmp_path).glob(pattern)) if (p / "state.json").exists())
    assert ("resuming after epoch 1" if epochs == 2 else "already trained for 1 epochs") in again.stdout
    assert json.loads((run / "state.json").read_text())["epoch"] == epochs
    log = pd.read_csv(run / "losses.csv")
    losses = log.drop(columns=[c for c in log.columns if c in ("epoch", "step")]).to_numpy(float)
    assert len(log) == epochs and np.isfinite(losses).all()
    config_json = next(p / "config.json" for p in (run, *run.parents) if (p / "config.json").exists())
    config = json.loads(config_json.read_text())["config"]      # BAGAN's is in its res_ folder
    assert config["precision"] == "mixed_bfloat16"
