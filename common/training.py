"""The one train function every package uses: `model.fit` under a tf.distribute strategy, with
Progbar progress, CSV loss logs, atomic `.weights.h5` checkpoints + a JSON training state, automatic
resume, sample grids, loss-curve plots and a stop on NaN/Inf losses."""
import atexit
import contextlib
import csv
import functools
import hashlib
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
import weakref
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from common import plots
from common.cli import ADDED_KEYS, STATE_FILE, defining, epochs_done, former_namings, write_json_atomic
from common.errors import TrainingError, UserError
from common.gan import multi_worker

LOSSES_CSV = "losses.csv"
STEPS_CSV = "steps.csv"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"


def seed_everything(seed):
    """One seed for Python, NumPy and Keras/TensorFlow."""
    keras.utils.set_random_seed(seed)


@functools.cache
def _multi_worker_strategy():
    # One per process: a second one (e.g. cgan_infogan's InfoGAN after its CGAN) would enable
    # collective ops again after startup, and its first broadcast fails.
    return tf.distribute.MultiWorkerMirroredStrategy()


@functools.cache
def _mirrored_strategy():
    # One per process: BAGAN's GAN phase reuses networks its autoencoder phase built under it.
    return tf.distribute.MirroredStrategy()


def get_strategy(name="default"):
    if name == "mirrored":
        return _mirrored_strategy()
    if name == "multiworker":
        return _multi_worker_strategy()
    return tf.distribute.get_strategy()


def config_hash(config, keep_added=()):
    """Digest of the keys that define a run; keep_added: added keys (cli.ADDED_KEYS) to keep even at
    their default."""
    keys = defining(config)
    keys.update({k: config[k] for k in keep_added if k in config})
    return hashlib.sha1(json.dumps(keys, sort_keys=True, default=str).encode()).hexdigest()


def _seed_states(model):
    """SeedGenerator states (the model's own and those of e.g. Dropout): save_weights omits them."""
    return [v for v in model.variables if "seed_generator" in v.path]


def _free_space_check(folder, model):
    """Refuse to start a checkpoint that cannot fit: HDF5 can crash the process (not raise) when the
    disk fills mid-write, so the last good checkpoint would be all that is left, if that."""
    previous = sorted(folder.glob("epoch_*.weights.h5"))
    need = previous[-1].stat().st_size if previous else 4 * sum(math.prod(v.shape) for v in model.variables)
    need = int(need * 1.1) + (1 << 20)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise OSError(28, f"{free >> 20} MB free, a checkpoint needs about {need >> 20} MB",
                      str(folder / "partial.weights.h5"))


def save_checkpoint(model, run_dir, epoch, config):
    """Weights of every network, optimizer and tracker, then the state that points at them; each is
    written to a temporary file and renamed, so a crash never leaves a half-written checkpoint. Each
    checkpoint has its state beside it (epoch_NNNN.json), so that the one before can be resumed from
    when the latest turns out damaged."""
    folder = Path(run_dir) / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    name = f"epoch_{epoch:04d}.weights.h5"
    tmp = folder / "partial.weights.h5"
    try:
        _free_space_check(folder, model)
        model.save_weights(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, folder / name)
    state = {"epoch": epoch, "checkpoint": name, "config_hash": config_hash(config),
             "seed_states": [keras.ops.convert_to_numpy(v).tolist() for v in _seed_states(model)]}
    write_json_atomic(folder / name.replace(".weights.h5", ".json"), state)
    write_json_atomic(Path(run_dir) / STATE_FILE, state)
    for old in sorted(folder.glob("epoch_*.weights.h5"))[:-2]:    # keep this one and the one before
        old.unlink()
        old.with_name(old.name.replace(".weights.h5", ".json")).unlink(missing_ok=True)


def _candidates(run_dir):
    """Checkpoints to resume from, newest first: the one state.json names, then the older ones kept."""
    folder = Path(run_dir) / CHECKPOINTS
    state_path = Path(run_dir) / STATE_FILE
    try:
        latest = json.loads(state_path.read_text())
    except (OSError, ValueError):
        latest = None        # damaged state.json: the per-checkpoint states below still say it all
    found = []
    for weights in sorted(folder.glob("epoch_*.weights.h5"), reverse=True):
        try:
            state = json.loads(weights.with_name(weights.name.replace(".weights.h5", ".json")).read_text())
        except (OSError, ValueError):
            state = None
        if latest and latest.get("checkpoint") == weights.name:
            state = latest
        if state is None:    # a checkpoint of an older version of the suite: no seed states
            state = {"epoch": int(weights.name[6:10]), "checkpoint": weights.name, "seed_states": []}
        found.append(state)
    return found


def _accepted_hashes(config):
    """The digests this config may have been saved under: an added key at its default was part of
    the digest of runs written after the package had it but before it was listed in ADDED_KEYS
    (e.g. DAGAN's ms_lambda), so every choice of kept added keys is accepted; and a run written
    before a key's renaming (cli.RENAMED) hashed it under the old name."""
    added = [k for k in ADDED_KEYS if k in config and config[k] == ADDED_KEYS[k]]
    return {config_hash(naming, kept) for naming in former_namings(config) for n in range(len(added) + 1)
            for kept in itertools.combinations(added, n)}


def load_checkpoint(model, run_dir, config=None):
    """Restore the latest readable checkpoint of a run dir into a built and compiled model; returns
    the number of epochs already done (0 when there is none). A damaged latest checkpoint (e.g. a
    truncated file) is skipped, with one line, for the one before it."""
    run_dir = Path(run_dir)
    if not (run_dir / STATE_FILE).exists():
        return 0
    candidates = _candidates(run_dir)
    if not candidates:
        raise UserError(f"{run_dir} has a {STATE_FILE} but no checkpoint in {run_dir / CHECKPOINTS}; "
                        "pass --overwrite to start over")
    for i, state in enumerate(candidates):
        if config is not None and state.get("config_hash", config_hash(config)) not in _accepted_hashes(config):
            raise TrainingError(f"{run_dir}: the checkpoint was made with another configuration; "
                                "pass --overwrite to start over")
        checkpoint = run_dir / CHECKPOINTS / state["checkpoint"]
        try:
            _load_weights(model, checkpoint)
        except (OSError, KeyError) as e:     # h5py: a truncated or corrupt file
            reason = (str(e).splitlines() or [type(e).__name__])[0][:120]
            if i + 1 == len(candidates):
                raise UserError(f"{checkpoint} is damaged ({reason}) and no earlier checkpoint is "
                                "left; pass --overwrite to start over") from None
            print(f"{checkpoint.name} is damaged ({reason}); resuming from "
                  f"{candidates[i + 1]['checkpoint']} instead", file=sys.stderr)
            continue
        for variable, value in zip(_seed_states(model), state["seed_states"]):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        return int(state["epoch"])


def _load_weights(model, checkpoint):
    with warnings.catch_warnings(record=True) as caught:   # Keras warns per mismatched part first
        warnings.simplefilter("always")
        try:
            model.load_weights(checkpoint)
        except ValueError as e:      # e.g. written by an earlier version of the networks
            detail = next((line for line in str(e).splitlines() if line.startswith("Layer ")), str(e).splitlines()[0])
            raise UserError(f"{checkpoint} does not fit this network ({detail}); it was written by another "
                            "version of the model: retrain with --overwrite or use the matching version") from None
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


_predictors = weakref.WeakKeyDictionary()


class _Inference:
    """model(x, training=False) for one model, held weakly (the cache above must not keep it alive);
    as the tf.function's Python function it is also the key of that function's tracing statistics."""

    def __init__(self, model):
        self.model = weakref.ref(model)

    def __call__(self, x):
        return self.model()(x, training=False)


def predict(model, inputs, batch_size=256):
    """model.predict(inputs, batch_size=...) as numpy, through a tf.function of the model itself.

    TensorFlow counts the traces of Keras' predict functions under one key (their shared code), so a
    command predicting with a few models (a classifier per training set, a generator per class) drew
    "triggered tf.function retracing" warnings. This function's key is the model: one trace per model
    (two with a last, smaller batch), the same graph and batches as predict."""
    if model not in _predictors:
        _predictors[model] = tf.function(_Inference(model), reduce_retracing=True)
    run = _predictors[model]
    parts = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    n = len(parts[0])
    out = [run([p[i:i + batch_size] for p in parts] if isinstance(inputs, (list, tuple))
               else inputs[i:i + batch_size]) for i in range(0, n, batch_size)]
    return np.concatenate([keras.ops.convert_to_numpy(o) for o in out])


@contextlib.contextmanager
def without_remapper():
    """Grappler's remapper (op fusion) off for the tf.functions first run within, then as before (on
    by default). For graphs on which it fails: it logs "remapper failed: ..." on stderr, and leaves
    the graph unfused anyway."""
    before = tf.config.optimizer.get_experimental_options().get("remapping", True)
    tf.config.optimizer.set_experimental_options({"remapping": False})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": before})


def _truncate_csv(path, column, last_kept):
    """Drop log rows written after the checkpoint being resumed from (keep `column` <= last_kept);
    a log of an older version, with epochs counted from 0, is rewritten counted from 1."""
    if path.exists() and path.stat().st_size:
        table = plots.read_log(path)
        table[table[column] <= last_kept].to_csv(path, index=False)


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite logged value; the checkpointer then keeps the last good one.

    One step per train-function call: each step's logs are checked. This costs no host sync of its own:
    Keras 3.15's TensorFlow `fit` already reads every step's logs into Python floats on the main thread
    (CallbackList pythonifies them for its History), and reads the step's `has_value()` too.
    Several steps per call (steps_per_execution > 1): Keras hands over only the last step's logs, so
    `watch` makes the train step record the first non-finite step itself, in the graph; it is read
    once per call. Training then stops at the end of that call, but the reported epoch and step are
    those of the first bad step, and no checkpoint is written after it."""

    def __init__(self):
        super().__init__()
        self.bad = None
        self.epoch = 0
        self.record = None

    def watch(self, model, strategy, first_step, steps_per_epoch):
        """Wrap `model.train_step` (single replica) so that it records the first step, counted from 1
        over the whole run, whose logs hold a non-finite value: which log (sorted by name, the order
        the per-step check uses) and its value. The variables belong to the guard, not the model, so
        checkpoints do not change."""
        self.steps_per_epoch = steps_per_epoch
        with strategy.scope():
            once = dict(trainable=False, aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            step = tf.Variable(first_step, dtype=tf.int64, **once)
            record = {"step": tf.Variable(0, dtype=tf.int64, **once), "key": tf.Variable(0, dtype=tf.int32, **once),
                      "value": tf.Variable(0.0, dtype=tf.float32, **once)}
        inner = model.train_step
        keys = []

        def train_step(data):
            logs = inner(data)
            keys[:] = sorted(logs)
            values = tf.stack([tf.reshape(tf.cast(logs[k], tf.float32), [-1])[0] for k in keys])
            step.assign_add(1)
            bad = tf.logical_not(tf.math.is_finite(values))
            first = tf.logical_and(tf.equal(record["step"], 0), tf.reduce_any(bad))
            index = tf.cast(tf.argmax(tf.cast(bad, tf.int32)), tf.int32)
            record["step"].assign(tf.where(first, step, record["step"]))
            record["key"].assign(tf.where(first, index, record["key"]))
            record["value"].assign(tf.where(first, tf.gather(values, index), record["value"]))
            return logs

        model.train_step = train_step
        self.record, self.keys = record, keys

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.record is not None:
            step = int(self.record["step"].numpy())
            if step:
                epoch, index = divmod(step - 1, self.steps_per_epoch)
                self._stop(self.keys[int(self.record["key"].numpy())], float(self.record["value"].numpy()),
                           epoch, index)
            return
        for key, value in (logs or {}).items():
            if not math.isfinite(float(value)):
                self._stop(key, value, self.epoch, batch)
                return

    def _stop(self, key, value, epoch, batch):
        self.bad = f"{key} became {value} at epoch {epoch + 1}, step {batch + 1}"
        self.model.stop_training = True


class CSVLog(keras.callbacks.Callback):
    """Loss log with a header: one row per epoch (`epoch` from 1 = epochs finished, as in checkpoint and
    sample names, then the trackers' epoch means), or with `per_step` one row per step (`step` from 1,
    `epoch` the step belongs to, from 1 as Keras prints it, then the values logged at that step)."""

    def __init__(self, path, per_step=False, steps_per_epoch=None):
        super().__init__()
        self.path, self.per_step, self.steps_per_epoch = Path(path), per_step, steps_per_epoch
        self.epoch = 0
        self.file = self.writer = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.per_step:
            self._row({"step": self.epoch * self.steps_per_epoch + batch + 1, "epoch": self.epoch + 1}, logs)

    def on_epoch_end(self, epoch, logs=None):
        if not self.per_step:
            self._row({"epoch": epoch + 1}, logs)   # Keras counts from 0; the suite's files from 1
        if self.file:
            self.file.flush()

    def _row(self, index, logs):
        row = {**index, **{k: float(v) for k, v in (logs or {}).items()}}
        if self.writer is None:
            columns = None
            if self.path.exists() and self.path.stat().st_size:   # resuming: keep the file's columns
                with open(self.path, newline="") as f:
                    columns = next(csv.reader(f), None)
            self.file = open(self.path, "a", newline="")
            self.writer = csv.DictWriter(self.file, fieldnames=columns or list(row), extrasaction="ignore",
                                         lineterminator="\n")     # as pandas writes it on resume
            if columns is None:
                self.writer.writeheader()
        self.writer.writerow(row)

    def on_train_end(self, logs=None):
        if self.file:
            self.file.close()
            self.file = self.writer = None


class Checkpointer(keras.callbacks.Callback):
    """Every `every` epochs and at the last: checkpoint, sample grid, loss plot."""

    def __init__(self, run_dir, config, epochs, every, guard, sample_fn=None, sample_every=None):
        super().__init__()
        self.run_dir, self.config, self.epochs, self.every = Path(run_dir), config, epochs, every
        self.guard, self.sample_fn, self.sample_every = guard, sample_fn, sample_every or every
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.bad:
            return
        done = epoch + 1
        if done % self.every == 0 or done == self.epochs:
            save_checkpoint(self.model, self.run_dir, done, self.config)
            plots.loss_curves(self.run_dir / LOSSES_CSV, self.run_dir / "losses.png")
        if self.sample_fn and (done % self.sample_every == 0 or done == self.epochs):
            samples = self.sample_fn(self.model)
            if not isinstance(samples, dict):
                samples = {"images": samples}
            grid = self.run_dir / "samples" / f"epoch_{done:04d}.png"
            plots.image_grid(path=grid, **samples)
            if self.config.get("tensorboard"):
                self.writer = self.writer or tf.summary.create_file_writer(str(self.run_dir / TENSORBOARD / "samples"))
                with self.writer.as_default():
                    tf.summary.image("samples", tf.io.decode_png(tf.io.read_file(str(grid)))[None], step=done)

    def on_train_end(self, logs=None):
        if self.writer:         # on disk when fit returns, as Keras' TensorBoard callback does
            self.writer.close()
            self.writer = None


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback with the epoch scalars at the suite's epoch numbers: Keras writes
    them at step = its 0-based epoch index, while losses.csv, sample grids (also in TensorBoard) and
    checkpoints count epochs done, from 1."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch + 1, logs)


def _writable_dir(run_dir, strategy):
    """The run dir on the chief. The other workers of a multi-worker run read its checkpoint but write
    to a scratch dir removed at exit: they still run every callback, as saving (the trackers) and
    sampling (predict) are collective and need every worker."""
    if strategy.extended.should_checkpoint:
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir
    scratch = Path(tempfile.mkdtemp(prefix="worker_run_"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch


def _same_on_every_worker(strategy, epoch):
    """The epoch to resume after, which all workers must share: each loads the checkpoint itself, and
    with different ones their collective steps would never pair up."""
    if not multi_worker(strategy):
        return epoch
    found = strategy.gather(strategy.experimental_distribute_values_from_function(
        lambda _: tf.constant([epoch])), axis=0).numpy().tolist()
    if len(set(found)) > 1:
        raise TrainingError(f"the workers found checkpoints of different epochs ({found}, chief first): "
                            "each needs the chief's run directory, shared or copied to the same path")
    return epoch


def _steps_per_execution(wanted, steps_per_epoch, strategy, step_log):
    """How many steps each train-function call runs: 1 when per-step logs are wanted or with several
    replicas (the NaN guard's in-graph record is single-replica). Otherwise the largest divisor of
    steps_per_epoch up to `wanted`: Keras runs every call's steps in full even past the epoch's end,
    which would put more steps into an epoch than the data stream and exact resume assume."""
    if wanted <= 1 or step_log or strategy.num_replicas_in_sync > 1:
        return 1
    return max(d for d in range(1, min(wanted, steps_per_epoch) + 1) if steps_per_epoch % d == 0)


def train(build, data_fn, run_dir, *, epochs, steps_per_epoch, config, strategy=None,
          save_every=1, sample_fn=None, sample_every=None, step_log=False, verbose="auto",
          steps_per_execution=1):
    """Build the model in the strategy's scope, resume from the run dir's latest checkpoint, and fit.

    build(): returns the compiled GAN. data_fn(start_epoch): the training stream from that epoch on
    (e.g. `common.pipeline.make_dataset(..., start_epoch=...)[0]`). sample_fn(model): images in
    [-1, 1] shaped (rows, cols, H, W, C), or a dict of `plots.image_grid` arguments.
    steps_per_execution: steps per train-function call (fewer Python round trips per step); used only
    without step_log and with one replica, and lowered to a divisor of steps_per_epoch.
    Returns the trained model; raises TrainingError on a NaN/Inf loss after keeping the last good
    checkpoint.
    """
    run_dir = Path(run_dir)
    out_dir = _writable_dir(run_dir, strategy or tf.distribute.get_strategy())
    if verbose == "auto":     # progress bars on a terminal; one line per epoch in a log file (nohup)
        verbose = 1 if sys.stdout.isatty() else 2
    strategy = strategy or tf.distribute.get_strategy()
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(config.get("precision", "float32"))
    try:                          # the policy is read when layers are made: only this model gets it
        with strategy.scope():
            model = build()
    finally:
        keras.mixed_precision.set_global_policy(previous)
    initial_epoch = _same_on_every_worker(strategy, load_checkpoint(model, run_dir, config))
    if initial_epoch >= epochs:
        if verbose:
            print(f"{run_dir}: already trained for {initial_epoch} epochs (pass more --epochs to go on)")
        return model
    if initial_epoch and verbose:
        print(f"{run_dir}: resuming after epoch {initial_epoch}")
    _truncate_csv(out_dir / LOSSES_CSV, "epoch", initial_epoch)
    _truncate_csv(out_dir / STEPS_CSV, "step", initial_epoch * steps_per_epoch)
    guard = NaNGuard()
    model.steps_per_execution = _steps_per_execution(steps_per_execution, steps_per_epoch, strategy, step_log)
    if model.steps_per_execution > 1:
        guard.watch(model, strategy, initial_epoch * steps_per_epoch, steps_per_epoch)
    callbacks = [guard, CSVLog(out_dir / LOSSES_CSV)]
    if step_log:
        callbacks.append(CSVLog(out_dir / STEPS_CSV, per_step=True, steps_per_epoch=steps_per_epoch))
    callbacks.append(Checkpointer(out_dir, config, epochs, save_every, guard, sample_fn, sample_every))
    if config.get("tensorboard"):     # epoch means of every logged loss; grids come from the Checkpointer
        callbacks.append(TensorBoard(out_dir / TENSORBOARD, write_graph=False, profile_batch=0))
    model.fit(data_fn(initial_epoch), epochs=epochs, initial_epoch=initial_epoch,
              steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
              shuffle=False)
    if guard.bad:
        kept = epochs_done(out_dir)
        raise TrainingError(f"{guard.bad}; the last good checkpoint "
                            + (f"(epoch {kept}) is kept in {run_dir / CHECKPOINTS}" if kept
                               else "does not exist: no epoch finished"))
    return model
