"""DAGAN: network shapes, the gradient penalty by hand, the pair sampler, the 5:1 step ratio, a smoke
train + evaluate, and one-line errors (exit 2)."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from dagan import gan, models

TINY = dict(widths=(4, 4, 8, 8))


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 48, 3)])
def test_shapes(shape):
    g = models.generator(shape, inner_layers=1, z_dim=10, **TINY)
    d = models.critic(shape, inner_layers=1, **TINY)
    x = tf.random.uniform((2, *shape), -1, 1)
    y = g([x, tf.random.normal((2, 10))], training=False)
    assert y.shape == (2, *shape)
    assert float(tf.reduce_max(tf.abs(y))) <= 1.0          # tanh head
    assert d([y, x], training=False).shape == (2, 1)
    # the encoder levels are 14x14, 7x7, 4x4, 2x2 for Omniglot
    assert models.feature_sizes((28, 28)) == [(14, 14), (7, 7), (4, 4), (2, 2)]
    sizes = {tuple(layer.output.shape[1:3]) for layer in g.layers if "conv2d" in layer.name}
    if shape[0] == 28:
        assert {(14, 14), (7, 7), (4, 4), (2, 2)} <= sizes
    else:
        assert {(16, 24), (8, 12), (4, 6), (2, 3)} <= sizes


def test_generator_uses_z():
    g = models.generator((28, 28, 1), inner_layers=0, z_dim=10, dropout=0.0, **TINY)
    x = tf.zeros((1, 28, 28, 1))
    a = g([x, tf.zeros((1, 10))], training=False)
    b = g([x, tf.ones((1, 10))], training=False)
    assert float(tf.reduce_max(tf.abs(a - b))) > 0


def test_variety_is_zero_when_z_is_ignored():
    from dagan.evaluate import generations, variety
    sources = np.stack([np.full((2, 2, 1), v, np.uint8) for v in (0, 255, 255)])   # -1, +1, +1 after scaling
    ignore_z = variety(generations(lambda x, z: tf.constant(x), sources, z_dim=3, seed=0, draws=4))
    assert ignore_z["within"] == 0 and ignore_z["ratio"] == 0 and ignore_z["pixel_std_over_z"] == 0
    # source pairs (-1, +1), (-1, +1), (+1, +1): distances 2, 2, 0
    assert ignore_z["between"] == pytest.approx(4 / 3) and (ignore_z["sources"], ignore_z["draws"]) == (3, 4)
    uses_z = variety(generations(lambda x, z: tf.constant(x + z[:, :1, None, None]), sources, z_dim=3, seed=0,
                                 draws=4))
    assert uses_z["within"] > 0.1 and uses_z["ratio"] > 0.05


def test_variety_by_hand():
    from dagan.evaluate import variety
    # 2 sources x 3 draws of one pixel: source 0 -> 0, 1, 3; source 1 -> 4, 4, 4
    g = np.array([[0.0, 1.0, 3.0], [4.0, 4.0, 4.0]]).reshape(2, 3, 1, 1, 1)
    v = variety(g)
    assert v["within"] == pytest.approx((1 + 3 + 2 + 0 + 0 + 0) / 6)     # |0-1|, |0-3|, |1-3|; source 1: 0
    assert v["between"] == pytest.approx(4.0)                            # first draws 0 and 4
    assert v["ratio"] == pytest.approx(1 / 4)


def test_class_kept_by_hand():
    from dagan.evaluate import class_kept
    # one-pixel images of 3 classes, two each: class 0 near -1, class 1 near 0, class 2 near +1
    images = np.array([0, 10, 120, 135, 245, 255], np.uint8).reshape(6, 1, 1, 1)
    labels = np.array([0, 0, 1, 1, 2, 2])
    picked = np.array([0, 2, 5])                       # sources of classes 0, 1, 2
    # generations (3 sources x 2 draws, on [-1, 1]): source 0 stays near -1 (kept twice); source 1
    # drifts to +1 (kept once); source 2 is drawn at -1 (never kept)
    g = np.array([[-1.0, -0.9], [0.0, 1.0], [-1.0, -1.0]]).reshape(3, 2, 1, 1, 1)
    kept = class_kept(g, picked, images, labels, classes=[0, 1, 2])
    assert kept["generated"] == pytest.approx(3 / 6)
    # each real source's nearest other image is its sibling: the test's ceiling is 1
    assert kept["real"] == 1.0 and kept["chance"] == pytest.approx(1 / 3)


def test_claims_name_the_generators_iterations_and_the_classifiers_epochs():
    from dagan.evaluate import claim_suffix, variety_rows
    quick = {"epochs": 80, "steps_per_epoch": 50, "ms_lambda": 0.0, "mismatch": 0.5}
    assert claim_suffix(quick, 200) == ", 4,000 generator iterations, 200 classifier epochs (matching-aware critic 0.5)"
    assert claim_suffix({"epochs": 1, "steps_per_epoch": 1}, 1) == ", 1 generator iteration, 1 classifier epoch"
    assert claim_suffix({"ms_lambda": 0.0}) == ""            # a config without the budget: no guess
    # the epochs its checkpoint holds, not the config's, when a resume to more epochs was cut short
    assert claim_suffix(quick, epochs=30).startswith(", 1,500 generator iterations")
    assert claim_suffix(dict(quick, rotate=True)).endswith("(matching-aware critic 0.5; pairs rotated, as the TF original)")
    assert claim_suffix(dict(quick, mismatch_gp=True)).endswith("(matching-aware critic 0.5, penalised on both lines)")
    # a critic other than its profile's is named; the profile's own is not
    paper_critic = dict(quick, profile="quick", widths=[16, 16, 32, 32], critic_widths=[64, 64, 128, 128],
                        critic_inner_layers=5)
    assert claim_suffix(paper_critic).endswith("; critic widths 64,64,128,128, 5 inner layers)")
    assert "critic widths" not in claim_suffix(dict(quick, profile="quick", critic_inner_layers=1))
    # so is a critic dropout other than its profile's (0.5, the originals')
    assert claim_suffix(dict(quick, profile="quick", critic_inner_layers=1, critic_dropout=0.0)).endswith("; critic dropout 0)")
    assert "dropout" not in claim_suffix(dict(quick, profile="quick", critic_inner_layers=1, critic_dropout=0.5))
    spread, kept = {"sources": 100, "draws": 8, "ratio": 0.3, "within": 0.1, "between": 0.3}, \
        {"generated": 0.1, "real": 0.3, "chance": 0.01}
    rows = variety_rows(spread, kept, claim_suffix(quick))
    assert all(r["metric"].endswith("100 held-out sources x 8 z, 4,000 generator iterations (matching-aware critic 0.5)")
               for r in rows)


def test_confidence_two_sided_against_welch_by_hand():
    from scipy import stats

    from dagan.evaluate import confidence, confidence_two_sided
    a, b = np.array([0.20, 0.25, 0.22, 0.30, 0.27]), np.array([0.18, 0.21, 0.17, 0.24])
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))   # Welch-Satterthwaite
    p_two = 2 * stats.t.sf(abs(t), df)
    assert confidence_two_sided(a, b) == pytest.approx(1 - p_two, rel=1e-9)
    assert confidence_two_sided(b, a) == pytest.approx(1 - p_two, rel=1e-9)   # symmetric: worse scores high too
    assert confidence(a, b) == pytest.approx(1 - p_two / 2, rel=1e-9)
    assert confidence(b, a) == pytest.approx(p_two / 2, rel=1e-9)


def test_redrawn_splits_are_disjoint_and_fresh():
    from dagan.evaluate import splits_redrawn
    labels = np.repeat(np.arange(3), 10)
    rng = np.random.default_rng(0)
    first = splits_redrawn(labels, [0, 2], k=2, val_per_class=5, rng=rng)
    second = splits_redrawn(labels, [0, 2], k=2, val_per_class=5, rng=rng)
    for train, val in (first, second):
        assert len(train) == 4 and len(val) == 10 and not set(train) & set(val)
        assert sorted(set(labels[train])) == [0, 2] and np.bincount(labels[val]).tolist() == [5, 0, 5]
    assert not np.array_equal(first[0], second[0]) or not np.array_equal(first[1], second[1])


def test_classifier_transforms_in_training_only():
    from dagan.evaluate import classifier
    model = classifier((6, 6, 1), 3, widths=(2,), head_units=4, noise_std=0.2, flip=True)
    names = [type(layer).__name__ for layer in model.layers]
    assert "GaussianNoise" in names and "RandomFlip" in names
    noise = next(layer for layer in model.layers if type(layer).__name__ == "GaussianNoise")
    assert noise.stddev == pytest.approx(0.2)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 6, 6, 1)).astype("float32")
    flag = np.ones((8, 1), "float32")
    np.testing.assert_array_equal(model([x, flag], training=False).numpy(), model([x, flag], training=False).numpy())
    flip = next(layer for layer in model.layers if type(layer).__name__ == "RandomFlip")
    flipped = np.stack([flip(x, training=True).numpy() for _ in range(6)])
    is_mirror = np.all(np.isclose(flipped, x[:, :, ::-1]), axis=(2, 3, 4))
    is_same = np.all(np.isclose(flipped, x), axis=(2, 3, 4))
    assert np.all(is_mirror | is_same) and is_mirror.any() and is_same.any()   # per image: as is or mirrored


def test_gradient_penalty_by_hand():
    real = tf.zeros((1, 2, 2, 1))
    fake = tf.ones((1, 2, 2, 1))
    cond = tf.zeros((1, 2, 2, 1))
    # a linear critic sum(x): gradient all ones -> per-sample norm 2 -> (2 - 1)^2 = 1
    linear = lambda inputs, training=None: tf.reduce_sum(inputs[0], axis=[1, 2, 3])  # noqa: E731
    gp = gan.gradient_penalty(linear, cond, real, fake, [0.3])
    np.testing.assert_allclose(gp.numpy(), [1.0], rtol=1e-5)
    # the TF original's axis=1 norm: sqrt(2) over height, then averaged -> (sqrt(2) - 1)^2
    gp_tf = gan.gradient_penalty(linear, cond, real, fake, [0.3], axes="height")
    np.testing.assert_allclose(gp_tf.numpy(), [(np.sqrt(2) - 1) ** 2], rtol=1e-5)
    # a quadratic critic 0.5 sum(x^2): gradient = x_hat = real + alpha (fake - real) = 0.25 everywhere
    # -> norm sqrt(4 x 0.0625) = 0.5 -> (0.5 - 1)^2 = 0.25
    quadratic = lambda inputs, training=None: 0.5 * tf.reduce_sum(inputs[0] ** 2, axis=[1, 2, 3])  # noqa: E731
    np.testing.assert_allclose(gan.gradient_penalty(quadratic, cond, real, fake, [0.25]).numpy(), [0.25], rtol=1e-5)


def class_images(counts, shape=(6, 6, 1)):
    """Images whose every pixel holds the class id (so a rotation keeps it), labels interleaved."""
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    labels = np.random.default_rng(0).permutation(labels)
    images = np.broadcast_to(labels[:, None, None, None] * 10, (len(labels), *shape)).astype(np.uint8)
    return images, labels


@pytest.mark.parametrize("rotate", [False, True])
def test_pairs_are_of_one_class(rotate):
    images, labels = class_images([2, 5, 3, 9])
    ds = gan.pair_dataset(images, labels, batch_size=16, steps_per_epoch=3, critic_steps=5, seed=1,
                          rotate=rotate)
    seen = set()
    for sources, targets in ds.take(6):
        assert sources.shape == targets.shape == (16, 6, 6, 6, 1)
        s = np.rint((sources.numpy()[..., 0, 0, 0] + 1) * 127.5)
        t = np.rint((targets.numpy()[..., 0, 0, 0] + 1) * 127.5)
        np.testing.assert_array_equal(s, t)
        seen |= set(s.ravel().tolist())
    assert seen == {0, 10, 20, 30}


def test_others_are_of_another_class_and_leave_the_pairs_as_they_were():
    images, labels = class_images([2, 5, 3, 9])
    plain = gan.pair_dataset(images, labels, batch_size=16, steps_per_epoch=3, critic_steps=5, seed=1)
    three = gan.pair_dataset(images, labels, batch_size=16, steps_per_epoch=3, critic_steps=5, seed=1, others=True)
    seen = set()
    for (s0, t0), (s, t, o) in zip(plain.take(4), three.take(4)):
        np.testing.assert_array_equal(s0.numpy(), s.numpy())      # the originals' stream is unchanged
        np.testing.assert_array_equal(t0.numpy(), t.numpy())
        src, other = (np.rint((x.numpy()[..., 0, 0, 0] + 1) * 127.5) for x in (s, o))
        assert np.all(src != other)
        seen |= set(other.ravel().tolist())
    assert seen == {0, 10, 20, 30}


def test_matching_aware_critic_loss_by_hand():
    import keras
    # critic: the candidate's mean pixel; generator: zeros; no penalty. Targets are +1, others -1:
    # d_loss = -(E[D(target)] - (1 - m) E[D(fake)] - m E[D(other)]) = -(1 - 0 - 0.5 * -1) = -1.5
    shape = (2, 2, 1)
    cand, x_i, z = keras.Input(shape), keras.Input(shape), keras.Input((3,))
    dense = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.25), bias_initializer="zeros")
    critic = keras.Model([cand, x_i], dense(keras.layers.Flatten()(cand)))
    generator = keras.Model([x_i, z], keras.layers.Lambda(lambda t: t * 0.0)(x_i))
    model = gan.DAGAN(generator, critic, z_dim=3, critic_steps=1, gp_weight=0.0, mismatch=0.5, seed=0)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    ones = tf.ones((4, *shape))
    d_loss, _, wasserstein = model.critic_step(tf.zeros((4, *shape)), ones, -ones)
    assert float(d_loss) == pytest.approx(-1.5) and float(wasserstein) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="mismatch"):
        gan.DAGAN(generator, critic, z_dim=3, mismatch=1.0)


def test_matching_aware_penalty_mixes_both_lines(monkeypatch):
    import keras
    # a stub penalty: the mean pixel of the line's far end (G's zeros -> 0, the others' -1 -> -1), so
    # the mixture (1 - m) GP(target -> fake) + m GP(target -> other) is 0.5 * 0 + 0.5 * -1 = -0.5
    calls = []
    def stub(critic, conditioning, real, far, alpha, axes):
        calls.append(float(tf.reduce_mean(real)))
        return tf.reduce_mean(far, axis=[1, 2, 3])
    monkeypatch.setattr(gan, "gradient_penalty", stub)
    shape = (2, 2, 1)
    cand, x_i, z = keras.Input(shape), keras.Input(shape), keras.Input((3,))
    dense = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.25), bias_initializer="zeros")
    critic = keras.Model([cand, x_i], dense(keras.layers.Flatten()(cand)))
    generator = keras.Model([x_i, z], keras.layers.Lambda(lambda t: t * 0.0)(x_i))
    ones = tf.ones((4, *shape))
    for mismatch_gp, gp_expected in ((False, 0.0), (True, -0.5)):
        model = gan.DAGAN(generator, critic, z_dim=3, critic_steps=1, gp_weight=1.0, mismatch=0.5,
                          mismatch_gp=mismatch_gp, seed=0)
        model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
        d_loss, gp, _ = model.critic_step(tf.zeros((4, *shape)), ones, -ones)
        assert float(gp) == pytest.approx(gp_expected) and float(d_loss) == pytest.approx(-1.5 + gp_expected)
    assert calls == [1.0, 1.0, 1.0]                       # every line starts at the real target
    with pytest.raises(ValueError, match="mismatch_gp needs mismatch"):
        gan.DAGAN(generator, critic, z_dim=3, mismatch_gp=True)


def test_mismatch_gp_without_mismatch_is_refused(tmp_path, capsys):
    from common import cli
    from dagan.run import train
    with pytest.raises(SystemExit) as exit_info:
        cli.main(train)(["--profile", "smoke", "--mismatch-gp", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "give --mismatch too" in err[0]
    assert not any(tmp_path.iterdir())


def test_pairs_resume_exactly():
    images, labels = class_images([4, 4, 4])
    full = list(gan.pair_dataset(images, labels, 4, steps_per_epoch=2, seed=3).take(4))
    resumed = list(gan.pair_dataset(images, labels, 4, steps_per_epoch=2, seed=3, start_epoch=1).take(2))
    for a, b in zip(full[2:], resumed):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())


def test_rotation_turns_both_images_alike():
    a, b, _, k = gan.sample_pairs(tf.constant([0, 5], tf.int64), [50, 50], [0, 50], (2000,), rotate=True)
    k = k.numpy()
    assert set(np.unique(k)) == {0, 1, 2, 3}
    assert 0.55 < np.mean(k == 0) < 0.70                    # p(no turn) = 0.5 + 0.5 / 4
    image = tf.constant(np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1))
    turned = gan.rot90(tf.repeat(image, 4, axis=0), tf.constant([0, 1, 2, 3]))
    for i in range(4):
        np.testing.assert_array_equal(turned[i].numpy(), tf.image.rot90(image[0], i).numpy())


def test_class_with_one_image_is_refused():
    from common.errors import UserError
    with pytest.raises(UserError, match="at least 2 images"):
        gan.class_index(np.array([0, 0, 1]))


def test_five_critic_steps_per_generator_step():
    config = dict(widths=[2, 2, 2, 2], generator_inner_layers=0, critic_inner_layers=0, z_dim=4, dropout=0.5,
                  critic_dropout=0.5, batch_renorm=True, critic_steps=5, gp_weight=10.0, gp_axes="sample",
                  ms_lambda=0.0, ms_dropout="independent", lr=1e-4, seed=0)
    model = gan.build(config, (8, 8, 1))()
    images, labels = class_images([3, 3], shape=(8, 8, 1))
    batch = next(iter(gan.pair_dataset(images, labels, 2, steps_per_epoch=1)))
    g_before = [v.numpy() for v in model.generator.trainable_variables]
    logs = model.train_step(batch)          # eager: the same code fit runs in a graph
    assert int(model.d_optimizer.iterations.numpy()) == 5
    assert int(model.g_optimizer.iterations.numpy()) == 1
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert set(logs) == {"d_loss", "g_loss", "gp", "wasserstein"}
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(g_before, model.generator.trainable_variables))


def make_folder(root, counts, size=(28, 28)):
    rng = np.random.default_rng(0)
    for c, n in enumerate(counts):
        folder = root / f"class_{c:02d}"
        folder.mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def run(module, *args):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          timeout=900)


def one_line_error(result):
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.strip().splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dagan")
    data = make_folder(root / "chars", [6] * 6)
    out = root / "out"
    result = run("dagan.train", "--profile", "smoke", "--dataset", data, "--num-training-classes", 3,
                 "--num-val-classes", 1, "--out", out, "--name", "run")
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "run", data


def test_smoke_train_and_evaluate(smoke_run):
    run_dir, data = smoke_run
    for name in ("config.json", "state.json", "losses.csv", "steps.csv", "generator.keras",
                 "samples/epoch_0001.png"):
        assert (run_dir / name).exists(), name
    steps = (run_dir / "steps.csv").read_text().splitlines()
    assert steps[0].startswith("step,epoch") and len(steps) == 3          # 2 iterations
    config = json.loads((run_dir / "config.json").read_text())["config"]
    speed = json.loads((run_dir / "throughput.json").read_text())["gan"]
    assert speed["steps"] == 2 and speed["images_per_step"] == config["batch_size"] * (config["critic_steps"] + 1)
    result = run("dagan.evaluate", run_dir, "--profile", "smoke", "--val-per-class", 2, "--shots", "1,2",
                 "--repeats", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Acc. w/ DAGAN" in result.stdout
    # a line per repeat, counted and with an ETA weighted by k (common.progress)
    assert re.search(r"^k=1 repeat 1/2: without [\d.]+, with [\d.]+ \[1/4, ETA .+\]$", result.stdout, re.M)
    assert re.search(r"^k=2 repeat 2/2: without [\d.]+, with [\d.]+ \[4/4, .+ in all\]$", result.stdout, re.M)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["classes"] == [4, 6] and set(metrics["results"]) == {"1", "2"}
    assert metrics["training_throughput"]["gan"] == speed
    assert len(metrics["results"]["1"]["with"]) == 2
    assert metrics["config"]["design"] == "redraw"
    assert {"confidence", "confidence_two_sided"} <= set(metrics["results"]["1"])
    spread = metrics["generator_variety"]
    assert (spread["sources"], spread["draws"]) == (2 * 6, 8)     # every image of the 2 held-out classes
    assert metrics["variety_ratio"] == pytest.approx(metrics["variety_within"] / metrics["variety_between"])
    assert (run_dir / "variety.png").exists()
    rows = json.loads((run_dir / "headline.json").read_text())
    assert {r["paper"] for r in rows} == {"DAGAN"} and len(rows) == 2 * 4 + 2     # per k: gain, confidence, 2 arms
    assert metrics["class_kept"]["chance"] == pytest.approx(1 / 2) and 0 <= metrics["class_kept"]["generated"] <= 1
    by_metric = {r["metric"].split(",")[0] + "," + r["metric"].split(",")[1]: r for r in rows}
    assert by_metric["accuracy with DAGAN, 1-shot"]["paper_value"] == pytest.approx(0.192)
    gain = by_metric["accuracy gain with DAGAN, 1-shot"]
    assert gain["paper_value"] == pytest.approx(0.028) and gain["target"] == "> 0"
    assert gain["value"] == pytest.approx(metrics["results"]["1"]["with_mean"] - metrics["results"]["1"]["without_mean"])
    assert rows[1]["metric"].startswith("two-sided Welch") and rows[1]["paper_value"] == pytest.approx(0.976)
    assert rows[-2]["metric"].startswith("variety ratio") and rows[-2]["value"] == metrics["variety_ratio"]
    assert rows[-1]["metric"].startswith("generations that keep") and rows[-1]["value"] == metrics["class_kept"]["generated"]
    before = (run_dir / "headline.json").read_text()
    only = run("dagan.evaluate", run_dir, "--profile", "smoke", "--variety-only", "--variety-sources", 3,
               "--variety-draws", 2)
    assert only.returncode == 0, only.stderr[-3000:]
    assert "class kept" in only.stdout
    assert json.loads((run_dir / "variety.json").read_text())["generator_variety"]["sources"] == 3
    after = json.loads((run_dir / "headline.json").read_text())
    kept_rows = [r for r in json.loads(before) if "12 held-out sources" not in r["metric"]]
    assert after[:len(kept_rows)] == kept_rows                      # the few-shot rows and their command
    assert len(after) == len(kept_rows) + 4                         # + this run's two variety rows (3 sources)
    assert all("--variety-only" in r["command"] for r in after[-2:])
    paired = run("dagan.evaluate", run_dir, "--profile", "smoke", "--val-per-class", 2, "--shots", "1",
                 "--repeats", 2, "--design", "paired", "--no-flip", "--noise-std", 0, "--variety-sources", 3,
                 "--variety-draws", 2)
    assert paired.returncode == 0, paired.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["config"]["design"] == "paired" and metrics["config"]["flip"] is False
    assert (metrics["generator_variety"]["sources"], metrics["generator_variety"]["draws"]) == (3, 2)


def test_k_larger_than_available_exits_2(smoke_run):
    run_dir, _ = smoke_run
    line = one_line_error(run("dagan.evaluate", run_dir, "--profile", "smoke", "--shots", "1,5"))
    assert "k = 5" in line and "lower --shots" in line


def test_class_with_one_image_exits_2(tmp_path):
    data = make_folder(tmp_path / "chars", [3, 1, 3])
    out = tmp_path / "out"
    line = one_line_error(run("dagan.train", "--profile", "smoke", "--dataset", data, "--out", out))
    assert "at least 2 images" in line
    assert not out.exists() or not any(out.rglob("state.json"))


def test_missing_data_dir_exits_2(tmp_path):
    line = one_line_error(run("dagan.train", "--profile", "smoke", "--data-dir", tmp_path / "nowhere",
                              "--out", tmp_path / "out"))
    assert "does not exist" in line


@pytest.mark.parametrize("flag,value", [("--design", "both"), ("--noise-std", "-0.1"), ("--noise-std", "nan"),
                                        ("--variety-sources", "1"), ("--variety-draws", "1")])
def test_bad_evaluate_flags_exit_2(flag, value, capsys, tmp_path):
    from dagan import evaluate
    with pytest.raises(SystemExit) as exit_:
        evaluate.main([str(tmp_path), flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "Traceback" not in err[0]
