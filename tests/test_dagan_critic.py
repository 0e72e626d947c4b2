"""DAGAN critic as in both originals (dropout on its stride-2 convs, per-channel layer norm), the critic's
training mode in both steps, MSGAN's mode-seeking option, old checkpoints, and the new flags' errors."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from dagan import gan, models

TINY = dict(widths=(4, 4, 8, 8))


def config(**changes):
    base = dict(widths=[2, 2, 2, 2], generator_inner_layers=0, critic_inner_layers=0, z_dim=4, dropout=0.0,
                critic_dropout=0.5, batch_renorm=False, critic_steps=5, gp_weight=10.0, gp_axes="sample",
                ms_lambda=0.0, ms_dropout="independent", lr=1e-4, seed=0)
    return dict(base, **changes)


def dropout_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]


def test_critic_dropout_on_the_three_stride2_convs_in_training_only():
    d = models.critic((28, 28, 1), inner_layers=1, **TINY)
    drops = dropout_layers(d)
    assert [layer.rate for layer in drops] == [0.5] * 3
    # each follows a stride-2 level: 14x14 (level 0, none), then 7x7, 4x4, 2x2
    assert [tuple(layer.output.shape[1:3]) for layer in drops] == [(7, 7), (4, 4), (2, 2)]
    x = tf.random.uniform((4, 28, 28, 1), -1, 1, seed=1)
    y = tf.random.uniform((4, 28, 28, 1), -1, 1, seed=2)
    train_a, train_b = d([x, y], training=True), d([x, y], training=True)
    assert float(tf.reduce_max(tf.abs(train_a - train_b))) > 1e-6
    np.testing.assert_array_equal(d([x, y], training=False).numpy(), d([x, y], training=False).numpy())
    assert dropout_layers(models.critic((28, 28, 1), inner_layers=1, dropout=0.0, **TINY)) == []


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 48, 3)])
def test_critic_builds(shape):
    d = models.critic(shape, inner_layers=2, **TINY)
    x = tf.random.uniform((3, *shape), -1, 1)
    assert d([x, x], training=True).shape == d([x, x], training=False).shape == (3, 1)
    norms = [layer for layer in d.layers if "normalization" in type(layer).__name__.lower()]
    assert norms and all(isinstance(n, keras.layers.GroupNormalization) for n in norms)
    # one (gamma, beta) per channel, never per position
    assert all(n.gamma.shape == n.beta.shape == (n.output.shape[-1],) for n in norms)


def test_layer_norm_by_hand():
    x = np.random.default_rng(0).normal(2.0, 3.0, (2, 3, 4, 2)).astype("float32")
    norm = models.layer_norm()
    norm.build(x.shape)
    gamma, beta = np.array([2.0, -0.5], "float32"), np.array([0.1, 0.3], "float32")
    norm.gamma.assign(gamma)
    norm.beta.assign(beta)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)         # one mean and variance per sample
    var = x.var(axis=(1, 2, 3), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * gamma + beta
    np.testing.assert_allclose(norm(x).numpy(), expected, rtol=1e-5, atol=1e-5)


class Spy:
    """Stands in for the critic and records the `training` argument of every call."""

    def __init__(self, net):
        self.net, self.modes = net, []

    def __call__(self, inputs, training=None):
        self.modes.append(training)
        return self.net(inputs, training=training)

    @property
    def trainable_variables(self):
        return self.net.trainable_variables


def pairs(shape=(8, 8, 1), batch=2, steps=5):
    rng = np.random.default_rng(0)
    sources = tf.constant(rng.uniform(-1, 1, (batch, steps + 1, *shape)), tf.float32)
    return sources, sources[:, ::-1]


def test_train_step_calls_the_critic_in_training_mode_in_both_steps():
    model = gan.build(config(), (8, 8, 1))()
    spy = Spy(model.discriminator)
    model.discriminator = spy
    model.train_step(pairs())
    # per critic step: real, fake and the penalty's x_hat; then the generator step's fake
    assert len(spy.modes) == 5 * 3 + 1 and set(spy.modes) == {True}


def test_generator_loss_sees_the_critics_dropout():
    model = gan.build(config(), (8, 8, 1))()          # G without dropout: only the critic's is random
    source = tf.random.uniform((4, 8, 8, 1), -1, 1, seed=3)
    z = tf.random.normal((4, 4), seed=4)
    a, _ = model.generator_loss(source, z, training=True)
    b, _ = model.generator_loss(source, z, training=True)
    assert abs(float(a) - float(b)) > 1e-7
    c, _ = model.generator_loss(source, z, training=False)
    d, _ = model.generator_loss(source, z, training=False)
    assert float(c) == float(d)


def test_mode_seeking_by_hand():
    fake1 = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    fake2 = tf.constant([[1.5, 2.0], [2.0, 4.0]])        # |diff| mean = (0.5 + 0 + 1 + 0) / 4 = 0.375
    z1, z2 = tf.zeros((2, 3)), tf.fill((2, 3), 0.5)          # |diff| mean = 0.5
    assert float(gan.mode_seeking(fake1, fake2, z1, z2)) == pytest.approx(0.75)


def test_mode_seeking_term_in_the_generator_loss():
    model = gan.build(config(ms_lambda=1.0), (8, 8, 1))()
    source = tf.random.uniform((3, 8, 8, 1), -1, 1, seed=5)
    z1, z2 = tf.random.normal((3, 4), seed=6), tf.random.normal((3, 4), seed=7)
    with_ms, ms = model.generator_loss(source, z1, z2, training=False)
    model.ms_lambda = 0.0                                # same weights and noise, term weighted 0
    without_ms, _ = model.generator_loss(source, z1, z2, training=False)
    g1 = model.generator([source, z1], training=False).numpy()
    g2 = model.generator([source, z2], training=False).numpy()
    by_hand = np.abs(g1 - g2).mean() / np.abs(z1.numpy() - z2.numpy()).mean()
    assert float(ms) == pytest.approx(by_hand, rel=1e-4)
    assert float(with_ms) - float(without_ms) == pytest.approx(1 / (by_hand + 1e-5), rel=1e-4)


def test_train_step_with_mode_seeking_logs_it():
    model = gan.build(config(ms_lambda=1.0), (8, 8, 1))()
    logs = model.train_step(pairs())
    assert set(logs) == {"d_loss", "g_loss", "gp", "wasserstein", "mode_seeking"}
    assert all(np.isfinite(float(v)) for v in logs.values()) and float(logs["mode_seeking"]) > 0
    assert int(model.g_optimizer.iterations.numpy()) == 1
    assert set(gan.build(config(), (8, 8, 1))().train_step(pairs())) == {"d_loss", "g_loss", "gp", "wasserstein"}


def test_paired_dropout_shares_one_mask_between_the_halves():
    layer = models.PairedDropout(0.5, seed=0)
    x = tf.ones((2, 6, 6, 4))
    doubled = tf.concat([x, x], axis=0)
    layer.paired = True
    out = layer(doubled, training=True).numpy()
    np.testing.assert_array_equal(out[:2], out[2:])
    assert 0 < (out == 0).mean() < 1 and set(np.unique(out)) == {0.0, 2.0}
    layer.paired = False
    out = layer(doubled, training=True).numpy()
    assert not np.array_equal(out[:2], out[2:])
    np.testing.assert_array_equal(layer(doubled, training=False).numpy(), doubled.numpy())


@pytest.mark.parametrize("ms_dropout", ["independent", "shared"])
def test_mode_seeking_pair_differs_only_through_z_when_shared(ms_dropout, monkeypatch):
    """With z2 = z1 the two generations of the mode-seeking step differ only by G's dropout, which
    "shared" removes (G in training mode, dropout 0.5)."""
    model = gan.build(config(ms_lambda=1.0, dropout=0.5, ms_dropout=ms_dropout), (8, 8, 1))()
    seen = []
    monkeypatch.setattr(gan, "mode_seeking", lambda f1, f2, z1, z2: seen.append((f1, f2)) or tf.constant(1.0))
    source = tf.random.uniform((3, 8, 8, 1), -1, 1, seed=8)
    z = tf.random.normal((3, 4), seed=9)
    model.generator_loss(source, z, z, training=True)
    fake1, fake2 = (t.numpy() for t in seen[0])
    if ms_dropout == "shared":
        np.testing.assert_array_equal(fake1, fake2)
        assert model.paired_dropouts() and not any(layer.paired for layer in model.paired_dropouts())
    else:
        assert np.abs(fake1 - fake2).max() > 1e-3 and not model.paired_dropouts()


def test_generator_with_paired_dropout_saves_and_loads(tmp_path):
    g = models.generator((8, 8, 1), widths=(2, 2, 2, 2), inner_layers=0, z_dim=4, paired_dropout=True)
    g.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras", compile=False)
    x, z = tf.random.uniform((2, 8, 8, 1)), tf.random.normal((2, 4))
    assert any(isinstance(layer, models.PairedDropout) for layer in loaded.layers)
    np.testing.assert_allclose(loaded([x, z], training=False).numpy(), g([x, z], training=False).numpy(), atol=1e-6)


def test_checkpoint_of_the_old_critic_is_refused(tmp_path, monkeypatch):
    from common import training
    from common.errors import UserError
    cfg = config(critic_dropout=0.0)
    with monkeypatch.context() as m:       # the critic before the fix: a per-position affine, eps 1e-3
        m.setattr(models, "layer_norm", lambda: keras.layers.LayerNormalization(axis=(1, 2, 3)))
        old = gan.build(cfg, (8, 8, 1))()
    training.save_checkpoint(old, tmp_path, 1, cfg)
    with pytest.raises(UserError, match="does not fit this network"):
        training.load_checkpoint(gan.build(cfg, (8, 8, 1))(), tmp_path, cfg)


@pytest.mark.parametrize("flag,value", [("--critic-dropout", "1"), ("--critic-dropout", "-0.1"),
                                        ("--critic-dropout", "nan"), ("--ms-lambda", "-1"),
                                        ("--ms-lambda", "inf"), ("--ms-lambda", "x"),
                                        ("--ms-dropout", "both")])
def test_bad_flag_values_exit_2(flag, value, capsys, tmp_path):
    from dagan import train
    with pytest.raises(SystemExit) as exit_:
        train.main(["--profile", "smoke", "--out", str(tmp_path), flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "Traceback" not in err[0]


def test_the_critic_can_have_widths_of_its_own():
    """--critic-widths: a wider critic behind the same generator; without it the critic takes --widths."""
    def filters(net):
        return max(layer.filters for layer in net.layers if isinstance(layer, keras.layers.Conv2D))
    same = gan.build(config(), (8, 8, 1))()
    wide = gan.build(config(critic_widths=[4, 4, 8, 8]), (8, 8, 1))()
    assert filters(same.critic) == 2 and filters(wide.critic) == 8
    assert filters(wide.generator) == filters(same.generator)
