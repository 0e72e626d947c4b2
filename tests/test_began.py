"""BEGAN: network shapes, the k_t controller and M on hand-computed numbers, the learning-rate rules,
exact resumption, a smoke train + generate + evaluate, and one-line errors for bad input."""
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


def test_lr_halves_on_a_stalled_measure_and_not_on_a_falling_one():
    stalled = compiled(lr=1e-4, lr_decay="plateau", lr_patience=2, lr_floor=2e-5)
    fired = [bool(stalled.end_epoch(m)) for m in [0.5, 0.5, 0.499, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]]
    assert fired == [False, False, True, False, True, False, True, False, True]
    lr = float(stalled.g_optimizer.learning_rate)
    assert lr == pytest.approx(2e-5) and float(stalled.d_optimizer.learning_rate) == lr  # 1e-4/8 floored
    falling = compiled(lr=1e-4, lr_decay="plateau", lr_patience=2)
    assert not any(bool(falling.end_epoch(m)) for m in 0.5 * 0.95 ** np.arange(10))
    assert float(falling.d_optimizer.learning_rate) == pytest.approx(1e-4)


def test_step_schedule_halves_every_lr_step():
    model = compiled(lr=1e-4, lr_decay="step", lr_step=3)
    rates = []
    for step in range(1, 8):
        model._decay(tf.constant(step, tf.int64))
        rates.append(float(model.g_optimizer.learning_rate))
    assert rates == pytest.approx([1e-4, 1e-4, 5e-5, 5e-5, 5e-5, 2.5e-5, 2.5e-5])


def fit(run_dir, epochs, images, config):
    training.seed_everything(0)
    steps = len(images) // config["batch_size"]
    return training.train(
        gan.build(config, steps),
        lambda start: pipeline.make_dataset(images, batch_size=config["batch_size"], seed=0,
                                            start_epoch=start)[0],
        run_dir, epochs=epochs, steps_per_epoch=steps, config=config, step_log=True, verbose=0)


def test_resume_continues_k_t_and_lr_state(tmp_path):
    """2 epochs, stop, resume, 2 more: the state restored is the state saved, and k_t follows its
    recurrence across the resumption (every state variable lives in the checkpoint)."""
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    config = tiny_config(batch_size=4, lr=1e-3, lr_patience=1, lr_min_delta=0.0, lambda_k=0.01)
    first = fit(tmp_path, 2, images, config)
    saved = {name: float(getattr(first, name)) for name in ("k", "best_measure", "stalled_epochs")}
    saved["lr"] = float(first.g_optimizer.learning_rate)
    fresh = gan.build(config, 2)()
    assert training.load_checkpoint(fresh, tmp_path) == 2
    restored = {name: float(getattr(fresh, name)) for name in ("k", "best_measure", "stalled_epochs")}
    restored["lr"] = float(fresh.g_optimizer.learning_rate)
    assert restored == pytest.approx(saved) and saved["k"] > 0
    fit(tmp_path, 4, images, config)
    steps = pd.read_csv(tmp_path / "steps.csv")
    assert list(steps["step"]) == list(range(1, 9))
    assert steps["k_t"].iloc[3] == pytest.approx(saved["k"], rel=1e-6)
    k_before = np.concatenate([[0.0], steps["k_t"].to_numpy()[:-1]])
    expected = np.clip(k_before + 0.01 * (0.5 * steps["step_loss_real"] - steps["step_loss_fake"]), 0, 1)
    np.testing.assert_allclose(steps["k_t"], expected, rtol=1e-5, atol=1e-8)
    # the learning rate only ever halves (patience 1, min_delta 0), never resets at the resumption
    lr = steps["lr"].to_numpy()
    assert lr[4] in (pytest.approx(lr[3]), pytest.approx(lr[3] / 2))
    assert np.all(np.diff(lr) <= 1e-12)
    changed = np.flatnonzero(np.diff(lr)) + 2          # steps (1-based) whose lr differs from the last
    assert np.all(changed % 2 == 0)                    # only at an epoch's last step (2 per epoch)


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
                 "timing_epochs_0001-0002.json"):
        assert (run_dir / name).exists(), name
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
    assert "unavailable" in metrics["fid_note"]
    assert set(metrics["k_t_trajectory"]) >= {1, 6}
    for name in ("convergence.png", "eval_samples.png", "metrics.json", "metrics.md", "headline.json"):
        assert (run_dir / name).exists(), name


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "began.train", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["--image-size", "48"], "invalid choice: 48"),
    (["--gamma", "0"], "out of range"),
    (["--gamma", "1.5"], "out of range"),
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
    images = train.load_images(tiny_config(image_size=32), data, split="test")
    assert images.shape == (660, 32, 32, 3) and images.dtype == np.uint8
