"""dagan_torch's few-shot protocol: does DAGAN augmentation help a classifier of unseen classes?

    python -m dagan.evaluate RUN_DIR --profile quick --data-dir ../shared/data

Held-out classes (Omniglot 1420-1519, never seen by the GAN): each class's images are shuffled once,
the last 5 validate; for k = 1..5 and each of 10 repeats, k training images per class are drawn
afresh from the rest. Two classifiers are trained per (k, repeat) with the same seed and step count:
without augmentation, and with every other batch passed through the generator (flag input 0 for
generated, 1 for real images). A one-sided Welch t-test (scipy) over the repeats gives the confidence
1 - p that augmentation is better. Also measured: how much the generations vary with z (`variety`).
Writes RUN_DIR/fewshot.md, metrics.json and headline.json.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from common import cli, datasets  # noqa: E402
from common.cli import bounded, positive_int  # noqa: E402
from common.errors import UserError  # noqa: E402

# dagan_torch README: accuracy without / with DAGAN and the confidence, for k = 1..5
PUBLISHED = {"without": [16.4, 29.0, 46.5, 57.8, 67.1], "with": [19.2, 39.4, 52.0, 65.3, 69.5],
             "confidence": [97.6, 99.9, 97.4, 97.8, 60.7]}
SHARED = dict(eval_classes=None, shots=(1, 2, 3, 4, 5), repeats=10, val_per_class=5, batch_size=32,
              lr=1e-3, noise_std=0.1, head_units=20)
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
    return p


def classifier(image_shape, num_classes, kind="cnn", widths=(32, 64), head_units=20, noise_std=0.1,
               image_size=None):
    """A classifier of (image, real/generated flag): features, then [features, flag] -> Dense ->
    BatchNorm -> Dense (dagan_torch's head). kind "cnn": two [conv, conv, pool] stages per width;
    "densenet": torchvision's DenseNet layout (growth 16, blocks 3,3,3,3, dropout 0.3) at image_size."""
    import keras
    from keras import layers
    def norm():
        # PyTorch's BatchNorm (dagan_torch): momentum 0.1 = Keras 0.9. Keras' 0.99 would leave the
        # moving statistics far from the data after the few hundred steps of a few-shot training.
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    image = keras.Input(image_shape, name="image")
    flag = keras.Input((1,), name="real_flag")
    x = layers.GaussianNoise(noise_std)(image) if noise_std else image
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
                                config["head_units"], config["noise_std"], config.get("image_size"))
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


def variety(generate, sources, z_dim, seed, draws=8):
    """Mean per-pixel standard deviation of G(x, z) over `draws` noise vectors per source, and over the
    sources at one z. A generator that ignores z (as an under-trained DAGAN does) scores ~0 on the first,
    and then augmentation adds no variety beyond the source image."""
    x = np.repeat(np.asarray(sources, "float32") / 127.5 - 1, draws, axis=0)
    z = np.random.default_rng(seed).standard_normal((len(x), z_dim)).astype("float32")
    g = np.concatenate([generate(x[i:i + 1024], z[i:i + 1024]).numpy() for i in range(0, len(x), 1024)])
    g = g.reshape(len(sources), draws, -1)
    return {"pixel_std_over_z": float(g.std(axis=1).mean()),
            "pixel_std_over_sources": float(g[:, 0].std(axis=0).mean()), "draws": draws, "sources": len(sources)}


def confidence(with_aug, without):
    """1 - p of a one-sided Welch t-test that accuracy with augmentation is higher."""
    from scipy import stats
    with_aug, without = np.asarray(with_aug), np.asarray(without)
    if len(with_aug) < 2 or (np.ptp(with_aug) == 0 and np.ptp(without) == 0):
        return float("nan")
    with warnings.catch_warnings():   # near-identical samples: scipy warns, the p-value stays usable
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(1 - stats.ttest_ind(with_aug, without, equal_var=False, alternative="greater").pvalue)


def table(shots, results, title=None):
    """dagan_torch's table: samples per class, accuracy without / with, confidence (percent)."""
    pct = lambda v: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"  # noqa: E731
    rows = [("Samples per class", [str(k) for k in shots]),
            ("Acc. w/o DAGAN", [pct(results[k]["without_mean"]) for k in shots]),
            ("Acc. w/ DAGAN", [pct(results[k]["with_mean"]) for k in shots]),
            ("Confidence that augmentations are better", [pct(results[k]["confidence"]) for k in shots])]
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
        from dagan.train import split_classes
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
    args = parser().parse_args(argv)
    run_dir, train_config = load_run(args.run_dir)
    config = dict(PROFILES[args.profile])
    config.update({k: v for k, v in vars(args).items() if v is not None and k != "run_dir"})
    from dagan.train import load
    images, labels = load(train_config, datasets.data_dir(args.data_dir))
    classes = eval_classes(config, train_config, labels)
    counts = np.bincount(labels, minlength=int(labels.max()) + 1)[classes]
    available = int(counts.min()) - config["val_per_class"]
    if max(config["shots"]) > available:
        raise UserError(f"k = {max(config['shots'])} is larger than the {max(available, 0)} training images "
                        f"available per class (class {classes[int(np.argmin(counts))]} has {counts.min()} "
                        f"images, {config['val_per_class']} of them for validation): lower --shots")

    import keras
    generator = keras.models.load_model(run_dir / "generator.keras", compile=False)
    relabel = {c: i for i, c in enumerate(classes)}
    pools, val = splits(labels, classes, config["val_per_class"], config["seed"])
    trainer = Trainer(images.shape[1:], len(classes), config, generator)
    y_val = np.array([relabel[c] for c in labels[val]])
    spread = variety(trainer.generate, images[val], trainer.z_dim, config["seed"])
    print(f"generator variety on the {spread['sources']} validation images (pixels in [-1, 1]): std over z "
          f"{spread['pixel_std_over_z']:.3f}, over sources {spread['pixel_std_over_sources']:.3f}", flush=True)
    results, started = {}, time.perf_counter()
    for k in config["shots"]:
        accs = {"without": [], "with": []}
        for r in range(config["repeats"]):
            rng = np.random.default_rng([config["seed"], k, r])
            idx = np.concatenate([rng.choice(pool, k, replace=False) for pool in pools])
            y = np.array([relabel[c] for c in labels[idx]])
            seed = [config["seed"], k, r, 1]
            for arm in ("without", "with"):
                accs[arm].append(trainer.train(images[idx], y, images[val], y_val, seed, arm == "with"))
            print(f"k={k} repeat {r + 1}/{config['repeats']}: without {accs['without'][-1]:.3f}, "
                  f"with {accs['with'][-1]:.3f}", flush=True)
        results[k] = {"without": accs["without"], "with": accs["with"],
                      "without_mean": float(np.mean(accs["without"])), "with_mean": float(np.mean(accs["with"])),
                      "without_std": float(np.std(accs["without"])), "with_std": float(np.std(accs["with"])),
                      "confidence": confidence(accs["with"], accs["without"])}
    seconds = time.perf_counter() - started
    shots = list(config["shots"])
    text = table(shots, results, f"DAGAN few-shot ({len(classes)} classes, {config['repeats']} repeats, "
                                 f"profile {args.profile})")
    published = {k + 1: {"without_mean": PUBLISHED["without"][k] / 100, "with_mean": PUBLISHED["with"][k] / 100,
                         "confidence": PUBLISHED["confidence"][k] / 100} for k in range(5)}
    text += "\n" + table([1, 2, 3, 4, 5], published, "dagan_torch README (published)")
    print(text)
    (run_dir / "fewshot.md").write_text(text)
    cli.write_json_atomic(run_dir / "metrics.json", {
        "protocol": "dagan_torch few-shot", "classes": [classes[0], classes[-1] + 1],
        "config": config, "seconds": round(seconds, 1), "generator_variety": spread,
        "results": {str(k): v for k, v in results.items()}})
    rows = []
    for k in shots:
        paper = published.get(k)
        for arm in ("with", "without"):
            rows.append({"paper": "DAGAN",
                         "metric": f"accuracy {arm} DAGAN, {k}-shot, {len(classes)} held-out classes (dagan_torch protocol)",
                         "paper_value": None if paper is None else paper[f"{arm}_mean"],
                         "value": results[k][f"{arm}_mean"],
                         "notes": f"profile {args.profile}, {config['repeats']} repeats; confidence "
                                  f"augmentation is better: {results[k]['confidence']:.3f}"})
    cli.write_json_atomic(run_dir / "headline.json", rows)
    return results


if __name__ == "__main__":
    main()
