"""BAGAN's algorithm: the latent sampler, the loss of a D/G step computed by hand, BAGAN-GP's step."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from bagan import gan

SHAPE = (16, 16, 1)


def test_sampler_reproduces_means_and_covariances():
    rng = np.random.default_rng(0)
    d, k = 6, 3
    a = rng.normal(size=(k, d, d))
    true_cov = np.einsum("kij,klj->kil", a, a) + 0.1 * np.eye(d)
    true_mean = rng.normal(size=(k, d)) * 3
    sampler = gan.LatentSampler(true_mean, true_cov)
    labels = np.repeat(np.arange(k), 20000)
    z = sampler.sample(labels, np.random.default_rng(1))
    assert z.shape == (len(labels), d)
    for c in range(k):
        zc = z[labels == c]
        se = np.sqrt(np.diag(true_cov[c]) / len(zc))          # standard error of each mean
        assert np.all(np.abs(zc.mean(0) - true_mean[c]) < 5 * se)
        np.testing.assert_allclose(np.cov(zc.T), true_cov[c], atol=0.06 * np.abs(true_cov[c]).max())
    # fitting the samples back gives the same statistics (np.cov, ddof 1, like the original)
    refit = gan.LatentSampler.fit(z, labels, k)
    np.testing.assert_allclose(refit.means, true_mean, atol=0.1)
    np.testing.assert_allclose(refit.covariances[0], np.cov(z[labels == 0].T))


def test_sampler_handles_singular_covariance_and_roundtrips(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(5, 10))          # 5 codes in 10 dims: Sigma is singular
    sampler = gan.LatentSampler.fit(codes, np.zeros(5, int), 2)   # class 1 has no codes
    assert np.all(np.isfinite(sampler.factors))
    z = sampler.sample(np.array([0, 1, 1]), rng)
    np.testing.assert_allclose(z[1:], 0, atol=1e-3)   # empty class: mean 0, (jittered) zero covariance
    sampler.save(tmp_path, "0")
    again = gan.LatentSampler.load(tmp_path, "0")
    np.testing.assert_array_equal(again.means, sampler.means)
    np.testing.assert_array_equal(again.covariances, sampler.covariances)
    assert (tmp_path / "0_means.npy").exists() and (tmp_path / "0_covariances.npy").exists()


def test_vectorised_and_per_sample_sampling_agree_in_distribution():
    rng = np.random.default_rng(0)
    sampler = gan.LatentSampler(np.array([[1.0, -2.0]]), np.array([[[2.0, 0.5], [0.5, 1.0]]]))
    fast = sampler.sample(np.zeros(4000, int), rng)
    slow = sampler.sample_per_sample(np.zeros(4000, int), rng)
    np.testing.assert_allclose(fast.mean(0), slow.mean(0), atol=0.12)
    np.testing.assert_allclose(np.cov(fast.T), np.cov(slow.T), atol=0.2)


def _bagan(k=3, seed=0):
    model = gan.BAGAN(SHAPE, k, width=0.125, seed=seed)
    model.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    model.set_latent(gan.LatentSampler(np.zeros((k, 100)), np.stack([np.eye(100)] * k)))
    return model


def test_fake_count_is_ceil_b_over_k():
    assert gan.fake_count(128, 10) == 13
    assert gan.fake_count(16, 3) == 6
    model = _bagan(3)
    m, b = model._fake_count(tf.zeros((16, *SHAPE)))
    assert int(m) == 6 and int(b) == 16


def test_losses_by_hand_with_an_indifferent_discriminator():
    """With D's head at zero, D answers 1/(K+1) for every class: both losses are log(K+1)."""
    k = 3
    model = _bagan(k)
    head = model.discriminator.get_layer("auxiliary")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    real = tf.random.uniform((8, *SHAPE), -1, 1)
    labels = tf.constant([0, 1, 2, 0, 1, 2, 0, 1])
    d_loss, g_loss = model.losses_on(real, labels, training=False)
    assert float(d_loss) == pytest.approx(math.log(k + 1), rel=1e-5)
    assert float(g_loss) == pytest.approx(math.log(k + 1), rel=1e-5)


def test_train_step_updates_only_the_right_networks():
    model = _bagan(3)
    real = tf.random.uniform((8, *SHAPE), -1, 1)
    labels = tf.constant([0, 1, 2, 0, 1, 2, 0, 1])
    g_before = [np.array(w) for w in model.generator.weights]
    logs = model.train_step((real, labels))
    assert set(logs) == {"gen_loss", "disc_loss"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(not np.allclose(a, np.array(b)) for a, b in zip(g_before, model.generator.weights))
    assert int(model.d_optimizer.iterations) == 1 and int(model.g_optimizer.iterations) == 1


def test_rebalance_label_sampling_follows_the_probabilities():
    model = gan.BAGAN(SHAPE, 4, width=0.125, seed=0, d_probs=[0.0, 0.5, 0.5, 0.0])
    drawn = np.asarray(model.sample_labels(2000, model.d_logits))
    assert set(np.unique(drawn)) == {1, 2}


def test_gp_step_and_penalty():
    model = gan.BAGANGP(SHAPE, 3, seed=0, d_steps=2)
    model.compile(d_optimizer=keras.optimizers.Adam(2e-4, 0.5, 0.9), g_optimizer=keras.optimizers.Adam(2e-4, 0.5, 0.9))
    real = tf.random.uniform((4, *SHAPE), -1, 1)
    labels = tf.constant([0, 1, 2, 0])
    logs = model.train_step((real, labels))
    assert set(logs) == {"gen_loss", "disc_loss", "gp"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert int(model.d_optimizer.iterations) == 2 and int(model.g_optimizer.iterations) == 1
    # a critic that ignores its input has zero gradient: the penalty is (0 - 1)^2 = 1
    for layer in model.discriminator.layers:
        if layer.name == "logit":
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    _, gp = model._d_loss(real, labels, training=False)
    assert float(gp) == pytest.approx(1.0, abs=1e-4)


def _softmax_losses(kind, logits, labels):
    """Per-sample BAGAN losses on a softmax layer's output, and their gradient w.r.t. the logits
    (inside tf.function, as in training)."""
    model = gan.BAGAN(SHAPE, 2, width=0.125, loss=kind)
    softmax = keras.layers.Softmax()

    @tf.function
    def run(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = model.cross_entropy(labels, softmax(z))
        return loss, tape.gradient(loss, z)

    loss, grad = run(tf.constant(logits, tf.float32))
    return loss.numpy(), grad.numpy()


def test_clipped_loss_is_keras2s_constant_and_gradient_free_below_1e_7():
    # sample 0: p_0 = e^-20 / (1 + e^-20 + 1) ~ 1e-9 < 1e-7; sample 1: p = (1/4, 1/4, 1/2)
    logits = [[-20.0, 0.0, 0.0], [0.0, 0.0, math.log(2.0)]]
    labels = tf.constant([0, 1])
    loss, grad = _softmax_losses("clipped", logits, labels)
    assert loss[0] == pytest.approx(-math.log(1e-7), rel=1e-5)          # 16.118
    np.testing.assert_array_equal(grad[0], 0.0)
    assert loss[1] == pytest.approx(-math.log(0.25), rel=1e-5)
    np.testing.assert_allclose(grad[1], [0.25, 0.25 - 1.0, 0.5], atol=1e-6)   # p - onehot(y)
    # Keras 3 from the logits: the true -log p_0 = 20 + log 2 and the full gradient p - onehot(0)
    loss, grad = _softmax_losses("logits", logits, labels)
    assert loss[0] == pytest.approx(20.0 + math.log(2.0), rel=1e-4)
    np.testing.assert_allclose(grad[0], [-1.0, 0.5, 0.5], atol=1e-6)


def test_clipped_loss_function_directly_and_its_upper_clip():
    from common.losses import clipped_sparse_categorical_crossentropy as ce
    probs = tf.constant([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(ce(tf.constant([0, 1, 0]), probs).numpy(),
                               [-math.log(1e-7), math.log(2.0), -math.log(1 - 1e-7)], rtol=1e-5, atol=1e-7)


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown BAGAN loss"):
        gan.BAGAN(SHAPE, 2, width=0.125, loss="hinge")


def test_mode_seeking_term_by_hand(monkeypatch):
    """ms_lambda adds lambda / (L_ms + eps) to the G loss of an indifferent D (log(K+1)), from two
    latents of each label's class; the train step logs L_ms; ms_lambda 0 is the original's loss."""
    k, lam = 3, 2.0
    model = gan.BAGAN(SHAPE, k, width=0.125, seed=0, ms_lambda=lam)
    model.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    model.set_latent(gan.LatentSampler(np.zeros((k, 100)), np.stack([np.eye(100)] * k)))
    head = model.discriminator.get_layer("auxiliary")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    seen = []
    monkeypatch.setattr(gan, "mode_seeking",
                        lambda f1, f2, z1, z2: seen.append((f1.shape, z1, z2)) or tf.constant(0.5))
    real = tf.random.uniform((8, *SHAPE), -1, 1)
    labels = tf.constant([0, 1, 2, 0, 1, 2, 0, 1])
    _, g_loss = model.losses_on(real, labels, training=False)
    assert float(g_loss) == pytest.approx(math.log(k + 1) + lam / (0.5 + 1e-5), rel=1e-5)
    (shape, z1, z2), = seen
    assert shape[0] == 8 + 3 and not np.allclose(z1, z2)      # B + m generations, two latents each
    monkeypatch.undo()
    logs = model.train_step((real, labels))
    assert set(logs) == {"gen_loss", "disc_loss", "mode_seeking"} and float(logs["mode_seeking"]) > 0
    with pytest.raises(ValueError, match="ms_lambda"):
        gan.BAGAN(SHAPE, k, width=0.125, ms_lambda=-1.0)


def _config(variant, **extra):
    return dict(variant=variant, image_shape=list(SHAPE), num_classes=3, width=0.125, seed=0,
                lr=1e-3, critic_steps=2, gp_weight=10.0, **extra)


def test_build_starts_bagan_from_its_autoencoder_and_class_gaussians():
    config = _config("bagan", ms_lambda=1.0)
    ae = gan.BAGAN.build_autoencoder(config)
    codes = np.random.default_rng(0).normal(size=(30, 100))
    sampler = gan.LatentSampler.fit(codes, np.arange(30) % 3, 3)
    model = gan.build(config, autoencoder=ae, sampler=sampler)()
    assert type(model) is gan.BAGAN and model.loss_kind == "clipped" and model.ms_lambda == 1.0
    for a, b in zip(ae.get_layer("decoder").weights, model.generator.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(model.latent_means.numpy(), sampler.means)
    for opt in (model.d_optimizer, model.g_optimizer, ae.optimizer):   # the original's Adam(lr, 0.5)
        assert float(opt.learning_rate) == pytest.approx(1e-3) and opt.beta_1 == 0.5 and opt.beta_2 == 0.999
    z = gan.BAGAN.latents(np.array([0, 2]), np.random.default_rng(0), sampler)
    assert z.shape == (2, 100) and gan.BAGAN.generator_inputs(z, [0, 2]) is z


def test_d_warmup_holds_g_still_for_its_steps_then_trains_it():
    """--d-warmup 2: D learns in steps 1-2 while G's weights stay as they were; step 3 moves G by
    an ordinary Adam step (a few lr at most per weight)."""
    config = _config("bagan", d_warmup=2)
    ae = gan.BAGAN.build_autoencoder(config)
    sampler = gan.LatentSampler.fit(np.random.default_rng(0).normal(size=(30, 100)), np.arange(30) % 3, 3)
    model = gan.build(config, autoencoder=ae, sampler=sampler)()
    real = tf.random.uniform((8, *SHAPE), -1, 1, seed=0)
    labels = tf.constant([0, 1, 2, 0, 1, 2, 0, 1])
    g0, d0 = ([np.array(w) for w in net.weights] for net in (model.generator, model.discriminator))
    for _ in range(2):
        model.train_step((real, labels))
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(g0, model.generator.weights))
    assert any(not np.allclose(a, np.array(b)) for a, b in zip(d0, model.discriminator.weights))
    g2 = [np.array(w) for w in model.generator.trainable_weights]
    model.train_step((real, labels))
    moved = max(float(np.abs(a - np.array(b)).max()) for a, b in zip(g2, model.generator.trainable_weights))
    assert 0 < moved < 3e-3
    assert float(gan.g_rate(_config("bagan"))) == 1e-3 and gan.g_rate(_config("bagan", d_warmup=0)) == 1e-3


def test_d_lr_scale_sets_only_ds_learning_rate():
    """--d-lr-scale 4: D's Adam runs at 4 lr, G's at lr; a config without the key is the original's."""
    for extra, d_rate in (({}, 1e-3), ({"d_lr_scale": 4.0}, 4e-3)):
        model = gan.build(_config("bagan", **extra))()
        assert float(model.d_optimizer.learning_rate) == pytest.approx(d_rate)
        assert float(model.g_optimizer.learning_rate) == pytest.approx(1e-3)


def test_build_starts_bagan_gp_from_its_embedding_and_decoder():
    config = _config("gp")
    ae = gan.BAGANGP.build_autoencoder(config)
    model = gan.build(config, autoencoder=ae)()
    assert type(model) is gan.BAGANGP and model.d_steps == 2 and model.gp_weight == 10.0
    for name, part in (("gp_embedding", model.embedding), ("gp_decoder", model.decoder)):
        for a, b in zip(ae.get_layer(name).weights, part.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for opt in (model.d_optimizer, model.g_optimizer, ae.optimizer):   # BAGAN-GP's Adam(lr, 0.5, 0.9)
        assert opt.beta_1 == 0.5 and opt.beta_2 == 0.9
    z = gan.BAGANGP.latents(np.array([0, 2]), np.random.default_rng(0))
    assert z.shape == (2, 128) and gan.BAGANGP.generator_inputs(z, "y") == [z, "y"]


def test_reference_trunk_judges_g_on_ds_running_statistics():
    """trunk "reference": D's batch norm learns its statistics in D's step only; G's step is judged
    with them (inference mode), so the loss G minimises is the one D gives at evaluation."""
    model = gan.build(_config("bagan", trunk="reference"))()
    bn = model.discriminator.get_layer("trunk").get_layer("bn_1")
    real = tf.random.uniform((8, 16, 16, 1), -1, 1, seed=4)
    labels = tf.constant([0, 1, 2, 0, 1, 2, 0, 1])
    before = bn.moving_mean.numpy().copy()
    model._g_loss(real, training=True)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)          # G's step: running statistics
    model._d_loss(real, labels, training=True)
    assert not np.allclose(bn.moving_mean.numpy(), before)                 # D's step: batch statistics
    assert gan.build(_config("bagan"))().judge_in_training_mode            # the original's: dropout on
