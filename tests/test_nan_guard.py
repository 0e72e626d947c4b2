"""The NaN guard with several steps per train-function call (steps_per_execution): training still
reports the first non-finite step exactly and keeps the last good checkpoint, and the run itself is
the one that one step per call makes."""
import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import toy
from common import pipeline, training
from common.errors import TrainingError

CONFIG = {"seed": 0, "lr": 0.01}
X = toy.images()
STEPS = 4


class Spike(toy.ToyGAN):
    """Logs a raw per-step value (not an epoch mean) that is NaN at one optimizer step only, as
    BEGAN's step_* logs could be: a check of the last logs of a call would miss it."""

    def __init__(self, spike_step, **kwargs):
        super().__init__(**kwargs)
        self.spike_step = spike_step      # counted from 1

    def train_step(self, data):
        logs = super().train_step(data)
        at = tf.equal(tf.cast(self.d_optimizer.iterations, tf.int32), self.spike_step)   # it counted this step
        logs["spike"] = tf.where(at, tf.constant(np.nan, tf.float32), 0.0)
        return logs


def spike_build(spike_step):
    def make():
        model = Spike(spike_step, seed=0)
        model.compile(d_optimizer=keras.optimizers.Adam(0.01), g_optimizer=keras.optimizers.Adam(0.01))
        return model
    return make


def fit(run_dir, epochs, spe, poison_at=None, build=None, step_log=False, config=CONFIG):
    training.seed_everything(0)
    return training.train(
        build or toy.build(poison_at=poison_at),
        lambda e: pipeline.make_dataset(X, batch_size=16, seed=0, start_epoch=e)[0],
        run_dir, epochs=epochs, steps_per_epoch=STEPS, config=config, verbose=0, step_log=step_log,
        steps_per_execution=spe)


def state(model):
    return [v.numpy() for v in model.weights + model.d_optimizer.variables + model.g_optimizer.variables]


def test_calls_of_several_steps_train_the_same_model_and_resume_exactly(tmp_path):
    one = fit(tmp_path / "one", 3, spe=1)
    four = fit(tmp_path / "four", 3, spe=4)
    assert one.steps_per_execution == 1 and four.steps_per_execution == 4
    for a, b in zip(state(one), state(four)):
        np.testing.assert_array_equal(a, b)
    fit(tmp_path / "resumed", 1, spe=4)
    resumed = fit(tmp_path / "resumed", 3, spe=4)
    for a, b in zip(state(four), state(resumed)):
        np.testing.assert_array_equal(a, b)
    # the guard's record is not part of the model: the checkpoints hold the same variables
    assert len(four.weights) == len(one.weights)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "one" / training.LOSSES_CSV),
                                  pd.read_csv(tmp_path / "four" / training.LOSSES_CSV))


@pytest.mark.parametrize("spe, precision", [(1, "float32"), (2, "float32"), (4, "float32"), (4, "mixed_bfloat16")])
def test_the_first_bad_step_inside_a_call_is_reported_exactly(tmp_path, spe, precision):
    # optimizer step 5 is the 6th step: epoch 2, step 2, in the middle of a call of 4 (steps 5-8)
    with pytest.raises(TrainingError, match=r"d_loss became nan at epoch 2, step 2; the last good checkpoint "
                                            r"\(epoch 1\)"):
        fit(tmp_path, 4, spe, poison_at=5, config=dict(CONFIG, precision=precision))
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 1
    assert sorted(p.name for p in (tmp_path / training.CHECKPOINTS).iterdir()) == [
        "epoch_0001.json", "epoch_0001.weights.h5"]


@pytest.mark.parametrize("spe", [1, 4])
def test_a_value_that_is_nan_at_one_step_only_is_caught(tmp_path, spe):
    with pytest.raises(TrainingError, match=r"spike became nan at epoch 2, step 3; the last good checkpoint "
                                            r"\(epoch 1\)"):
        fit(tmp_path, 3, spe, build=spike_build(spike_step=7))


def test_no_good_epoch_means_no_checkpoint(tmp_path):
    with pytest.raises(TrainingError, match=r"d_loss became nan at epoch 1, step 3; the last good checkpoint "
                                            r"does not exist"):
        fit(tmp_path, 2, 4, poison_at=2)
    assert not (tmp_path / "state.json").exists()


def test_one_step_per_call_when_per_step_values_are_logged(tmp_path):
    model = fit(tmp_path, 1, 4, step_log=True)
    assert model.steps_per_execution == 1
    assert pd.read_csv(tmp_path / training.STEPS_CSV)["step"].tolist() == [1, 2, 3, 4]


def test_a_call_never_crosses_an_epoch_end():
    default = tf.distribute.get_strategy()
    assert [training._steps_per_execution(w, 12, default, False) for w in (1, 4, 5, 7, 12, 100)] == [1, 4, 4, 6, 12, 12]
    assert training._steps_per_execution(8, 12, default, True) == 1


def test_the_record_works_in_an_xla_compiled_step(tmp_path):
    def make():
        model = toy.ToyGAN(seed=0, poison_at=5)
        model.compile(d_optimizer=keras.optimizers.Adam(0.01), g_optimizer=keras.optimizers.Adam(0.01),
                      jit_compile=True)
        return model
    with pytest.raises(TrainingError, match=r"d_loss became nan at epoch 2, step 2; the last good checkpoint "
                                            r"\(epoch 1\)"):
        fit(tmp_path, 3, 4, build=make)
