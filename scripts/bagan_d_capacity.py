"""How well can BAGAN's discriminator classify a run's classes at all? (issue #20, GTSRB)

    python scripts/bagan_d_capacity.py RUN_DIR --width 0.25 --lr 5e-5 --steps 7000 [--init] [--augment tc] [--trunk reference]

D's architecture (the trunk + its (K+1)-way softmax head, bagan/models.py) trained as a plain
classifier on the run's training images, no GAN: the adversarial phase's Adam(lr, beta_1 0.5),
batch and class-balanced batches. Every 1,000 steps it prints the test accuracy (all images and the
mean over classes). G is trained to satisfy D's class head, so this is the class knowledge a
generator of this run can at best be held to. --init starts the trunk from the run's trained encoder
(as the adversarial phase does); --augment adds random translation (t, up to 1/8 of the side, as
DiffAugment's) and/or brightness and contrast (c) to the training batches. --trunk picks D's trunk
(default: the run's): reference = the reference classifier's design (bagan/models.py; at width 0.25
common.metrics.classifier.build_cnn's layers) under the same optimiser: would such a D know the classes?
"""
import time
from pathlib import Path

# common first: importing it keeps TensorFlow's start-up lines off the terminal (common/__init__.py)
from common import cli, datasets, pipeline
from common.errors import UserError

import numpy as np


def parser():
    p = cli.ArgumentParser(prog="scripts/bagan_d_capacity.py", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", help="a bagan/train.py result directory (its data and, with --init, its encoder)")
    p.add_argument("--width", type=cli.bounded(float, 0, low_open=True), default=None, help="default: the run's")
    p.add_argument("--lr", type=cli.bounded(float, 0, low_open=True), default=None, help="default: the run's")
    p.add_argument("--steps", type=cli.bounded(int, 1000), default=7000, help="a multiple of 1,000 is measured")
    p.add_argument("--init", action="store_true", help="trunk from the run's encoder")
    p.add_argument("--augment", choices=("", "t", "c", "tc"), default="",
                   help="t = translation, c = brightness/contrast, tc = both")
    p.add_argument("--trunk", choices=("bagan", "reference"), default=None,
                   help="D's trunk (bagan/models.py; default: the run's)")
    p.add_argument("--seed", type=cli.seed, default=0)
    return p


def translate(x, frac=0.125):
    """Each image shifted by up to frac of its side, zero padding (DiffAugment's translation)."""
    import tensorflow as tf
    b, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
    p = int(h * frac + 0.5)
    padded = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])
    rows = tf.random.uniform([b], 0, 2 * p + 1, tf.int32)[:, None] + tf.range(h)[None]
    cols = tf.random.uniform([b], 0, 2 * p + 1, tf.int32)[:, None] + tf.range(w)[None]
    return tf.gather(tf.gather(padded, rows, batch_dims=1), cols, axis=2, batch_dims=1)


def colour(x):
    """Random brightness (+-0.5 on [-1, 1]) and contrast (x0.5-1.5) per image."""
    import tensorflow as tf
    b = tf.shape(x)[0]
    x = x + tf.random.uniform([b, 1, 1, 1], -0.5, 0.5)
    mean = tf.reduce_mean(x, [1, 2, 3], keepdims=True)
    return (x - mean) * tf.random.uniform([b, 1, 1, 1], 0.5, 1.5) + mean


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    import keras
    from bagan import models
    from bagan.run import load_data, training_subset
    from bagan.sampling import load_run

    run = Path(args.run_dir)
    config = load_run(run)              # one line and exit 2 for a directory bagan/train.py did not write
    tag = "all" if config.get("keep_imbalance") else str(config["target_class"])
    needed = [run / f"{tag}_kept_indices.npy"] + ([run / f"{tag}_encoder.weights.h5"] if args.init else [])
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise UserError(f"{run} has no {', '.join(missing)}: its autoencoder phase has not finished")
    width = config["width"] if args.width is None else args.width
    trunk = config.get("trunk", "bagan") if args.trunk is None else args.trunk
    if args.init and (trunk, width) != (config.get("trunk", "bagan"), config["width"]):
        raise UserError("--init loads the run's encoder: it needs the run's --trunk and --width")
    lr = config["lr"] if args.lr is None else args.lr
    k, shape = config["num_classes"], tuple(config["image_shape"])
    train, test = load_data(config, datasets.data_dir(config.get("data_dir")))[:2]
    train = training_subset(train, config)
    kept = np.load(run / f"{tag}_kept_indices.npy")
    keras.utils.set_random_seed(args.seed)
    d = models.build_discriminator(shape, k, width=width, trunk=trunk)
    if args.init:
        encoder = models.build_encoder(shape, width=width, trunk=trunk)
        encoder.load_weights(run / f"{tag}_encoder.weights.h5")
        models.copy_trunk(encoder, d)
    d.compile(keras.optimizers.Adam(lr, beta_1=0.5), "sparse_categorical_crossentropy")
    ds, _ = pipeline.make_dataset(train.images[kept], train.labels[kept], config["batch_size"], args.seed,
                                  class_mode="uniform")
    if args.augment:
        def augment(x, y):
            x = colour(x) if "c" in args.augment else x
            return (translate(x) if "t" in args.augment else x), y
        ds = ds.map(augment)
    test_x = pipeline.scale(test.images).numpy()
    start, every = time.time(), 1000
    for step in range(every, args.steps + 1, every):
        d.fit(ds, steps_per_epoch=every, epochs=1, verbose=0)
        pred = d.predict(test_x, verbose=0, batch_size=256)[:, :k].argmax(1)
        per_class = np.mean([np.mean(pred[test.labels == c] == c) for c in range(k) if np.any(test.labels == c)])
        print(f"{trunk} width {width} lr {lr:g} init {args.init} augment {args.augment or '-'} step {step}: "
              f"test accuracy {np.mean(pred == test.labels):.3f}, mean over classes {per_class:.3f} "
              f"({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
