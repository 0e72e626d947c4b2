"""The two GANs' training steps (REFERENCE.md section 3c) on top of common.gan.GAN.

CGAN:    L_D = 1/2 [BCE(D(x, y), 1) + BCE(D(G(z, y), y), 0)],  L_G = BCE(D(G(z, y), y), 1);
         one D step, then one G step on the same fakes through the updated D; Adam(2e-4), default betas.
InfoGAN, two variants (their values: cgan_infogan/variants.py INFOGAN_VARIANTS):
  kalpak92 (default, the reproduced repository):
         L_D = BCE(D(x), 1) + BCE(D(G(c)), 0),
         L_GQ = BCE(D(G(c)), 1) + CE(q_logits, k) + 0.1 * NLL(c_cont | mu, var);
         Adam(2e-4, beta_1=0.5) for trunk + real/fake head, another for G + Q head (so the info loss
         never moves the shared trunk).
  official (openai/InfoGAN infogan_trainer.py, run_mnist_exp.py): the mutual-information bound is
         subtracted from both losses with weight 1 on both code types,
         L_D = BCE(D(x), 1) + BCE(D(G(c)), 0) + CE + NLL,   L_G = BCE(D(G(c)), 1) + CE + NLL,
         where -MI = CE + NLL - H(c) and the prior entropy H(c) is a constant left out (same gradients);
         the Q head sits in the discriminator's scope (d_net), so D's Adam(2e-4) trains trunk, D head
         and Q head, G's Adam(1e-3) trains G only; Q's continuous codes have a fixed std of 1.
"""
import math

import keras
import tensorflow as tf

from cgan_infogan import models
from common.gan import GAN
from common.losses import bce

INFO_WEIGHT = 0.1        # lambda of the continuous-code NLL


def unit_normal_nll(c, mu):
    """The official's continuous codes (Uniform(1, fix_std=True)): Gaussian NLL with std 1, summed over
    codes, no guards: sum_i [1/2 log(2 pi) + (c_i - mu_i)^2 / 2]."""
    return tf.reduce_sum(0.5 * math.log(2.0 * math.pi) + 0.5 * tf.square(c - mu), axis=-1)


def normal_nll(c, mu, var):
    """Per-example Gaussian NLL of the continuous codes, summed over codes, with the original's
    1e-6 guards: -sum_i [-1/2 log(2 pi var_i + 1e-6) - (c_i - mu_i)^2 / (2 var_i + 1e-6)]."""
    logli = -0.5 * tf.math.log(2.0 * math.pi * var + 1e-6) - tf.square(c - mu) / (2.0 * var + 1e-6)
    return -tf.reduce_sum(logli, axis=-1)


def info_terms(code_logits, code_index, mu, log_var, c, fixed_std=False):
    """Per-example (categorical cross-entropy, Gaussian NLL) of the Q head; with fixed_std the
    predicted log-variance is ignored (std 1, the official)."""
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=code_index, logits=code_logits)
    return ce, unit_normal_nll(c, mu) if fixed_std else normal_nll(c, mu, tf.exp(log_var))


class CGAN(GAN):
    loss_names = ("d_loss", "g_loss")

    def __init__(self, seed=0, z_dim=models.CGAN_Z, num_classes=models.NUM_CLASSES,
                 image_shape=models.IMAGE_SHAPE, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.z_dim, self.num_classes, self.image_shape = z_dim, int(num_classes), tuple(image_shape)
        self.generator = models.cgan_generator(z_dim, self.num_classes, self.image_shape)
        self.discriminator = models.cgan_discriminator(self.num_classes, self.image_shape)

    def generate(self, labels, training=False):
        """Images in [-1, 1] for integer labels (fresh noise from the model's SeedGenerator)."""
        one_hot = tf.one_hot(labels, self.num_classes)
        return self.generator([self.noise((tf.shape(one_hot)[0], self.z_dim)), one_hot], training=training)

    def train_step(self, data):
        real, labels = data
        one_hot = tf.one_hot(labels, self.num_classes)
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
    """cat_weight, cont_weight: weights of the categorical CE and the continuous NLL; info_in_d: the
    info term is also in D's loss, so it trains the shared trunk (official); q_with: which
    optimizer trains the Q head, "d" (official: built in D's scope) or "g" (kalpak92); fixed_std:
    Q's continuous codes have std 1 (official); z_prior: "normal" N(0, I) (kalpak92) or "uniform"
    U(-1, 1) (official); leak: the LeakyReLU slope of D's trunk and Q head (0.1 kalpak92, 0.01 official);
    openai_details: the rest of openai/InfoGAN's code (option --openai-details): D sees [0, 1] images,
    truncated-normal conv init, a bias on G's last layer, and the G step draws fresh codes (there
    each sess.run samples its own) instead of reusing the D step's."""
    loss_names = ("d_loss", "g_loss", "info_cat", "info_cont")

    def __init__(self, seed=0, cat_weight=1.0, cont_weight=INFO_WEIGHT, info_in_d=False, q_with="g",
                 fixed_std=False, z_prior="normal", leak=0.1, num_categories=models.INFO_CAT,
                 image_shape=models.IMAGE_SHAPE, openai_details=False, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.cat_weight, self.cont_weight = float(cat_weight), float(cont_weight)
        if q_with not in ("d", "g"):
            raise ValueError(f"q_with must be 'd' or 'g', not {q_with!r}")
        if z_prior not in ("normal", "uniform"):
            raise ValueError(f"z_prior must be 'normal' or 'uniform', not {z_prior!r}")
        self.info_in_d, self.q_with, self.fixed_std = bool(info_in_d), q_with, bool(fixed_std)
        self.z_prior, self.fresh_g_codes = z_prior, bool(openai_details)
        self.num_categories, self.image_shape = int(num_categories), tuple(image_shape)
        self.generator = models.infogan_generator(self.num_categories, self.image_shape, out_bias=openai_details)
        self.discriminator = models.infogan_discriminator(self.image_shape, self.num_categories, leak=leak,
                                                          openai=openai_details)

    @property
    def q_head(self):
        return self.discriminator.get_layer("q_head")

    @property
    def q_variables(self):
        """The Q head's trainable variables; with fixed_std its log-variance output is unused and
        left out (no gradient would reach it)."""
        skip = {id(v) for v in self.q_head.get_layer("log_var").trainable_variables} if self.fixed_std else set()
        return [v for v in self.q_head.trainable_variables if id(v) not in skip]

    @property
    def discriminator_variables(self):
        own = (self.discriminator.get_layer("trunk").trainable_variables
               + self.discriminator.get_layer("d_head").trainable_variables)
        return own + self.q_variables if self.q_with == "d" else own

    @property
    def generator_variables(self):
        return self.generator.trainable_variables + (self.q_variables if self.q_with == "g" else [])

    def info_loss(self, logits, index, mu, log_var, cont):
        """Per-example weighted info term and its two parts (CE, NLL)."""
        ce, nll = info_terms(logits, index, mu, log_var, cont, self.fixed_std)
        return self.cat_weight * ce + self.cont_weight * nll, ce, nll

    def d_objective(self, d_real, d_fake, logits, index, mu, log_var, cont):
        """Per-example D loss from D's outputs on real and fake images (the Q outputs on the fakes
        count only when info_in_d: the official's D maximises the MI bound too)."""
        loss = bce(d_real, 1.0) + bce(d_fake, 0.0)
        return loss + self.info_loss(logits, index, mu, log_var, cont)[0] if self.info_in_d else loss

    def g_objective(self, d_fake, logits, index, mu, log_var, cont):
        """Per-example G (and Q) loss, with its CE and NLL parts."""
        info, ce, nll = self.info_loss(logits, index, mu, log_var, cont)
        return bce(d_fake, 1.0) + info, ce, nll

    def sample_codes(self, n):
        """z ~ the prior, a uniform category index, continuous codes ~ U(-1, 1)."""
        z = self.noise((n, models.INFO_Z), self.z_prior)
        index = keras.random.randint((n,), 0, self.num_categories, seed=self.seed_generator)
        cont = self.noise((n, models.INFO_CONT), "uniform")
        return z, tf.cast(index, tf.int32), cont

    def generate(self, index, cont, training=False):
        """Images in [-1, 1] for category indices and continuous codes (fresh z)."""
        one_hot = tf.one_hot(index, self.num_categories)
        z = self.noise((tf.shape(one_hot)[0], models.INFO_Z), self.z_prior)
        return self.generator([z, one_hot, tf.cast(cont, tf.float32)], training=training)

    def losses_for(self, real, z, index, cont):
        """Both losses on one batch (for tests); the training step below updates in between."""
        one_hot = tf.one_hot(index, self.num_categories)
        fake = self.generator([z, one_hot, cont], training=True)
        d_real = self.discriminator(real, training=True)[0]
        d_fake, logits, mu, log_var = self.discriminator(fake, training=True)
        d_loss = self.mean(self.d_objective(d_real, d_fake, logits, index, mu, log_var, cont))
        g_loss, ce, nll = self.g_objective(d_fake, logits, index, mu, log_var, cont)
        return d_loss, self.mean(g_loss), self.mean(ce), self.mean(nll)

    def train_step(self, real):
        if isinstance(real, tuple):
            real = real[0]               # labels, if the stream carries them, are not used
        z, index, cont = self.sample_codes(tf.shape(real)[0])
        one_hot = tf.one_hot(index, self.num_categories)
        with tf.GradientTape() as g_tape:
            fake = self.generator([z, one_hot, cont], training=True)
            with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                d_real = self.discriminator(real, training=True)[0]
                d_fake, logits, mu, log_var = self.discriminator(tf.stop_gradient(fake), training=True)
                d_loss = self.mean(self.d_objective(d_real, d_fake, logits, index, mu, log_var, cont))
            with g_tape.stop_recording():
                self.step(self.d_optimizer, d_tape, d_loss, self.discriminator_variables)
            if self.fresh_g_codes:
                z, index, cont = self.sample_codes(tf.shape(real)[0])
                fake = self.generator([z, tf.one_hot(index, self.num_categories), cont], training=True)
            d_out, logits, mu, log_var = self.discriminator(fake, training=True)
            g_loss, ce, nll = self.g_objective(d_out, logits, index, mu, log_var, cont)
            g_loss = self.mean(g_loss)
        self.step(self.g_optimizer, g_tape, g_loss, self.generator_variables)
        return self.update(d_loss=d_loss, g_loss=g_loss, info_cat=self.mean(ce), info_cont=self.mean(nll))


def build(model, seed=0, lr=2e-4, jit_compile=False, variant=None, num_classes=models.NUM_CLASSES,
          image_shape=models.IMAGE_SHAPE):
    """A function that returns the compiled GAN `model` ("cgan" or "infogan") with the original's
    optimizers (for common.training.train). InfoGAN: `variant` is a row of variants.INFOGAN_VARIANTS
    (d_lr, g_lr, cat_weight, cont_weight, info_in_d, q_with, fixed_std, z_prior, leak[, openai_details]); None = kalpak92 with both rates `lr`.
    num_classes, image_shape: MNIST's by default; a folder's (the InfoGAN gets one category per class)."""
    def make():
        if model == "cgan":
            gan = CGAN(seed=seed, num_classes=num_classes, image_shape=image_shape)
            opts = dict(d_optimizer=keras.optimizers.Adam(lr), g_optimizer=keras.optimizers.Adam(lr))
        else:
            v = variant or dict(d_lr=lr, g_lr=lr)
            gan = InfoGAN(seed=seed, cat_weight=v.get("cat_weight", 1.0), cont_weight=v.get("cont_weight", INFO_WEIGHT),
                          info_in_d=v.get("info_in_d", False), q_with=v.get("q_with", "g"),
                          fixed_std=v.get("fixed_std", False), z_prior=v.get("z_prior", "normal"),
                          leak=v.get("leak", 0.1), num_categories=num_classes, image_shape=image_shape,
                          openai_details=v.get("openai_details", False))
            opts = dict(d_optimizer=keras.optimizers.Adam(v["d_lr"], beta_1=0.5),
                        g_optimizer=keras.optimizers.Adam(v["g_lr"], beta_1=0.5))
        gan.compile(**opts, jit_compile=jit_compile)
        return gan
    return make
