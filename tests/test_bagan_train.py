"""bagan/train.py end to end on a tiny image folder: every output file, pruning, resume, evaluation,
augmentation, and one-line errors (exit status 2) for bad input."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bagan import run as bagan_run
from bagan import train as bagan_train

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GAN_DATA_DIR", ROOT.parent / "shared" / "data"))
COUNTS = {"a": 24, "b": 16, "c": 16}     # class 0 = "a" is pruned to ceil(0.5 * 16) = 8
FAST = ["--profile", "smoke", "--batch-size", "8", "--width", "0.125", "--quiet"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bagan_data") / "shapes"
    rng = np.random.default_rng(0)
    for i, (name, n) in enumerate(COUNTS.items()):
        (root / name).mkdir(parents=True)
        for j in range(n):
            img = rng.integers(0, 60, (16, 16), dtype=np.uint8)
            img[2 + 4 * i:6 + 4 * i, 2:14] = 255           # a bar whose row depends on the class
            Image.fromarray(img).save(root / name / f"{j:03d}.png")
    return root


@pytest.fixture(scope="module")
def smoke_run(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("bagan_out")
    env_cache = tmp_path_factory.mktemp("cache")
    os.environ["GAN_CACHE_DIR"] = str(env_cache)
    res = bagan_train.main(["-D", str(folder), "-u", "0.5", "-c", "0", "-e", "1", "--ae-epochs", "1",
                            "--out", str(out), *FAST])
    return res


def test_result_directory_name_is_the_originals(smoke_run):
    assert smoke_run.name == "res_shapes_dmode_uniform_gmode_uniform_unbalance_0.5_epochs_1_lr_0.000050_seed_0"


def test_smoke_run_writes_every_file(smoke_run):
    names = {p.name for p in smoke_run.iterdir()}
    for name in ["config.json", "0_encoder.weights.h5", "0_decoder.weights.h5",
                 "0_means.npy", "0_covariances.npy", "0_kept_indices.npy",
                 "class_0_generator.weights.h5", "class_0_discriminator.weights.h5",
                 "class_0_reconstructor.weights.h5", "cmp_class_0_init.png", "plot_class_0.png", "throughput.json"]:
        assert name in names, name
    # each log and grid once, in the phase's own files: the original's names are the export's
    for name in ["class_0_score.csv", "0_autoencoder.csv", "loss_class_0.png", "cmp_class_0_epoch_1.png"]:
        assert name not in names, name
    speed = json.loads((smoke_run / "throughput.json").read_text())
    assert set(speed) == {"0_autoencoder", "0_gan"}
    assert speed["0_gan"]["epochs_done"] == speed["0_gan"]["epochs_timed"] == 1 and speed["0_gan"]["images_per_s"] > 0
    losses = pd.read_csv(smoke_run / "class_0" / "gan" / "losses.csv")
    assert {"epoch", "gen_loss", "disc_loss", "val_gen_loss", "val_disc_loss"} <= set(losses.columns)
    assert len(losses) == 1 and np.isfinite(losses.drop(columns="epoch").values).all()
    # one numbering of epochs: the log's last row, state.json, the checkpoint and the grid agree (from 1)
    for phase in ("gan", "autoencoder"):
        run = smoke_run / "class_0" / phase
        state = json.loads((run / "state.json").read_text())
        last = max(p.name for p in (run / "checkpoints").glob("epoch_*.weights.h5"))
        assert pd.read_csv(run / "losses.csv")["epoch"].tolist() == [1] == [state["epoch"]]
        assert last == "epoch_0001.weights.h5" and (run / "samples" / "epoch_0001.png").exists()
    assert np.load(smoke_run / "0_means.npy").shape == (3, 100)
    assert np.load(smoke_run / "0_covariances.npy").shape == (3, 100, 100)
    assert (smoke_run / "class_0" / "gan" / "checkpoints").is_dir()


def test_export_writes_the_originals_layout_from_the_runs_own_files(smoke_run, tmp_path):
    from bagan import port
    out = port.main([str(smoke_run), "--export", "--out", str(tmp_path / "original")])
    names = {p.name for p in out.iterdir()}
    assert {"class_0_score.csv", "0_autoencoder.csv", "cmp_class_0_epoch_1.png", "cmp_class_0_init.png",
            "plot_class_0.png", "0_means.npy", "0_covariances.npy", "class_0_generator.weights.h5"} <= names
    assert "0_kept_indices.npy" not in names and "config.json" not in names     # not the original's
    gan, ae = smoke_run / "class_0" / "gan", smoke_run / "class_0" / "autoencoder"
    losses = pd.read_csv(gan / "losses.csv")
    text = (out / "class_0_score.csv").read_bytes().decode()
    assert text.startswith("train_gen_loss,train_disc_loss,test_gen_loss,test_disc_loss\r\n")   # the original's CRLF
    score = pd.read_csv(out / "class_0_score.csv")
    assert score["test_disc_loss"].tolist() == losses["val_disc_loss"].tolist()
    np.testing.assert_allclose(score["train_gen_loss"], losses["gen_loss"], rtol=1e-6)   # float32, as the original
    assert len((out / "0_autoencoder.csv").read_text().split()) == len(pd.read_csv(ae / "losses.csv")) == 1
    assert (out / "cmp_class_0_epoch_1.png").read_bytes() == (gan / "samples" / "epoch_0001.png").read_bytes()
    with pytest.raises(SystemExit) as e:      # never into (or over) the run itself
        port.main([str(smoke_run), "--export", "--out", str(smoke_run), "--overwrite"])
    assert e.value.code == 2 and (smoke_run / "config.json").exists()


def test_pruning_keeps_ceil_u_times_the_largest_other_class(smoke_run, folder):
    kept = np.load(smoke_run / "0_kept_indices.npy")
    labels = np.repeat(np.arange(3), list(COUNTS.values()))
    assert np.bincount(labels[kept]).tolist() == [8, 16, 16]


def test_exported_weights_load_into_the_builders(smoke_run):
    from bagan import models
    g = models.build_generator((16, 16, 1), width=0.125)
    g.load_weights(smoke_run / "class_0_generator.weights.h5")
    d = models.build_discriminator((16, 16, 1), 3, width=0.125)
    d.load_weights(smoke_run / "class_0_discriminator.weights.h5")
    assert d.predict(g.predict(np.zeros((2, 100)), verbose=0), verbose=0).shape == (2, 4)


def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(smoke_run, tmp_path):
    """The 1-epoch smoke run, copied under the name of a 2-epoch run (= a 2-epoch run interrupted
    after epoch 1) and run again, ends with the same losses and generator as a run never stopped."""
    import shutil
    config = json.loads((smoke_run / "config.json").read_text())["config"]
    args = ["-D", config["dataset"], "-u", "0.5", "-c", "0", "--ae-epochs", "1", *FAST, "-e", "2"]
    full = bagan_train.main([*args, "--out", str(tmp_path / "full")])
    resumed_dir = tmp_path / "part" / smoke_run.name.replace("epochs_1", "epochs_2")
    shutil.copytree(smoke_run, resumed_dir)
    # as an earlier version left it: copies of the logs and grids under the original's names
    for name in ("class_0_score.csv", "loss_class_0.png", "0_autoencoder.csv", "cmp_class_0_epoch_1.png"):
        (resumed_dir / name).write_text("copy")
    resumed = bagan_train.main([*args, "--out", str(tmp_path / "part")])
    assert resumed == resumed_dir
    # the GAN trained on: its copies would be stale (the export rebuilds them); the autoencoder did
    # not, and a grid of a past epoch never goes stale
    names = {p.name for p in resumed.iterdir()}
    assert "class_0_score.csv" not in names and "loss_class_0.png" not in names
    assert "0_autoencoder.csv" in names and "cmp_class_0_epoch_1.png" in names
    a = pd.read_csv(full / "class_0" / "gan" / "losses.csv")
    b = pd.read_csv(resumed / "class_0" / "gan" / "losses.csv")
    assert len(b) == 2
    np.testing.assert_allclose(a.values, b.values, rtol=1e-5, atol=1e-6)
    from bagan import models
    ga, gb = (models.build_generator((16, 16, 1), width=0.125) for _ in range(2))
    ga.load_weights(full / "class_0_generator.weights.h5")
    gb.load_weights(resumed / "class_0_generator.weights.h5")
    for wa, wb in zip(ga.weights, gb.weights):
        np.testing.assert_allclose(np.asarray(wa), np.asarray(wb), rtol=1e-5, atol=1e-6)


def _error_lines(stderr):
    """The program's own stderr lines (TensorFlow's start-up log lines are not the program's)."""
    return [line for line in stderr.splitlines() if "error" in line and not line.startswith(("I0000", "E0000", "W0000", "WARNING"))]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "bagan.train", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "GAN_OFFLINE": "1"}, timeout=300)


def test_training_keeps_tensorflow_noise_off_stderr(folder, tmp_path):
    """Two epochs: the remapper's error line (autoencoder) and the retracing warning (predict on
    every epoch's sample grid) appeared here before; the program's own errors still would."""
    r = _cli("-D", str(folder), "-u", "0.5", "-c", "0", "-e", "2", "--ae-epochs", "1", "--out", str(tmp_path), *FAST)
    assert r.returncode == 0, r.stderr
    assert "remapper" not in r.stderr and "retracing" not in r.stderr, r.stderr


@pytest.mark.parametrize("flags,needle", [(["-u", "0"], "out of range"), (["-u", "1.5"], "out of range"),
                                           (["-D", "NoSuchSet"], "unknown dataset")])
def test_bad_flags_give_one_line_and_exit_2(flags, needle, tmp_path):
    r = _cli(*flags, "--out", str(tmp_path))
    assert r.returncode == 2, r.stderr
    assert len(_error_lines(r.stderr)) == 1 and needle in r.stderr
    assert not any(tmp_path.iterdir())


def test_folder_without_class_folders_exits_2(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(flat / "x.png")
    r = _cli("-D", str(flat), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and len(_error_lines(r.stderr)) == 1
    assert "no class sub-folders" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not (DATA / "mnist").is_dir(), reason=f"MNIST not found under {DATA}")
def test_target_class_10_on_mnist_exits_2(tmp_path):
    r = _cli("-c", "10", "--data-dir", str(DATA), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and len(_error_lines(r.stderr)) == 1
    assert "--target-class 10" in r.stderr
    assert not (tmp_path / "out").exists()


def test_help():
    r = _cli("--help")
    assert r.returncode == 0 and "--unbalance" in r.stdout and "--dmode" in r.stdout


def test_evaluate_writes_metrics_and_headline(smoke_run, capsys):
    from bagan import evaluate
    metrics = evaluate.main([str(smoke_run), "--profile", "smoke"])
    # progress: a line per finished class and per classifier, with the count and an ETA or total time
    out = capsys.readouterr().out
    assert re.search(r"^SSIM and accuracy: class 0: .* \[1/1, .+ in all\]$", out, re.M)
    assert re.search(r"^classifier plain: minority .* \[1/4, ETA .+\]$", out, re.M)
    assert re.search(r"^classifier copies: minority .* \[4/4, .+ in all\]$", out, re.M)
    for name in ("metrics.json", "metrics.md", "headline.json"):
        assert (smoke_run / name).exists()
    row = metrics["per_class"]["0"]
    assert row["train_images"] == 8 and 0 <= row["generated_accuracy"] <= 1
    assert -1 <= row["ssim_generated_pairs"] <= 1 and -1 <= row["ssim_nearest_real"] <= 1
    clf = metrics["classifiers"]["0"]
    assert clf["plain"]["train_images"] == 40
    assert clf["mirror"]["train_images"] == clf["bagan"]["train_images"] == clf["copies"]["train_images"] == 48   # class 0 filled to 16
    assert metrics["sampler"]["vectorised_latents_per_s"] > 0
    assert set(metrics["training_throughput"]) == {"0_autoencoder", "0_gan"}
    headline = json.loads((smoke_run / "headline.json").read_text())
    assert all({"paper", "metric", "paper_value", "value", "notes"} <= set(r) for r in headline)


def test_copies_fill_copies_the_class_images_unchanged():
    from bagan.evaluate import copies_fill
    img = np.arange(3 * 2 * 2 * 1).reshape(3, 2, 2, 1).astype(np.uint8)
    out = copies_fill(img, 5, np.random.default_rng(0))
    assert out.shape == (5, 2, 2, 1)
    assert all(any(np.array_equal(o, i) for i in img) for o in out)


def test_mirror_fill_flips_horizontally():
    from bagan.evaluate import mirror_fill
    img = np.arange(2 * 3 * 4).reshape(1, 3, 4, 2).astype(np.uint8)
    out = mirror_fill(img, 2, np.random.default_rng(0))
    assert out.shape == (2, 3, 4, 2)
    np.testing.assert_array_equal(out[0], img[0][:, ::-1])


def test_augment_writes_a_balanced_copy_with_a_manifest(smoke_run, folder, tmp_path):
    from bagan import augment
    out = augment.main(["--run", str(smoke_run), "--output", str(tmp_path / "balanced")])
    manifest = pd.read_csv(out / "manifest.csv")
    assert manifest.groupby("class").size().to_dict() == {"a": 16, "b": 16, "c": 16}
    assert manifest.synthetic.sum() == 8 and set(manifest[manifest.synthetic == 1]["class"]) == {"a"}
    assert set(manifest[manifest.synthetic == 1].method) == {"bagan"}
    assert all((out / p).exists() for p in manifest.path)
    npz = augment.main(["--run", str(smoke_run), "--output", str(tmp_path / "balanced.npz")])
    with np.load(npz) as z:
        assert z["images"].shape == (48, 16, 16, 1) and int(z["synthetic"].sum()) == 8
    with pytest.raises(SystemExit) as e:      # never overwrites without --overwrite
        augment.main(["--run", str(smoke_run), "--output", str(tmp_path / "balanced")])
    assert e.value.code == 2
    # the earlier form: bagan/train.py's flags after -- (the finished run is resumed, not retrained)
    legacy = augment.main(["--output", str(tmp_path / "legacy"), "--", "-D", str(folder), "-u", "0.5", "-c", "0",
                           "-e", "1", "--ae-epochs", "1", "--out", str(smoke_run.parent), *FAST])
    assert pd.read_csv(legacy / "manifest.csv").synthetic.sum() == 8


def test_bagan_gp_variant_trains_and_evaluates(folder, tmp_path):
    from bagan import evaluate
    res = bagan_train.main(["-D", str(folder), "-u", "0.5", "-c", "0", "-e", "1", "--ae-epochs", "1",
                            "--variant", "gp", "--out", str(tmp_path), *FAST])
    assert res.name.startswith("res_shapes_gp_dmode_uniform")
    assert json.loads((res / "config.json").read_text())["config"]["critic_steps"] == 5
    score = pd.read_csv(res / "class_0" / "gan" / "losses.csv")
    assert len(score) == 1 and np.isfinite(score.drop(columns="epoch").values).all()
    assert (res / "0_embedding.weights.h5").exists() and not (res / "0_means.npy").exists()
    metrics = evaluate.main([str(res), "--profile", "smoke", "--skip-classifiers"])
    assert 0 <= metrics["per_class"]["0"]["generated_accuracy"] <= 1


def test_early_stopping_by_hand():
    es = bagan_run.early_stopping
    assert es([1.0, 0.8, 0.79, 0.795], patience=2) == (2, False)     # 0.79 still improves (no threshold)
    assert es([1.0, 0.8, 0.79, 0.795], patience=2, min_improvement=0.05) == (1, True)   # 0.79 > 0.8 * 0.95
    assert es([1.0, 0.9, 0.95, 0.85], patience=2, min_improvement=0.0) == (3, False)
    assert es([1.0], patience=None) == (0, False)


def test_autoencoder_stops_early_and_restores_its_best_epoch(folder, tmp_path):
    res = bagan_train.main(["-D", str(folder), "-u", "0.5", "-c", "0", "-e", "1", "--ae-epochs", "6",
                            "--ae-patience", "1", "--ae-min-improvement", "0.5", "--out", str(tmp_path),
                            *FAST])
    history = json.loads((res / "class_0" / "autoencoder" / "val_loss.json").read_text())
    summary = json.loads((res / "0_autoencoder_val.json").read_text())
    # an improvement must halve the loss: rarely twice in a row, so it stops before epoch 6
    best, stopped = bagan_run.early_stopping([v for _, v in history], 1, 0.5)
    assert stopped and len(history) < 6 and summary["epochs_run"] == len(history)
    assert summary["best_epoch"] == history[best][0] and summary["best_val_loss"] == history[best][1]
    # the exported autoencoder is the best epoch's: its validation loss is the recorded one
    from bagan import gan
    config = json.loads((res / "config.json").read_text())["config"]
    runner = bagan_run.Runner(config, res, None, _test_split(config), (16, 16, 1), 3)
    inputs, images = runner._autoencoder_validation()
    ae = gan.build_autoencoder_model((16, 16, 1), width=0.125)
    ae.get_layer("encoder").load_weights(res / "0_encoder.weights.h5")
    ae.get_layer("decoder").load_weights(res / "0_decoder.weights.h5")
    assert float(ae.evaluate(inputs, images, verbose=0)) == pytest.approx(summary["best_val_loss"], rel=1e-4)
    # the same command again: the stopped autoencoder is not trained further
    bagan_train.main(["-D", str(folder), "-u", "0.5", "-c", "0", "-e", "1", "--ae-epochs", "6",
                      "--ae-patience", "1", "--ae-min-improvement", "0.5", "--out", str(tmp_path), *FAST])
    assert json.loads((res / "class_0" / "autoencoder" / "val_loss.json").read_text()) == history


def _test_split(config):
    from common import datasets
    return bagan_run.load_data(config, datasets.data_dir(config.get("data_dir")))[1]


def test_balanced_real_sampling_is_recorded_and_trains(folder, tmp_path):
    res = bagan_train.main(["-D", str(folder), "-u", "0.5", "-c", "0", "-e", "1", "--ae-epochs", "1",
                            "--real-sampling", "balanced", "--out", str(tmp_path), *FAST])
    config = json.loads((res / "config.json").read_text())["config"]
    assert config["real_sampling"] == "balanced" and config["loss"] == "clipped"
    score = pd.read_csv(res / "class_0" / "gan" / "losses.csv")
    assert len(score) == 1 and np.isfinite(score.drop(columns="epoch").values).all()


def test_profiles_keep_the_originals_settings_outside_quick():
    for name in ("paper", "smoke"):
        assert bagan_run.PROFILES[name]["real_sampling"] == "natural"
        assert bagan_run.PROFILES[name]["ae_patience"] is None


def test_reference_trunk_trains_and_evaluates(folder, tmp_path):
    """--trunk reference: E and D get the reference classifier's design; evaluate loads D with it."""
    from bagan import evaluate
    res = bagan_train.main(["-D", str(folder), "-u", "0.5", "-c", "0", "-e", "1", "--ae-epochs", "1",
                            "--trunk", "reference", "--out", str(tmp_path), *FAST])
    assert json.loads((res / "config.json").read_text())["config"]["trunk"] == "reference"
    metrics = evaluate.main([str(res), "--profile", "smoke", "--skip-classifiers"])
    assert 0 <= metrics["per_class"]["0"]["d_accuracy_real_test"] <= 1


def test_reference_trunk_is_bagans_not_bagan_gps(tmp_path):
    r = _cli("--variant", "gp", "--trunk", "reference", "--out", str(tmp_path))
    assert r.returncode == 2 and len(_error_lines(r.stderr)) == 1
    assert "BAGAN-GP has its own networks" in r.stderr
    assert not any(tmp_path.iterdir())
