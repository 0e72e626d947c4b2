"""The shared train function on a toy GAN: logs, checkpoints, exact resume, NaN stop, replicas."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

import toy
from common import cli, pipeline, training
from common.errors import TrainingError, UserError

CONFIG = {"seed": 0, "lr": 0.01, "epochs": 4}
X = toy.images()


def fit(run_dir, epochs, poison_at=None, config=CONFIG):
    training.seed_everything(0)
    return training.train(
        toy.build(poison_at=poison_at),
        lambda e: pipeline.make_dataset(X, batch_size=16, seed=0, start_epoch=e)[0],
        run_dir, epochs=epochs, steps_per_epoch=4, config=config, verbose=0, step_log=True,
        sample_fn=lambda m: m.generator(np.zeros((6, toy.LATENT), np.float32)).numpy().reshape(2, 3, 8, 8, 1))


def state(model):
    return [v.numpy() for v in model.weights] + [v.numpy() for v in model.d_optimizer.variables
                                                   + model.g_optimizer.variables]


def test_two_plus_two_epochs_equal_four(tmp_path):
    straight = state(fit(tmp_path / "a", 4))
    fit(tmp_path / "b", 2)
    resumed = state(fit(tmp_path / "b", 4))
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
    log = pd.read_csv(tmp_path / "b" / training.LOSSES_CSV)
    assert list(log.columns) == ["epoch", "d_loss", "g_loss"] and log["epoch"].tolist() == [1, 2, 3, 4]
    steps = pd.read_csv(tmp_path / "b" / training.STEPS_CSV)
    assert steps["step"].tolist() == list(range(1, 17))
    assert sorted(p.name for p in (tmp_path / "b" / "samples").iterdir())[-1] == "epoch_0004.png"
    assert (tmp_path / "b" / "losses.png").exists()


def test_a_log_counting_epochs_from_0_resumes_counted_from_1(tmp_path):
    """Runs of an older version logged epochs from 0: resuming drops the rows after the checkpoint
    (here a third epoch that never reached one) and continues the log counted from 1."""
    straight = tmp_path / "a"
    fit(straight, 4)
    fit(tmp_path / "b", 2)
    for name, extra in ((training.LOSSES_CSV, "2,9.0,9.0\n"), (training.STEPS_CSV, "9,2,9.0,9.0\n")):
        path = tmp_path / "b" / name
        old = pd.read_csv(path).assign(epoch=lambda t: t["epoch"] - 1)
        path.write_text(old.to_csv(index=False, lineterminator="\n") + extra)
    fit(tmp_path / "b", 4)
    for name in (training.LOSSES_CSV, training.STEPS_CSV):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "b" / name), pd.read_csv(straight / name))
    log = pd.read_csv(straight / training.LOSSES_CSV)
    assert log["epoch"].tolist() == [1, 2, 3, 4]
    assert pd.read_csv(straight / training.STEPS_CSV)["epoch"].tolist() == [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4
    saved = json.loads((straight / "state.json").read_text())
    assert saved["epoch"] == log["epoch"].iloc[-1] == 4 and saved["checkpoint"] == "epoch_0004.weights.h5"


def test_checkpoints_are_complete_files(tmp_path):
    fit(tmp_path, 3)
    saved = json.loads((tmp_path / "state.json").read_text())
    files = sorted(p.name for p in (tmp_path / training.CHECKPOINTS).iterdir())
    assert saved["epoch"] == 3 and saved["checkpoint"] == "epoch_0003.weights.h5"
    assert files == ["epoch_0002.json", "epoch_0002.weights.h5",            # no partial file left
                     "epoch_0003.json", "epoch_0003.weights.h5"]
    assert json.loads((tmp_path / training.CHECKPOINTS / "epoch_0003.json").read_text()) == saved
    assert not list(tmp_path.glob("*.tmp"))


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(TrainingError, match=r"d_loss became nan at epoch 2.*epoch 1\)"):
        fit(tmp_path, 4, poison_at=5)          # the 6th step (epoch 2) goes NaN
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 1
    good = toy.build()()
    assert training.load_checkpoint(good, tmp_path) == 1
    assert all(np.isfinite(v).all() for v in state(good))


def test_a_changed_configuration_is_refused_on_resume(tmp_path):
    run = cli.prepare_run_dir(tmp_path / "run", dict(CONFIG))
    fit(run, 1)
    cli.prepare_run_dir(run, dict(CONFIG, epochs=8))           # more epochs: fine
    with pytest.raises(UserError, match=r"lr: 0.01 -> 0.02"):
        cli.prepare_run_dir(run, dict(CONFIG, lr=0.02))
    assert (run / "state.json").exists()                        # nothing lost
    cli.prepare_run_dir(run, dict(CONFIG, lr=0.02, overwrite=True))
    assert not (run / "state.json").exists()


def test_added_keys_at_their_default_resume_runs_written_with_or_without_them(tmp_path):
    """A key listed in cli.ADDED_KEYS (e.g. ms_lambda, 0.0) at its default: runs written before the key
    existed and runs whose digest includes it both resume; another value is another run."""
    model = toy.build()()
    for name, written in (("without", dict(CONFIG)), ("with", dict(CONFIG, ms_lambda=0.0))):
        run = tmp_path / name
        training.save_checkpoint(model, run, 1, written)
        if name == "with":       # the digest such a run got before ms_lambda was listed
            state = json.loads((run / "state.json").read_text())
            state["config_hash"] = training.config_hash(written, keep_added=["ms_lambda"])
            (run / "state.json").write_text(json.dumps(state))
            assert state["config_hash"] != training.config_hash(written)
        assert training.load_checkpoint(toy.build()(), run, dict(CONFIG, ms_lambda=0.0)) == 1
    with pytest.raises(TrainingError, match="another configuration"):
        training.load_checkpoint(toy.build()(), tmp_path / "with", dict(CONFIG, ms_lambda=1.0))


def test_a_run_written_before_a_renaming_reads_and_resumes_under_the_new_names(tmp_path):
    old = {"seed": 0, "learning_rate": 1e-3, "d_steps": 5}               # BAGAN's names until cli.RENAMED
    model = toy.build()()
    training.save_checkpoint(model, tmp_path, 1, old)
    (tmp_path / cli.CONFIG_FILE).write_text(json.dumps({"config": old}))
    new = cli.read_config(tmp_path)
    assert new == {"seed": 0, "lr": 1e-3, "critic_steps": 5}
    cli.prepare_run_dir(tmp_path, dict(new))                             # the same configuration
    assert training.load_checkpoint(toy.build()(), tmp_path, new) == 1
    with pytest.raises(TrainingError, match="another configuration"):
        training.load_checkpoint(toy.build()(), tmp_path, dict(new, lr=2e-3))


REPLICAS = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, {tests!r})
    import toy
    from common import training
    x = toy.images(32)
    z = np.random.default_rng(1).normal(size=(32, toy.LATENT)).astype("float32")

    def one_step(strategy):
        training.seed_everything(0)
        with strategy.scope():
            model = toy.build()()
        for d in model.discriminator.layers:       # no dropout: replicas must see the same function
            if hasattr(d, "rate"):
                d.rate = 0.0
        ds = tf.data.Dataset.from_tensor_slices(((x / 127.5 - 1).astype("float32"), z)).batch(32)
        model.fit(ds, epochs=1, verbose=0)
        return [v.numpy() for v in model.weights]

    one = one_step(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two = one_step(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    print(max(float(np.abs(a - b).max()) for a, b in zip(one, two)))
""")


def test_mirrored_step_equals_one_device_step():
    script = REPLICAS.format(tests=str(Path(__file__).parent))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.strip().splitlines()[-1]) < 1e-5


def test_a_checkpoint_of_another_network_is_one_clear_error(tmp_path):
    fit(tmp_path, 1)
    other = toy.build()()
    image = keras.Input((8, 8, 1))                       # the same layers, without the first bias
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(16, use_bias=False)(keras.layers.Flatten()(image)))
    other.discriminator = keras.Model(image, keras.layers.Dense(1)(keras.layers.Dropout(0.3)(h)), name="discriminator")
    with pytest.raises(UserError, match=r"epoch_0001.weights.h5 does not fit this network \(Layer '.*' expected "):
        training.load_checkpoint(other, tmp_path)


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_in_float32_losses_and_resumes_exactly(tmp_path, precision):
    config = dict(CONFIG, precision=precision)
    straight = fit(tmp_path / "a", 3, config=config)
    fit(tmp_path / "b", 2, config=config)
    resumed = fit(tmp_path / "b", 3, config=config)
    for a, b in zip(state(straight), state(resumed)):
        np.testing.assert_array_equal(a, b)
    assert straight.generator.layers[1].compute_dtype == precision.split("_")[1]
    assert straight.generator.output.dtype == "float32" and straight.discriminator.output.dtype == "float32"
    assert isinstance(straight.d_optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")
    log = pd.read_csv(tmp_path / "b" / training.LOSSES_CSV)
    assert np.isfinite(log[["d_loss", "g_loss"]].to_numpy()).all() and len(log) == 3
    assert keras.mixed_precision.global_policy().name == "float32"      # only the model got the policy


def _event_steps(folder):
    """{tag: [steps]} of the summaries in a TensorBoard folder's event files."""
    import tensorflow as tf
    steps = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                steps.setdefault(value.tag, []).append(event.step)
    return steps


def test_tensorboard_logs_losses_and_sample_grids_at_the_epochs_of_losses_csv(tmp_path):
    """Epoch N is the N-th, from 1, in TensorBoard as in losses.csv (Keras alone writes step N - 1)."""
    fit(tmp_path, 2, config=dict(CONFIG, tensorboard=True))
    fit(tmp_path, 3, config=dict(CONFIG, tensorboard=True))      # resumed: the same numbering
    epochs = pd.read_csv(tmp_path / training.LOSSES_CSV)["epoch"].tolist()
    assert epochs == [1, 2, 3]
    scalars = _event_steps(tmp_path / "tensorboard" / "train")
    assert sorted(scalars["epoch_d_loss"]) == sorted(scalars["epoch_g_loss"]) == epochs
    assert sorted(_event_steps(tmp_path / "tensorboard" / "samples")["samples"]) == epochs


def test_predict_equals_keras_predict_without_retracing_warnings():
    """training.predict: Keras' predict, batch for batch, but several models predicting one after
    the other draw no "triggered tf.function retracing" warning (Keras' own predict did from the 5th)."""
    import logging
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    z = np.random.default_rng(0).standard_normal((37, toy.LATENT)).astype("float32")   # 16 + 16 + 5
    generators = [toy.build()().generator for _ in range(6)]
    logger.addHandler(handler)
    try:
        got = [training.predict(g, z, batch_size=16) for g in generators]
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]
    np.testing.assert_array_equal(got[-1], generators[-1].predict(z, batch_size=16, verbose=0))
