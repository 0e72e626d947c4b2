"""`--strategy multiworker` for real: two worker processes on loopback ports (TF_CONFIG, worker 0 =
chief) train the toy GAN through common.training.train under MultiWorkerMirroredStrategy, then
resume. Each worker has its own run dir, as on two machines (the other worker's is a copy of the
chief's for the resumption), except in the NaN test, where they share one. Deselect the tests that start workers with
`-m "not multiworker"`."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mw_worker
from common import cli, training

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 240        # seconds for one two-worker run, a safety net: runs took 12-30 s on 2 busy cores


def free_ports(n):
    with ExitStack() as stack:           # all bound at once, so the n ports differ
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def run_workers(tmp, run_dirs, epochs, name, *args, code=0):
    """Start one process per run dir, wait for all; on an exit status other than `code` or a
    timeout kill every one (whole process group) and fail with the logs. Returns each worker's
    report and final state when they exit with 0, else their logs."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(len(run_dirs))]}
    procs, logs = [], []
    try:
        for index, run_dir in enumerate(run_dirs):
            scratch = tmp / f"{name}_tmp{index}"
            scratch.mkdir()
            env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                       TMPDIR=str(scratch), PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2",
                       MW_WORKER_TIMEOUT=str(TIMEOUT + 30))
            logs.append(tmp / f"{name}_{index}.log")
            with open(logs[-1], "w") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, str(Path(mw_worker.__file__)), str(run_dir), str(epochs),
                     str(tmp / f"{name}_{index}.json"), *map(str, args)],
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + TIMEOUT
        # A worker that fails leaves the others waiting on collectives: stop at the first failure.
        while any(p.poll() is None for p in procs) and all(p.poll() in (None, code) for p in procs):
            assert time.monotonic() < deadline, f"workers still running after {TIMEOUT} s"
            time.sleep(0.1)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    codes = [p.returncode for p in procs]
    assert codes == [code] * len(procs), f"exit codes {codes}:\n" + "\n".join(
        f"--- worker {i}\n{log.read_text()[-3000:]}" for i, log in enumerate(logs))
    for index in range(len(procs)):           # the scratch dir of the non-chief is gone with it
        assert not any((tmp / f"{name}_tmp{index}").iterdir())
    if code:
        return [log.read_text() for log in logs]
    reports = [json.loads((tmp / f"{name}_{i}.json").read_text()) for i in range(len(procs))]
    states = [list(np.load(tmp / f"{name}_{i}.json.npz").values()) for i in range(len(procs))]
    return reports, states


def reference(run_dir, epochs):
    """The same training in this process on one device: the global batch of 16 at once."""
    model = mw_worker.fit(run_dir, epochs)
    return model.consumed, mw_worker.state(model), model.noise((2, mw_worker.toy.LATENT)).numpy()


def files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def check_run(reports, states, ref_consumed, ref_state, ref_latents):
    assert [r["replicas"] for r in reports] == [2, 2]
    latents = np.array(reports[0]["latents"])
    np.testing.assert_array_equal(latents, reports[1]["latents"])
    # replica 0 draws what one process draws, replica 1 other latents (not a copy of replica 0's)
    np.testing.assert_array_equal(latents[:2], ref_latents)
    assert np.abs(latents[2:] - latents[:2]).min() > 1e-3
    for a, b in zip(*states):                               # the workers hold one model
        np.testing.assert_array_equal(a, b)
    for a, b in zip(states[0], ref_state):                  # ... the single-process one
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    chief, other = (r["consumed"] for r in reports)
    assert len(chief) == len(other) == len(ref_consumed)
    for mine, theirs, whole in zip(chief, other, ref_consumed):
        # each worker trained on its own half of the global batch, and the halves make it up
        assert len(mine) == len(theirs) == mw_worker.BATCH // 2
        assert sorted(mine + theirs) == sorted(whole)


def check_logs(run_dir, ref_dir):
    for name, key in ((training.LOSSES_CSV, "epoch"), (training.STEPS_CSV, "step")):
        got, want = pd.read_csv(run_dir / name), pd.read_csv(ref_dir / name)
        assert list(got.columns) == list(want.columns) and got[key].tolist() == want[key].tolist()
        # the logs are global-batch means, not the chief's half
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.multiworker
def test_two_workers_train_like_one_process_and_resume_from_the_chief(tmp_path):
    chief_dir, other_dir, ref_dir = tmp_path / "chief" / "run", tmp_path / "other" / "run", tmp_path / "ref"

    reports, states = run_workers(tmp_path, [chief_dir, other_dir], 2, "first")
    ref_consumed, ref_state, ref_latents = reference(ref_dir, 2)
    check_run(reports, states, ref_consumed, ref_state, ref_latents)
    assert not other_dir.parent.exists()                    # the non-chief wrote nothing
    assert json.loads((chief_dir / "state.json").read_text())["epoch"] == 2
    for name in ("config.json", "losses.png", "samples/epoch_0002.png", "checkpoints/epoch_0002.weights.h5"):
        assert (chief_dir / name).is_file(), name
    check_logs(chief_dir, ref_dir)

    # Resume to 4 epochs; the other machine gets a copy of the chief's run dir.
    shutil.copytree(chief_dir, other_dir)
    copied = files(other_dir)
    reports, states = run_workers(tmp_path, [chief_dir, other_dir], 4, "resumed")
    ref_consumed, ref_state, ref_latents = reference(ref_dir, 4)   # resumes the reference run too
    assert len(ref_consumed) == 2 * mw_worker.STEPS                   # epochs 3 and 4 only
    check_run(reports, states, ref_consumed, ref_state, ref_latents)
    assert files(other_dir) == copied                       # read, never written
    assert json.loads((chief_dir / "state.json").read_text())["epoch"] == 4
    check_logs(chief_dir, ref_dir)


@pytest.mark.multiworker
def test_a_nan_on_one_worker_stops_every_worker_at_the_same_step(tmp_path):
    run_dir = tmp_path / "shared" / "run"          # one run dir for both, as on a shared filesystem
    logs = run_workers(tmp_path, [run_dir, run_dir], 3, "nan", mw_worker.STEPS, code=1)
    # the losses are averaged across workers, so the chief sees the other worker's NaN too
    for log in logs:
        assert "TrainingError: d_loss became nan at epoch 2, step 1; the last good checkpoint (epoch 1)" in log
    assert json.loads((run_dir / "state.json").read_text())["epoch"] == 1
    assert sorted(p.name for p in (run_dir / training.CHECKPOINTS).iterdir()) == [
        "epoch_0001.json", "epoch_0001.weights.h5"]


@pytest.mark.parametrize("tf_config, chief", [
    (None, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "chief", "index": 0}}, True),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}, False),
])
def test_only_the_chief_prepares_the_run_dir(tmp_path, monkeypatch, tf_config, chief):
    if tf_config:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    else:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cli.is_chief() is chief
    cli.prepare_run_dir(tmp_path / "run", {"seed": 0, "overwrite": True})
    assert (tmp_path / "run" / "config.json").exists() is chief


def test_overwrite_on_another_worker_leaves_the_chiefs_run_alone(tmp_path, monkeypatch):
    run = cli.prepare_run_dir(tmp_path / "run", {"seed": 0})
    (run / "state.json").write_text("{}")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:1"]},
                                                "task": {"type": "worker", "index": 1}}))
    before = files(run)
    cli.prepare_run_dir(run, {"seed": 1, "overwrite": True})   # the chief removes it, not this worker
    assert files(run) == before


@pytest.mark.multiworker
def test_workers_that_find_different_checkpoints_all_stop(tmp_path):
    chief_dir, other_dir = tmp_path / "chief" / "run", tmp_path / "other" / "run"
    mw_worker.fit(chief_dir, 1)                   # the chief has epoch 1, the other worker no copy
    before = files(chief_dir)
    logs = run_workers(tmp_path, [chief_dir, other_dir], 2, "apart", code=1)
    for log in logs:                              # one clear error everywhere instead of a hang
        assert "the workers found checkpoints of different epochs ([1, 0], chief first)" in log
    after = files(chief_dir)
    assert after.pop(Path("config.json")) and after == before   # only the chief's config.json is new
    assert not other_dir.parent.exists()
