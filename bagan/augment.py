"""Augment a class folder with BAGAN: by default every class filled up to the largest one (--balance).

    python -m bagan.augment --data path/to/folder --output balanced --image-size 32
    python -m bagan.augment --data gtsrb --data-dir ../shared/data --output gtsrb_balanced --image-size 32
    python -m bagan.augment --run results/bagan/res_GTSRB_... --output gtsrb_balanced.npz

Without --run a BAGAN is trained on all of --data as it is (bagan/train.py --keep-imbalance, the
--profile's settings, more bagan/train.py flags after --) under --out (resumed if it exists), then
generates. With --run and no --data, the run's own training images (the kept ones of --tag) are
the real part of the copy. Output format and manifest: common/augment.py.
"""

from pathlib import Path

import numpy as np

from common import augment, cli
from common.errors import UserError


def parser():
    p = augment.parser("bagan.augment", __doc__.split("\n")[0], "bagan", default_balance=True,
                       run_help="a res_... directory of bagan/train.py", named=augment.NAMED)
    p.add_argument("--tag", default=None,
                   help="which trained class's BAGAN to use when the run holds several (default: the only one)")
    p.add_argument("--format", choices=("folder", "npz"), default=None,
                   help="folder of PNGs or one npz (default: npz when --output ends in .npz)")
    return p


def train_argv(args):
    """bagan/train.py's flags for one BAGAN on all of --data, as it is."""
    argv = ["-D", str(args.data), "--keep-imbalance", "--profile", args.profile, "--seed", str(args.seed)]
    if args.image_size:
        if args.image_size[0] != args.image_size[1]:
            raise UserError(f"BAGAN needs square images: give --image-size SIZE (28, 32, 48, 64, ...), "
                            f"not {args.image_size[0]}x{args.image_size[1]}")
        argv += ["--image-size", str(args.image_size[0])]
    argv += ["--out", args.out] if args.out else []
    argv += ["--data-dir", args.data_dir] if args.data_dir else []
    return argv + list(args.train_args)


def check_shape(shape):
    """BAGAN's generator makes square images of side r * 2^n only: say which --image-size to use."""
    from bagan import models
    try:
        models.check_image_shape(shape)
    except UserError:
        raise UserError(f"BAGAN makes square images of side r*2^n (28, 32, 48, 64, ...), these are "
                        f"{shape[0]}x{shape[1]}: resize them with --image-size 32 (or 28, 48, 64)") from None


def run_images(run_dir, config, tag, data_dir):
    """The real images a run trained on (its kept indices), as a Data with the run's class names."""
    from bagan import run
    from common import datasets
    data = run.training_subset(run.load_data(config, datasets.data_dir(data_dir or config.get("data_dir")))[0],
                               config)
    data = data.subset(np.load(run_dir / f"{tag}_kept_indices.npy"))
    k = config["num_classes"]
    names = [str(n) for n in (config.get("class_names") or range(k))]
    data.class_names = names + [str(i) for i in range(len(names), k)]
    return data


@cli.main
def main(argv=None):
    args = augment.parse(parser(), argv)
    from bagan import run, sampling
    from bagan.profiles import DATASET_PROFILES, PROFILES
    data = augment.load_data(args) if args.data else None
    if data is not None and args.run is None:
        check_shape(data.images.shape[1:])
    if args.run:
        run_dir = Path(args.run)
    elif data is not None:
        run_dir = run.train(cli.parse_args(run.parser(), train_argv(args), PROFILES, DATASET_PROFILES))
    elif args.train_args:     # the earlier form: bagan/train.py's own flags after --
        run_dir = run.train(cli.parse_args(run.parser(), args.train_args, PROFILES, DATASET_PROFILES))
    else:
        raise UserError("give --data FOLDER (a BAGAN is trained on it), or --run RUN_DIR")
    config = sampling.load_run(run_dir)
    tags = sampling.trained_tags(run_dir)
    tag = args.tag or (tags[0] if len(tags) == 1 else None)
    if tag not in tags:
        raise UserError(f"{run_dir} holds BAGANs for {', '.join(tags)}; choose one with --tag")
    if data is None:
        data = run_images(run_dir, config, tag, args.data_dir)
    else:
        augment.check_classes(config.get("class_names") or range(config["num_classes"]), data.class_names, run_dir)
        if list(data.images.shape[1:]) != list(config["image_shape"]):
            raise UserError(f"{run_dir} makes {'x'.join(map(str, config['image_shape']))} images, --data is "
                            f"{'x'.join(map(str, data.images.shape[1:]))}; give --image-size {config['image_shape'][0]}")
    counts = augment.plan(data.labels, len(data.class_names), args.per_class, args.balance)
    labels = np.repeat(np.arange(len(counts)), counts)
    from common import generators
    fake = generators.load(run_dir, model=tag).sample(labels=labels, seed=args.seed)
    return augment.write(args.output, data, fake, labels, "bagan" if config["variant"] == "bagan" else "bagan_gp",
                         run_dir, args.seed, fmt=args.format)


if __name__ == "__main__":
    main()
