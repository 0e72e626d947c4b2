"""cgan_infogan: network shapes, InfoGAN loss terms by hand, synthetic sets, the code->digit map,
a smoke train + generate + evaluate, and one-line errors."""
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from cgan_infogan import evaluate, gan, generate, models, run, synthetic, train, variants
from tests.conftest import ROOT


def test_network_shapes():
    g, d = models.cgan_generator(), models.cgan_discriminator()
    assert g.input_shape == [(None, 64), (None, 10)] and g.output_shape == (None, 28, 28, 1)
    assert d.output_shape == (None, 1)
    assert d.get_layer("image_labels").output.shape == (None, 28, 28, 11)
    x = g([tf.random.normal((3, 64)), tf.one_hot([0, 1, 2], 10)])
    assert x.shape == (3, 28, 28, 1) and float(tf.reduce_max(tf.abs(x))) <= 1.0
    ig, idisc = models.infogan_generator(), models.infogan_discriminator()
    assert ig.input_shape == [(None, 62), (None, 10), (None, 2)] and ig.output_shape == (None, 28, 28, 1)
    assert [o.shape for o in idisc.outputs] == [(None, 1), (None, 10), (None, 2), (None, 2)]
    assert idisc.get_layer("trunk").output_shape == (None, 1024)
    y = ig([tf.random.normal((2, 62)), tf.one_hot([3, 4], 10), tf.zeros((2, 2))])
    assert float(tf.reduce_min(y)) >= -1.0 and float(tf.reduce_max(y)) <= 1.0   # sigmoid mapped to [-1, 1]
    assert all(not getattr(l, "use_bias", False) for l in ig.layers)            # bias-free generator
    # trainable weights of the PyTorch original, layer by layer (its k1/k7 transposed convs are dense here)
    assert sum(int(np.prod(w.shape)) for w in ig.trainable_weights) == (
        74 * 1024 + 2 * 1024 + 1024 * 128 * 49 + 2 * 128 + 128 * 64 * 16 + 2 * 64 + 64 * 16)
    assert sum(int(np.prod(w.shape)) for w in idisc.get_layer("trunk").trainable_weights) == (
        16 * 64 + 64 + 64 * 128 * 16 + 2 * 128 + 128 * 1024 * 49 + 2 * 1024)   # conv1 has a bias
    c = models.classifier()
    assert c.get_layer("flatten").output.shape == (None, 216) and c.output_shape == (None, 10)
    assert c.get_layer("dropout_120").rate == 0.8


def test_infogan_loss_terms_by_hand():
    logits = np.zeros((1, 10), np.float32)
    logits[0, 1] = math.log(3.0)                   # softmax p_1 = 3 / (9 + 3) = 1/4
    c = np.array([[0.5, -1.0]], np.float32)
    mu = np.zeros((1, 2), np.float32)
    log_var = np.log(np.array([[1.0, 2.0]], np.float32))
    ce, nll = gan.info_terms(tf.constant(logits), tf.constant([1]), tf.constant(mu), tf.constant(log_var), tf.constant(c))
    by_hand = -((-0.5 * math.log(2 * math.pi * 1 + 1e-6) - 0.25 / (2 * 1 + 1e-6))
                + (-0.5 * math.log(2 * math.pi * 2 + 1e-6) - 1.0 / (2 * 2 + 1e-6)))
    assert float(ce[0]) == pytest.approx(math.log(4.0), rel=1e-5)
    assert float(nll[0]) == pytest.approx(by_hand, rel=1e-5)
    assert float(gan.bce(tf.zeros((1, 1)), 1.0)[0]) == pytest.approx(math.log(2.0), rel=1e-6)


def test_infogan_optimizers_own_the_right_parts():
    model = gan.build("infogan")()
    d_ids = {id(v) for v in model.discriminator_variables}
    g_ids = {id(v) for v in model.generator_variables}
    trunk = {id(v) for v in model.discriminator.get_layer("trunk").trainable_variables}
    q = {id(v) for v in model.q_head.trainable_variables}
    assert trunk <= d_ids and not trunk & g_ids          # the info loss never moves the shared trunk
    assert q <= g_ids and not q & d_ids
    assert len(d_ids | g_ids) == len(model.generator.trainable_variables) + len(model.discriminator.trainable_variables)
    z, index, cont = model.sample_codes(4)
    d_loss, g_loss, ce, nll = model.losses_for(tf.zeros((4, 28, 28, 1)), z, index, cont)
    assert all(np.isfinite(float(v)) for v in (d_loss, g_loss, ce, nll))


def test_generated_sets_have_size_and_balance():
    cgan = gan.build("cgan")()
    images, labels = synthetic.cgan_set(cgan, 25)
    assert images.shape == (25, 28, 28, 1) and images.dtype == np.uint8
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 25 and counts.max() - counts.min() <= 1
    info = gan.build("infogan")()
    perm = np.random.default_rng(1).permutation(10)
    images, labels = synthetic.infogan_set(info, 40, "noise2", perm)
    assert images.shape == (40, 28, 28, 1) and np.all(np.bincount(labels, minlength=10) == 4)
    labels, index, cont = synthetic.infogan_codes(200, "noise1", np.argsort(perm))
    assert np.all(perm[index] == labels)                 # each digit is drawn from the code mapped to it
    assert np.all(cont[:, 1] == 0) and np.allclose(np.unique(cont[:, 0]), synthetic.SWEEP, atol=1e-6)


def test_reseed_restarts_the_noise_stream():
    """A restored checkpoint carries its noise stream; generate's and evaluate's --seed must restart it."""
    cgan = gan.build("cgan")()

    def draw(seed):
        synthetic.reseed(cgan, seed)
        return cgan.noise((4, models.CGAN_Z)).numpy()
    np.testing.assert_array_equal(draw(3), draw(3))
    assert not np.allclose(draw(3), draw(4))


def test_code_to_digit_mapping_is_a_permutation():
    rng = np.random.default_rng(0)
    perm = rng.permutation(10)
    codes = np.repeat(np.arange(10), 50)
    predicted = perm[codes].copy()
    noisy = rng.random(len(codes)) < 0.3
    predicted[noisy] = rng.integers(0, 10, noisy.sum())
    mapping, counts = synthetic.assign_codes(codes, predicted)
    assert np.array_equal(mapping, perm) and counts.sum() == len(codes)
    # Even when the classifier calls every code the same digit, the map stays one-to-one.
    mapping, _ = synthetic.assign_codes(codes, np.full(len(codes), 7))
    assert sorted(mapping.tolist()) == list(range(10))
    record = synthetic.measure_mapping(gan.build("infogan")(), lambda imgs: np.zeros(len(imgs), int), per_code=3)
    assert sorted(record["code_to_digit"]) == list(range(10)) and 0 <= record["mapping_accuracy"] <= 1


def test_mix_parsing():
    assert evaluate.parse_mixes("30000+30000, 600+0", 60000, "--mix") == [(30000, 30000), (600, 0)]
    assert evaluate.experiment_name("cgan", 30000, 30000, 60000) == "mnist_cGan_30k"
    assert evaluate.experiment_name("infogan_noise2", 6000, 54000, 60000) == "mnist_infoGan_54k_noise2"
    assert evaluate.experiment_name("real", 60000, 0, 60000) == "base_cnn"
    assert evaluate.experiment_name("cgan", 600, 5400, 60000, grid=False) == "real600_cGan_5.4k"
    assert evaluate.experiment_name("cgan", 0, 5400, 60000, grid=False) == "synthetic_only_cGan_5.4k"
    assert evaluate.PAPER[("cgan", round(48000 / 60000, 2))] == pytest.approx(0.98067, abs=1e-5)


def test_seed_summary_by_hand(tmp_path):
    """Gains over real only, mean and sample std over seeds, worked out by hand."""
    def exp(name, group, real, syn, test, held):
        return {"experiment": name, "group": group, "source": "cgan" if syn else "real", "real": real,
                "synthetic": syn, "accuracy": test, "heldout_real_train": {"accuracy": held}}
    by_seed = {0: [exp("real_only_600", "low_data", 600, 0, 0.90, 0.80), exp("real600_cGan_5.4k", "low_data", 600, 5400, 0.93, 0.84)],
               3: [exp("real_only_600", "low_data", 600, 0, 0.92, 0.82), exp("real600_cGan_5.4k", "low_data", 600, 5400, 0.93, 0.82)]}
    evaluate.write_seed_summary(tmp_path, {"profile": "smoke"}, by_seed)
    rows = json.loads((tmp_path / "seeds.json").read_text())["experiments"]
    assert "gain_points" not in rows[0] and rows[0]["test_accuracy"]["mean"] == pytest.approx(0.91)
    gain = rows[1]["gain_points"]      # +3 and +1 points: mean 2, sample std sqrt(2)
    assert rows[1]["baseline"] == "real_only_600" and gain["per_seed"] == pytest.approx({"0": 3.0, "3": 1.0})
    assert gain["mean"] == pytest.approx(2.0) and gain["std"] == pytest.approx(2 ** 0.5)
    assert rows[1]["heldout_gain_points"]["mean"] == pytest.approx(2.0)    # +4 and 0
    assert "+2.00 +- 1.41 (+3.00, +1.00)" in (tmp_path / "seeds.md").read_text()


@pytest.mark.parametrize("text", ["1,1", "-1", "a", ","])
def test_bad_seed_list_is_a_one_line_error(text, capsys):
    with pytest.raises(SystemExit) as e:
        evaluate.parser().parse_args(["run", "--seed", text])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and "seed" in err


def _run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_unknown_model_is_a_one_line_error(tmp_path):
    for module in ("cgan_infogan.train", "cgan_infogan.generate"):
        extra = [str(tmp_path), "--num", "10", "--output", str(tmp_path / "x.npz")] if "generate" in module else []
        r = _run(module, *extra, "--model", "wgan")
        assert r.returncode == 2 and "wgan" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_mix_beyond_real_data_is_a_one_line_error(tmp_path, data_root):
    (tmp_path / "run").mkdir()
    r = _run("cgan_infogan.evaluate", str(tmp_path / "run"), "--data-dir", str(data_root), "--mix", "70000+0")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "70000 real images" in r.stderr and "60000" in r.stderr
    assert not (tmp_path / "run" / "experiments").exists()


def test_smoke_train_generate_evaluate(tmp_path, data_root, monkeypatch, capsys):
    out = tmp_path / "results"
    train.main(["--profile", "smoke", "--model", "cgan", "--train-images", "64", "--batch-size", "32",
                "--data-dir", str(data_root), "--out", str(out)])
    run = out / "mnist_smoke"
    assert (run / "cgan" / "state.json").exists() and (run / "throughput.json").exists()
    speed = json.loads((run / "throughput.json").read_text())
    assert set(speed) == {"cgan"} and (speed["cgan"]["steps"], speed["cgan"]["batch_size"]) == (2, 32)
    generate.main([str(run), "--model", "cgan", "--num", "30", "--output", str(tmp_path / "g.npz")])
    with np.load(tmp_path / "g.npz") as f:
        assert f["images"].shape == (30, 28, 28, 1) and np.all(np.bincount(f["labels"]) == 3)
    # The reference classifier trains on all of MNIST: replaced by a stand-in here.
    monkeypatch.setattr(synthetic, "reference_predict", lambda root, epochs=None: lambda imgs: np.zeros(len(imgs), int))
    capsys.readouterr()
    evaluate.main([str(run), "--profile", "smoke", "--data-dir", str(data_root), "--mix", "400+0,200+200",
                   "--low-data", ""])
    # a line per finished experiment, counted, with an ETA (common.progress)
    printed = capsys.readouterr().out
    assert re.search(r"^real_only_400: test accuracy [\d.]+ \[1/2, ETA .+\]$", printed, re.M)
    assert re.search(r"^mnist_cGan_200: test accuracy [\d.]+ \[2/2, .+ in all\]$", printed, re.M)
    for name in ("real_only_400", "mnist_cGan_200"):
        exp = run / "experiments" / name
        metrics = json.loads((exp / "metrics_test.json").read_text())
        assert {"accuracy", "precision", "recall", "f1_score"} <= set(metrics)
        assert "official MNIST test set" in metrics["evaluated_on"]
        assert (exp / "ConfusionMatrix.png").exists() and (exp / "loss_plot.png").exists()
    held = json.loads((run / "experiments" / "mnist_cGan_200" / "metrics_test.json").read_text())
    assert held["heldout_real_train"]["n"] == 500 and "not used for training" in held["heldout_real_train"]["evaluated_on"]
    rows = json.loads((run / "headline.json").read_text())
    assert rows[0]["paper_value"] == 0.9887 and all(r["paper"] == "CGAN/InfoGAN" for r in rows)
    assert [r["value"] for r in rows if r["metric"] == "cgan training throughput (images/s)"] == [speed["cgan"]["images_per_s"]]
    # each augmented experiment's gain over its real-only run, in points, named with its GAN's epochs
    acc = {n: json.loads((run / "experiments" / n / "metrics_test.json").read_text())["accuracy"]
           for n in ("real_only_400", "mnist_cGan_200")}
    gain = [r for r in rows if r["metric"].startswith("test-accuracy gain")]
    assert [r["metric"] for r in gain] == ["test-accuracy gain over real only (points), cgan after 1 GAN epochs, "
                                           "200 real + 200 synthetic, 1 classifier epochs"]
    assert gain[0]["value"] == pytest.approx(100 * (acc["mnist_cGan_200"] - acc["real_only_400"]), abs=1e-4)
    assert gain[0]["target"] is None and {r["seeds"] for r in rows} == {"0"}
    # Several seeds: seed 0's finished experiments are reused, not overwritten; seed 1 gets its own folder.
    before = {p: p.stat().st_mtime_ns for p in (run / "experiments").rglob("metrics_test.json")}
    evaluate.main([str(run), "--profile", "smoke", "--data-dir", str(data_root), "--mix", "400+0,200+200",
                   "--low-data", "", "--seed", "0,1"])
    assert {p: p.stat().st_mtime_ns for p in (run / "experiments").rglob("metrics_test.json")} == before
    # read back, not trained: counted, but out of the ETA
    assert re.search(r"^real_only_400: test accuracy [\d.]+ \(stored\) \[1/2, ETA unknown\]$",
                     capsys.readouterr().out, re.M)
    assert (run / "seed_1" / "experiments" / "mnist_cGan_200" / "metrics_test.json").exists()
    assert (run / "synthetic" / "cgan_200_e1_s1.npz").exists() and (run / "seed_1" / "metrics.json").exists()
    # seed 1's rows say so: common.summary pools the seeds of one claim into their mean
    assert {r["seeds"] for r in json.loads((run / "seed_1" / "headline.json").read_text())} == {"1"}
    seeds = json.loads((run / "seeds.json").read_text())
    assert seeds["seeds"] == [0, 1] and seeds["experiments"][1]["baseline"] == "real_only_400"
    # The same run goes on with the other model: which model a call trains is no config mismatch.
    train.main(["--profile", "smoke", "--model", "both", "--train-images", "64", "--batch-size", "32",
                "--data-dir", str(data_root), "--out", str(out)])
    assert (run / "infogan" / "state.json").exists()
    assert set(json.loads((run / "throughput.json").read_text())) == {"cgan", "infogan"}
    assert json.loads((run / "cgan" / "state.json").read_text())["epoch"] == 1


def test_low_data_mixing_arms(tmp_path, data_root, monkeypatch):
    """--low-data-mixing: concat keeps the original's name and config; share and finetune are their own
    experiments, compared with the same real-only run; finetune trains twice the steps. 0+N trains on
    the synthetic images alone, once (no real images to mix), with no real-only run and no gain."""
    out = tmp_path / "results"
    train.main(["--profile", "smoke", "--model", "cgan", "--train-images", "64", "--batch-size", "32",
                "--data-dir", str(data_root), "--out", str(out)])
    run = out / "mnist_smoke"
    monkeypatch.setattr(synthetic, "reference_predict", lambda root, epochs=None: lambda imgs: np.zeros(len(imgs), int))
    monkeypatch.setattr(evaluate, "GAIN_TARGETS", {(100, 200): ">= 2"})
    evaluate.main([str(run), "--profile", "smoke", "--data-dir", str(data_root), "--mix", "", "--low-data",
                   "100+200,0+200", "--low-data-mixing", "concat,share,finetune", "--real-share", "0.25"])
    gains = {r["metric"]: r["target"] for r in json.loads((run / "headline.json").read_text()) if "gain" in r["metric"]}
    assert gains == {f"test-accuracy gain over real only (points), cgan after 1 GAN epochs, 100 real + 200 synthetic{arm}, "
                     "1 classifier epochs": ">= 2" for arm in ("", ", 25 % real per batch", ", synthetic then real fine-tuning")}
    exps = run / "experiments"
    configs = {n: json.loads((exps / n / "config.json").read_text())
               for n in ("real100_cGan_200", "real100_cGan_200_share25", "real100_cGan_200_finetune")}
    assert "mixing" not in configs["real100_cGan_200"]
    assert configs["real100_cGan_200_share25"]["mixing"] == "share" and configs["real100_cGan_200_share25"]["real_share"] == 0.25
    steps = lambda n: len((exps / n / "loss.csv").read_text().strip().splitlines()) - 1  # noqa: E731
    assert steps("real100_cGan_200_finetune") == 2 * steps("real100_cGan_200") == 2 * steps("real_only_100")
    assert {r["experiment"] for r in json.loads((run / "metrics.json").read_text())["experiments"]} == {
        "real_only_100", "synthetic_only_cGan_200", *configs}
    alone = json.loads((exps / "synthetic_only_cGan_200" / "config.json").read_text())
    assert (alone["real_images"], alone["synthetic_images"]) == (0, 200) and "mixing" not in alone
    assert steps("synthetic_only_cGan_200") == steps("real_only_100")
    r = _run("cgan_infogan.evaluate", str(run), "--data-dir", str(data_root), "--low-data-mixing", "blend")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "blend" in r.stderr


def test_train_limit_is_the_subset_name_and_older_runs_resume(tmp_path, data_root):
    """--train-limit (alias --train-images) is the config's train_limit; a run whose config.json says
    train_images (written before the rename) resumes without a configuration mismatch."""
    out = tmp_path / "results"
    args = ["--profile", "smoke", "--model", "cgan", "--batch-size", "32", "--data-dir", str(data_root), "--out", str(out)]
    train.main(args + ["--train-limit", "64"])
    path = out / "mnist_smoke" / "config.json"
    record = json.loads(path.read_text())
    assert record["config"]["train_limit"] == 64 and "train_images" not in record["config"]
    record["config"]["train_images"] = record["config"].pop("train_limit")
    path.write_text(json.dumps(record))
    train.main(args + ["--train-images", "64", "-e", "2"])
    assert json.loads((out / "mnist_smoke" / "cgan" / "state.json").read_text())["epoch"] == 2


def _hand_outputs():
    """D logits 0 (real) and log 3 (fake: sigmoid 3/4); Q logits with p_1 = 1/4; codes (0.5, -1)
    against means 0 and variances (1, 2)."""
    logits = np.zeros((1, 10), np.float32)
    logits[0, 1] = math.log(3.0)
    return dict(d_real=tf.zeros((1, 1)), d_fake=tf.fill((1, 1), math.log(3.0)), logits=tf.constant(logits),
                index=tf.constant([1]), mu=tf.zeros((1, 2)), log_var=tf.math.log(tf.constant([[1.0, 2.0]])),
                cont=tf.constant([[0.5, -1.0]]))


def test_official_and_kalpak92_losses_by_hand():
    o = _hand_outputs()
    bce_real, bce_fake0, bce_fake1 = math.log(2.0), math.log(4.0), math.log(4.0 / 3.0)
    ce = math.log(4.0)
    nll_unit = 2 * 0.5 * math.log(2 * math.pi) + 0.5 * (0.25 + 1.0)        # std 1, the official's codes
    nll_learned = -((-0.5 * math.log(2 * math.pi * 1 + 1e-6) - 0.25 / (2 * 1 + 1e-6))
                    + (-0.5 * math.log(2 * math.pi * 2 + 1e-6) - 1.0 / (2 * 2 + 1e-6)))
    official = gan.InfoGAN(**{k: v for k, v in variants.INFOGAN_VARIANTS["official"].items() if "lr" not in k})
    kalpak = gan.InfoGAN(**{k: v for k, v in variants.INFOGAN_VARIANTS["kalpak92"].items() if "lr" not in k})
    args = (o["logits"], o["index"], o["mu"], o["log_var"], o["cont"])
    # official: the MI term (weight 1 on both codes) is in D's loss as well as in G's
    assert float(official.d_objective(o["d_real"], o["d_fake"], *args)[0]) == pytest.approx(
        bce_real + bce_fake0 + ce + nll_unit, rel=1e-5)
    g, g_ce, g_nll = official.g_objective(o["d_fake"], *args)
    assert float(g[0]) == pytest.approx(bce_fake1 + ce + nll_unit, rel=1e-5)
    assert float(g_ce[0]) == pytest.approx(ce, rel=1e-5) and float(g_nll[0]) == pytest.approx(nll_unit, rel=1e-5)
    # kalpak92: D's loss has no MI term; G/Q's has CE + 0.1 NLL with the learned variance
    assert float(kalpak.d_objective(o["d_real"], o["d_fake"], *args)[0]) == pytest.approx(bce_real + bce_fake0, rel=1e-5)
    assert float(kalpak.g_objective(o["d_fake"], *args)[0][0]) == pytest.approx(bce_fake1 + ce + 0.1 * nll_learned, rel=1e-5)


def test_official_variant_trains_trunk_and_q_with_d():
    """official: D's optimizer (2e-4) owns trunk, D head and Q head, and its loss moves the Q head;
    G's optimizer (1e-3) owns G only. kalpak92: Q with G, both at 2e-4, D's loss blind to Q."""
    official = gan.build("infogan", variant=variants.INFOGAN_VARIANTS["official"])()
    kalpak = gan.build("infogan", variant=variants.INFOGAN_VARIANTS["kalpak92"])()
    assert float(official.d_optimizer.learning_rate) == pytest.approx(2e-4)
    assert float(official.g_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(kalpak.g_optimizer.learning_rate) == pytest.approx(2e-4)
    unused = {id(v) for v in official.q_head.get_layer("log_var").trainable_variables}   # fixed std 1
    assert len(unused) == 2 and not unused & {id(v) for v in official.discriminator_variables + official.generator_variables}
    for model, q_in_d in ((official, True), (kalpak, False)):
        q = {id(v) for v in model.q_variables}
        assert (q <= {id(v) for v in model.discriminator_variables}) == q_in_d
        assert (q <= {id(v) for v in model.generator_variables}) != q_in_d
        z, index, cont = model.sample_codes(4)
        real = tf.random.uniform((4, 28, 28, 1), -1, 1, seed=1)
        with tf.GradientTape() as tape:
            d_loss = model.losses_for(real, z, index, cont)[0]
        grads = tape.gradient(d_loss, model.q_variables)
        moved = any(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)
        assert moved == q_in_d
    logs = official.train_step(tf.random.uniform((4, 28, 28, 1), -1, 1, seed=2))
    assert all(np.isfinite(float(v)) for v in logs.values())
    # the two switches are separate: MI in D's loss (moves the trunk) with the Q head left to G
    mixed = gan.InfoGAN(info_in_d=True, q_with="g")
    q = {id(v) for v in mixed.q_variables}
    assert q <= {id(v) for v in mixed.generator_variables} and not q & {id(v) for v in mixed.discriminator_variables}
    with pytest.raises(ValueError, match="q_with"):
        gan.InfoGAN(q_with="both")


def test_official_noise_prior_and_leak():
    """official: z ~ U(-1, 1) (openai's Uniform(62)) and leak 0.01 in D and Q; kalpak92: N(0, I),
    leak 0.1; a run made before these keys reloads as it was trained (kalpak92's values)."""
    official = gan.build("infogan", variant=variants.INFOGAN_VARIANTS["official"])()
    kalpak = gan.build("infogan", variant=variants.INFOGAN_VARIANTS["kalpak92"])()
    z = official.sample_codes(4000)[0].numpy()
    assert z.min() >= -1 and z.max() <= 1 and np.std(z) == pytest.approx(1 / np.sqrt(3), abs=0.01)
    assert np.abs(kalpak.sample_codes(4000)[0].numpy()).max() > 2          # N(0, 1) leaves [-1, 1]
    for model, leak in ((official, 0.01), (kalpak, 0.1)):
        trunk, q = model.discriminator.get_layer("trunk"), model.q_head
        layers = [trunk.get_layer(n) for n in ("lrelu_1", "lrelu_2", "features")] + [q.get_layer("q_lrelu")]
        assert [float(layer.negative_slope) for layer in layers] == pytest.approx([leak] * 4)
    before = {k: v for k, v in variants.INFOGAN_VARIANTS["official"].items() if k not in ("z_prior", "leak")}
    assert variants.variant_of(dict(before, variant="official"))["z_prior"] == "normal"


def test_openai_details():
    """--openai-details: D sees (x + 1) / 2, its convs start truncated-normal (|w| <= 2 std), G's
    last layer has a bias, and each training step draws the G step's codes afresh; without it (and
    in a run made before it) none of these."""
    row = dict(variants.INFOGAN_VARIANTS["official"], openai_details=True)
    exact, before = gan.build("infogan", variant=row)(), gan.build("infogan", variant=variants.INFOGAN_VARIANTS["official"])()
    trunk = exact.discriminator.get_layer("trunk")
    x = tf.constant([[-1.0, 0.0, 1.0]])
    np.testing.assert_allclose(trunk.get_layer("to_unit_range")(x).numpy(), [[0.0, 0.5, 1.0]])
    for name in ("conv_1", "conv_2"):
        assert float(tf.reduce_max(tf.abs(trunk.get_layer(name).kernel))) <= 0.04
    assert exact.generator.get_layer("deconv_out").use_bias and not before.generator.get_layer("deconv_out").use_bias
    assert "to_unit_range" not in [layer.name for layer in before.discriminator.get_layer("trunk").layers]
    for model, draws in ((exact, 2), (before, 1)):
        calls = []
        sample = model.sample_codes
        model.sample_codes = lambda n: calls.append(n) or sample(n)
        logs = model.train_step(tf.random.uniform((4, 28, 28, 1), -1, 1, seed=3))
        assert len(calls) == draws and all(np.isfinite(float(v)) for v in logs.values())
    old = {k: v for k, v in variants.INFOGAN_VARIANTS["official"].items() if k != "openai_details"}
    assert variants.variant_of(dict(old, variant="official"))["openai_details"] is False
    assert variants.infogan_settings({"infogan_variant": "official", "openai_details": True})["openai_details"]
    named = run.run_dir_of({"profile": "quick", "infogan_variant": "official", "openai_details": True, "out": "r"})
    assert named.as_posix() == "r/mnist_quick_official_openai"


def test_code_range_sweeps():
    perm = np.arange(10)
    _, _, cont = synthetic.infogan_codes(200, "noise2", perm, code_range=1.0)
    assert np.allclose(np.unique(cont[:, 1]), np.linspace(-1, 1, 10), atol=1e-6) and np.all(cont[:, 0] == 0)
    _, _, cont = synthetic.infogan_codes(200, "noise2", perm)
    assert cont[:, 1].min() == pytest.approx(-2.0) and cont[:, 1].max() == pytest.approx(2.0)
    assert evaluate.range_dir("r", 2.0).name == "r" and evaluate.range_dir("r", 1.0).name == "code_range_1"
    assert evaluate.seed_dir("r", 3, 1.0).as_posix() == "r/code_range_1/seed_3"


def test_mapping_log_rows(tmp_path):
    """mapping.csv: one row per measured epoch; a resumed run replaces rows from after its checkpoint."""
    model = gan.build("infogan")()
    before = model.seed_generator.state.numpy().copy()
    for epoch in (1, 2, 3):
        run.log_mapping(tmp_path, model, epoch, lambda imgs: np.zeros(len(imgs), int), per_code=2)
    run.log_mapping(tmp_path, model, 2, lambda imgs: np.zeros(len(imgs), int), per_code=2)
    lines = (tmp_path / synthetic.MAPPING_CSV).read_text().splitlines()
    assert lines[0] == "epoch,mapping_accuracy,code_to_digit" and [l.split(",")[0] for l in lines[1:]] == ["1", "2"]
    assert float(lines[1].split(",")[1]) == pytest.approx(0.1)     # every code called 0: one code in ten right
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), before)   # training noise untouched
    # the scoreboard row: the last measured epoch, the target only for the official variant within 10 epochs
    run.write_mapping_headline(tmp_path, "official")
    row = json.loads((tmp_path / "headline.json").read_text())[0]
    assert row["metric"] == "InfoGAN code->digit mapping accuracy after 2 epochs (official variant)"
    assert row["value"] == pytest.approx(0.1) and row["target"] == ">= 0.95"
    run.write_mapping_headline(tmp_path, "official", openai_details=True)
    assert json.loads((tmp_path / "headline.json").read_text())[0]["metric"].endswith("(official variant, openai's details)")
    run.write_mapping_headline(tmp_path, "kalpak92")
    assert json.loads((tmp_path / "headline.json").read_text())[0]["target"] is None


@pytest.mark.parametrize("module, args", [
    ("cgan_infogan.train", ["--variant", "openai"]),
    ("cgan_infogan.train", ["--mapping-every", "-1"]),
    ("cgan_infogan.train", ["--model", "infogan", "--openai-details"]),      # kalpak92's variant
    ("cgan_infogan.evaluate", ["RUN", "--code-range", "0"]),
    ("cgan_infogan.evaluate", ["RUN", "--code-range", "5"]),
    ("cgan_infogan.generate", ["RUN", "--model", "infogan", "--num", "10", "--output", "x.npz", "--code-range", "x"]),
])
def test_new_flags_are_range_checked(module, args):
    r = _run(module, *args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_smoke_official_variant_run(tmp_path, data_root, monkeypatch):
    """--variant official trains its own run (mnist_smoke_official), logs the mapping per epoch, and
    generate rebuilds it with the official's optimizer layout."""
    monkeypatch.setattr(synthetic, "reference_predict", lambda root, epochs=None: lambda imgs: np.zeros(len(imgs), int))
    out = tmp_path / "results"
    train.main(["--profile", "smoke", "--model", "infogan", "--variant", "official", "--mapping-every", "1",
                "--train-images", "64", "--batch-size", "32", "--data-dir", str(data_root), "--out", str(out)])
    run = out / "mnist_smoke_official"
    config = json.loads((run / "infogan" / "config.json").read_text())["config"]
    assert config["variant"] == "official" and config["g_lr"] == 1e-3 and config["info_in_d"] is True
    assert (run / "infogan" / "mapping.csv").read_text().splitlines()[1].startswith("1,")
    model, epoch, _ = synthetic.load_gan(run, "infogan")
    assert epoch == 1 and model.info_in_d and float(model.g_optimizer.learning_rate) == pytest.approx(1e-3)
    assert model.z_prior == "uniform" and config["leak"] == 0.01
    generate.main([str(run), "--model", "infogan", "--variant", "noise1", "--num", "20", "--code-range", "1",
                   "--output", str(tmp_path / "i.npz"), "--data-dir", str(data_root)])
    with np.load(tmp_path / "i.npz") as f:
        assert json.loads(str(f["info"]))["code_range"] == 1.0
