import argparse
import json

import pytest

from common import cli, datasets
from common.errors import UserError


def test_bounded_types():
    unit = cli.bounded(float, 0, 1, low_open=True)
    assert unit("1") == 1.0
    for bad in ("0", "1.5", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            unit(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="expected an integer, got 'x'"):
        cli.positive_int("x")


def test_profile_values_are_overridden_by_flags():
    parser = cli.ArgumentParser(parents=[cli.parent_parser()])
    profiles = {"quick": {"epochs": 5, "batch_size": 64}, "smoke": {"epochs": 1, "batch_size": 8}}
    config = cli.resolve(parser.parse_args(["--profile", "smoke", "--batch-size", "4"]), profiles)
    assert config["epochs"] == 1 and config["batch_size"] == 4 and config["profile"] == "smoke"


def test_a_dataset_changes_its_profile_before_flags():
    parser = cli.ArgumentParser(parents=[cli.parent_parser()])
    parser.add_argument("-D", "--dataset", default=None)
    profiles = {"quick": {"dataset": "MNIST", "epochs": 5, "batch_size": 64}}
    by_dataset = {"GTSRB": {"quick": {"epochs": 50}}}

    def resolve(*argv):
        return cli.resolve(parser.parse_args(["--profile", "quick", *argv]), profiles, by_dataset=by_dataset)
    assert resolve("-D", "gtsrb")["epochs"] == 50 and resolve("-D", "gtsrb")["batch_size"] == 64
    assert resolve("-D", "GTSRB", "-e", "3")["epochs"] == 3          # a flag still wins
    assert resolve()["epochs"] == resolve("-D", "MNIST")["epochs"] == 5
    assert cli.profile_values(profiles, "quick", "GTSRB", by_dataset)["epochs"] == 50


def test_parser_errors_are_one_line(capsys):
    parser = cli.ArgumentParser(prog="x", parents=[cli.parent_parser()])
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--epochs", "0"])
    assert exit_.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_failed_run_leaves_no_run_dir_but_keeps_existing_ones(tmp_path, capsys):
    @cli.main
    def entry(argv):
        cli.prepare_run_dir(tmp_path / argv[0], {"seed": 0})
        raise UserError("bad input")

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "state.json").write_text("{}")
    for name in ("new", "old"):
        with pytest.raises(SystemExit) as exit_:
            entry([name])
        assert exit_.value.code == 2
    assert not (tmp_path / "new").exists()
    assert (tmp_path / "old" / "state.json").exists()
    assert capsys.readouterr().err.strip().endswith("error: bad input")
    assert json.loads((tmp_path / "old" / "config.json").read_text())["config"] == {"seed": 0}


def test_offline_download_failure_names_the_expected_files(tmp_path, monkeypatch):
    import keras

    def no_network():
        raise OSError("Could not resolve host")
    monkeypatch.delenv("GAN_OFFLINE")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    with pytest.raises(UserError, match=r"mnist\.npz.*download failed: OSError"):
        datasets.load("mnist", "train", tmp_path)


def test_new_output_refuses_an_existing_path_unless_overwrite(tmp_path):
    fresh = tmp_path / "new.npz"
    assert cli.new_output(str(fresh), overwrite=False) == fresh
    fresh.write_text("keep me")
    with pytest.raises(UserError, match="pass --overwrite to replace it or choose another --output"):
        cli.new_output(fresh, overwrite=False, flag="--output")
    assert fresh.read_text() == "keep me"
    assert cli.new_output(fresh, overwrite=True) == fresh


def test_no_tensorflow_start_up_lines_on_stderr(tmp_path):
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GAN_TF_LOGS")}
    quiet = subprocess.run([sys.executable, "-c", "import common, keras, tensorflow as tf; tf.zeros(1)"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == ""
    bad = subprocess.run([sys.executable, "-m", "dagan.train", "--profile", "smoke", "--data-dir",
                          str(tmp_path / "missing")], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "does not exist" in bad.stderr


def test_help_shows_the_defaults_of_the_chosen_profile(capsys):
    profiles = {"quick": {"batch_size": 64, "epochs": 5}, "paper": {"batch_size": 128, "epochs": 150}}
    for argv, shown in ([["--help"], "(--profile quick: 64)"], [["--profile", "paper", "-h"], "(--profile paper: 128)"]):
        parser = cli.ArgumentParser(prog="x", parents=[cli.parent_parser()])
        with pytest.raises(SystemExit) as exit_:
            cli.parse_args(parser, argv, profiles)
        assert exit_.value.code == 0
        assert shown in " ".join(capsys.readouterr().out.split())
    parser = cli.ArgumentParser(prog="x", parents=[cli.parent_parser()])
    assert cli.parse_args(parser, ["--epochs", "3"], profiles).epochs == 3


@pytest.mark.parametrize("module", ["bagan.train", "dagan.train", "cgan_infogan.train", "began.train", "debias.train"])
def test_every_train_py_speaks_the_shared_vocabulary(module):
    import importlib
    entry = importlib.import_module(module)
    parser = getattr(entry, "parser", None) or entry.run.parser      # bagan's lives in bagan/run.py
    options = {s for a in parser()._actions for s in a.option_strings}
    shared = {"--data-dir", "--out", "--seed", "--profile", "--epochs", "--batch-size", "--lr", "--overwrite",
              "--strategy", "--precision", "--tensorboard", "--save-every"}
    if module.split(".")[0] in ("bagan", "dagan", "began", "cgan_infogan"):     # the packages that take any image folder
        shared |= {"--dataset", "--image-size"}
    assert shared <= options, sorted(shared - options)
