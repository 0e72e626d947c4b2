"""The BEGAN training step: an autoencoder discriminator kept in boundary equilibrium by k_t.

    L(v)    = |v - D(v)|  (pixel-wise L1, eta = 1)
    L_D     = L(x) - k_t L(G(z_D)),      L_G = L(G(z_G))
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1)
    M       = L(x) + |gamma L(x) - L(G(z_G))|

D and G are updated simultaneously from the same forward pass (carpedm20), k after both.

Learning rate (REFERENCE 4c, 7): "step" (default) is carpedm20's trainer.py, lr = max(lr0 / 2^floor(t /
lr_step), floor) with t the number of updates already applied; it is a LearningRateSchedule on BOTH
optimizers, a pure function of the optimizer's `iterations`, so a restored checkpoint continues it.
"plateau" (an option; the paper's words, carpedm20's commented-out code) halves both rates when the
mean of M over a window of `lr_window` steps has not fallen by a relative `min_delta` for `patience`
windows; its state (k_t too) is model variables, so a checkpoint holds it.
"""
import math

import keras
import tensorflow as tf

from began import models
from common.gan import GAN

LR_DECAYS = ("step", "plateau", "none")


@keras.saving.register_keras_serializable(package="began")
class HalvingSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """carpedm20's step rule: the rate halves after every `every` updates and never falls below
    `floor` (lr_lower_boundary). `step` is the number of updates already applied (Keras passes the
    optimizer's iterations), so steps 0 .. every-1 run at `initial`, as carpedm20 halves after its
    update of step every-1."""

    def __init__(self, initial, every, floor):
        self.initial, self.every, self.floor = float(initial), int(every), float(floor)
        if self.every < 1:
            raise ValueError(f"every must be >= 1, not {every}")

    def __call__(self, step):
        halvings = tf.math.floordiv(tf.cast(step, tf.int64), self.every)
        # 0.5 ** halvings underflows to 0 for huge halvings; the floor takes over long before.
        decayed = self.initial * tf.pow(0.5, tf.cast(tf.minimum(halvings, 200), tf.float32))
        # a start below the floor is kept as it is (halving never raises the rate)
        return tf.maximum(decayed, min(self.floor, self.initial))

    def get_config(self):
        return {"initial": self.initial, "every": self.every, "floor": self.floor}


def update_k(k, loss_real, loss_fake, gamma, lambda_k):
    """The proportional controller: k + lambda_k (gamma L(x) - L(G(z))), clipped to [0, 1]."""
    return tf.clip_by_value(k + lambda_k * (gamma * loss_real - loss_fake), 0.0, 1.0)


def convergence_measure(loss_real, loss_fake, gamma):
    """M_global = L(x) + |gamma L(x) - L(G(z))|."""
    return loss_real + tf.abs(gamma * loss_real - loss_fake)


class BEGAN(GAN):
    """BEGAN with carpedm20's step schedule (default), the M-stall rule or a constant rate.

    lr_decay: "step" halves both learning rates every `lr_step` updates (HalvingSchedule); "plateau"
    halves them when the mean M of a window of `lr_window` steps has not improved on the best window
    by a relative `min_delta` for `patience` windows; both stop at `lr_floor`. shared_z: one z
    serves both losses (carpedm20, cheaper) instead of separate z_D and z_G (the paper).
    """
    loss_names = ("d_loss", "g_loss", "loss_real", "loss_fake", "measure")

    def __init__(self, image_size=64, num_filters=128, hidden=64, channels=3, gamma=0.5,
                 lambda_k=0.001, lr_decay="step", patience=1, min_delta=0.01, lr_step=100000,
                 lr_floor=2e-5, lr_window=100000, shared_z=False, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if lr_decay not in LR_DECAYS:
            raise ValueError(f"lr_decay must be one of {LR_DECAYS}, not {lr_decay!r}")
        self.hidden, self.gamma, self.lambda_k = hidden, float(gamma), float(lambda_k)
        self.lr_decay, self.patience, self.min_delta = lr_decay, int(patience), float(min_delta)
        self.lr_step, self.lr_floor, self.lr_window = int(lr_step), float(lr_floor), int(lr_window)
        self.shared_z = shared_z
        self.generator = models.generator(image_size, num_filters, hidden, channels)
        self.discriminator = models.discriminator(image_size, num_filters, hidden, channels)
        # Checkpointed state (aggregation: every replica computes the same value from global means).
        state = dict(shape=(), trainable=False, aggregation="only_first_replica")
        self.k = self.add_weight(name="k_t", initializer="zeros", **state)
        # the plateau rule's state: best window mean, windows without improvement, running sums
        self.best_measure = self.add_weight(name="best_measure",
                                            initializer=keras.initializers.Constant(math.inf), **state)
        self.stalled_windows = self.add_weight(name="stalled_windows", initializer="zeros", **state)
        self.window_sum = self.add_weight(name="window_sum", initializer="zeros", **state)
        self.window_count = self.add_weight(name="window_count", initializer="zeros", **state)

    def load_own_variables(self, store):
        """Checkpoints written before the window rule hold 3 own variables (k_t, the best epoch mean
        of M, the stalled-epoch count): load them into k_t, best_measure and stalled_windows and start
        an empty window, so that those runs' generators stay usable (de-biasing, generate)."""
        if len(store.keys()) == 3:
            for i, variable in enumerate((self.k, self.best_measure, self.stalled_windows)):
                variable.assign(store[str(i)])
            self.window_sum.assign(0.0)
            self.window_count.assign(0.0)
            return
        super().load_own_variables(store)

    def reconstruct(self, images, training=False):
        return self.discriminator(images, training=training)

    def ae_loss(self, images, training=True):
        """Per-example L1 autoencoder loss, as a mean over the global batch (see GAN.mean)."""
        return self.mean(tf.abs(images - self.reconstruct(images, training)))

    def make_learning_rate(self, lr):
        """What each optimizer is given: the step schedule, or a plain rate that the plateau rule
        (or nothing) changes. One call per optimizer: both follow the same rule."""
        if self.lr_decay == "step":
            return HalvingSchedule(lr, self.lr_step, self.lr_floor)
        return lr

    @property
    def learning_rate(self):
        """The rate the next update will use (a schedule is evaluated at the current iterations)."""
        return self.d_optimizer.learning_rate

    def set_learning_rate(self, value):
        """Both optimizers move together (Keras LR callbacks would only see model.optimizer)."""
        self.d_optimizer.learning_rate.assign(value)
        self.g_optimizer.learning_rate.assign(value)

    def end_window(self, window_measure):
        """The stall rule at the end of a window: count the windows whose mean M did not improve on
        the best by a relative min_delta; after `patience` of them halve the learning rate (not
        below lr_floor) and start counting again. Branch-free, so it runs inside the compiled train
        step. Returns True when the rate was halved."""
        m = tf.cast(window_measure, tf.float32)
        improved = m < self.best_measure * (1.0 - self.min_delta)
        self.best_measure.assign(tf.where(improved, m, self.best_measure))
        stalled = tf.where(improved, 0.0, self.stalled_windows + 1.0)
        fire = stalled >= self.patience
        self.stalled_windows.assign(tf.where(fire, 0.0, stalled))
        lr = tf.cast(self.learning_rate, tf.float32)
        self.set_learning_rate(tf.where(fire, tf.maximum(lr * 0.5, tf.minimum(self.lr_floor, lr)), lr))
        return fire

    def _plateau(self, measure, steps_done):
        """Adds this step's M to the window; at a window's last step applies the stall rule."""
        if self.lr_decay != "plateau":
            return
        self.window_sum.assign_add(tf.cast(measure, tf.float32))
        self.window_count.assign_add(1.0)

        def close():
            fired = self.end_window(self.window_sum / self.window_count)
            self.window_sum.assign(0.0)
            self.window_count.assign(0.0)
            return fired
        tf.cond(tf.equal(steps_done % self.lr_window, 0), close, lambda: tf.constant(False))

    def train_step(self, real):
        lr_used = tf.cast(self.learning_rate, tf.float32)     # the rate of this step's updates
        batch = tf.shape(real)[0]
        z_d = self.noise((batch, self.hidden), "uniform")
        z_g = z_d if self.shared_z else self.noise((batch, self.hidden), "uniform")
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            fake_d = self.generator(z_d, training=True)
            fake_g = fake_d if self.shared_z else self.generator(z_g, training=True)
            loss_real = self.ae_loss(real)
            loss_fake_d = self.ae_loss(fake_d)
            loss_fake_g = loss_fake_d if self.shared_z else self.ae_loss(fake_g)
            d_loss = loss_real - self.k * loss_fake_d
            g_loss = loss_fake_g
        self.step(self.d_optimizer, d_tape, d_loss, self.discriminator_variables)
        self.step(self.g_optimizer, g_tape, g_loss, self.generator_variables)

        # k and M need the global batch means, whatever the number of replicas.
        context = tf.distribute.get_replica_context()
        mean_real, mean_fake = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                                  [tf.stop_gradient(loss_real), tf.stop_gradient(loss_fake_g)])
        measure = convergence_measure(mean_real, mean_fake, self.gamma)
        self.k.assign(update_k(self.k, mean_real, mean_fake, self.gamma, self.lambda_k))
        logs = self.update(d_loss=d_loss, g_loss=g_loss, loss_real=loss_real, loss_fake=loss_fake_g,
                           measure=measure / context.num_replicas_in_sync)
        self._plateau(measure, tf.cast(self.d_optimizer.iterations, tf.int64))   # after this update
        # The trackers give epoch means (losses.csv); these raw values make the per-step log.
        logs.update(k_t=tf.identity(self.k), lr=lr_used,
                    step_loss_real=mean_real, step_loss_fake=mean_fake, step_measure=measure)
        return logs


def build(config, steps_per_epoch=None, channels=3):
    """A `build()` for common.training.train: the compiled BEGAN of a run's configuration.
    (steps_per_epoch is unused since the rules count steps; kept for callers.) Runs configured
    before the step-based schedule lack lr_window: the window then equals lr_step."""
    def make():
        model = BEGAN(image_size=config["image_size"], num_filters=config["num_filters"],
                      hidden=config["hidden"], channels=channels, gamma=config["gamma"],
                      lambda_k=config["lambda_k"], lr_decay=config["lr_decay"],
                      patience=config.get("lr_patience", 1), min_delta=config.get("lr_min_delta", 0.01),
                      lr_step=config["lr_step"], lr_floor=config["lr_floor"],
                      lr_window=config.get("lr_window") or config["lr_step"],
                      shared_z=config.get("shared_z", False), seed=config["seed"])
        adam = lambda: keras.optimizers.Adam(model.make_learning_rate(config["lr"]),  # noqa: E731
                                             beta_1=0.5, beta_2=0.999)
        model.compile(d_optimizer=adam(), g_optimizer=adam(), jit_compile=config.get("jit_compile", False),
                      run_eagerly=config.get("run_eagerly", False))
        return model
    return make
