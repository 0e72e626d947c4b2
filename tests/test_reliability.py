"""Bad input and faults, as a hostile but ordinary user meets them: each gives exit status 2 (or 1
for a fault) and one line naming the problem, and nothing outside the run directory changes."""
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import toy
from common import cli, datasets, pipeline, training
from common.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
TF_NOISE = ("I0000", "E0000", "W0000", "WARNING: All log messages", "oneDNN")


def tree(root):
    """Every file and folder under root with a checksum of its bytes."""
    found = {}
    for p in sorted(Path(root).rglob("*")):
        rel = str(p.relative_to(root))
        found[rel] = hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return found


def own_lines(stderr):
    """The program's stderr lines, without TensorFlow's start-up log."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(TF_NOISE)
            and "cuInit" not in line and "absl::InitializeLog" not in line]


def mnist_npz(path, n_train=300, n_test=20, **override):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "y_train": np.arange(n_train) % 10,
              "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "y_test": np.arange(n_test) % 10}
    arrays.update(override)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A user's folder: good and damaged data, an earlier run, a file where a folder is expected."""
    ws = tmp_path_factory.mktemp("ws")
    mnist_npz(ws / "data" / "mnist" / "mnist.npz")
    good = (ws / "data" / "mnist" / "mnist.npz").read_bytes()
    (ws / "truncated" / "mnist").mkdir(parents=True)
    (ws / "truncated" / "mnist" / "mnist.npz").write_bytes(good[:len(good) // 2])
    mnist_npz(ws / "flat" / "mnist" / "mnist.npz", x_train=np.zeros((300, 28), np.uint8))
    mnist_npz(ws / "short" / "mnist" / "mnist.npz", y_train=np.zeros(7, np.int64))
    other = ws / "runs" / "other"
    other.mkdir(parents=True)
    (other / "config.json").write_text(json.dumps({"config": {"seed": 0}}))
    (other / "keep.txt").write_text("another run's results")
    broken = ws / "runs" / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (broken / "state.json").write_text("{}")
    (ws / "a_file").write_text("not a folder")
    (ws / "preview.png").write_bytes(b"an earlier picture")
    (ws / "empty_run").mkdir()
    return ws


def run(workspace, module, *args):
    env = dict(os.environ, GAN_DATA_DIR=str(workspace / "data"), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=120)


SMOKE = ("--profile", "smoke", "--model", "cgan", "--out", "runs")


@pytest.mark.parametrize("module, args, needle", [
    # run names that would resolve outside --out: with --overwrite they deleted other runs
    ("cgan_infogan.train", (*SMOKE, "--name", "..", "--overwrite"), "not a folder name"),
    ("cgan_infogan.train", (*SMOKE, "--name", ".", "--overwrite"), "not a folder name"),
    ("began.train", ("--profile", "smoke", "--out", "runs", "--name", "a/../..", "--overwrite"), "not a folder name"),
    # numbers outside their range
    ("cgan_infogan.train", (*SMOKE, "--seed", 2**32), "out of range"),
    ("began.evaluate", ("runs/other", "--seed", -1), "out of range"),
    ("cgan_infogan.train", (*SMOKE, "--lr", "nan"), "finite"),
    ("dagan.train", ("--profile", "smoke", "--lr", "inf"), "finite"),
    # damaged data files
    ("cgan_infogan.train", (*SMOKE, "--data-dir", "truncated"), "truncated/mnist/mnist.npz"),
    ("cgan_infogan.train", (*SMOKE, "--data-dir", "flat"), "expected uint8 (N, H, W)"),
    ("cgan_infogan.train", (*SMOKE, "--data-dir", "short"), "300 images but labels of shape (7,)"),
    # outputs where they cannot go, or over what exists
    ("cgan_infogan.train", ("--profile", "smoke", "--model", "cgan", "--out", "a_file"), "a_file exists and is not a folder"),
    ("common.datasets", ("mnist", "--preview", "preview.png"), "preview.png exists"),
    # run directories that are not what they claim
    ("began.generate", ("runs/broken",), "runs/broken/config.json is not a readable JSON"),
    ("cgan_infogan.evaluate", ("empty_run", "--profile", "smoke", "--mix", "200+0", "--low-data", "100+0"),
     "holds no trained cgan/ or infogan/"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(workspace, module, args, needle):
    before = tree(workspace)
    result = run(workspace, module, *args)
    lines = own_lines(result.stderr)
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and needle in lines[0], lines
    assert tree(workspace) == before


def test_overwrite_never_deletes_a_folder_that_is_not_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "other").mkdir(parents=True)
    (tmp_path / "runs" / "other" / "config.json").write_text(json.dumps({"config": {}}))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep")
    before = tree(tmp_path)
    for target, needle in [(tmp_path / "runs", "not a run directory"), (tmp_path / "notes", "not a run directory"),
                           (tmp_path, "current folder"), (tmp_path / "runs" / "..", "current folder")]:
        with pytest.raises(UserError, match=needle):
            cli.prepare_run_dir(target, {"overwrite": True})
    assert tree(tmp_path) == before
    cli.prepare_run_dir(tmp_path / "runs" / "other", {"overwrite": True, "seed": 1})    # a run: starts over
    assert cli.read_config(tmp_path / "runs" / "other") == {"overwrite": True, "seed": 1}
    cli.release_locks()


def test_argument_types_reject_non_finite_numbers_seeds_and_path_names():
    import argparse
    rate = cli.bounded(float, 0, low_open=True)
    for bad in ("nan", "inf", "-inf"):
        with pytest.raises(argparse.ArgumentTypeError, match="finite"):
            rate(bad)
    assert cli.seed("4294967295") == 2**32 - 1
    for bad in ("-1", "4294967296"):
        with pytest.raises(argparse.ArgumentTypeError, match="out of range"):
            cli.seed(bad)
    for bad in ("", ".", "..", "a/b", "../x"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.run_name(bad)
    assert cli.run_name("run-1") == "run-1"


def test_invalid_json_is_a_user_error(tmp_path):
    (tmp_path / "config.json").write_text('{"config": ')
    with pytest.raises(UserError, match="config.json is not a readable JSON run configuration"):
        cli.read_config(tmp_path)
    (tmp_path / "config.json").write_text('[1, 2]')
    with pytest.raises(UserError, match="not a run configuration of this suite"):
        cli.read_config(tmp_path)


@pytest.mark.parametrize("folder, needle", [("truncated", "File is not a zip file"),
                                            ("flat", "expected uint8 (N, H, W)"),
                                            ("short", "300 images but labels of shape (7,)")])
def test_damaged_npz_files_are_user_errors(workspace, folder, needle):
    with pytest.raises(UserError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        datasets.load("mnist", "train", workspace / folder)


HOLDER = textwrap.dedent("""
    import sys, time
    from common import cli
    cli.lock_run_dir(sys.argv[1])
    print("locked", flush=True)
    time.sleep(120)
""")


def test_a_second_run_into_a_locked_run_dir_is_refused_and_a_stale_lock_taken_over(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=rf"in use by another run \(PID {holder.pid} "):
            cli.prepare_run_dir(run_dir, {"seed": 0})
        assert not (run_dir / "config.json").exists()
    finally:
        holder.send_signal(signal.SIGKILL)        # as kill -9: the lock file stays behind
        holder.wait()
    assert (run_dir / cli.LOCK_FILE).exists()
    cli.prepare_run_dir(run_dir, {"seed": 0})
    assert "taking over a stale lock" in capsys.readouterr().err
    assert (run_dir / cli.LOCK_FILE).read_text().split()[0] == str(os.getpid())
    cli.release_locks()
    assert not (run_dir / cli.LOCK_FILE).exists()


def test_entry_point_refuses_a_run_dir_another_process_holds(workspace):
    run_dir = workspace / "runs" / "busy"
    run_dir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = tree(workspace)
        result = run(workspace, "cgan_infogan.train", "--profile", "smoke", "--model", "cgan", "--out", "runs",
                     "--name", "busy")
        lines = own_lines(result.stderr)
        assert result.returncode == 2 and len(lines) == 1 and "in use by another run" in lines[0], result.stderr
        assert tree(workspace) == before
    finally:
        holder.kill()
        holder.wait()


def fit(run_dir, epochs):
    training.seed_everything(0)
    return training.train(toy.build(), lambda e: pipeline.make_dataset(toy.images(), batch_size=16, seed=0,
                                                                         start_epoch=e)[0],
                          run_dir, epochs=epochs, steps_per_epoch=4, config={"seed": 0}, verbose=0)


def weights(model):
    return [np.array(v) for v in model.weights]


def test_a_truncated_latest_checkpoint_falls_back_to_the_one_before(tmp_path, capsys):
    two = weights(fit(tmp_path / "a", 2))
    fit(tmp_path / "b", 3)
    latest = tmp_path / "b" / training.CHECKPOINTS / "epoch_0003.weights.h5"
    latest.write_bytes(latest.read_bytes()[:1000])
    (tmp_path / "b" / cli.STATE_FILE).write_text('{"epoch": 3, "checkp')     # damaged too
    model = toy.build()()
    assert training.load_checkpoint(model, tmp_path / "b", {"seed": 0}) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(err) == 1 and "epoch_0003.weights.h5 is damaged" in err[0] and "epoch_0002" in err[0]
    for a, b in zip(two, weights(model)):
        np.testing.assert_array_equal(a, b)
    fit(tmp_path / "b", 3)          # and training goes on from there
    assert json.loads((tmp_path / "b" / cli.STATE_FILE).read_text())["epoch"] == 3


def test_a_full_disk_leaves_no_partial_file_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    fit(tmp_path, 1)
    good = tree(tmp_path / training.CHECKPOINTS)
    usage = training.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(training.shutil, "disk_usage", lambda p: usage._replace(free=1000))
    with pytest.raises(OSError) as e:
        fit(tmp_path, 2)
    assert e.value.errno == errno.ENOSPC
    assert tree(tmp_path / training.CHECKPOINTS) == good
    assert json.loads((tmp_path / cli.STATE_FILE).read_text())["epoch"] == 1


def test_a_write_that_fails_midway_removes_its_partial_file(tmp_path, monkeypatch):
    model = fit(tmp_path, 1)

    def full(path, *a, **k):
        Path(path).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    monkeypatch.setattr(model, "save_weights", full)
    with pytest.raises(OSError):
        training.save_checkpoint(model, tmp_path, 2, {"seed": 0})
    assert sorted(p.name for p in (tmp_path / training.CHECKPOINTS).iterdir()) == [
        "epoch_0001.json", "epoch_0001.weights.h5"]


def test_an_entry_point_reports_a_full_disk_in_one_line(capsys):
    @cli.main
    def entry(argv):
        raise OSError(errno.ENOSPC, "No space left on device", "run/checkpoints/partial.weights.h5")
    with pytest.raises(SystemExit) as e:
        entry([])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 1 and len(err) == 1 and "no space left" in err[0]


def test_resumed_csv_logs_end_every_row_in_lf(tmp_path):
    fit(tmp_path, 2)
    fit(tmp_path, 4)
    raw = (tmp_path / training.LOSSES_CSV).read_bytes()
    assert b"\r" not in raw and raw.count(b"\n") == 5


def test_bagan_with_fewer_than_five_classes_finishes(tmp_path):
    from bagan import train as bagan_train
    root = tmp_path / "three"
    rng = np.random.default_rng(0)
    for i, name in enumerate("abc"):
        (root / name).mkdir(parents=True)
        for j in range(12 + 4 * i):
            Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(root / name / f"{j}.png")
    res = bagan_train.main(["-D", str(root), "--keep-imbalance", "-e", "1", "--ae-epochs", "1", "--out",
                            str(tmp_path / "out"), "--profile", "smoke", "--batch-size", "8", "--width", "0.125",
                            "--quiet"])
    assert (Path(res) / "plot_class_all.png").exists()


def test_a_later_error_keeps_a_sub_run_that_has_a_checkpoint(tmp_path):
    @cli.main
    def entry(argv):      # as cgan_infogan.train: RUN/ holds cgan/ (trained), then infogan/ fails
        top = cli.prepare_run_dir(tmp_path / "run", {"seed": 0})
        (cli.prepare_run_dir(top / "cgan", {"seed": 0}) / cli.STATE_FILE).write_text("{}")
        raise UserError("the second model cannot start")
    with pytest.raises(SystemExit):
        entry([])
    assert (tmp_path / "run" / "cgan" / cli.STATE_FILE).exists()


KILLED = textwrap.dedent("""
    import sys
    sys.path.insert(0, "tests")
    import toy
    from common import pipeline, training
    training.seed_everything(0)
    training.train(toy.build(), lambda e: pipeline.make_dataset(toy.images(), batch_size=16, seed=0,
                                                                  start_epoch=e)[0],
                   sys.argv[1], epochs=int(sys.argv[2]), steps_per_epoch=4, config={"seed": 0}, verbose=0)
""")


@pytest.mark.parametrize("delay", [0.0, 0.15, 0.4])
def test_kill_9_at_any_moment_then_resume_gives_the_uninterrupted_weights(tmp_path, delay):
    import time
    expected = weights(fit(tmp_path / "straight", 12))
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(run_dir), "12"], cwd=ROOT)
    try:
        deadline = time.time() + 120
        while not (run_dir / cli.STATE_FILE).exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(delay)                     # somewhere in the following epochs, or in a checkpoint write
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    resumed = subprocess.run([sys.executable, "-c", KILLED, str(run_dir), "12"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    model = toy.build()()
    assert training.load_checkpoint(model, run_dir, {"seed": 0}) == 12
    for a, b in zip(expected, weights(model)):
        np.testing.assert_array_equal(a, b)
    assert not list((run_dir / training.CHECKPOINTS).glob("partial*"))
