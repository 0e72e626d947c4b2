"""Is the input pipeline a bottleneck? A small DCGAN's step rate on MNIST fed by common.pipeline vs
fed one constant in-memory batch, alternated A/B several times so that background load hits both.

    python scripts/pipeline_throughput.py --data-dir ../shared/data [--steps 60 --rounds 3]
"""
import argparse
import time

# common first: importing it keeps TensorFlow's start-up lines off the terminal (common/__init__.py)
from common import datasets, pipeline, training
from common.gan import GAN

import keras
import numpy as np
import tensorflow as tf

LATENT = 64


class DCGAN(GAN):
    loss_names = ("d_loss", "g_loss")

    def __init__(self, seed=0):
        super().__init__(seed=seed)
        self.generator = keras.Sequential([
            keras.Input((LATENT,)), keras.layers.Dense(7 * 7 * 64), keras.layers.LeakyReLU(0.2),
            keras.layers.Reshape((7, 7, 64)),
            keras.layers.Conv2DTranspose(64, 4, 2, "same"), keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2DTranspose(32, 4, 2, "same"), keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(1, 5, padding="same", activation="tanh")], name="generator")
        self.discriminator = keras.Sequential([
            keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 4, 2, "same"), keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2D(64, 4, 2, "same"), keras.layers.LeakyReLU(0.2),
            keras.layers.Flatten(), keras.layers.Dense(1)], name="discriminator")

    def train_step(self, real):
        z = self.noise((tf.shape(real)[0], LATENT))
        bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = self.mean(bce(tf.ones_like(real_logits), real_logits)
                               + bce(tf.zeros_like(fake_logits), fake_logits))
        self.step(self.d_optimizer, tape, d_loss, self.discriminator_variables)
        with tf.GradientTape() as tape:
            logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = self.mean(bce(tf.ones_like(logits), logits))
        self.step(self.g_optimizer, tape, g_loss, self.generator_variables)
        return self.update(d_loss=d_loss, g_loss=g_loss)


def rate(model, dataset, steps):
    """Steps per second over `steps` steps, after one warm-up epoch that traces the step."""
    model.fit(dataset, epochs=1, steps_per_epoch=5, verbose=0)
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    training.seed_everything(0)
    data = datasets.load("mnist", "train", datasets.data_dir(args.data_dir))
    fed, _ = pipeline.make_dataset(data.images, batch_size=args.batch_size, seed=0)
    constant = tf.data.Dataset.from_tensors(pipeline.scale(data.images[:args.batch_size])).repeat()
    model = DCGAN()
    model.compile(d_optimizer=keras.optimizers.Adam(2e-4, 0.5), g_optimizer=keras.optimizers.Adam(2e-4, 0.5))
    rates = {"pipeline": [], "constant": []}
    for _ in range(args.rounds):
        rates["pipeline"].append(rate(model, fed, args.steps))
        rates["constant"].append(rate(model, constant, args.steps))
    for name, values in rates.items():
        print(f"{name:9s}: {np.median(values):.2f} steps/s = {np.median(values) * args.batch_size:.0f} "
              f"images/s (median of {args.rounds}: {', '.join(f'{v:.2f}' for v in values)})")
    ratio = np.median(rates["pipeline"]) / np.median(rates["constant"])
    print(f"pipeline / constant step rate: {ratio:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
