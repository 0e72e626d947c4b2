"""One worker of tests/test_multiworker.py: the toy GAN through common.training.train under
`--strategy multiworker` (TF_CONFIG comes from the test).

    python tests/mw_worker.py RUN_DIR EPOCHS REPORT_JSON [POISON_STEP]

With POISON_STEP the last replica's images turn NaN from that optimizer step (0-based) on, as bad
data on one worker would.

The report (JSON) holds the ids of the examples this worker's replica trained on, step by step, and
latents every replica drew after training; REPORT_JSON.npz the final weights and optimizer state.
The test imports the model and data as well, for its single-process reference.
"""
import json
import os
import signal
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import toy  # noqa: E402
from common import cli, pipeline, training  # noqa: E402

N, BATCH, STEPS = 64, 16, 4               # global batch 16 = 8 per worker
CONFIG = {"seed": 0, "lr": 0.01, "strategy": "multiworker"}
X = toy.images(N)
Z = np.random.default_rng(1).normal(size=(N, toy.LATENT)).astype("float32")


class Recording(toy.ToyGAN):
    """The toy GAN fed (images, example ids): the latents are looked up by id, so a batch is the same
    function whichever replica gets it, and each step's ids are recorded in this process."""

    def __init__(self, poison_step=None, **kwargs):
        super().__init__(**kwargs)
        self.consumed = []
        self.latents = tf.constant(Z)
        self.poison_step = poison_step

    def _record(self, ids):
        self.consumed.append(ids.numpy().tolist())
        return ids

    def train_step(self, data):
        images, ids = data
        recorded = tf.py_function(self._record, [ids], tf.int64)
        recorded.set_shape(ids.shape)
        ids = recorded                   # used below, so the recording cannot be pruned
        if self.poison_step is not None:
            context = tf.distribute.get_replica_context()
            bad = ((context.replica_id_in_sync_group == context.num_replicas_in_sync - 1)
                   & (self.d_optimizer.iterations >= self.poison_step))
            images = tf.where(bad, tf.constant(np.nan, tf.float32), images)
        return super().train_step((images, tf.gather(self.latents, ids)))


def build(poison_step=None):
    model = Recording(seed=0, poison_step=poison_step)
    for layer in model.discriminator.layers:       # no dropout: replicas must compute one function
        if hasattr(layer, "rate"):
            layer.rate = 0.0
    model.compile(d_optimizer=keras.optimizers.Adam(CONFIG["lr"]), g_optimizer=keras.optimizers.Adam(CONFIG["lr"]))
    return model


def data(start_epoch):
    return pipeline.make_dataset(X, labels=np.arange(N), batch_size=BATCH, seed=0, start_epoch=start_epoch)[0]


def sample(model):
    return model.generator(np.zeros((6, toy.LATENT), np.float32)).numpy().reshape(2, 3, 8, 8, 1)


def fit(run_dir, epochs, strategy=None, poison_step=None):
    training.seed_everything(0)
    return training.train(lambda: build(poison_step), data, run_dir, epochs=epochs, steps_per_epoch=STEPS, config=CONFIG,
                          strategy=strategy, verbose=0, step_log=True, sample_fn=sample)


def state(model):
    return [v.numpy() for v in model.weights + model.d_optimizer.variables + model.g_optimizer.variables]


def main(run_dir, epochs, report, poison_step=None):
    # Ends this process even if the test that started it was killed first: no orphan workers.
    signal.alarm(int(os.environ.get("MW_WORKER_TIMEOUT", "300")))
    strategy = training.get_strategy("multiworker")      # first: it must precede any other TF op
    cli.prepare_run_dir(run_dir, CONFIG)                 # as the packages' entry points do
    model = fit(run_dir, int(epochs), strategy, None if poison_step is None else int(poison_step))
    np.savez(report + ".npz", *state(model))
    # Latents drawn in a train step's context, gathered from all replicas (replica 0's first).
    latents = strategy.gather(tf.function(lambda: strategy.run(model.noise, ((2, toy.LATENT),)))(), axis=0)
    Path(report).write_text(json.dumps({"consumed": model.consumed, "replicas": strategy.num_replicas_in_sync,
                                        "latents": latents.numpy().tolist()}))


if __name__ == "__main__":
    main(*sys.argv[1:])
