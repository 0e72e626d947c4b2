"""The two GANs' training steps (REFERENCE.md section 3c) on top of common.gan.GAN.

CGAN:    L_D = 1/2 [BCE(D(x, y), 1) + BCE(D(G(z, y), y), 0)],  L_G = BCE(D(G(z, y), y), 1);
         one D step, then one G step on the same fakes through the updated D; Adam(2e-4), default betas.
InfoGAN: L_D = BCE(D(x), 1) + BCE(D(G(c)), 0),
         L_GQ = BCE(D(G(c)), 1) + CE(q_logits, k) + 0.1 * NLL(c_cont | mu, var);
         Adam(2e-4, beta_1=0.5) for trunk + real/fake head, another for G + Q head (so the info loss
         never moves the shared trunk, as in the original).
"""
import math

import keras
import tensorflow as tf

from cgan_infogan import models
from common.gan import GAN

INFO_WEIGHT = 0.1        # lambda of the continuous-code NLL


def bce(logits, target):
    """Per-example binary cross-entropy against a constant target, on logits."""
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits)[:, 0]


def normal_nll(c, mu, var):
    """Per-example Gaussian NLL of the continuous codes, summed over codes, with the original's
    1e-6 guards: -sum_i [-1/2 log(2 pi var_i + 1e-6) - (c_i - mu_i)^2 / (2 var_i + 1e-6)]."""
    logli = -0.5 * tf.math.log(2.0 * math.pi * var + 1e-6) - tf.square(c - mu) / (2.0 * var + 1e-6)
    return -tf.reduce_sum(logli, axis=-1)


def info_terms(code_logits, code_index, mu, log_var, c):
    """Per-example (categorical cross-entropy, Gaussian NLL) of the Q head."""
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=code_index, logits=code_logits)
    return ce, normal_nll(c, mu, tf.exp(log_var))


class CGAN(GAN):
    loss_names = ("d_loss", "g_loss")

    def __init__(self, seed=0, z_dim=models.CGAN_Z, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.z_dim = z_dim
        self.generator = models.cgan_generator(z_dim)
        self.discriminator = models.cgan_discriminator()

    def generate(self, labels, training=False):
        """Images in [-1, 1] for integer labels (fresh noise from the model's SeedGenerator)."""
        one_hot = tf.one_hot(labels, models.NUM_CLASSES)
        return self.generator([self.noise((tf.shape(one_hot)[0], self.z_dim)), one_hot], training=training)

    def train_step(self, data):
        real, labels = data
        one_hot = tf.one_hot(labels, models.NUM_CLASSES)
        z = self.noise((tf.shape(real)[0], self.z_dim))
        with tf.GradientTape() as g_tape:
            fake = self.generator([z, one_hot], training=True)
            with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                d_loss = 0.5 * self.mean(bce(self.discriminator([real, one_hot], training=True), 1.0)
                                         + bce(self.discriminator([tf.stop_gradient(fake), one_hot], training=True), 0.0))
            with g_tape.stop_recording():
                self.step(self.d_optimizer, d_tape, d_loss, self.discriminator_variables)
            g_loss = self.mean(bce(self.discriminator([fake, one_hot], training=True), 1.0))
        self.step(self.g_optimizer, g_tape, g_loss, self.generator_variables)
        return self.update(d_loss=d_loss, g_loss=g_loss)


class InfoGAN(GAN):
    loss_names = ("d_loss", "g_loss", "info_cat", "info_cont")

    def __init__(self, seed=0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.generator = models.infogan_generator()
        self.discriminator = models.infogan_discriminator()

    @property
    def q_head(self):
        return self.discriminator.get_layer("q_head")

    @property
    def discriminator_variables(self):
        return (self.discriminator.get_layer("trunk").trainable_variables
                + self.discriminator.get_layer("d_head").trainable_variables)

    @property
    def generator_variables(self):
        return self.generator.trainable_variables + self.q_head.trainable_variables

    def sample_codes(self, n):
        """z ~ N(0, I), a uniform category index, continuous codes ~ U(-1, 1)."""
        z = self.noise((n, models.INFO_Z))
        index = keras.random.randint((n,), 0, models.INFO_CAT, seed=self.seed_generator)
        cont = self.noise((n, models.INFO_CONT), "uniform")
        return z, tf.cast(index, tf.int32), cont

    def generate(self, index, cont, training=False):
        """Images in [-1, 1] for category indices and continuous codes (fresh z)."""
        one_hot = tf.one_hot(index, models.INFO_CAT)
        z = self.noise((tf.shape(one_hot)[0], models.INFO_Z))
        return self.generator([z, one_hot, tf.cast(cont, tf.float32)], training=training)

    def losses_for(self, real, z, index, cont):
        """Both losses on one batch (for tests); the training step below updates in between."""
        one_hot = tf.one_hot(index, models.INFO_CAT)
        fake = self.generator([z, one_hot, cont], training=True)
        d_real = self.discriminator(real, training=True)[0]
        d_fake, logits, mu, log_var = self.discriminator(fake, training=True)
        ce, nll = info_terms(logits, index, mu, log_var, cont)
        d_loss = self.mean(bce(d_real, 1.0) + bce(d_fake, 0.0))
        g_loss = self.mean(bce(d_fake, 1.0) + ce + INFO_WEIGHT * nll)
        return d_loss, g_loss, self.mean(ce), self.mean(nll)

    def train_step(self, real):
        if isinstance(real, tuple):
            real = real[0]               # labels, if the stream carries them, are not used
        z, index, cont = self.sample_codes(tf.shape(real)[0])
        one_hot = tf.one_hot(index, models.INFO_CAT)
        with tf.GradientTape() as g_tape:
            fake = self.generator([z, one_hot, cont], training=True)
            with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                d_real = self.discriminator(real, training=True)[0]
                d_fake = self.discriminator(tf.stop_gradient(fake), training=True)[0]
                d_loss = self.mean(bce(d_real, 1.0) + bce(d_fake, 0.0))
            with g_tape.stop_recording():
                self.step(self.d_optimizer, d_tape, d_loss, self.discriminator_variables)
            d_out, logits, mu, log_var = self.discriminator(fake, training=True)
            ce, nll = info_terms(logits, index, mu, log_var, cont)
            g_loss = self.mean(bce(d_out, 1.0) + ce + INFO_WEIGHT * nll)
        self.step(self.g_optimizer, g_tape, g_loss, self.generator_variables)
        return self.update(d_loss=d_loss, g_loss=g_loss, info_cat=self.mean(ce), info_cont=self.mean(nll))


def build(model, seed=0, lr=2e-4, jit_compile=False):
    """A function that returns the compiled GAN `model` ("cgan" or "infogan") with the original's
    optimizers (for common.training.train)."""
    def make():
        if model == "cgan":
            gan = CGAN(seed=seed)
            opts = dict(d_optimizer=keras.optimizers.Adam(lr), g_optimizer=keras.optimizers.Adam(lr))
        else:
            gan = InfoGAN(seed=seed)
            opts = dict(d_optimizer=keras.optimizers.Adam(lr, beta_1=0.5),
                        g_optimizer=keras.optimizers.Adam(lr, beta_1=0.5))
        gan.compile(**opts, jit_compile=jit_compile)
        return gan
    return make
