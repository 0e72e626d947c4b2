"""A tiny GAN on 8x8 images, for testing the shared training machinery (not a paper's model)."""
import keras
import numpy as np
import tensorflow as tf

from common.gan import GAN
from common.losses import bce

LATENT = 4


def networks():
    z = keras.Input((LATENT,))
    x = keras.layers.Dense(16, activation="relu")(z)
    x = keras.layers.Dense(64, activation="tanh")(x)
    generator = keras.Model(z, keras.layers.Reshape((8, 8, 1))(x), name="generator")
    image = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(image)
    h = keras.layers.Dense(16)(h)
    h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Dropout(0.3)(h)
    discriminator = keras.Model(image, keras.layers.Dense(1)(h), name="discriminator")
    return generator, discriminator


class ToyGAN(GAN):
    """Non-saturating GAN. A batch may carry its own latents, (images, z), for replica tests."""
    loss_names = ("d_loss", "g_loss")

    def __init__(self, seed=0, poison_at=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.generator, self.discriminator = networks()
        self.poison_at = poison_at   # optimizer step at which the loss becomes NaN (tests)

    def train_step(self, data):
        real, z = (data, None) if not isinstance(data, tuple) else data
        if z is None:
            z = self.noise((tf.shape(real)[0], LATENT))
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            d_loss = self.mean(bce(self.discriminator(real, training=True), 1.0)
                               + bce(self.discriminator(fake, training=True), 0.0))
            if self.poison_at is not None:
                bad = tf.cast(self.d_optimizer.iterations, tf.int32) >= self.poison_at
                d_loss = tf.where(bad, tf.constant(np.nan, tf.float32), d_loss)
        self.step(self.d_optimizer, tape, d_loss, self.discriminator_variables)
        with tf.GradientTape() as tape:
            g_loss = self.mean(bce(self.discriminator(self.generator(z, training=True), training=True), 1.0))
        self.step(self.g_optimizer, tape, g_loss, self.generator_variables)
        return self.update(d_loss=d_loss, g_loss=g_loss)


def build(seed=0, poison_at=None, lr=1e-2):
    def make():
        model = ToyGAN(seed=seed, poison_at=poison_at)
        model.compile(d_optimizer=keras.optimizers.Adam(lr), g_optimizer=keras.optimizers.Adam(lr))
        return model
    return make


def images(n=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
