"""The BEGAN training step: an autoencoder discriminator kept in boundary equilibrium by k_t.

    L(v)    = |v - D(v)|  (pixel-wise L1, eta = 1)
    L_D     = L(x) - k_t L(G(z_D)),      L_G = L(G(z_G))
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1)
    M       = L(x) + |gamma L(x) - L(G(z_G))|

D and G are updated simultaneously from the same forward pass (carpedm20), k after both. k_t, the
learning rate and the state of the "halve when M stalls" rule are model variables, so a checkpoint
holds all of them and a resumed run continues exactly.
"""
import math

import keras
import tensorflow as tf

from began import models
from common.gan import GAN

LR_DECAYS = ("plateau", "step", "none")


def update_k(k, loss_real, loss_fake, gamma, lambda_k):
    """The proportional controller: k + lambda_k (gamma L(x) - L(G(z))), clipped to [0, 1]."""
    return tf.clip_by_value(k + lambda_k * (gamma * loss_real - loss_fake), 0.0, 1.0)


def convergence_measure(loss_real, loss_fake, gamma):
    """M_global = L(x) + |gamma L(x) - L(G(z))|."""
    return loss_real + tf.abs(gamma * loss_real - loss_fake)


class BEGAN(GAN):
    """BEGAN with the paper's M-stall learning-rate rule or carpedm20's step rule.

    lr_decay: "plateau" halves both learning rates when the epoch mean of M has not improved by a
    relative `min_delta` for `patience` epochs (needs `steps_per_epoch`); "step" halves them every
    `lr_step` steps (carpedm20's lr_update_step); both stop at `lr_floor`. shared_z: one z serves
    both losses (carpedm20, cheaper) instead of separate z_D and z_G (the paper).
    """
    loss_names = ("d_loss", "g_loss", "loss_real", "loss_fake", "measure")

    def __init__(self, image_size=64, num_filters=128, hidden=64, channels=3, gamma=0.5,
                 lambda_k=0.001, lr_decay="plateau", patience=3, min_delta=0.01, lr_step=100000,
                 lr_floor=2e-5, steps_per_epoch=None, shared_z=False, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if lr_decay not in LR_DECAYS:
            raise ValueError(f"lr_decay must be one of {LR_DECAYS}, not {lr_decay!r}")
        if lr_decay == "plateau" and not steps_per_epoch:
            raise ValueError("the plateau rule needs steps_per_epoch to know where an epoch ends")
        self.hidden, self.gamma, self.lambda_k = hidden, float(gamma), float(lambda_k)
        self.lr_decay, self.patience, self.min_delta = lr_decay, int(patience), float(min_delta)
        self.lr_step, self.lr_floor = int(lr_step), float(lr_floor)
        self.steps_per_epoch, self.shared_z = steps_per_epoch, shared_z
        self.generator = models.generator(image_size, num_filters, hidden, channels)
        self.discriminator = models.discriminator(image_size, num_filters, hidden, channels)
        # Checkpointed state (aggregation: every replica computes the same value from global means).
        state = dict(shape=(), trainable=False, aggregation="only_first_replica")
        self.k = self.add_weight(name="k_t", initializer="zeros", **state)
        self.best_measure = self.add_weight(name="best_measure",
                                            initializer=keras.initializers.Constant(math.inf), **state)
        self.stalled_epochs = self.add_weight(name="stalled_epochs", initializer="zeros", **state)
        self.measure_tracker = next(t for t in self.trackers if t.name == "measure")

    def reconstruct(self, images, training=False):
        return self.discriminator(images, training=training)

    def ae_loss(self, images, training=True):
        """Per-example L1 autoencoder loss, as a mean over the global batch (see GAN.mean)."""
        return self.mean(tf.abs(images - self.reconstruct(images, training)))

    @property
    def learning_rate(self):
        return self.d_optimizer.learning_rate

    def set_learning_rate(self, value):
        """Both optimizers move together (Keras LR callbacks would only see model.optimizer)."""
        self.d_optimizer.learning_rate.assign(value)
        self.g_optimizer.learning_rate.assign(value)

    def end_epoch(self, epoch_measure):
        """The paper's rule: count the epochs whose mean M did not improve on the best by a relative
        min_delta; after `patience` of them halve the learning rate (not below lr_floor) and start
        counting again. Branch-free, so it runs inside the compiled train step. Returns True when
        the rate was halved."""
        m = tf.cast(epoch_measure, tf.float32)
        improved = m < self.best_measure * (1.0 - self.min_delta)
        self.best_measure.assign(tf.where(improved, m, self.best_measure))
        stalled = tf.where(improved, 0.0, self.stalled_epochs + 1.0)
        fire = stalled >= self.patience
        self.stalled_epochs.assign(tf.where(fire, 0.0, stalled))
        lr = tf.cast(self.learning_rate, tf.float32)
        self.set_learning_rate(tf.where(fire, tf.maximum(lr * 0.5, self.lr_floor), lr))
        return fire

    def _decay(self, steps_done):
        """Applies the selected schedule once `steps_done` steps have been taken."""
        if self.lr_decay == "step":
            lr = tf.cast(self.learning_rate, tf.float32)
            due = tf.equal(steps_done % self.lr_step, 0)
            self.set_learning_rate(tf.where(due, tf.maximum(lr * 0.5, self.lr_floor), lr))
        elif self.lr_decay == "plateau":
            last_step = tf.equal(steps_done % self.steps_per_epoch, 0)
            tf.cond(last_step, lambda: self.end_epoch(self.measure_tracker.result()),
                    lambda: tf.constant(False))

    def train_step(self, real):
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
        self._decay(tf.cast(self.d_optimizer.iterations, tf.int64))   # read after this step's update
        # The trackers give epoch means (losses.csv); these raw values make the per-step log.
        logs.update(k_t=tf.identity(self.k), lr=tf.cast(self.learning_rate, tf.float32),
                    step_loss_real=mean_real, step_loss_fake=mean_fake, step_measure=measure)
        return logs


def build(config, steps_per_epoch, channels=3):
    """A `build()` for common.training.train: the compiled BEGAN of a run's configuration."""
    def make():
        model = BEGAN(image_size=config["image_size"], num_filters=config["num_filters"],
                      hidden=config["hidden"], channels=channels, gamma=config["gamma"],
                      lambda_k=config["lambda_k"], lr_decay=config["lr_decay"],
                      patience=config["lr_patience"],
                      min_delta=config["lr_min_delta"], lr_step=config["lr_step"],
                      lr_floor=config["lr_floor"], steps_per_epoch=steps_per_epoch,
                      shared_z=config.get("shared_z", False), seed=config["seed"])
        adam = lambda: keras.optimizers.Adam(config["lr"], beta_1=0.5, beta_2=0.999)  # noqa: E731
        model.compile(d_optimizer=adam(), g_optimizer=adam(), jit_compile=config.get("jit_compile", False),
                      run_eagerly=config.get("run_eagerly", False))
        return model
    return make
