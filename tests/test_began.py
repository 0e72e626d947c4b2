"""BEGAN: network shapes, the k_t controller and M on hand-computed numbers, the learning-rate rules,
exact resumption, a smoke train + generate + evaluate, and one-line errors for bad input."""
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from began import IMAGE_SIZES, evaluate, gan, generate, models, train
from began import data as began_data
from common import pipeline, training
from common.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(num_filters=4, hidden=8)


def tiny_config(**overrides):
    config = dict(train.PROFILES["smoke"], **TINY, seed=0, jit_compile=False)
    config.update(overrides)
    return config


@pytest.mark.parametrize("size", [32, 64])
def test_network_shapes(size):
    g = models.generator(size, num_filters=4, hidden=8)
    d = models.discriminator(size, num_filters=4, hidden=8)
    assert g.output_shape == (None, size, size, 3)
    assert d.output_shape == (None, size, size, 3)
    encoder = d.get_layer("encoder")
    assert encoder.output_shape == (None, 8)
    # n, 2n, 3n, ... filters; 8x8 at the last scale; linear bottleneck and outputs
    scales = models.scales(size)
    assert encoder.get_layer(f"encoder_conv{scales - 1}a").output.shape[1:] == (8, 8, 4 * scales)
    assert encoder.get_layer("encoder_fc").activation is keras.activations.linear
    assert g.get_layer("generator_fc").activation is keras.activations.linear
    assert g.get_layer("generator_out").activation is keras.activations.linear
    z = np.random.default_rng(0).uniform(-1, 1, (2, 8)).astype("float32")
    assert g(z).shape == (2, size, size, 3)


def test_unsupported_image_size_is_a_user_error():
    assert IMAGE_SIZES == (32, 64, 128)
    with pytest.raises(UserError, match="image size 48 is not supported"):
        models.generator(48)


def test_k_update_and_measure_by_hand():
    # k + 0.001 * (0.5 * 0.3 - 0.1) = 0.2 + 0.001 * 0.05
    assert float(gan.update_k(0.2, 0.3, 0.1, 0.5, 0.001)) == pytest.approx(0.20005, abs=1e-7)
    assert float(gan.update_k(0.0, 0.3, 0.2, 0.5, 0.001)) == 0.0      # clipped below
    assert float(gan.update_k(0.9995, 1.0, 0.0, 1.0, 0.001)) == 1.0   # clipped above
    # M = L(x) + |gamma L(x) - L(G(z))| = 0.3 + |0.15 - 0.25|
    assert float(gan.convergence_measure(0.3, 0.25, 0.5)) == pytest.approx(0.4, abs=1e-7)


def compiled(steps_per_epoch=4, **overrides):
    config = tiny_config(**overrides)
    model = gan.build(config, steps_per_epoch)()
    return model


def test_train_step_uses_pre_update_losses_for_k_and_M():
    model = compiled(gamma=0.7, lambda_k=0.01, lr_decay="none")
    model.k.assign(0.3)
    x = tf.constant(np.random.default_rng(1).uniform(-1, 1, (4, 32, 32, 3)), tf.float32)
    expected_real = float(tf.reduce_mean(tf.abs(x - model.discriminator(x))))
    logs = model.train_step(x)
    real, fake = float(logs["step_loss_real"]), float(logs["step_loss_fake"])
    assert real == pytest.approx(expected_real, rel=1e-5)
    assert float(logs["k_t"]) == pytest.approx(np.clip(0.3 + 0.01 * (0.7 * real - fake), 0, 1), abs=1e-6)
    assert float(logs["step_measure"]) == pytest.approx(real + abs(0.7 * real - fake), rel=1e-5)
    # L_D = L(x) - k_t L(G(z_D)) with z_D drawn apart from z_G: below L(x) by k_t times a loss > 0
    assert real - 0.3 * 2.0 < float(logs["d_loss"]) < real


def test_halving_schedule_by_hand():
    """carpedm20: lr0 until lr_step updates are done, then halved per lr_step, never below the floor."""
    schedule = gan.HalvingSchedule(1e-4, every=3, floor=2e-5)
    steps = [0, 1, 2, 3, 5, 6, 8, 9, 11, 1000]
    expected = [1e-4, 1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5, 2.5e-5, 2e-5, 2e-5, 2e-5]   # 1.25e-5 -> floor
    assert [float(schedule(s)) for s in steps] == pytest.approx(expected, rel=1e-6)
    assert float(gan.HalvingSchedule(1e-5, 3, 2e-5)(10)) == pytest.approx(1e-5)   # below the floor: kept
    # carpedm20's own numbers: 8e-5, halved at 100k and 200k, floored at 2e-5 from then on
    paper = gan.HalvingSchedule(8e-5, 100000, 2e-5)
    assert [float(paper(s)) for s in (99999, 100000, 199999, 200000, 499999)] == pytest.approx(
        [8e-5, 4e-5, 4e-5, 2e-5, 2e-5], rel=1e-6)


def test_step_schedule_moves_both_optimizers_per_update():
    model = compiled(lr=1e-4, lr_decay="step", lr_step=2, lr_floor=2e-5)
    x = tf.constant(np.random.default_rng(1).uniform(-1, 1, (4, 32, 32, 3)), tf.float32)
    used = [float(model.train_step(x)["lr"]) for _ in range(5)]
    assert used == pytest.approx([1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5], rel=1e-6)
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 5
    assert float(model.d_optimizer.learning_rate) == float(model.g_optimizer.learning_rate) == pytest.approx(2.5e-5)
    assert isinstance(model.g_optimizer._learning_rate, gan.HalvingSchedule)


def test_stall_rule_over_windows_of_steps():
    """plateau: the mean M of each lr_window-step window against the best window so far."""
    stalled = compiled(lr=1e-4, lr_decay="plateau", lr_patience=2, lr_floor=2e-5)
    fired = [bool(stalled.end_window(m)) for m in [0.5, 0.5, 0.499, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]]
    assert fired == [False, False, True, False, True, False, True, False, True]
    lr = float(stalled.g_optimizer.learning_rate)
    assert lr == pytest.approx(2e-5) and float(stalled.d_optimizer.learning_rate) == lr  # 1e-4/8 floored
    falling = compiled(lr=1e-4, lr_decay="plateau", lr_patience=2)
    assert not any(bool(falling.end_window(m)) for m in 0.5 * 0.95 ** np.arange(10))
    assert float(falling.d_optimizer.learning_rate) == pytest.approx(1e-4)
    # per step: windows of 3 steps, means 0.4 (first: improves on inf), 0.4 (stalls: halve), then
    # 0.2 (improves by more than 1 %: kept)
    model = compiled(lr=1e-4, lr_decay="plateau", lr_window=3, lr_patience=1, lr_floor=1e-6)
    rates = []
    for step, m in enumerate([0.3, 0.5, 0.4, 0.4, 0.4, 0.4, 0.1, 0.2, 0.3], start=1):
        model._plateau(tf.constant(m), tf.constant(step, tf.int64))
        rates.append(float(model.d_optimizer.learning_rate))
    assert rates == pytest.approx([1e-4] * 5 + [5e-5] * 4)
    assert float(model.best_measure) == pytest.approx(0.2) and float(model.window_count) == 0


def fit(run_dir, epochs, images, config):
    training.seed_everything(0)
    steps = len(images) // config["batch_size"]
    return training.train(
        gan.build(config, steps),
        lambda start: pipeline.make_dataset(images, batch_size=config["batch_size"], seed=0,
                                            start_epoch=start)[0],
        run_dir, epochs=epochs, steps_per_epoch=steps, config=config, step_log=True, verbose=0)


STATE = ("k", "best_measure", "stalled_windows", "window_sum", "window_count")


@pytest.mark.parametrize("rule", ["step", "plateau"])
def test_resume_continues_k_t_and_lr_schedule(tmp_path, rule):
    """2 epochs (4 steps), stop, resume, 2 more: the restored state is the saved state, k_t follows
    its recurrence across the resumption, and the learning rate continues its schedule: the step
    rule from the optimizers' restored iterations, the stall rule from its restored window."""
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    config = tiny_config(batch_size=4, lr=1e-3, lr_decay=rule, lr_step=3, lr_window=3, lr_floor=1e-5,
                         lr_patience=1, lr_min_delta=0.0, lambda_k=0.01)
    first = fit(tmp_path, 2, images, config)
    saved = {name: float(getattr(first, name)) for name in STATE}
    saved["lr"] = float(first.g_optimizer.learning_rate)
    fresh = gan.build(config)()
    assert training.load_checkpoint(fresh, tmp_path) == 2
    restored = {name: float(getattr(fresh, name)) for name in STATE}
    restored["lr"] = float(fresh.g_optimizer.learning_rate)
    assert restored == pytest.approx(saved) and saved["k"] > 0
    assert int(fresh.d_optimizer.iterations) == int(fresh.g_optimizer.iterations) == 4
    fit(tmp_path, 4, images, config)
    steps = pd.read_csv(tmp_path / "steps.csv")
    assert list(steps["step"]) == list(range(1, 9))
    assert steps["k_t"].iloc[3] == pytest.approx(saved["k"], rel=1e-6)
    k_before = np.concatenate([[0.0], steps["k_t"].to_numpy()[:-1]])
    expected = np.clip(k_before + 0.01 * (0.5 * steps["step_loss_real"] - steps["step_loss_fake"]), 0, 1)
    np.testing.assert_allclose(steps["k_t"], expected, rtol=1e-5, atol=1e-8)
    lr = steps["lr"].to_numpy()
    if rule == "step":   # updates 0-2 at 1e-3, 3-5 at 5e-4, 6-7 at 2.5e-4, across the resumption at 4
        np.testing.assert_allclose(lr, [1e-3] * 3 + [5e-4] * 3 + [2.5e-4] * 2, rtol=1e-6)
    else:                # only ever halves, and only after a window's last step (steps 3 and 6)
        assert np.all(np.diff(lr) <= 1e-12)
        changed = np.flatnonzero(np.diff(lr)) + 2          # 1-based steps whose lr differs from the last
        assert set(changed) <= {4, 7}


def image_folder(path, n=12):
    path.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(path / f"{i:02d}.png")
    return path


def test_smoke_train_generate_evaluate(tmp_path, monkeypatch):
    folder = image_folder(tmp_path / "faces")
    args = ["--profile", "smoke", "--dataset", str(folder), "--out", str(tmp_path / "runs"),
            "--num-filters", "4", "--hidden", "8", "--batch-size", "4", "-e", "2"]
    run_dir = train.main(args)
    assert run_dir.name == "faces_32px_smoke_seed0"
    for name in ("config.json", "losses.csv", "steps.csv", "samples/epoch_0002.png",
                 "throughput.json"):
        assert (run_dir / name).exists(), name
    speed = json.loads((run_dir / "throughput.json").read_text())["gan"]
    assert (speed["steps"], speed["batch_size"], speed["epochs_timed"], speed["epochs_done"]) == (6, 4, 2, 2)
    assert len(pd.read_csv(run_dir / "steps.csv")) == 2 * 3
    # artcg's aliases: --start-epoch must name the latest checkpoint; --add-epochs counts from it
    with pytest.raises(SystemExit) as e:
        train.main(args + ["--start-epoch", "1", "--add-epochs", "1"])
    assert e.value.code == 2
    train.main(args + ["--start-epoch", "2", "--add-epochs", "0"])   # nothing left to do
    assert len(pd.read_csv(run_dir / "losses.csv")) == 2

    written = generate.main([str(run_dir), "--num", "5", "--interpolate", "2", "--steps", "3",
                             "--reconstruct", "2", "--data-dir", str(tmp_path)])
    assert [p.name for p in written] == ["samples.png", "samples.npz", "interpolation.png",
                                         "reconstruction.png"]
    with np.load(run_dir / "generated" / "samples.npz") as z:
        assert z["images"].shape == (5, 32, 32, 3) and z["images"].dtype == np.uint8

    monkeypatch.setitem(sys.modules, "common.metrics.fid", None)   # FID absent: reported, not fatal
    metrics = evaluate.main([str(run_dir), "--profile", "smoke", "--data-dir", str(tmp_path)])
    assert metrics["epochs"] == 2 and "fid" not in metrics
    assert metrics["training_throughput"]["gan"]["steps"] == 6
    assert "unavailable" in metrics["fid_note"]
    assert set(metrics["k_t_trajectory"]) >= {1, 6}
    for name in ("convergence.png", "eval_samples.png", "metrics.json", "metrics.md", "headline.json"):
        assert (run_dir / name).exists(), name
    # with scores: KID is reported beside FID, with both image counts and KID's subsets
    fake_scores = {"fid": 101.5, "kid_mean": 0.0421, "kid_std": 0.0, "n_real": 64, "n_fake": 64,
                   "fid_count": 64, "kid_subsets": 1, "kid_subset_size": "full sets"}
    monkeypatch.setattr(evaluate, "fid", lambda *a, **k: dict(fake_scores))
    metrics = evaluate.main([str(run_dir), "--profile", "smoke", "--data-dir", str(tmp_path)])
    assert metrics["kid_mean"] == 0.0421 and metrics["n_real"] == metrics["n_fake"] == 64
    rows = {r["metric"].split(" ")[0]: r for r in __import__("json").loads((run_dir / "headline.json").read_text())}
    assert rows["FID"]["value"] == 101.5 and rows["KID"]["value"] == pytest.approx(42.1)
    assert "64 real vs 64 generated" in rows["KID"]["notes"]
    assert "| n_fake | 64 |" in (run_dir / "metrics.md").read_text()


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "began.train", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["--image-size", "48"], "invalid choice: 48"),
    (["--gamma", "0"], "out of range"),
    (["--gamma", "1.5"], "out of range"),
    (["--lr-decay", "cosine"], "invalid choice: 'cosine'"),
    (["--lr-step", "0"], "out of range"),
    (["--lr-window", "-5"], "out of range"),
    (["--lr-min-delta", "1"], "out of range"),
    (["--lr-floor=-1e-5"], "out of range"),
])
def test_bad_flags_exit_2_with_one_line(args, message, tmp_path):
    result = run_cli(*args, "--out", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not (tmp_path / "runs").exists()


def test_empty_image_folder_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("--dataset", str(tmp_path / "empty"), "--out", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "holds no image files" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_celeba_images_load_at_32(tmp_path):
    data = Path(__import__("os").environ.get("GAN_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not (data / "celeba" / "list_attr_celeba.txt").exists():
        pytest.skip(f"CelebA subset not found under {data}")
    images = began_data.load_images(tiny_config(image_size=32), data, split="test")
    assert images.shape == (660, 32, 32, 3) and images.dtype == np.uint8


def test_checkpoints_from_before_the_window_rule_still_load():
    """Those held 3 own variables (k_t, best epoch mean of M, stalled epochs): they load, with an
    empty window, so older runs' generators stay usable."""
    model = compiled(lr_decay="plateau")
    model.window_sum.assign(5.0)
    model.window_count.assign(2.0)
    model.load_own_variables({"0": np.float32(0.3), "1": np.float32(0.7), "2": np.float32(1.0)})
    assert [float(v) for v in (model.k, model.best_measure, model.stalled_windows, model.window_sum,
                               model.window_count)] == pytest.approx([0.3, 0.7, 1.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        model.load_own_variables({"0": np.float32(0.3), "1": np.float32(0.7)})


def test_fid_row_names_the_real_floor_and_the_quick_target():
    from began.evaluate import headline
    config = {"dataset": "celeba", "image_size": 32, "num_filters": 16, "profile": "quick"}
    metrics = {"epochs": 40, "M_reduction": 0.5, "first_epoch_mean_M": 0.2, "last_epoch_mean_M": 0.1,
               "fid": 113.5, "kid_mean": 0.12, "kid_std": 0.0, "n_real": 660, "n_fake": 660, "kid_subsets": 1,
               "kid_subset_size": "full sets", "fid_real_floor": 25.36, "kid_real_floor": 0.0019}
    fid = next(r for r in headline(config, metrics) if r["metric"].startswith("FID"))
    assert fid["target"] == "<= 80" and "FID 25.4, KID x 1000 1.9" in fid["notes"] and "{" not in fid["notes"]
    paper = headline(dict(config, profile="paper"), metrics)
    assert next(r for r in paper if r["metric"].startswith("FID"))["target"] is None
