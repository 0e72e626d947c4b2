"""Augment a class folder with DAGAN: new images of each class generated from its own real images.

    python -m dagan.augment --data path/to/folder --output augmented --per-class 100 --image-size 28
    python -m dagan.augment --data path/to/new_classes --run results/dagan/omniglot_quick_seed0 --output aug --per-class 20

DAGAN is class-agnostic: it turns one source image into another image of the same class. Each
class's N generations are spread evenly over its k real images (source i % k), and the manifest's
`source` column names the real image each came from. Without --run a DAGAN is trained on every
class of --data (python -m dagan.train --dataset FOLDER --num-val-classes 0, the --profile's
settings, more dagan.train flags after --) under --out (resumed if it exists); with --run, any
folder of the run's image size works, including classes the run never saw (DAGAN's few-shot use).
Output format and manifest: common/augment.py.
"""


import numpy as np

from common import augment, cli
from common.errors import UserError


def parser():
    return augment.parser("dagan.augment", __doc__.split("\n")[0], "dagan",
                          run_help="a run directory of dagan.train, holding generator.keras")


def train_argv(args):
    """dagan.train's flags for a DAGAN on every class of --data."""
    argv = ["--dataset", str(args.data), "--num-val-classes", "0", "--profile", args.profile,
            "--seed", str(args.seed)]
    argv += ["--image-size", "x".join(map(str, args.image_size))] if args.image_size else []
    argv += ["--out", args.out] if args.out else []
    return argv + list(args.train_args)


def sources_of(labels, counts):
    """Per class c, counts[c] indices of its images in turn (i % k), so every real image is used
    as evenly as possible; returns (source indices, their labels)."""
    picked = [np.flatnonzero(labels == c)[np.arange(n) % np.sum(labels == c)] for c, n in enumerate(counts)]
    index = np.concatenate(picked).astype(np.int64) if picked else np.zeros(0, np.int64)
    return index, labels[index]


@cli.main
def main(argv=None):
    args, data, run_dir, generator = augment.start(parser(), argv, "dagan", train_argv)
    if generator.package != "dagan":
        raise UserError(f"{run_dir} is a {generator.package} run; dagan.augment needs a DAGAN run")
    augment.check_shape(generator, data, run_dir)
    counts = augment.plan(data.labels, len(data.class_names), args.per_class, args.balance)
    index, labels = sources_of(data.labels, counts)
    fake = generator.sample(sources=data.images[index], seed=args.seed)
    return augment.write(args.output, data, fake, labels, "dagan", run_dir, args.seed, sources=index)


if __name__ == "__main__":
    main()
