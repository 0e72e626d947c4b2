"""BAGAN's training algorithm (Mariani et al. 2018, IBM/BAGAN `balancing_gan.py`) and BAGAN-GP's.

Phase 1: an autoencoder G(E(x)) trained with MSE on every (imbalanced) training image.
Phase 2: D's trunk starts from E's, G from the decoder; one Gaussian N(mu_c, Sigma_c) per class is
fitted on E's codes of the imbalanced training set and stays fixed (`LatentSampler`).
Phase 3: adversarial training (`BAGAN.train_step`): D is a (K+1)-way softmax whose class K is "fake";
G learns to make D answer c for z ~ N(mu_c, Sigma_c).

BAGAN-GP (`BAGANGP`): a label-embedded autoencoder trained with MAE, then a conditional critic with a
gradient penalty and 5 critic steps per generator step.
"""
import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from bagan import models
from common.gan import GAN
from common.losses import (MS_EPSILON, bce, clipped_sparse_categorical_crossentropy, gradient_penalty,
                           mode_seeking)

# How BAGAN's cross-entropy treats D's softmax: "clipped" = the original's Keras 2.1 (-log of the
# clipped probability: no gradient from a sample D gives < 1e-7), "logits" = Keras 3 on TF (loss
# from the softmax's logits, full gradient); the latter reproduces this suite's runs before #20.
LOSSES = ("clipped", "logits")


# ---------------------------------------------------------------------------------------------------
# Class-conditional latent generator


def cholesky_with_jitter(cov, jitter=1e-6, tries=10):
    """Lower Cholesky factor of a covariance that may be singular (a class with fewer codes than
    latent dimensions): add jitter * mean(diag) to the diagonal, x10 until it factorises."""
    cov = np.asarray(cov, np.float64)
    scale = max(float(np.mean(np.diag(cov))), 1e-12)
    eye = np.eye(len(cov))
    for i in range(tries):
        try:
            return np.linalg.cholesky(cov + (jitter * 10 ** i * scale if i or jitter else 0.0) * eye)
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError("covariance is not positive semi-definite even with jitter")


class LatentSampler:
    """N(mu_c, Sigma_c) per class, sampled for a whole batch of labels at once:
    z = mu[y] + L[y] @ eps with L the (jittered) Cholesky factor of Sigma_c.
    The original calls np.random.multivariate_normal once per sample (an SVD each time)."""

    def __init__(self, means, covariances, jitter=1e-6):
        self.means = np.asarray(means, np.float32)
        self.covariances = np.asarray(covariances, np.float64)
        self.factors = np.stack([cholesky_with_jitter(c, jitter) for c in self.covariances]).astype(np.float32)

    @classmethod
    def fit(cls, codes, labels, num_classes, jitter=1e-6):
        """Per-class mean and full covariance (ddof 1, as np.cov) of the codes; a class with fewer
        than 2 codes gets a zero covariance (its mean is then its only code)."""
        codes, labels = np.asarray(codes, np.float64), np.asarray(labels)
        d = codes.shape[1]
        means = np.zeros((num_classes, d))
        covs = np.zeros((num_classes, d, d))
        for c in range(num_classes):
            x = codes[labels == c]
            if len(x):
                means[c] = x.mean(0)
            if len(x) > 1:
                covs[c] = np.cov(x.T)
        return cls(means, covs, jitter)

    def sample(self, labels, rng):
        labels = np.asarray(labels)
        eps = rng.standard_normal((len(labels), self.means.shape[1])).astype(np.float32)
        return self.means[labels] + np.einsum("nij,nj->ni", self.factors[labels], eps)

    def sample_per_sample(self, labels, rng):
        """The original's way (one multivariate_normal per sample): kept for the throughput
        comparison in docs/RESULTS.md."""
        return np.stack([rng.multivariate_normal(self.means[c], self.covariances[c]) for c in labels])

    def save(self, folder, prefix):
        np.save(Path(folder) / f"{prefix}_means.npy", self.means)
        np.save(Path(folder) / f"{prefix}_covariances.npy", self.covariances)

    @classmethod
    def load(cls, folder, prefix, jitter=1e-6):
        return cls(np.load(Path(folder) / f"{prefix}_means.npy"),
                   np.load(Path(folder) / f"{prefix}_covariances.npy"), jitter)


# ---------------------------------------------------------------------------------------------------
# Phase 1 models (plain Keras models: fit with a built-in loss)


def build_autoencoder_model(image_shape, latent_dim=models.LATENT_DIM, learning_rate=5e-5, width=1.0,
                            trunk="bagan"):
    """G(E(x)) compiled with MSE and BAGAN's Adam, as the original's `autoenc_0`."""
    encoder = models.build_encoder(image_shape, latent_dim, width=width, trunk=trunk)
    decoder = models.build_generator(image_shape, latent_dim, width=width, name="decoder")
    model = models.build_autoencoder(encoder, decoder)
    model.compile(optimizer=BAGAN.make_optimizer(learning_rate), loss="mse")
    model.optimizer.build(model.trainable_variables)   # so that a checkpoint restores its state
    return model


def build_gp_autoencoder_model(image_shape, num_classes, latent_dim=models.GP_LATENT_DIM,
                               learning_rate=2e-4):
    """BAGAN-GP's supervised autoencoder: decoder(E(x) * Embedding(y)) with MAE."""
    encoder = models.build_gp_encoder(image_shape, latent_dim)
    embedding = models.build_gp_embedding(num_classes, latent_dim)
    decoder = models.build_gp_decoder(image_shape, latent_dim)
    image = keras.Input(tuple(image_shape), name="image")
    label = keras.Input((), dtype="int32", name="label")
    model = keras.Model([image, label], decoder(embedding([encoder(image), label])), name="gp_autoencoder")
    model.compile(optimizer=BAGANGP.make_optimizer(learning_rate), loss="mae")
    model.optimizer.build(model.trainable_variables)
    return model


# ---------------------------------------------------------------------------------------------------
# Phase 3


def _log_probs(probabilities):
    p = np.asarray(probabilities, np.float64)
    with np.errstate(divide="ignore"):
        return tf.constant(np.log(p / p.sum())[None], tf.float32)


class _Conditional(GAN):
    """What both variants share: class sampling for D (-d) and G (-g), test losses, generation."""
    loss_names = ("gen_loss", "disc_loss")

    def __init__(self, num_classes, d_probs, g_probs, seed=None, validation=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.num_classes = int(num_classes)
        self.d_logits = _log_probs(np.full(num_classes, 1.0) if d_probs is None else d_probs)
        self.g_logits = _log_probs(np.full(num_classes, 1.0) if g_probs is None else g_probs)
        self.validation = validation   # test-set stream: its losses are logged as val_gen_loss/val_disc_loss

    def fit(self, *args, **kwargs):
        if self.validation is not None:
            kwargs.setdefault("validation_data", self.validation)
        return super().fit(*args, **kwargs)

    def sample_labels(self, n, logits):
        return tf.cast(keras.random.categorical(logits, n, seed=self.seed_generator)[0], tf.int32)

    def test_step(self, data):
        real, labels = data
        d_loss, g_loss = self.losses_on(real, labels, training=False)
        return self.update(gen_loss=g_loss, disc_loss=d_loss)


class BAGAN(_Conditional):
    """The adversarial phase. Each D step sees the real batch plus m = ceil(B/K) generated images
    (labels drawn with the -d mode) with target class K; each G step draws B + m labels (-g mode)
    and asks D to answer them. Sparse categorical cross-entropy on D's softmax (`loss`, see LOSSES).

    Option (not in the original, default off): `ms_lambda` > 0 adds MSGAN's mode-seeking term
    (Mao et al. 2019) to L_G: each of G's labels gets two latents z1, z2 from its class Gaussian and
    L_G += ms_lambda / (mean|G(z1) - G(z2)| / mean|z1 - z2| + eps), logged as `mode_seeking`. Reason:
    D's linear softmax head pushes every image of a class along nearly one direction (measured:
    pairwise cosine 0.6-0.8 of G's image gradients within a class), and the quick profile's
    generated classes lose their variety within the first adversarial epoch (issue #20)."""

    def __init__(self, image_shape, num_classes, latent_dim=models.LATENT_DIM, d_probs=None,
                 g_probs=None, width=1.0, seed=None, validation=None, loss="clipped", ms_lambda=0.0,
                 trunk="bagan", **kwargs):
        super().__init__(num_classes, d_probs, g_probs, seed=seed, validation=validation, **kwargs)
        if loss not in LOSSES:
            raise ValueError(f"unknown BAGAN loss {loss!r}; choose one of {LOSSES}")
        if not ms_lambda >= 0:
            raise ValueError(f"ms_lambda must be >= 0, not {ms_lambda!r}")
        self.loss_kind = loss
        self.ms_lambda = float(ms_lambda)
        if self.ms_lambda:   # only then: the original's logs and checkpoints stay as they were
            self.trackers = self.trackers + [keras.metrics.Mean(name="mode_seeking")]
        self.latent_dim = latent_dim
        self.generator = models.build_generator(image_shape, latent_dim, width=width)
        self.discriminator = models.build_discriminator(image_shape, num_classes, width=width, trunk=trunk)
        # With batch norm in D (trunk "reference") G is judged as at evaluation, on D's running
        # statistics: on the batch statistics of its all-fake batches G learned to pass D by the batch's
        # statistics alone (GTSRB seed 0: G's loss 0.03 with D in training mode, 2.6 in inference
        # mode; generated accuracy 0.49, pairwise SSIM 0.54). The original's trunk keeps its dropout on.
        self.judge_in_training_mode = trunk == "bagan"
        # The class Gaussians are part of the model's state (checkpointed with it).
        self.latent_means = self.add_weight(shape=(num_classes, latent_dim), initializer="zeros",
                                            trainable=False, name="latent_means")
        self.latent_factors = self.add_weight(shape=(num_classes, latent_dim, latent_dim),
                                              initializer="zeros", trainable=False, name="latent_factors")

    # What a run's phases ask of the variant (bagan/run.py, bagan/sampling.py): the autoencoder's
    # layers saved as {tag}_{part}.weights.h5 (key: part, value: layer name), and whether G's latents
    # come from class Gaussians fitted on the encoder's codes (phase 2; the "init" phase is then
    # the decoder with those Gaussians, before adversarial training).
    AUTOENCODER_PARTS = {"encoder": "encoder", "decoder": "decoder"}
    class_gaussians = True

    @staticmethod
    def make_optimizer(learning_rate):
        """The original's Adam(lr, beta_1=0.5), for the autoencoder, D and G alike."""
        return keras.optimizers.Adam(learning_rate, beta_1=0.5)

    @staticmethod
    def build_autoencoder(config):
        return build_autoencoder_model(tuple(config["image_shape"]), learning_rate=config["lr"],
                                       width=config["width"], trunk=config.get("trunk", "bagan"))

    @staticmethod
    def autoencoder_inputs(images, labels):
        return images

    @classmethod
    def configured(cls, config, d_probs=None, g_probs=None, validation=None):
        return cls(tuple(config["image_shape"]), config["num_classes"], d_probs=d_probs, g_probs=g_probs,
                   width=config["width"], seed=config["seed"], validation=validation,
                   loss=config.get("loss", "clipped"), ms_lambda=config.get("ms_lambda", 0.0),
                   trunk=config.get("trunk", "bagan"))

    def init_from_autoencoder(self, autoencoder, sampler):
        """G starts as the decoder, D's trunk as the encoder; the class Gaussians are fixed."""
        self.generator.set_weights(autoencoder.get_layer("decoder").get_weights())
        models.copy_trunk(autoencoder.get_layer("encoder"), self.discriminator)
        self.set_latent(sampler)

    @staticmethod
    def build_generator(config):
        return models.build_generator(tuple(config["image_shape"]), width=config["width"])

    @staticmethod
    def latents(labels, rng, sampler):
        """Latents for the generator network alone (outside the model: grids, evaluation)."""
        return sampler.sample(labels, rng).astype("float32")

    @staticmethod
    def generator_inputs(z, labels):
        return z

    def set_latent(self, sampler):
        self.latent_means.assign(sampler.means)
        self.latent_factors.assign(sampler.factors)

    def latent(self, labels):
        eps = self.noise((tf.shape(labels)[0], self.latent_dim))
        return (tf.gather(self.latent_means, labels)
                + tf.einsum("nij,nj->ni", tf.gather(self.latent_factors, labels), eps))

    def generate(self, labels, training=False):
        return self.generator(self.latent(labels), training=training)

    def cross_entropy(self, targets, probs):
        if self.loss_kind == "clipped":
            return clipped_sparse_categorical_crossentropy(targets, probs)
        return keras.losses.sparse_categorical_crossentropy(targets, probs)

    def _fake_count(self, real):
        b = tf.shape(real)[0]
        return (b + self.num_classes - 1) // self.num_classes, b

    def _d_loss(self, real, labels, training):
        m, _ = self._fake_count(real)
        fake_labels = self.sample_labels(m, self.d_logits)
        fake = self.generate(fake_labels)
        images = tf.concat([real, fake], 0)
        targets = tf.concat([tf.cast(labels, tf.int32), tf.fill([m], self.num_classes)], 0)
        probs = self.discriminator(images, training=training)
        return self.mean(self.cross_entropy(targets, probs))

    def _g_loss(self, real, training):
        """(L_G, L_ms or None without the mode-seeking option)."""
        m, b = self._fake_count(real)
        labels = self.sample_labels(b + m, self.g_logits)
        judge = training and self.judge_in_training_mode
        if not self.ms_lambda:
            probs = self.discriminator(self.generate(labels, training=training), training=judge)
            return self.mean(self.cross_entropy(labels, probs)), None
        # One G and one D call on the doubled batch [z1; z2]: the adversarial term averages both halves.
        z1, z2 = self.latent(labels), self.latent(labels)
        fake = self.generator(tf.concat([z1, z2], 0), training=training)
        probs = self.discriminator(fake, training=judge)
        adversarial = self.mean(self.cross_entropy(tf.concat([labels, labels], 0), probs))
        fake1, fake2 = tf.split(fake, 2)
        ms = mode_seeking(fake1, fake2, z1, z2)
        # A ratio of per-replica means is not a per-example loss: scale it as compute_average_loss would.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return adversarial + self.ms_lambda / (ms + MS_EPSILON) / replicas, ms

    def losses_on(self, real, labels, training):
        return self._d_loss(real, labels, training), self._g_loss(real, training)[0]

    def train_step(self, data):
        real, labels = data
        with tf.GradientTape() as tape:
            d_loss = self._d_loss(real, labels, training=True)
        self.step(self.d_optimizer, tape, d_loss, self.discriminator_variables)
        with tf.GradientTape() as tape:      # D is frozen here (only G's variables are updated)
            g_loss, ms = self._g_loss(real, training=True)
        self.step(self.g_optimizer, tape, g_loss, self.generator_variables)
        return self._logs(g_loss, d_loss, ms)

    def test_step(self, data):
        real, labels = data
        d_loss = self._d_loss(real, labels, training=False)
        g_loss, ms = self._g_loss(real, training=False)
        return self._logs(g_loss, d_loss, ms)

    def _logs(self, g_loss, d_loss, ms):
        if ms is None:
            return self.update(gen_loss=g_loss, disc_loss=d_loss)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync   # update() multiplies back
        return self.update(gen_loss=g_loss, disc_loss=d_loss, mode_seeking=ms / replicas)


class BAGANGP(_Conditional):
    """BAGAN-GP: G(z, y) = decoder(z * Embedding(y)), both from the supervised autoencoder; a
    conditional critic D(x, y) with sigmoid cross-entropy on real (x, y), fake (G(z, y_f), y_f) and
    wrong-label (x, y_w) pairs plus gp_weight * E[(||grad D(x_hat, y_f)|| - 1)^2] with
    x_hat = x + alpha (G(z, y_f) - x), alpha ~ U(0, 1) (the original's N(0, 1) is `alpha="normal"`);
    `d_steps` critic steps per generator step on the same real batch."""
    loss_names = ("gen_loss", "disc_loss", "gp")

    def __init__(self, image_shape, num_classes, latent_dim=models.GP_LATENT_DIM, d_probs=None,
                 g_probs=None, d_steps=5, gp_weight=10.0, alpha="uniform", seed=None,
                 validation=None, **kwargs):
        super().__init__(num_classes, d_probs, g_probs, seed=seed, validation=validation, **kwargs)
        self.latent_dim, self.d_steps, self.gp_weight, self.alpha = latent_dim, d_steps, gp_weight, alpha
        self.embedding = models.build_gp_embedding(num_classes, latent_dim)
        self.decoder = models.build_gp_decoder(image_shape, latent_dim)
        self.generator = models.build_gp_generator(self.embedding, self.decoder)
        self.discriminator = models.build_gp_discriminator(image_shape, num_classes)
        self.uniform_logits = _log_probs(np.full(num_classes, 1.0))

    AUTOENCODER_PARTS = {"encoder": "gp_encoder", "decoder": "gp_decoder", "embedding": "gp_embedding"}
    class_gaussians = False

    @staticmethod
    def make_optimizer(learning_rate):
        """BAGAN-GP's Adam(lr, 0.5, 0.9), for the autoencoder, D and G alike."""
        return keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.9)

    @staticmethod
    def build_autoencoder(config):
        return build_gp_autoencoder_model(tuple(config["image_shape"]), config["num_classes"],
                                          learning_rate=config["lr"])

    @staticmethod
    def autoencoder_inputs(images, labels):
        return (images, labels)

    @classmethod
    def configured(cls, config, d_probs=None, g_probs=None, validation=None):
        return cls(tuple(config["image_shape"]), config["num_classes"], d_probs=d_probs, g_probs=g_probs,
                   d_steps=config["critic_steps"], gp_weight=config["gp_weight"], seed=config["seed"],
                   validation=validation)

    def init_from_autoencoder(self, autoencoder, sampler=None):
        """G = the autoencoder's label embedding and decoder; D starts afresh."""
        self.embedding.set_weights(autoencoder.get_layer("gp_embedding").get_weights())
        self.decoder.set_weights(autoencoder.get_layer("gp_decoder").get_weights())

    @staticmethod
    def build_generator(config):
        embedding = models.build_gp_embedding(config["num_classes"])
        return models.build_gp_generator(embedding, models.build_gp_decoder(tuple(config["image_shape"])))

    @staticmethod
    def latents(labels, rng, sampler=None):
        return rng.standard_normal((len(labels), models.GP_LATENT_DIM)).astype("float32")

    @staticmethod
    def generator_inputs(z, labels):
        return [z, labels]

    def generate(self, labels, training=False):
        z = self.noise((tf.shape(labels)[0], self.latent_dim))
        return self.generator([z, labels], training=training)

    def _d_loss(self, real, labels, training):
        b = tf.shape(real)[0]
        labels = tf.cast(labels, tf.int32)
        fake_labels = self.sample_labels(b, self.d_logits)
        wrong_labels = self.sample_labels(b, self.uniform_logits)
        fake = self.generate(fake_labels, training=training)
        d = lambda x, y: self.discriminator([x, y], training=training)  # noqa: E731
        if self.alpha == "normal":
            alpha = keras.random.normal((b, 1, 1, 1), seed=self.seed_generator)
        else:
            alpha = keras.random.uniform((b, 1, 1, 1), 0.0, 1.0, seed=self.seed_generator)
        gp = self.mean(gradient_penalty(self.discriminator, fake_labels, real, fake, alpha, training=training))
        ce = self.mean(bce(d(real, labels), 1.0) + bce(d(fake, fake_labels), 0.0)
                       + bce(d(real, wrong_labels), 0.0))
        return ce + self.gp_weight * gp, gp

    def _g_loss(self, real, training):
        labels = self.sample_labels(tf.shape(real)[0], self.g_logits)
        fake = self.generate(labels, training=training)
        return self.mean(bce(self.discriminator([fake, labels], training=training), 1.0))

    def losses_on(self, real, labels, training):
        return self._d_loss(real, labels, training)[0], self._g_loss(real, training)

    def train_step(self, data):
        real, labels = data
        for _ in range(self.d_steps):
            with tf.GradientTape() as tape:
                d_loss, gp = self._d_loss(real, labels, training=True)
            self.step(self.d_optimizer, tape, d_loss, self.discriminator_variables)
        with tf.GradientTape() as tape:
            g_loss = self._g_loss(real, training=True)
        self.step(self.g_optimizer, tape, g_loss, self.generator_variables)
        return self.update(gen_loss=g_loss, disc_loss=d_loss, gp=gp)


def fake_count(batch_size, num_classes):
    """m = ceil(B / K) generated images join each real batch of B in a BAGAN D step."""
    return math.ceil(batch_size / num_classes)


@keras.saving.register_keras_serializable(package="bagan")
class AfterWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate 0 for the optimizer's first `steps` updates, then `rate` (`--d-warmup`: G holds
    still while D learns). Adam's moments still follow G's gradients meanwhile, so its first real
    step is an ordinary one, not the first-step jump of an Adam whose moments stayed at zero."""

    def __init__(self, rate, steps):
        self.rate, self.steps = float(rate), int(steps)

    def __call__(self, step):
        return keras.ops.where(step < self.steps, 0.0, self.rate)

    def get_config(self):
        return {"rate": self.rate, "steps": self.steps}


def g_rate(config):
    """G's learning rate: the run's, held at 0 for its first d_warmup steps (option; 0 = the original).
    Reason (issue #20, GTSRB, scripts/bagan_probe.py): D's class head starts random and learns 43
    classes slowly (class probability on real images 0.035 after 120 steps, chance 0.023), while G,
    optimising against that random head, turned its images into saturated colour blobs within those
    120 steps (saturated pixels 0.5 % -> 38 %; a majority class's reference accuracy 0.85 -> 0.51)."""
    steps = int(config.get("d_warmup") or 0)
    return AfterWarmup(config["lr"], steps) if steps else config["lr"]


def variant(config):
    """The model class of a run's --variant."""
    return BAGANGP if config["variant"] == "gp" else BAGAN


def build(config, d_probs=None, g_probs=None, validation=None, autoencoder=None, sampler=None):
    """A function that returns the compiled adversarial model of a run's configuration (for
    common.training.train), started from the trained autoencoder (and class Gaussians) when given."""
    cls = variant(config)

    def make():
        model = cls.configured(config, d_probs, g_probs, validation)
        if autoencoder is not None:
            model.init_from_autoencoder(autoencoder, sampler)
        model.compile(d_optimizer=cls.make_optimizer(config["lr"] * config.get("d_lr_scale", 1.0)),
                      g_optimizer=cls.make_optimizer(g_rate(config)))
        return model
    return make
