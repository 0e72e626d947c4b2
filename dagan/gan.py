"""The DAGAN training step: WGAN-GP on (source, target) pairs of one class.

    L_D = E[D(G(x_i, z), x_i)] - E[D(x_j, x_i)] + 10 GP,     L_G = -E[D(G(x_i, z), x_i)]
    GP  = E[(||grad_x D(x_hat, x_i)||_2 - 1)^2],  x_hat = x_j + alpha (x_g - x_j),  alpha ~ U(0, 1)

One `train_step` is one iteration of the TF original: `critic_steps` critic updates, each on a fresh
batch of pairs, then one generator update on a fresh batch. A dataset element therefore holds
`critic_steps + 1` batches of pairs, batch axis first so that tf.distribute splits it per replica.
Pairs are drawn by stateless ops seeded by (seed, step), so a resumed run sees the same pairs.

Option (not in the originals, default off): MSGAN's mode-seeking term (Mao et al. 2019). The generator
step then draws two noise vectors per source and adds ms_lambda / (L_ms + eps) to L_G, with
L_ms = mean|G(x_i, z1) - G(x_i, z2)| / mean|z1 - z2|, which G can only lower by making its output
depend on z (the originals' generator largely ignores z for a long time).
ms_dropout "independent" (MSGAN as published) lets G's training-mode dropout draw separate masks for
the two generations, so L_ms also counts dropout noise (quick profile, 100 iterations with
ms_lambda 10: two training-mode passes at one z differ by 0.77 per pixel on average, while L_ms in
inference mode is 0.09); "shared" reuses one mask for both, so that the term rewards dependence on z
only.
"""
import keras
import numpy as np
import tensorflow as tf

from common import pipeline
from common.errors import UserError
from common.gan import GAN
from common.losses import GP_AXES, MS_EPSILON, gradient_penalty, mode_seeking
from dagan import models

MS_DROPOUT = ("independent", "shared")


def class_index(labels, min_images=2):
    """Images grouped by class: (order, offsets, counts) such that class c's images are
    order[offsets[c]:offsets[c] + counts[c]]. Every class needs `min_images` to make a pair of two
    distinct draws possible."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    small = classes[counts < min_images]
    if len(small):
        raise UserError(f"class {small[0]} has {counts[counts < min_images][0]} image(s); DAGAN pairs "
                        f"need at least {min_images} images in every training class "
                        f"({len(small)} classes are too small): add images or leave those classes out")
    order = np.argsort(labels, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, offsets, counts


def sample_pairs(seed, counts, offsets, shape, rotate=False):
    """Indices (a, b) into the class-sorted images for pairs of one class, and per-pair rot90 counts.

    As the TF original: classes uniformly with replacement, a and b independently (a == b possible);
    with `rotate`, each pair is turned by the same k x 90 degrees (k uniform in 0..3) with p = 0.5,
    else k = 0. Stateless: a pure function of `seed` (shape [2])."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=5)
    counts = tf.constant(counts, tf.int64)
    offsets = tf.constant(offsets, tf.int64)
    c = tf.random.stateless_uniform(shape, seeds[0], minval=0, maxval=counts.shape[0], dtype=tf.int64)
    n = tf.gather(counts, c)
    start = tf.gather(offsets, c)
    draw = lambda s: tf.minimum(tf.cast(tf.random.stateless_uniform(shape, s) * tf.cast(n, tf.float32), tf.int64), n - 1)  # noqa: E731
    a, b = start + draw(seeds[1]), start + draw(seeds[2])
    if rotate:
        turn = tf.random.stateless_uniform(shape, seeds[3]) < 0.5
        k = tf.random.stateless_uniform(shape, seeds[4], minval=0, maxval=4, dtype=tf.int32)
        k = tf.where(turn, k, 0)
    else:
        k = tf.zeros(shape, tf.int32)
    return a, b, c, k


def sample_others(seed, counts, offsets, c, shape):
    """Indices into the class-sorted images of one image per pair from another class than `c` (the
    matching-aware critic's negatives). Its own seed stream: sample_pairs' draws stay as they were."""
    seeds = tf.random.experimental.stateless_split(
        tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 1), num=2)
    n_classes = counts.shape[0]
    counts, offsets = tf.constant(counts, tf.int64), tf.constant(offsets, tf.int64)
    shift = tf.random.stateless_uniform(shape, seeds[0], minval=1, maxval=n_classes, dtype=tf.int64)
    other = (c + shift) % n_classes           # never c
    n = tf.gather(counts, other)
    return tf.gather(offsets, other) + tf.minimum(
        tf.cast(tf.random.stateless_uniform(shape, seeds[1]) * tf.cast(n, tf.float32), tf.int64), n - 1)


def rot90(images, k):
    """Turn each image (..., H, W, C) by its own k x 90 degrees (H == W)."""
    flat = tf.reshape(images, [-1, *images.shape[-3:]])
    kf = tf.reshape(k, [-1])
    turned = tf.stack([tf.image.rot90(flat, i) for i in range(4)])                # (4, N, H, W, C)
    picked = tf.gather_nd(turned, tf.stack([kf, tf.range(tf.size(kf))], axis=1))
    return tf.reshape(picked, tf.shape(images))


def pair_dataset(images, labels, batch_size, steps_per_epoch, critic_steps=5, seed=0, start_epoch=0,
                 epochs=None, rotate=False, others=False):
    """Endless (or `epochs`-long) stream of train-step elements (sources, targets), each of shape
    (batch_size, critic_steps + 1, H, W, C) in [-1, 1]; sources[:, s] and targets[:, s] are pairs of
    one class. With `others`, elements are (sources, targets, others): others[:, s] is of another class
    than sources[:, s] (turned as its pair). Element e of epoch t depends only on (seed, t *
    steps_per_epoch + e)."""
    images = np.asarray(images)
    if rotate and images.shape[1] != images.shape[2]:
        raise UserError(f"rotation needs square images, these are {images.shape[1]}x{images.shape[2]}; "
                        "drop --rotate")
    order, offsets, counts = class_index(labels)
    if others and len(counts) < 2:
        raise UserError("the matching-aware critic (--mismatch) needs at least 2 training classes")
    sorted_images = tf.constant(images[order])
    shape = (batch_size, critic_steps + 1)

    def element(step):
        key = tf.stack([tf.constant(seed, tf.int64), step])
        a, b, c, k = sample_pairs(key, counts, offsets, shape, rotate)
        picked = [a, b, sample_others(key, counts, offsets, c, shape)] if others else [a, b]
        out = [tf.cast(tf.gather(sorted_images, i), tf.float32) / 127.5 - 1.0 for i in picked]
        return tuple(rot90(x, k) for x in out) if rotate else tuple(out)

    first = start_epoch * steps_per_epoch
    end = np.iinfo(np.int64).max if epochs is None else (start_epoch + epochs) * steps_per_epoch
    return pipeline.without_autotune(tf.data.Dataset.range(first, end)
                                     .map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                                     .prefetch(tf.data.AUTOTUNE))


class DAGAN(GAN):
    """DAGAN with the WGAN-GP objective. `generator`/`critic` (also `discriminator`) are the
    networks of dagan.models; `gp_axes` picks the penalty's norm ("sample" or the TF "height" bug);
    `ms_lambda` > 0 adds MSGAN's mode-seeking term to L_G (0, the originals, leaves it out and logs as
    before; otherwise L_ms is logged as `mode_seeking`). For ms_dropout "shared", G's dropout layers
    must be models.PairedDropout (models.generator(paired_dropout=True))."""
    loss_names = ("d_loss", "g_loss", "gp", "wasserstein")

    def __init__(self, generator, critic, z_dim=100, critic_steps=5, gp_weight=10.0, gp_axes="sample",
                 ms_lambda=0.0, ms_dropout="independent", mismatch=0.0, mismatch_gp=False, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if gp_axes not in GP_AXES:
            raise ValueError(f"gp_axes must be one of {GP_AXES}, not {gp_axes!r}")
        if not ms_lambda >= 0:
            raise ValueError(f"ms_lambda must be >= 0, not {ms_lambda!r}")
        if not 0 <= mismatch < 1:
            raise ValueError(f"mismatch must be in [0, 1), not {mismatch!r}")
        if mismatch_gp and not mismatch:
            raise ValueError("mismatch_gp needs mismatch > 0")
        self.mismatch, self.mismatch_gp = float(mismatch), bool(mismatch_gp)
        if ms_dropout not in MS_DROPOUT:
            raise ValueError(f"ms_dropout must be one of {MS_DROPOUT}, not {ms_dropout!r}")
        if ms_lambda and ms_dropout == "shared" and any(type(layer) is keras.layers.Dropout and layer.rate > 0
                                                        for layer in generator.layers):
            raise ValueError('ms_dropout "shared" needs a generator built with paired_dropout=True')
        self.ms_dropout = ms_dropout
        self.generator, self.discriminator = generator, critic
        self.z_dim, self.critic_steps = int(z_dim), int(critic_steps)
        self.gp_weight, self.gp_axes, self.ms_lambda = float(gp_weight), gp_axes, float(ms_lambda)
        if self.ms_lambda:   # only then: checkpoints and logs of the originals' setting stay as they were
            self.trackers = self.trackers + [keras.metrics.Mean(name="mode_seeking")]

    def paired_dropouts(self):
        # looked up, not stored: a list attribute of layers would make Keras track them a second time
        return [layer for layer in self.generator.layers if isinstance(layer, models.PairedDropout)]

    @property
    def critic(self):
        return self.discriminator

    def generate(self, sources, training=False):
        z = self.noise((tf.shape(sources)[0], self.z_dim))
        return self.generator([sources, z], training=training)

    def critic_step(self, source, target, other=None):
        """One critic update. With `other` (matching-aware, `mismatch` > 0) the negative term is
        (1 - mismatch) E[D(G(x_i, z), x_i)] + mismatch E[D(x_other, x_i)]: real images of another
        character must score low against x_i too, so the critic has to judge the pair, not the image.
        With `mismatch_gp` the penalty's points are drawn from both negatives' lines in the same shares:
        (1 - mismatch) GP(x_j -> G(x_i, z)) + mismatch GP(x_j -> x_other). WGAN-GP bounds the critic's
        slope only where it is penalised; without it the critic may push the mismatched pairs down
        without limit (measured: epoch-mean penalties up to 7,000 from 2,000 iterations on)."""
        fake = self.generate(source, training=True)
        alpha = keras.random.uniform((tf.shape(source)[0],), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            d_real = self.critic([target, source], training=True)
            d_fake = self.critic([fake, source], training=True)
            gp = gradient_penalty(self.critic, source, target, fake, alpha, self.gp_axes)
            if other is not None:
                d_fake = (1.0 - self.mismatch) * d_fake + self.mismatch * self.critic([other, source], training=True)
                if self.mismatch_gp:
                    beta = keras.random.uniform((tf.shape(source)[0],), seed=self.seed_generator)
                    gp = (1.0 - self.mismatch) * gp + self.mismatch * gradient_penalty(
                        self.critic, source, target, other, beta, self.gp_axes)
            wasserstein = self.mean(d_real) - self.mean(d_fake)
            gp_mean = self.mean(gp)
            d_loss = -wasserstein + self.gp_weight * gp_mean
        self.step(self.d_optimizer, tape, d_loss, self.discriminator_variables)
        return d_loss, gp_mean, wasserstein

    def generator_loss(self, source, z, z2=None, training=True):
        """L_G = -E[D(G(x_i, z), x_i)] (critic in `training` mode: its dropout is on in the generator
        step, as in both originals). With z2 (mode seeking), G runs once on the doubled batch
        [(x_i, z), (x_i, z2)], the adversarial term averages over both halves and
        ms_lambda / (L_ms + eps) is added. Returns (L_G, L_ms or None)."""
        if z2 is None:
            fake = self.generator([source, z], training=training)
            return -self.mean(self.critic([fake, source], training=training)), None
        doubled = tf.concat([source, source], axis=0)
        pair = self.ms_dropout == "shared"
        paired = self.paired_dropouts()
        for layer in paired:            # read when the call is traced: the critic step's G is unaffected
            layer.paired = pair
        try:
            fake = self.generator([doubled, tf.concat([z, z2], axis=0)], training=training)
        finally:
            for layer in paired:
                layer.paired = False
        adversarial = -self.mean(self.critic([fake, doubled], training=training))
        fake1, fake2 = tf.split(fake, 2, axis=0)
        ms = mode_seeking(fake1, fake2, z, z2)
        # A ratio of per-replica means is not a per-example loss: scale it as compute_average_loss
        # would, so that the gradients summed over replicas match a single device.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return adversarial + self.ms_lambda / (ms + MS_EPSILON) / replicas, ms

    def train_step(self, data):
        sources, targets, *others = data        # others: the matching-aware critic's negatives
        pick = lambda x, s: None if x is None else tf.gather(x, s, axis=1)  # noqa: E731
        others = others[0] if others else None

        def critic_update(s, *_):
            return (s + 1, *self.critic_step(pick(sources, s), pick(targets, s), pick(others, s)))

        if tf.distribute.has_strategy():   # a strategy cannot merge optimizer updates inside a graph loop
            for s in range(self.critic_steps):
                d_loss, gp, wasserstein = self.critic_step(*(pick(x, s) for x in (sources, targets, others)))
        else:   # a graph loop, so that the critic update is traced once rather than critic_steps times
            zero = tf.constant(0.0)
            _, d_loss, gp, wasserstein = tf.while_loop(
                lambda s, *_: s < self.critic_steps, critic_update, (tf.constant(0), zero, zero, zero))
        source = sources[:, self.critic_steps]
        z = self.noise((tf.shape(source)[0], self.z_dim))
        z2 = self.noise((tf.shape(source)[0], self.z_dim)) if self.ms_lambda else None
        with tf.GradientTape() as tape:
            g_loss, ms = self.generator_loss(source, z, z2, training=True)
        self.step(self.g_optimizer, tape, g_loss, self.generator_variables)
        logs = dict(d_loss=d_loss, g_loss=g_loss, gp=gp, wasserstein=wasserstein)
        if ms is not None:
            # update() multiplies by the replica count (for values from `mean`); ms is a plain mean.
            logs["mode_seeking"] = ms / tf.distribute.get_strategy().num_replicas_in_sync
        return self.update(**logs)


def build(config, image_shape):
    """A function that returns the compiled DAGAN of a run's configuration (for common.training)."""
    def make():
        ms_dropout = config["ms_dropout"]
        generator = models.generator(image_shape, config["widths"], config["generator_inner_layers"],
                                     config["z_dim"], config["dropout"], config["batch_renorm"],
                                     paired_dropout=config["ms_lambda"] > 0 and ms_dropout == "shared")
        critic = models.critic(image_shape, config.get("critic_widths") or config["widths"],
                               config["critic_inner_layers"],
                               dropout=config["critic_dropout"], wide=config.get("wide_connections", False))
        model = DAGAN(generator, critic, config["z_dim"], config["critic_steps"], config["gp_weight"],
                      config["gp_axes"], ms_lambda=config["ms_lambda"], ms_dropout=ms_dropout,
                      mismatch=config.get("mismatch", 0.0), mismatch_gp=config.get("mismatch_gp", False),
                      seed=config["seed"])
        opt = dict(learning_rate=config["lr"], beta_1=0.0, beta_2=0.9)
        model.compile(d_optimizer=keras.optimizers.Adam(**opt), g_optimizer=keras.optimizers.Adam(**opt),
                      jit_compile=config.get("jit_compile", False))
        return model
    return make
