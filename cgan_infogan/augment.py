"""Augment a class folder with the CGAN (label-conditioned) or the InfoGAN (one category per class).

    python -m cgan_infogan.augment --data path/to/folder --output augmented --per-class 100
    python -m cgan_infogan.augment --data path/to/folder --model infogan --output augmented --balance
    python -m cgan_infogan.augment --data mnist --run results/cgan_infogan/mnist_quick --output mnist_aug --per-class 1000

Without --run the chosen GAN is trained on every class of --data (python -m cgan_infogan.train
--dataset FOLDER --model M, the --profile's settings, more train flags after --) under --out (resumed
if it exists). The InfoGAN learns its categories without labels: each is matched to the class its
Q head names most often on the real images (the share that agrees is printed). Output format and
manifest: common/augment.py.
"""


import numpy as np

from common import augment, cli


def parser():
    p = augment.parser("cgan_infogan.augment", __doc__.split("\n")[0], "cgan_infogan",
                       run_help="a run directory of cgan_infogan.train, holding cgan/ or infogan/", named=("mnist",))
    p.add_argument("--model", choices=("cgan", "infogan"), default="cgan", help="which GAN generates (default cgan)")
    return p


def train_argv(args):
    argv = ["--dataset", str(args.data), "--model", args.model, "--profile", args.profile, "--seed", str(args.seed)]
    argv += ["--image-size", "x".join(map(str, args.image_size))] if args.image_size else []
    argv += ["--out", args.out] if args.out else []
    argv += ["--data-dir", args.data_dir] if args.data_dir else []
    return argv + list(args.train_args)


@cli.main
def main(argv=None):
    args, data, run_dir, generator = augment.start(parser(), argv, "cgan_infogan", train_argv, model=lambda args: args.model)
    config = cli.read_config(run_dir)
    augment.check_classes(config.get("class_names") or range(generator.num_classes), data.class_names, run_dir)
    augment.check_shape(generator, data, run_dir)
    k = len(data.class_names)
    counts = augment.plan(data.labels, k, args.per_class, args.balance)
    labels = np.repeat(np.arange(k), counts)
    codes = labels
    if args.model == "infogan":
        from cgan_infogan import synthetic
        model, _, _ = synthetic.load_gan(run_dir, "infogan")
        code_to_class, agreement = synthetic.code_to_class(model, data.images, data.labels, k)
        codes = np.argsort(code_to_class)[labels]
        print(f"InfoGAN categories -> classes {dict(enumerate(code_to_class.tolist()))}: the Q head agrees "
              f"with {agreement:.0%} of the real images' labels")
    fake = generator.sample(labels=codes.astype(np.int32), seed=args.seed)
    return augment.write(args.output, data, fake, labels, args.model, run_dir, args.seed)


if __name__ == "__main__":
    main()
