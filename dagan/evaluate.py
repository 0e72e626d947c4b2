"""dagan_torch's few-shot protocol: does DAGAN augmentation help a classifier of unseen classes?

    python -m dagan.evaluate RUN_DIR --profile quick --data-dir ../shared/data

Held-out classes (Omniglot 1420-1519, never seen by the GAN). For k = 1..5, 10 repeats of each arm:
without augmentation, and with every other batch passed through the generator (flag input 0 for
generated, 1 for real images); both arms take the same number of steps. The classifier trains with
dagan_torch's transforms on every batch, real or generated: Gaussian noise of std 0.1 on the [0, 1]
scale (0.2 here, on [-1, 1]) and a random horizontal flip.

--design redraw (default, dagan_torch): every classifier of either arm re-shuffles each class and
takes the first k images to train and the last 5 to validate, so the arms are independent samples.
--design paired: each class's images are shuffled once (the last 5 validate, for every run); per
repeat, one k-subset and one seed serve both arms.

Confidence: 1 - p of the two-sided Welch t-test (scipy `ttest_ind(equal_var=False)`), the number
dagan_torch prints (also high when augmentation is significantly worse), and 1 - p of the one-sided
test that augmentation is better.

Variety: on held-out sources (one image per class in turn), G(x, z) for several z per source; the mean
distance between generations of one source, between generations of different sources, and their
ratio (0: the generator ignores z). Grid in RUN_DIR/variety.png (rows: a source, then generations).
Class kept: the share of those generations whose nearest held-out real image is of the source's
character, beside the same share for the real sources (varied generations of the wrong character
would not help a classifier). Writes RUN_DIR/fewshot.md, metrics.json, headline.json and variety.png;
--variety-only: only the last two measures, into variety.json, variety.png and their two rows of
headline.json (seconds). Every claim names the generator's iterations (a few-shot one also the
classifier's epochs), so that runs of other budgets keep rows of their own on the scoreboard.
"""
import math
import time
import warnings
from pathlib import Path

import numpy as np

from common import cli, datasets, throughput
from common.cli import bounded, positive_int
from common.errors import UserError
from common.progress import Progress
from dagan.profiles import PROFILES as TRAIN_PROFILES

# dagan_torch README: accuracy without / with DAGAN and the confidence, for k = 1..5
PUBLISHED = {"without": [16.4, 29.0, 46.5, 57.8, 67.1], "with": [19.2, 39.4, 52.0, 65.3, 69.5],
             "confidence": [97.6, 99.9, 97.4, 97.8, 60.7]}
# noise_std 0.2 on [-1, 1] = dagan_torch's 0.1 on [0, 1]; flip: its RandomHorizontalFlip
SHARED = dict(eval_classes=None, shots=(1, 2, 3, 4, 5), repeats=10, val_per_class=5, batch_size=32,
              lr=1e-3, noise_std=0.2, flip=True, head_units=20, design="redraw", variety_sources=100,
              variety_draws=8)
DESIGNS = ("redraw", "paired")
GRID_SOURCES, GRID_DRAWS = 8, 8
PROFILES = {
    "smoke": dict(SHARED, shots=(1, 2), repeats=2, classifier="cnn", widths=(4, 8), epochs=1),
    # ~10 s per classifier on a loaded 2-core CPU: a 4-conv CNN (8, 8, 16, 16 filters) at 28 px
    "quick": dict(SHARED, classifier="cnn", widths=(8, 16), epochs=20),
    # dagan_torch: DenseNet (growth 16, blocks 3,3,3,3, dropout 0.3) at 224 px, 200 epochs
    "paper": dict(SHARED, classifier="densenet", widths=(64,), epochs=200, image_size=224),
}
OMNIGLOT_EVAL = (1420, 1520)


def parse_range(text):
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise cli.argparse.ArgumentTypeError(f"expected FIRST:END (END excluded), got {text!r}")
    if not 0 <= a < b:
        raise cli.argparse.ArgumentTypeError(f"expected 0 <= FIRST < END, got {text!r}")
    return [a, b]


def int_list(text):
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise cli.argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def parser():
    p = cli.ArgumentParser(prog="dagan.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", help="a run directory made by dagan.train")
    p.add_argument("--data-dir", default=None, help="dataset root (default: $GAN_DATA_DIR, else ./data)")
    p.add_argument("--profile", choices=tuple(PROFILES), default="quick", help="classifier size and repeats")
    p.add_argument("-s", "--seed", type=cli.seed, default=0, help="seed of the splits and classifiers")
    p.add_argument("--eval-classes", type=parse_range, default=None,
                   help="held-out classes FIRST:END (Omniglot 1420:1520; a folder: those after the GAN's)")
    p.add_argument("--shots", type=int_list, default=None, help="training images per class, e.g. 1,2,3,4,5")
    p.add_argument("--repeats", type=positive_int, default=None, help="classifiers per setting (10)")
    p.add_argument("--val-per-class", type=positive_int, default=None, help="validation images per class (5)")
    p.add_argument("--epochs", type=positive_int, default=None, help="classifier epochs (profile)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="classifier batch (32)")
    p.add_argument("--lr", type=bounded(float, 0, low_open=True), default=None, help="Adam rate (1e-3)")
    p.add_argument("--design", choices=DESIGNS, default=None,
                   help="redraw: every classifier re-draws its k-shot and validation images (dagan_torch, "
                        "default); paired: one validation split, and per repeat one k-subset and seed for both arms")
    p.add_argument("--noise-std", type=bounded(float, 0), default=None,
                   help="std of the Gaussian noise added to training images on [-1, 1] "
                        "(0.2 = dagan_torch's 0.1 on [0, 1]; 0 = none)")
    p.add_argument("--flip", action=cli.argparse.BooleanOptionalAction, default=None,
                   help="random horizontal flip of training images (default on, as dagan_torch)")
    p.add_argument("--variety-sources", type=bounded(int, 2), default=None,
                   help="held-out source images of the variety metric (100; at least 2)")
    p.add_argument("--variety-draws", type=bounded(int, 2), default=None,
                   help="noise vectors per source of the variety metric (8; at least 2)")
    p.add_argument("--variety-only", action="store_true",
                   help="only the variety ratio, the class-kept share and variety.png (into RUN_DIR/variety.json, "
                        "and their two rows of headline.json; the other rows and metrics.json stay): seconds")
    return p


def classifier(image_shape, num_classes, kind="cnn", widths=(32, 64), head_units=20, noise_std=0.2,
               image_size=None, flip=True):
    """A classifier of (image, real/generated flag): features, then [features, flag] -> Dense ->
    BatchNorm -> Dense (dagan_torch's head). kind "cnn": two [conv, conv, pool] stages per width;
    "densenet": torchvision's DenseNet layout (growth 16, blocks 3,3,3,3, dropout 0.3) at image_size.
    In training mode only, the input gets Gaussian noise of std `noise_std` and, with `flip`, a random
    horizontal flip (dagan_torch's train transform: noise, then flip)."""
    import keras
    from keras import layers
    def norm():
        # PyTorch's BatchNorm (dagan_torch): momentum 0.1 = Keras 0.9. Keras' 0.99 would leave the
        # moving statistics far from the data after the few hundred steps of a few-shot training.
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    image = keras.Input(image_shape, name="image")
    flag = keras.Input((1,), name="real_flag")
    x = layers.GaussianNoise(noise_std)(image) if noise_std else image
    x = layers.RandomFlip("horizontal")(x) if flip else x
    if kind == "cnn":
        for width in widths:
            for _ in range(2):
                x = layers.ReLU()(norm()(layers.Conv2D(width, 3, padding="same")(x)))
            x = layers.MaxPooling2D()(x)
    elif kind == "densenet":
        if image_size:
            x = layers.Resizing(image_size, image_size)(x)
        x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False)(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(layers.ReLU()(norm()(x)))
        for block in range(4):
            for _ in range(3):
                y = layers.ReLU()(norm()(x))
                y = layers.Conv2D(4 * 16, 1, use_bias=False)(y)
                y = layers.ReLU()(norm()(y))
                y = layers.Dropout(0.3)(layers.Conv2D(16, 3, padding="same", use_bias=False)(y))
                x = layers.Concatenate()([x, y])
            if block < 3:
                x = layers.ReLU()(norm()(x))
                x = layers.AveragePooling2D(2)(layers.Conv2D(x.shape[-1] // 2, 1, use_bias=False)(x))
        x = layers.ReLU()(norm()(x))
    else:
        raise ValueError(f"unknown classifier {kind!r}")
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), flag])
    x = norm()(layers.Dense(head_units)(x))
    return keras.Model([image, flag], layers.Dense(num_classes)(x), name="classifier")


def splits(labels, classes, val_per_class, seed):
    """Per class (relabelled 0..n-1): (pool of training candidates, validation indices)."""
    rng = np.random.default_rng(seed)
    pools, val = [], []
    for c in classes:
        members = rng.permutation(np.flatnonzero(labels == c))
        pools.append(members[:-val_per_class])
        val.append(members[-val_per_class:])
    return pools, np.concatenate(val)


class Trainer:
    """One classifier graph reused for every training (tracing a new one each time would cost more
    than the training itself on a CPU): `train` re-draws the weights (Keras' default Glorot-uniform
    kernels, from a NumPy generator seeded by `seed`), zeroes the optimizer state and trains."""

    def __init__(self, image_shape, num_classes, config, generator=None):
        import keras
        import tensorflow as tf
        self.config = config
        self.model = classifier(image_shape, num_classes, config["classifier"], config["widths"],
                                config["head_units"], config["noise_std"], config.get("image_size"),
                                config["flip"])
        self.optimizer = keras.optimizers.Adam(config["lr"], beta_1=0.9, beta_2=0.99)
        self.optimizer.build(self.model.trainable_variables)
        self.initial = [v.numpy() for v in self.model.variables]
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        spec = [tf.TensorSpec((None, *image_shape), tf.float32), tf.TensorSpec((None,), tf.int64),
                tf.TensorSpec((None, 1), tf.float32)]
        model, optimizer = self.model, self.optimizer

        batches = [tf.TensorSpec((None, None, *image_shape), tf.float32),
                   tf.TensorSpec((None, None), tf.int64), tf.TensorSpec((None, None, 1), tf.float32)]

        @tf.function(input_signature=batches)
        def fit(images, labels, flags):
            """Every step of a training in one graph call (a Python loop of steps is slow here)."""
            for s in tf.range(tf.shape(images)[0]):
                with tf.GradientTape() as tape:
                    loss = loss_fn(labels[s], model([images[s], flags[s]], training=True))
                optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)

        @tf.function(input_signature=spec[:1] + [spec[2]])
        def predict(images, flags):
            return tf.argmax(model([images, flags], training=False), axis=1)

        self.fit, self.predict, self.generate = fit, predict, None
        if generator is not None:
            self.z_dim = generator.inputs[1].shape[-1]

            @tf.function(input_signature=spec[:1] + [tf.TensorSpec((None, self.z_dim), tf.float32)])
            def generate(images, z):
                return generator([images, z], training=False)
            self.generate = generate

    def reset(self, rng):
        for variable, value in zip(self.model.variables, self.initial):
            if "seed_generator" in variable.path:
                value = np.array([rng.integers(2 ** 30), 0], dtype=value.dtype)
            elif value.ndim >= 2:    # kernels: fan-in/fan-out Glorot uniform
                receptive = int(np.prod(value.shape[:-2])) if value.ndim > 2 else 1
                limit = np.sqrt(6 / (receptive * (value.shape[-2] + value.shape[-1])))
                value = rng.uniform(-limit, limit, value.shape).astype(value.dtype)
            variable.assign(value)
        for variable in self.optimizer.variables:
            if "learning_rate" not in variable.path:
                variable.assign(np.zeros(variable.shape, variable.dtype))

    def train(self, x, y, x_val, y_val, seed, augment=False):
        """Train from fresh weights; with `augment`, every other batch is passed through the generator
        (flag 0 instead of 1), so both arms take the same number of steps. Returns the validation
        accuracy after the last epoch."""
        seed = [int(v) for v in np.atleast_1d(seed)]
        rng = np.random.default_rng(seed)
        self.reset(np.random.default_rng(seed + [1]))   # the same initial weights for both arms
        # The epochs' shuffled orders, chained and cut into equal batches (ceil(n / batch) per epoch).
        batch = min(self.config["batch_size"], len(x))
        steps = self.config["epochs"] * -(-len(x) // batch)
        order = np.concatenate([rng.permutation(len(x)) for _ in range(-(-steps * batch // len(x)))])
        order = order[:steps * batch].reshape(steps, batch)
        images = x[order].astype("float32") / 127.5 - 1
        flags = np.ones((steps, batch, 1), "float32")
        if augment and steps > 1:   # steps 1, 3, 5, ... are generated
            odd = images[1::2]
            z = rng.standard_normal((odd.shape[0] * batch, self.z_dim)).astype("float32")
            flat = odd.reshape(-1, *x.shape[1:])
            fake = np.concatenate([self.generate(flat[i:i + 1024], z[i:i + 1024]).numpy()
                                   for i in range(0, len(flat), 1024)])
            images[1::2] = fake.reshape(odd.shape)
            flags[1::2] = 0
        self.fit(images, y[order], flags)
        xv = x_val.astype("float32") / 127.5 - 1
        predicted = np.concatenate([self.predict(xv[i:i + 512], np.ones((len(xv[i:i + 512]), 1), "float32")).numpy()
                                    for i in range(0, len(xv), 512)])
        return float(np.mean(predicted == y_val))


def splits_redrawn(labels, classes, k, val_per_class, rng):
    """dagan_torch's draw for one classifier: each class's images shuffled afresh, the first k train and
    the last `val_per_class` validate. Returns (training indices, validation indices)."""
    train, val = [], []
    for c in classes:
        members = rng.permutation(np.flatnonzero(labels == c))
        train.append(members[:k])
        val.append(members[-val_per_class:])
    return np.concatenate(train), np.concatenate(val)


def variety_sources(labels, classes, count, seed):
    """Indices of `count` held-out images: one image of every class in turn (each class shuffled), so
    that the sources are as many different characters as possible."""
    rng = np.random.default_rng(seed)
    members = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    ranked = [m[rank] for rank in range(max(len(m) for m in members)) for m in members if rank < len(m)]
    return np.asarray(ranked[:count])


def generations(generate, sources, z_dim, seed, draws):
    """G(x, z) for `draws` independent z per source: (sources, draws, H, W, C) on [-1, 1]."""
    x = np.repeat(np.asarray(sources, "float32") / 127.5 - 1, draws, axis=0)
    z = np.random.default_rng(seed).standard_normal((len(x), z_dim)).astype("float32")
    g = np.concatenate([np.asarray(generate(x[i:i + 1024], z[i:i + 1024])) for i in range(0, len(x), 1024)])
    return g.reshape(len(sources), draws, *g.shape[1:])


def variety(generated):
    """How much G's output depends on z, from generations (sources, draws, ...) on [-1, 1].

    Distance: mean absolute pixel difference. `within`: between two generations of one source (all
    pairs of draws), averaged over sources; `between`: between generations of two different sources
    (each source's first draw, all pairs); `ratio` = within / between: 0 when G ignores z, about 1 when
    z changes a generation as much as another source does. Also the older per-pixel standard deviations
    (over draws, and over sources at the first draw)."""
    g = np.asarray(generated, "float64")
    n, draws = g.shape[:2]
    if n < 2 or draws < 2:
        raise ValueError(f"variety needs at least 2 sources and 2 draws, got {n} and {draws}")
    g = g.reshape(n, draws, -1)
    a, b = np.triu_indices(draws, 1)
    within = float(np.abs(g[:, a] - g[:, b]).mean())
    first = g[:, 0]
    # a loop over sources keeps memory at one (sources x pixels) array
    between = float(sum(np.abs(first[i + 1:] - first[i]).mean(axis=1).sum() for i in range(n - 1))
                    / (n * (n - 1) / 2))
    return {"within": within, "between": between, "ratio": within / between if between > 0 else float("nan"),
            "pixel_std_over_z": float(g.std(axis=1).mean()), "pixel_std_over_sources": float(first.std(axis=0).mean()),
            "draws": int(draws), "sources": int(n), "distance": "mean |difference| per pixel on [-1, 1]"}


def class_kept(generated, picked, images, labels, classes):
    """Do generations keep their source's character? The share of generations whose nearest held-out
    real image (pixel L2 on [-1, 1], over every image of the held-out classes but the source itself) is
    of the source's class, beside the same share for the real sources themselves: the ceiling of this
    nearest-neighbour test (pixels are a crude feature) and `chance` = 1 / classes."""
    pool = np.flatnonzero(np.isin(labels, classes))
    ref = images[pool].reshape(len(pool), -1).astype("float32") / 127.5 - 1
    ref_sq = (ref ** 2).sum(axis=1)
    own = np.searchsorted(pool, picked)           # each source's row in the pool (pool is sorted)
    truth = labels[picked]

    def nearest(x):                               # x: (sources, pixels), one per source
        d = ref_sq[None] - 2 * x @ ref.T          # |x - r|^2 up to a per-row constant
        d[np.arange(len(x)), own] = np.inf
        return labels[pool[d.argmin(axis=1)]]
    g = np.asarray(generated, "float32").reshape(len(picked), generated.shape[1], -1)
    kept = np.mean([nearest(g[:, j]) == truth for j in range(g.shape[1])])
    return {"generated": float(kept), "real": float(np.mean(nearest(ref[own]) == truth)),
            "chance": 1.0 / len(classes), "test": "nearest held-out real image (pixel L2) has the source's class"}


def options_suffix(train_config):
    """The GAN's options beyond the originals, named in its claims so that its rows do not replace
    the originals' design's."""
    options = ([f"MSGAN lambda {train_config['ms_lambda']:g}, {train_config.get('ms_dropout')} dropout"]
               if train_config.get("ms_lambda") else []) + (
        [f"matching-aware critic {train_config['mismatch']:g}"
         + (", penalised on both lines" if train_config.get("mismatch_gp") else "")] if train_config.get("mismatch") else []) + (
        ["pairs rotated, as the TF original"] if train_config.get("rotate") else [])
    # a critic other than the profile's (its capacity to judge pairs is a measured question, issue #21)
    layers = train_config.get("critic_inner_layers")
    if train_config.get("critic_widths") or layers != TRAIN_PROFILES.get(train_config.get("profile"), {}).get(
            "critic_inner_layers", layers):
        widths = ",".join(map(str, train_config.get("critic_widths") or train_config["widths"]))
        options.append(f"critic widths {widths}, {_count(layers, 'inner layer')}")
    dropout = train_config.get("critic_dropout")
    if dropout is not None and dropout != TRAIN_PROFILES.get(train_config.get("profile"), {}).get("critic_dropout", dropout):
        options.append(f"critic dropout {dropout:g}")
    return f" ({'; '.join(options)})" if options else ""


def _count(n, unit):
    return f"{n:,} {unit}{'s' * (n != 1)}"


def claim_suffix(train_config, classifier_epochs=None, epochs=None):
    """What a claim adds to its measure so that runs of other budgets do not replace its row: the
    generator's iterations (`epochs` trained, by default its config's, x steps per epoch; left out
    when unknown), the few-shot classifier's epochs, then the GAN's options (options_suffix)."""
    epochs, steps = epochs or train_config.get("epochs"), train_config.get("steps_per_epoch")
    budget = [_count(epochs * steps, "generator iteration")] if epochs and steps else []
    budget += [_count(classifier_epochs, "classifier epoch")] if classifier_epochs else []
    return "".join(f", {b}" for b in budget) + options_suffix(train_config)


def variety_rows(spread, kept, suffix):
    return [{"paper": "DAGAN",
             "metric": f"variety ratio (distance between generations of one source over z / between sources), "
                       f"{spread['sources']} held-out sources x {spread['draws']} z{suffix}",
             "paper_value": None, "value": spread["ratio"], "target": ">= 0.3",
             "notes": f"within {spread['within']:.4f}, between {spread['between']:.4f}; 0 = G ignores z"},
            {"paper": "DAGAN",
             "metric": f"generations that keep their source's character (nearest held-out real image of its "
                       f"class), {spread['sources']} held-out sources x {spread['draws']} z{suffix}",
             "paper_value": None, "value": kept["generated"],
             "notes": f"real sources {kept['real']:.3f} (the test's ceiling), chance {kept['chance']:.3f}"}]


def merge_headline(run_dir, rows):
    """These rows into RUN_DIR/headline.json in place of the same claims; the other rows (a few-shot
    evaluation's) stay, each with the command that made it."""
    path = Path(run_dir) / "headline.json"
    new = [dict(r, command=cli.command_line()) for r in rows]
    claims = {r["metric"] for r in new}
    old = cli.read_json(path, "headline file") if path.exists() else []
    cli.write_json_atomic(path, [r for r in old if r["metric"] not in claims] + new)


def save_variety_grid(sources, generated, path):
    """Rows: a source (uint8), then its generations over z."""
    from common import plots
    rows, draws = min(GRID_SOURCES, len(sources)), min(GRID_DRAWS, generated.shape[1])
    images = np.concatenate([np.asarray(sources[:rows], "float32")[:, None] / 127.5 - 1,
                             generated[:rows, :draws]], axis=1)
    plots.image_grid(images, path, col_labels=["source"] + [f"z {i + 1}" for i in range(draws)],
                     title="DAGAN on held-out sources: source, then generations over z")


def _welch(with_aug, without, alternative):
    from scipy import stats
    with_aug, without = np.asarray(with_aug), np.asarray(without)
    if len(with_aug) < 2 or len(without) < 2 or (np.ptp(with_aug) == 0 and np.ptp(without) == 0):
        return float("nan")
    with warnings.catch_warnings():   # near-identical samples: scipy warns, the p-value stays usable
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(1 - stats.ttest_ind(with_aug, without, equal_var=False, alternative=alternative).pvalue)


def confidence(with_aug, without):
    """1 - p of a one-sided Welch t-test that accuracy with augmentation is higher."""
    return _welch(with_aug, without, "greater")


def confidence_two_sided(with_aug, without):
    """1 - p of the two-sided Welch t-test, as dagan_torch prints it: also near 1 when augmentation is
    significantly *worse*, so read it beside the means."""
    return _welch(with_aug, without, "two-sided")


def table(shots, results, title=None):
    """dagan_torch's table: samples per class, accuracy without / with, confidence (percent)."""
    pct = lambda v: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"  # noqa: E731
    rows = [("Samples per class", [str(k) for k in shots]),
            ("Acc. w/o DAGAN", [pct(results[k]["without_mean"]) for k in shots]),
            ("Acc. w/ DAGAN", [pct(results[k]["with_mean"]) for k in shots]),
            ("Confidence that augmentations are better (one-sided Welch)",
             [pct(results[k].get("confidence")) for k in shots]),
            ("Confidence, two-sided Welch (dagan_torch's statistic)",
             [pct(results[k].get("confidence_two_sided")) for k in shots])]
    lines = [f"**{title}**", ""] if title else []
    lines.append("| " + " | ".join([rows[0][0], *rows[0][1]]) + " |")
    lines.append("|" + "---|" * (len(shots) + 1))
    lines += ["| " + " | ".join([name, *cells]) + " |" for name, cells in rows[1:]]
    return "\n".join(lines) + "\n"


def load_run(run_dir):
    run_dir = Path(run_dir)
    config_path = run_dir / cli.CONFIG_FILE
    if not config_path.exists():
        raise UserError(f"{run_dir} is not a dagan.train run directory (no config.json)")
    if not (run_dir / "generator.keras").exists():
        raise UserError(f"{run_dir} holds no generator.keras: train it first (python -m dagan.train ...)")
    return run_dir, cli.read_config(run_dir)


def eval_classes(config, train_config, labels):
    if config["eval_classes"]:
        first, end = config["eval_classes"]
    elif train_config["dataset"] == "omniglot":
        first, end = OMNIGLOT_EVAL
    else:
        from dagan.data import split_classes
        held_out = split_classes(train_config, labels)[2]
        if not len(held_out):
            raise UserError("the run trained on every class of its folder: pass --eval-classes FIRST:END")
        first, end = held_out.start, held_out.stop
    n = int(labels.max()) + 1
    if end > n:
        raise UserError(f"--eval-classes {first}:{end} goes past the dataset's {n} classes")
    return list(range(first, end))


@cli.main
def main(argv=None):
    args = cli.parse_args(parser(), argv, PROFILES)
    run_dir, train_config = load_run(args.run_dir)
    trained = cli.epochs_done(run_dir)      # the checkpoint's epochs: the budget the claims name
    config = dict(PROFILES[args.profile])
    config.update({k: v for k, v in vars(args).items() if v is not None and k != "run_dir"})
    from dagan.data import load
    images, labels = load(train_config, datasets.data_dir(args.data_dir))
    classes = eval_classes(config, train_config, labels)
    counts = np.bincount(labels, minlength=int(labels.max()) + 1)[classes]
    available = int(counts.min()) - config["val_per_class"]
    if not config["variety_only"] and max(config["shots"]) > available:
        raise UserError(f"k = {max(config['shots'])} is larger than the {max(available, 0)} training images "
                        f"available per class (class {classes[int(np.argmin(counts))]} has {counts.min()} "
                        f"images, {config['val_per_class']} of them for validation): lower --shots")

    import keras

    from dagan import models  # noqa: F401  (registers PairedDropout, which a generator may hold)
    generator = keras.models.load_model(run_dir / "generator.keras", compile=False)
    relabel = {c: i for i, c in enumerate(classes)}
    trainer = Trainer(images.shape[1:], len(classes), config, generator)

    picked = variety_sources(labels, classes, config["variety_sources"], [config["seed"], 7])
    generated = generations(trainer.generate, images[picked], trainer.z_dim, config["seed"], config["variety_draws"])
    spread = variety(generated)
    save_variety_grid(images[picked], generated, run_dir / "variety.png")
    kept = class_kept(generated, picked, images, labels, classes)
    print(f"generator variety on {spread['sources']} held-out sources x {spread['draws']} z (mean |difference| "
          f"per pixel on [-1, 1]): within a source {spread['within']:.4f}, between sources "
          f"{spread['between']:.4f}, variety ratio {spread['ratio']:.4f}; class kept (nearest real image of "
          f"the source's class): generations {kept['generated']:.3f}, real sources {kept['real']:.3f}, "
          f"chance {kept['chance']:.3f}", flush=True)
    if config["variety_only"]:
        cli.write_json_atomic(run_dir / "variety.json", {"generator_variety": spread, "class_kept": kept})
        merge_headline(run_dir, variety_rows(spread, kept, claim_suffix(train_config, epochs=trained)))
        return None

    if config["design"] == "paired":
        pools, val = splits(labels, classes, config["val_per_class"], config["seed"])

    def draw(k, r, arm):
        """(training indices, validation indices, classifier seed) of one classifier."""
        if config["design"] == "paired":    # one k-subset and seed per repeat, shared by both arms
            rng = np.random.default_rng([config["seed"], k, r])
            idx = np.concatenate([rng.choice(pool, k, replace=False) for pool in pools])
            return idx, val, [config["seed"], k, r, 1]
        arm_id = ("without", "with").index(arm)
        rng = np.random.default_rng([config["seed"], k, r, 2, arm_id])
        return (*splits_redrawn(labels, classes, k, config["val_per_class"], rng), [config["seed"], k, r, 3, arm_id])

    results, started = {}, time.perf_counter()
    # a classifier's steps grow with k (k images per class): the ETA weighs each repeat by k
    progress = Progress(len(config["shots"]) * config["repeats"], work=sum(config["shots"]) * config["repeats"])
    for k in config["shots"]:
        accs = {"without": [], "with": []}
        for r in range(config["repeats"]):
            for arm in ("without", "with"):
                idx, val_idx, seed = draw(k, r, arm)
                y = np.array([relabel[c] for c in labels[idx]])
                y_val = np.array([relabel[c] for c in labels[val_idx]])
                accs[arm].append(trainer.train(images[idx], y, images[val_idx], y_val, seed, arm == "with"))
            progress.step(f"k={k} repeat {r + 1}/{config['repeats']}: without {accs['without'][-1]:.3f}, "
                          f"with {accs['with'][-1]:.3f}", work=k)
        results[k] = {"without": accs["without"], "with": accs["with"],
                      "without_mean": float(np.mean(accs["without"])), "with_mean": float(np.mean(accs["with"])),
                      "without_std": float(np.std(accs["without"])), "with_std": float(np.std(accs["with"])),
                      "confidence": confidence(accs["with"], accs["without"]),
                      "confidence_two_sided": confidence_two_sided(accs["with"], accs["without"])}
    seconds = time.perf_counter() - started
    shots = list(config["shots"])
    text = table(shots, results, f"DAGAN few-shot ({len(classes)} classes, {config['repeats']} repeats, "
                                 f"design {config['design']}, profile {args.profile})")
    text += (f"\nVariety on {spread['sources']} held-out sources x {spread['draws']} z: within a source "
             f"{spread['within']:.4f}, between sources {spread['between']:.4f}, ratio {spread['ratio']:.4f} "
             f"(variety.png)\n")
    # dagan_torch's published confidence is its two-sided statistic
    published = {k + 1: {"without_mean": PUBLISHED["without"][k] / 100, "with_mean": PUBLISHED["with"][k] / 100,
                         "confidence_two_sided": PUBLISHED["confidence"][k] / 100} for k in range(5)}
    text += "\n" + table([1, 2, 3, 4, 5], published, "dagan_torch README (published)")
    print(text)
    (run_dir / "fewshot.md").write_text(text)
    cli.write_json_atomic(run_dir / "metrics.json", {
        "protocol": "dagan_torch few-shot", "classes": [classes[0], classes[-1] + 1],
        "config": config, "seconds": round(seconds, 1), "generator_variety": spread,
        "variety_within": spread["within"], "variety_between": spread["between"],
        "variety_ratio": spread["ratio"], "class_kept": kept, "results": {str(k): v for k, v in results.items()},
        "training_throughput": throughput.read(run_dir)})
    rows = []
    suffix = claim_suffix(train_config, config["epochs"], trained)
    for k in shots:
        paper = published.get(k)
        gain = results[k]["with_mean"] - results[k]["without_mean"]
        rows.append({"paper": "DAGAN", "metric": f"accuracy gain with DAGAN, {k}-shot{suffix}",
                     "paper_value": None if paper is None else paper["with_mean"] - paper["without_mean"],
                     "value": gain, "target": "> 0", "notes": "with - without"})
        rows.append({"paper": "DAGAN", "metric": f"two-sided Welch confidence (dagan_torch's statistic), {k}-shot{suffix}",
                     "paper_value": None if paper is None else paper["confidence_two_sided"],
                     "value": results[k]["confidence_two_sided"],
                     "notes": "high also when augmentation is significantly worse: the target (>= 0.95) "
                              "holds only together with a gain > 0"})
        for arm in ("with", "without"):
            rows.append({"paper": "DAGAN",
                         "metric": f"accuracy {arm} DAGAN, {k}-shot, {len(classes)} held-out classes (dagan_torch protocol){suffix}",
                         "paper_value": None if paper is None else paper[f"{arm}_mean"],
                         "value": results[k][f"{arm}_mean"],
                         "notes": f"profile {args.profile}, design {config['design']}, {config['repeats']} "
                                  f"repeats; confidence augmentation is better (one-sided): "
                                  f"{results[k]['confidence']:.3f}; two-sided (dagan_torch): "
                                  f"{results[k]['confidence_two_sided']:.3f}"})
    cli.write_headline(run_dir, rows + variety_rows(spread, kept, claim_suffix(train_config, epochs=trained)))
    return results


if __name__ == "__main__":
    main()
