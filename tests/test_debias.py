"""De-biasing: z' on hand-computed vectors, the fairness metrics on small arrays, bootstrap determinism,
hyperplanes, generator loading."""
import json
import math

import numpy as np
import pytest

from common.errors import UserError
from debias import experiment, latent, metrics


# --- z' ---------------------------------------------------------------------------------------

def test_complement_by_hand():
    # w_a = (1, 0), w_g = (0.6, 0.8), b_g = -0.2, z = (1, 1): c = 0.6, d = 1.2,
    # factor 2 * 1.2 / (1 - 0.36) = 3.75, w_g - c w_a = (0, 0.8)  ->  z' = (1, 1 - 3) = (1, -2)
    w_a, w_g, b_g = np.array([1.0, 0.0]), np.array([0.6, 0.8]), -0.2
    z_flip = latent.complement(np.array([[1.0, 1.0]]), w_a, w_g, b_g)
    np.testing.assert_allclose(z_flip, [[1.0, -2.0]], atol=1e-12)
    assert z_flip[0] @ w_a == pytest.approx(1.0)               # target score kept
    assert z_flip[0] @ w_g + b_g == pytest.approx(-1.2)        # protected score negated


def test_complement_keeps_target_and_negates_protected_in_high_dimension():
    rng = np.random.default_rng(0)
    w_a, w_g = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 64)))
    b_a, b_g = 0.3, -0.1
    z = rng.uniform(-1, 1, (100, 64))
    z_flip = latent.complement(z, w_a, w_g, b_g)
    np.testing.assert_allclose(z_flip @ w_a, z @ w_a, atol=1e-12)
    np.testing.assert_allclose(z_flip @ w_g + b_g, -(z @ w_g + b_g), atol=1e-12)
    checks = latent.check_complement(z, z_flip, w_a, b_a, w_g, b_g)
    assert max(checks.values()) < 1e-12
    # applying it twice returns z
    np.testing.assert_allclose(latent.complement(z_flip, w_a, w_g, b_g), z, atol=1e-10)


def test_complement_refuses_parallel_hyperplanes():
    with pytest.raises(UserError, match="parallel"):
        latent.complement(np.zeros((1, 2)), np.array([1.0, 0.0]), np.array([1.0, 0.0]), 0.0)


def test_fit_hyperplane_unit_normal_and_single_class_error():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(200, 5))
    labels = (z[:, 0] + 0.5 * z[:, 1] > 0.2).astype(int)
    w, b = latent.fit_hyperplane(z, labels, "Smiling")
    assert np.linalg.norm(w) == pytest.approx(1.0)
    assert latent.accuracy(z, labels, w, b) > 0.97
    assert w[0] > 0.8 and w[1] > 0.3 and np.all(np.abs(w[2:]) < 0.2)
    with pytest.raises(UserError, match="same hallucinated Male label"):
        latent.fit_hyperplane(z, np.ones(200, int), "Male")


# --- metrics on small arrays --------------------------------------------------------------------

def test_calibrated_threshold_gives_as_many_predicted_as_true_positives():
    targets, scores = np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    assert metrics.calibrated_threshold(targets, scores) == 0.4
    assert np.sum(scores >= 0.4) == 2


def test_f1_threshold():
    targets = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.33, 0.62, 0.9])
    # 0.1 grid: F1 = 0.8 up to 0.3 (0.33 counted positive), 1 from 0.4; the 0.01 grid around 0.4
    # only replaces it on a strict improvement
    t, f1 = metrics.f1_threshold(targets, scores)
    assert f1 == 1.0 and t == pytest.approx(0.4)


def test_deo_by_hand():
    targets = np.array([1, 1, 1, 1, 0, 0])
    protected = np.array([0, 0, 1, 1, 0, 1])
    predictions = np.array([1, 0, 1, 1, 0, 1])
    # FNR group 0 = 1/2 (positives 0, 1; one missed), FNR group 1 = 0
    assert metrics.deo(targets, protected, predictions) == pytest.approx(0.5)
    assert math.isnan(metrics.deo(np.array([1, 0]), np.array([0, 1]), np.array([1, 0])))


def test_bias_amplification_by_hand():
    # group 0: t = 1,1,1,0 (P(t=1|g=0) = .75); group 1: t = 1,0,0,0 (.25); P(t=1) = .5
    targets = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    protected = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    # predicting the majority of each group: counts/size pred [[0, 1], [1, 0]] vs truth [[.25, .75], [.75, .25]]
    # diffs [[-.25, .25], [.25, -.25]], signs of P(t|g) - P(t): [[-1, 1], [1, -1]] -> all .25
    amplified = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    assert metrics.bias_amplification(targets, protected, amplified) == pytest.approx(0.25)
    assert metrics.bias_amplification(targets, protected, targets) == pytest.approx(0.0)
    # predicting the opposite correlation: pred [[1, 0], [0, 1]], diffs [[.75, -.75], [-.75, .75]] -> -.75
    reversed_ = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert metrics.bias_amplification(targets, protected, reversed_) == pytest.approx(-0.75)


def test_kl_by_hand():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert metrics.kl(p, q) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    # without smoothing (sigma 0): t=1 group 0 scores fill bins 0 and 49 half each, group 1 3/4 and 1/4
    targets = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    protected = np.array([0, 0, 1, 1, 1, 1, 0, 0, 1, 1])
    scores = np.array([0.01, 0.99, 0.01, 0.01, 0.01, 0.99, 0.5, 0.7, 0.5, 0.7])
    e = 1e-6
    a = [0.5 + e, 0.5 + e]          # bins 0 and 49; the 48 others hold e in both, adding nothing
    b = [0.75 + e, 0.25 + e]
    ab = sum(x * math.log(x / y) for x, y in zip(a, b))
    ba = sum(y * math.log(y / x) for x, y in zip(a, b))
    values = metrics.kl_divergences(targets, protected, scores, sigma=0)
    assert values[:2] == pytest.approx([ab, ba], rel=1e-9)
    assert values[2:] == pytest.approx([0.0, 0.0], abs=1e-12)    # t = 0: identical groups
    # the default smoothing spreads mass into neighbouring bins and lowers the divergence
    smoothed = metrics.kl_divergences(targets, protected, scores)
    assert 0 < smoothed[0] < ab


def test_kl_definitions_on_disjoint_uniform_scores():
    """Groups from U(0, .5) and U(.5, 1): the original's per-group bins see two flat histograms (KL
    ~0.003 at 5,000 scores each, from sampling noise only); on common bins they do not overlap."""
    rng = np.random.default_rng(0)
    n = 5000
    scores = np.concatenate([rng.uniform(0, 0.5, n), rng.uniform(0.5, 1, n)])
    protected, targets = np.repeat([0, 1], n), np.ones(2 * n, int)
    original = metrics.kl_divergences(targets, protected, scores, definition="original")
    common = metrics.kl_divergences(targets, protected, scores, definition="common-bins")
    assert all(0 < v < 0.01 for v in original[:2]) and all(v > 5 for v in common[:2])
    assert np.isnan(original[2:]).all()                # no t = 0 scores
    # evenly spaced scores: identical histograms over each group's own range, KL exactly 0
    even = np.concatenate([(np.arange(1000) + 0.5) / 2000, 0.5 + (np.arange(1000) + 0.5) / 2000])
    t, g = np.ones(2000, int), np.repeat([0, 1], 1000)
    assert metrics.kl_divergences(t, g, even, definition="original")[:2] == [0.0, 0.0]
    assert metrics.kl_divergences(t, g, even)[0] > 5
    with pytest.raises(ValueError, match="KL definition"):
        metrics.kl_divergences(t, g, even, definition="kde")


def test_original_kl_histogram_truncates_smoothed_counts_by_hand():
    """Scores 0.1, ten of 0.2, 0.3: own range [0.1, 0.3] in 50 bins -> counts 1 (bin 0), 10 (bin 25),
    1 (bin 49). gaussian_filter(sigma 1) weights: centre 0.3989, +-1 0.2420, +-2 0.0540. Integer
    output truncates: bin 25 -> 3 (3.99), bins 24/26 -> 2 (2.42), bins 23/27 -> 0 (0.54), bins 0
    and 49 -> 0 (1 x 0.3989 + its reflection 1 x 0.2420 = 0.64). Normalised: 2/7, 3/7, 2/7, + 1e-6."""
    values = np.array([0.1] + [0.2] * 10 + [0.3])
    hist = metrics._original_histogram(values, 50, 1.0)
    expected = np.full(50, 1e-6)
    expected[24:27] += [2 / 7, 3 / 7, 2 / 7]
    np.testing.assert_allclose(hist, expected, rtol=1e-9)
    # the same shape elsewhere on [0, 1] gives KL 0 by the original's definition
    shifted = values + 0.5
    t, g = np.ones(24, int), np.repeat([0, 1], 12)
    assert metrics.kl_divergences(t, g, np.concatenate([values, shifted]), definition="original")[:2] == [0.0, 0.0]


def test_label_fallback_to_median_when_the_threshold_leaves_one_class(tmp_path):
    from debias import steps
    (tmp_path / "best.json").write_text(json.dumps({"f1_thresh": 0.9, "cal_thresh": 0.5}))
    scores = np.linspace(0.1, 0.6, 20)                    # all below the F1 threshold 0.9
    labels, record = steps.binarise(scores, "f1", tmp_path, "median", n_svm=10)
    assert record["rule"] == "median" and record["requested_rule"] == "f1"
    assert record["requested_positive_rate"] == 0.0 and "fell back" in record["fallback"]
    assert record["threshold"] == pytest.approx(0.35) and labels.sum() == 10
    labels, record = steps.binarise(scores, "f1", tmp_path, "none", n_svm=10)
    assert record["fallback"] is None and labels.sum() == 0
    # both classes among the SVMs' latents: the F1 threshold stays
    labels, record = steps.binarise(scores, "calibrated", tmp_path, "median", n_svm=20)
    assert record["rule"] == "calibrated" and record["fallback"] is None and labels.sum() == 4
    # one class among the first n_svm latents only (the slice the SVMs are fitted on) also falls back
    labels, record = steps.binarise(scores, "calibrated", tmp_path, "median", n_svm=5)
    assert record["rule"] == "median"


def test_clip_to_prior_by_hand():
    z_flip = np.array([[0.5, -0.2], [1.5, 0.0], [-3.0, 2.0], [1.0, -1.0]])
    clipped, record = latent.clip_to_prior(z_flip, "uniform")
    np.testing.assert_array_equal(clipped, [[0.5, -0.2], [1.0, 0.0], [-1.0, 1.0], [1.0, -1.0]])
    assert record["fraction_latents_clipped"] == 0.5 and record["fraction_coordinates_clipped"] == 3 / 8
    same, record = latent.clip_to_prior(z_flip, "normal")
    np.testing.assert_array_equal(same, z_flip)
    assert record["clipped"] is False
    # pair_agreement: z = (0.5, 0.5) with w_a = (1, 0), w_g = (0, 1), b = 0: z' = (0.5, -0.5) keeps
    # and flips; clipped from (0.5, -0.5) nothing changes; a z' of (0.5, 0.5) would not flip
    agree = latent.pair_agreement(np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([[0.5, -0.5], [0.5, 0.5]]),
                                  np.array([1.0, 0.0]), 0.0, np.array([0.0, 1.0]), 0.0)
    assert agree == {"target_side_kept": 1.0, "protected_side_flipped": 0.5}


def test_cell_weights_equalise_groups_within_each_class():
    targets = np.array([1, 1, 1, 0, 0, 0])
    protected = np.array([0, 0, 1, 0, 1, 1])
    w = metrics.cell_weights(targets, protected)
    # t=1: cells (1,0) x2, (1,1) x1 -> 3/(2*2) and 3/(2*1); t=0: (0,0) x1, (0,1) x2
    np.testing.assert_allclose(w, [0.75, 0.75, 1.5, 1.5, 0.75, 0.75])
    assert w[(targets == 1) & (protected == 0)].sum() == w[(targets == 1) & (protected == 1)].sum()


def test_bootstrap_is_seeded_and_deterministic():
    rng = np.random.default_rng(3)
    targets, protected = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    scores = np.clip(0.6 * targets + 0.2 * protected + rng.normal(0, 0.2, 200), 0, 1)
    a = metrics.fairness(targets, protected, scores, 0.5, repeats=50, seed=7)
    b = metrics.fairness(targets, protected, scores, 0.5, repeats=50, seed=7)
    c = metrics.fairness(targets, protected, scores, 0.5, repeats=50, seed=8)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["AP"]["median"] != c["AP"]["median"] or a["BA"]["median"] != c["BA"]["median"]
    np.testing.assert_array_equal(metrics.bootstrap_indices(10, 5, 1), metrics.bootstrap_indices(10, 5, 1))
    for name in ("AP", "DEO", "BA", "KL"):
        assert a[name]["pm2std"] == pytest.approx(2 * a[name]["std"])
    assert 50 < a["AP"]["median"] <= 100       # x100, as the original prints it
    assert a["predicted_positives"] == np.sum(scores >= 0.5)



def test_paired_difference_by_hand():
    a = {"AP": np.array([0.5, 0.6, 0.7]), "DEO": np.array([0.4, 0.4, 0.4]), "BA": np.array([0.1, 0.0, np.nan])}
    b = {"AP": np.array([0.4, 0.7, 0.7]), "DEO": np.array([0.2, 0.3, 0.5]), "BA": np.array([0.0, 0.0, 0.2])}
    d = metrics.paired_difference(a, b)
    assert d["AP"]["median"] == pytest.approx(0.0) and d["AP"]["share_lower"] == pytest.approx(1 / 3)
    assert d["DEO"]["median"] == pytest.approx(-10.0) and d["DEO"]["share_lower"] == pytest.approx(2 / 3)
    assert d["BA"]["median"] == pytest.approx(-5.0) and d["BA"]["share_lower"] == pytest.approx(0.5)  # nan dropped
    assert d["DEO"]["std"] == pytest.approx(np.std([-20.0, -10.0, 10.0]))
    same = metrics.paired_difference(a, a)
    assert same["DEO"]["median"] == 0 and same["DEO"]["share_lower"] == 0

# --- names and generators -----------------------------------------------------------------------

def test_attribute_names_and_indices():
    assert experiment.attribute("smiling") == "Smiling"
    assert experiment.attribute("31") == "Smiling"
    assert experiment.attribute("20") == "Male"
    with pytest.raises(UserError, match="CelebA has no attribute 'Moustache'"):
        experiment.attribute("Moustache")
    assert experiment.category("Arched_Eyebrows") == "gender-dependent"
    assert experiment.category("Smiling") == "gender-independent"


def test_keras_file_generator(tmp_path):
    from debias import generator
    from test_debias_fixtures import tiny_generator
    g = generator.load(tiny_generator(tmp_path / "g.keras", latent=6, size=16))
    assert (g.latent_dim, g.image_shape, g.prior) == (6, (16, 16, 3), "uniform")
    z = g.sample(5, seed=0)
    assert z.shape == (5, 6) and z.min() >= -1 and z.max() <= 1
    np.testing.assert_array_equal(z, g.sample(5, seed=0))
    images = g.render(z)
    assert images.shape == (5, 16, 16, 3) and images.dtype == np.uint8
    assert generator.load(tmp_path / "g.keras", "normal").sample(2000, 0).min() < -1
    with pytest.raises(UserError, match="does not exist"):
        generator.load(tmp_path / "missing.keras")


def test_began_run_dir_generator(tmp_path):
    """A BEGAN run dir (config.json + checkpoint) is rebuilt and restored: its generator is used."""
    gan = pytest.importorskip("began.gan")
    began_train = pytest.importorskip("began.train")
    from common import cli, training
    from debias import generator
    config = dict(began_train.PROFILES["smoke"], num_filters=4, hidden=8, seed=0, profile="smoke")
    model = gan.build(config, steps_per_epoch=1)()
    cli.prepare_run_dir(tmp_path / "run", config)
    training.save_checkpoint(model, tmp_path / "run", 1, config)
    g = generator.load(tmp_path / "run")
    assert (g.latent_dim, g.image_shape, g.prior) == (8, (32, 32, 3), "uniform")
    z = g.sample(3, seed=1)
    expected = model.generator(z).numpy()
    from common.pipeline import to_uint8
    np.testing.assert_array_equal(g.render(z), to_uint8(np.clip(expected, -1, 1)))


def test_classifier_checkpoint_restores_adam_state(tmp_path):
    """Epochs are fitted one call at a time, so each resume must restore Adam's moments and step count."""
    from common import training
    from debias import classifier
    config = dict(experiment.PROFILES["smoke"], seed=0, imagenet_weights=False)
    make = classifier.build(config, seed=0)
    model = make()
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    model.fit(x, np.array([0, 1] * 4), batch_size=4, epochs=1, verbose=0)
    training.save_checkpoint(model, tmp_path, 1, config)
    restored = make()
    assert training.load_checkpoint(restored, tmp_path) == 1
    assert int(restored.optimizer.iterations.numpy()) == 2
    for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    logits = classifier.scores(model, (x * 127.5 + 127.5).astype(np.uint8)[:2])
    assert logits.shape == (2,) and np.all((logits > 0) & (logits < 1))
